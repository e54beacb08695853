"""Consent evidence: one subscriber's ledger as JSON or CSV, with everything needed to prove it.

Each ledger row carries who (subscriber, and the staff member for staff actions), what
(audience, channel, action, resulting state), how (source: web form, SMS keyword,
one-click, preference page, import, API, admin, provider event), the exact wording shown
or texted, the form URL, IP address and user agent, the provider's message or event id,
a note, and when. The JSON adds the cached subscription states and the states derived by
replaying the ledger alone, so an auditor can see that the two agree.
"""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import select

from outreach.clock import now as clock_now
from outreach.consent import ledger as consent_ledger
from outreach.extensions import db
from outreach.models import Audience, StaffUser, Subscriber
from outreach.spreadsheets import SafeDictWriter

LEDGER_FIELDS = (
    "id",
    "time",
    "audience",
    "channel",
    "action",
    "source",
    "resulting_state",
    "wording",
    "form_url",
    "ip_address",
    "user_agent",
    "provider_ref",
    "actor",
    "note",
)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _names(key: Any, value: Any, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(key, value).where(key.in_(ids))).all())  # type: ignore[arg-type]


def ledger_rows(subscriber: Subscriber) -> list[dict[str, Any]]:
    """The ledger of one subscriber as plain dicts (oldest first)."""
    events = consent_ledger.ledger_for(subscriber)
    audience_ids = {row.audience_id for row in events if row.audience_id is not None}
    actor_ids = {row.actor_id for row in events if row.actor_id is not None}
    audiences = _names(Audience.id, Audience.slug, audience_ids)
    actors = _names(StaffUser.id, StaffUser.email, actor_ids)
    return [
        {
            "id": row.id,
            "time": row.created_at.isoformat(),
            "audience": audiences.get(row.audience_id),
            "channel": row.channel,
            "action": row.action,
            "source": row.source,
            "resulting_state": row.resulting_state,
            "wording": row.wording,
            "form_url": row.form_url,
            "ip_address": row.ip_address,
            "user_agent": row.user_agent,
            "provider_ref": row.provider_ref,
            "actor": actors.get(row.actor_id),
            "note": row.note,
        }
        for row in events
    ]


def ledger_json(subscriber: Subscriber) -> dict[str, Any]:
    """Evidence document: who, current states, every ledger row, and the replayed states."""
    rows = ledger_rows(subscriber)
    slugs = {s.audience_id: s.audience.slug for s in subscriber.subscriptions}
    replayed = consent_ledger.replay(consent_ledger.ledger_for(subscriber))
    return {
        "subscriber": {
            "id": subscriber.public_id,
            "email": subscriber.email,
            "phone": subscriber.phone,
            "first_name": subscriber.first_name,
            "timezone": subscriber.timezone,
            "created_at": subscriber.created_at.isoformat(),
            "erased_at": _iso(subscriber.erased_at),
        },
        "subscriptions": [
            {
                "audience": s.audience.slug,
                "channel": s.channel,
                "state": s.state,
                "requested_at": _iso(s.requested_at),
                "confirmed_at": _iso(s.confirmed_at),
            }
            for s in subscriber.subscriptions
        ],
        "ledger": rows,
        "derived_states": [
            {"audience": slugs.get(audience_id), "channel": channel, "state": state}
            for (audience_id, channel), state in sorted(
                replayed.items(), key=lambda item: (item[0][0] or 0, item[0][1])
            )
        ],
        "generated_at": clock_now().isoformat(),
    }


def ledger_csv(subscriber: Subscriber) -> str:
    """The ledger as CSV, one row per consent change."""
    buffer = io.StringIO()
    writer = SafeDictWriter(buffer, fieldnames=LEDGER_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in ledger_rows(subscriber):
        writer.writerow(row)
    return buffer.getvalue()
