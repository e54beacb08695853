"""Consent evidence: one subscriber's ledger as JSON or CSV, with everything needed to prove it."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select

from outreach import consent
from outreach.extensions import db
from outreach.models import Audience, StaffUser, Subscriber

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


def ledger_rows(subscriber: Subscriber) -> list[dict[str, Any]]:
    """The ledger of one subscriber as plain dicts (oldest first)."""
    audiences = dict(db.session.execute(select(Audience.id, Audience.slug)).all())
    actors = dict(db.session.execute(select(StaffUser.id, StaffUser.email)).all())
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
        for row in consent.ledger_for(subscriber)
    ]


def ledger_json(subscriber: Subscriber) -> dict[str, Any]:
    """Evidence document: who, current states, and every ledger row."""
    return {
        "subscriber": {
            "id": subscriber.public_id,
            "email": subscriber.email,
            "phone": subscriber.phone,
            "first_name": subscriber.first_name,
            "timezone": subscriber.timezone,
            "created_at": subscriber.created_at.isoformat(),
        },
        "subscriptions": [
            {
                "audience": s.audience.slug,
                "channel": s.channel,
                "state": s.state,
                "confirmed_at": s.confirmed_at.isoformat() if s.confirmed_at else None,
            }
            for s in subscriber.subscriptions
        ],
        "ledger": ledger_rows(subscriber),
    }


def ledger_csv(subscriber: Subscriber) -> str:
    """The ledger as CSV, one row per consent change."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LEDGER_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in ledger_rows(subscriber):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()
