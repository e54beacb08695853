"""SendGrid events: delivery states, opens and clicks, and bounces, spam reports and
unsubscribes fed to consent; set-wise, each event stored once."""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, text, update

from outreach.clock import now as clock_now
from outreach.consent import ledger as consent_ledger
from outreach.consent import subscriptions, suppression
from outreach.extensions import db
from outreach.feedback.provider_clicks import first_party_clicks
from outreach.feedback.writes import (
    CHUNK,
    advance_many,
    begin_write,
    outbox,
    record_events,
    record_history,
)
from outreach.models import Campaign, Message, Subscriber
from outreach.models.outbox import OPEN_CLAIM

log = logging.getLogger(__name__)


#: SendGrid event (``blocked`` is a bounce of type "blocked") -> outbox state.
EMAIL_STATE = {
    "processed": "sent",
    "deferred": "sent",
    "delivered": "delivered",
    "bounce": "bounced",
    "blocked": "failed",
    "dropped": "failed",
}


#: SendGrid stats columns set on the first open / click.
EMAIL_STATS = {"open": "opened_at", "click": "clicked_at"}


@dataclass(frozen=True)
class EmailEvent:
    """One SendGrid event, already checked by the webhook view.

    ``kind`` is SendGrid's ``event`` name, except that a bounce of type "blocked" is
    ``blocked``; ``message_id`` is the outbox id from custom_args, ``request_id`` the
    request it went in (the claim id, ``/<part>`` added when a batch took several
    requests); ``sg_message_id`` is the
    part of SendGrid's id before the first dot (the X-Message-Id of the whole request).
    """

    event_id: str
    kind: str
    email: str | None = None
    at: datetime | None = None
    message_id: int | None = None
    request_id: str | None = None
    sg_message_id: str | None = None
    reason: str | None = None
    status: str | None = None
    #: The link of a ``click`` event (SendGrid's own click tracking).
    url: str | None = None


@dataclass(frozen=True)
class _Target:
    """The outbox row an email event is about."""

    message_id: int
    subscriber_id: int
    audience_id: int


def event_id_key(raw: str) -> str:
    """A provider event id that fits the columns (long ids are hashed, not cut)."""
    if len(raw) <= 128:
        return raw
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def _targets(events: Sequence[EmailEvent]) -> dict[str, _Target]:
    """Map event ids to outbox rows: custom_args message_id, else sg_message_id + email."""
    columns = (Message.id, Message.subscriber_id, Campaign.audience_id)
    base = (
        select(*columns)
        .join(Campaign, Campaign.id == Message.campaign_id)
        .where(Message.channel == "email")
    )
    wanted = {e.message_id for e in events if e.message_id is not None}
    by_id: dict[int, _Target] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = sorted(wanted)[start : start + CHUNK]
        for mid, sid, aid in db.session.execute(base.where(Message.id.in_(chunk))):
            by_id[mid] = _Target(mid, sid, aid)
    found: dict[str, _Target] = {}
    fallback: dict[str, tuple[str, str]] = {}
    for event in events:
        target = by_id.get(event.message_id) if event.message_id is not None else None
        if target is not None:
            found[event.event_id] = target
        elif event.sg_message_id and event.email:
            fallback[event.event_id] = (event.sg_message_id, event.email)
    provider_ids = sorted({pid for pid, _ in fallback.values()})
    by_key: dict[tuple[str, str], _Target] = {}
    for start in range(0, len(provider_ids), CHUNK):
        rows = db.session.execute(
            select(*columns, Message.provider_id, Subscriber.email)
            .join(Campaign, Campaign.id == Message.campaign_id)
            .join(Subscriber, Subscriber.id == Message.subscriber_id)
            .where(
                Message.channel == "email",
                Message.provider_id.in_(provider_ids[start : start + CHUNK]),
            )
        )
        for mid, sid, aid, pid, email in rows:
            if email:
                by_key[(pid, email.lower())] = _Target(mid, sid, aid)
    for event_id, key in fallback.items():
        if key in by_key:
            found[event_id] = by_key[key]
    return found


def _consent_action(event: EmailEvent) -> tuple[str, str | None] | None:
    """(subscription state, suppression reason) an event asks for, or None."""
    if event.kind == "bounce":
        return "bounced", "hard_bounce"
    if event.kind == "spamreport":
        return "complained", "spam_report"
    if event.kind in ("unsubscribe", "group_unsubscribe"):
        return consent_ledger.UNSUBSCRIBED, None
    if event.kind == "dropped":
        reason = " ".join((event.reason or "").lower().replace(".", " ").split())
        if reason.startswith("bounced address") or reason in (
            "invalid",
            "invalid address",
            "invalid email",
            "invalid email address",
        ):
            return "bounced", "hard_bounce"
        if reason.startswith("spam reporting address"):
            return "complained", "spam_report"
        if reason.startswith("unsubscribed address"):
            return consent_ledger.UNSUBSCRIBED, None
    return None


def handle_sendgrid_events(events: Iterable[EmailEvent]) -> dict[str, int]:
    """Apply a batch of SendGrid events set-wise; replayed events are ignored. Commits.

    One multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING learns which events are new;
    outbox rows then move with one executemany per kind. Consent changes (bounces,
    complaints, unsubscribes) go through ``consent``, once per person and kind.
    Returns counts: ``received``, ``duplicate``, ``unmatched`` and one per new event kind.
    """
    unique: dict[str, EmailEvent] = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    counts: dict[str, int] = defaultdict(int)
    counts["received"] = len(unique)
    if not unique:
        return dict(counts)
    begin_write()
    batch = list(unique.values())
    targets = _targets(batch)
    fresh_ids = record_events(
        [
            {
                "provider": "sendgrid",
                "provider_event_id": e.event_id,
                "event_type": e.kind,
                "message_id": targets[e.event_id].message_id if e.event_id in targets else None,
                "error_code": e.status,
                "detail": e.reason,
            }
            for e in batch
        ]
    )
    fresh = [e for e in batch if e.event_id in fresh_ids]
    counts["duplicate"] = len(batch) - len(fresh)
    now = clock_now()
    moves: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    stats: dict[str, dict[int, datetime]] = defaultdict(dict)
    click_urls: dict[int, list[str | None]] = defaultdict(list)
    actions: dict[tuple[int | str, str, int | None], tuple[EmailEvent, str | None]] = {}
    for event in fresh:
        counts[event.kind] += 1
        target = targets.get(event.event_id)
        if target is None:
            counts["unmatched"] += 1
        at = event.at or now
        if target is not None and event.kind in EMAIL_STATE:
            state = EMAIL_STATE[event.kind]
            detail = f"{event.kind}: {event.reason}"[:500] if event.reason else event.kind
            moves[state].setdefault(target.message_id, {"b_id": target.message_id, "b_at": at})
            moves[state][target.message_id].setdefault("b_detail", detail)
        if target is not None and event.kind == "click":
            click_urls[target.message_id].append(event.url)
        if target is not None and event.kind in EMAIL_STATS:
            seen = stats[event.kind].get(target.message_id)
            stats[event.kind][target.message_id] = at if seen is None else min(seen, at)
        action = _consent_action(event)
        if action is not None:
            state, suppress_reason = action
            who: int | str | None = target.subscriber_id if target else event.email
            audience_id = target.audience_id if target and event.kind != "dropped" else None
            if state != consent_ledger.UNSUBSCRIBED:
                audience_id = None  # bounces and complaints are about the address
            if who is not None:
                actions.setdefault((who, state, audience_id), (event, suppress_reason))
    ignored = first_party_clicks(click_urls)
    for message_id in ignored:
        stats["click"].pop(message_id, None)
    if ignored:
        counts["click_first_party"] = len(ignored)
    _apply_email_moves(moves)
    settled = settle_requests(
        {e.request_id for e in fresh if e.request_id and "/" not in e.request_id}
    )
    if settled:
        counts["settled"] = settled
    table = outbox()
    for kind, column in EMAIL_STATS.items():
        rows = [{"b_id": mid, "b_at": at} for mid, at in stats[kind].items()]
        if rows:
            db.session.connection().execute(
                update(table)
                .where(table.c.id == bindparam("b_id"), table.c[column].is_(None))
                .values({column: bindparam("b_at")}),
                rows,
            )
    if actions:
        _apply_email_consent(actions)
    db.session.commit()
    if fresh:
        log.info("sendgrid events applied: %s", dict(sorted(counts.items())))
    return dict(counts)


#: Why a row was settled by another row's event (shown to staff in the outbox).
SETTLED_DETAIL = "accepted: SendGrid reported another message of the same request"


def settle_requests(request_ids: set[str]) -> int:
    """Rows of these requests still ``sending`` or ``unknown`` were accepted (a Mail Send
    request is all or nothing, and SendGrid reported on one of its messages): mark them
    ``sent`` and note it in their history. Returns how many moved."""
    if not request_ids:
        return 0
    table = outbox()
    now = clock_now()
    moved = db.session.scalars(
        update(table)
        .where(
            table.c.claim_id.in_(sorted(request_ids)),
            table.c.channel == "email",
            text(OPEN_CLAIM),
        )
        .values(
            state="sent",
            sent_at=func.coalesce(table.c.sent_at, table.c.claimed_at),
            lease_until=None,
            error_detail=SETTLED_DETAIL,
            updated_at=now,
        )
        .returning(table.c.id)
    ).all()
    record_history(moved, "reconciled_sent", SETTLED_DETAIL)
    return len(moved)


def _apply_email_moves(moves: dict[str, dict[int, dict[str, Any]]]) -> None:
    table = outbox()
    for state, by_id in moves.items():
        rows = list(by_id.values())
        if state == "sent":
            for row in rows:
                row.pop("b_detail", None)
            advance_many(
                state,
                rows,
                sent_at=func.coalesce(
                    table.c.sent_at, bindparam("b_at", type_=table.c.sent_at.type)
                ),
            )
        elif state == "delivered":
            for row in rows:
                row.pop("b_detail", None)
            advance_many(state, rows, delivered_at=bindparam("b_at"))
        else:
            for row in rows:
                row.pop("b_at", None)
            advance_many(state, rows, error_detail=bindparam("b_detail"))


def _apply_email_consent(
    actions: dict[tuple[int | str, str, int | None], tuple[EmailEvent, str | None]],
) -> None:
    """Revoke (and suppress) per person, set-wise: bounces, complaints, unsubscribes."""
    emails = {who for who, _, _ in actions if isinstance(who, str)}
    by_email: dict[str, int] = {}
    if emails:
        by_email = dict(
            db.session.execute(
                select(Subscriber.email, Subscriber.id).where(Subscriber.email.in_(sorted(emails)))
            ).all()
        )
    requests: list[subscriptions.OptOut] = []
    for (who, state, audience_id), (event, suppress_reason) in actions.items():
        person = who if isinstance(who, int) else by_email.get(who)
        if person is None:
            if suppress_reason and isinstance(who, str):
                suppression.suppress("email", who, suppress_reason)
            continue
        evidence = consent_ledger.Evidence(
            source="provider_event", provider_ref=event.event_id, note=f"SendGrid {event.kind}"
        )
        requests.append(subscriptions.OptOut(person, evidence, state, audience_id, suppress_reason))
    subscriptions.opt_out_many("email", requests)
