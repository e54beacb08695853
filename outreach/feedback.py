"""What providers and subscribers tell us: inbound texts, status callbacks, email events.

Webhook views verify signatures and parse; everything that changes state is here. Every
handler is idempotent: inbound texts are unique by MessageSid, provider reports by their
event id in ``delivery_events`` (Twilio: MessageSid + status; SendGrid: sg_event_id), and a
replay changes nothing. Outbox rows only move forward (see ``RANK``), with the condition in
the UPDATE itself so a concurrent, older report can never move a row back.

Each handler commits before returning, so a webhook's 2xx means the change is durable and
the next claim sees it. On SQLite the writer lock is taken first, polling briefly instead of
relying on the busy timeout alone, so a long dispatch run (which takes the lock for each
batch) cannot starve an opt-out.

Decisions where the providers leave room:

* A report proving a send (Twilio sent/delivered, SendGrid processed/deferred/delivered)
  moves even a queued, skipped, cancelled or unknown row forward: the truth wins, and the
  row is then never sent again.
* SendGrid ``blocked`` (a bounce of type "blocked") fails the row but suppresses nothing;
  ``dropped`` fails it and suppresses only for "Bounced Address" / "Invalid" (and revokes
  for "Spam Reporting Address" / "Unsubscribed Address"); "Invalid SMTPAPI header" is ours.
* A number is unreachable after 3 failures with 30003/30005/30006 since its last delivered
  text; a later delivery, or the person texting START, makes it reachable again.
* START from a number with nothing to resume gets the HELP text, not "you're subscribed".
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from outreach import consent, keywords, wording
from outreach.clock import now as clock_now
from outreach.contacts import InvalidContact, normalise_phone
from outreach.extensions import db
from outreach.models import (
    Audience,
    Campaign,
    DeliveryEvent,
    InboundSms,
    Message,
    Subscriber,
    Subscription,
)

log = logging.getLogger(__name__)

#: Forward-only ordering of outbox states for provider reports. A report moves a row only to
#: a higher rank; rows that never went out (queued, skipped, cancelled) rank lowest, so a
#: report proving a send reconciles them instead of leaving them to be sent again.
RANK = {
    "queued": 0,
    "skipped": 0,
    "cancelled": 0,
    "sending": 1,
    "unknown": 1,
    "sent": 2,
    "delivered": 3,
    "failed": 3,
    "bounced": 3,
}
#: Twilio MessageStatus -> outbox state (other statuses are recorded only).
TWILIO_STATUS = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "failed",
    "failed": "failed",
}
#: Values of Twilio's OptOutType (Advanced Opt-Out): Twilio has replied itself.
TWILIO_OPT_OUT_TYPES = frozenset({"STOP", "START", "HELP"})
#: Twilio error: the recipient opted out at the carrier.
CARRIER_OPT_OUT = "21610"
#: Twilio errors meaning the handset could not be reached (unknown, unavailable, lost).
UNREACHABLE_CODES = frozenset({"30003", "30005", "30006"})
#: Failures with those codes, since the last delivery, after which a number is unreachable.
UNREACHABLE_AFTER = 3

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

#: Rows per multi-row INSERT (well below SQLite's bound-parameter limit).
_CHUNK = 500
#: How long an SQLite handler keeps trying for the writer lock (the busy timeout's length).
_SQLITE_LOCK_SECONDS = 30.0


@dataclass(frozen=True)
class Reply:
    """The TwiML reply to an inbound text (None: reply with nothing)."""

    body: str | None
    intent: keywords.Intent


@dataclass(frozen=True)
class EmailEvent:
    """One SendGrid event, already checked by the webhook view.

    ``kind`` is SendGrid's ``event`` name, except that a bounce of type "blocked" is
    ``blocked``; ``message_id`` is the outbox id from custom_args; ``sg_message_id`` is the
    part of SendGrid's id before the first dot (the X-Message-Id of the whole request).
    """

    event_id: str
    kind: str
    email: str | None = None
    at: datetime | None = None
    message_id: int | None = None
    sg_message_id: str | None = None
    reason: str | None = None
    status: str | None = None


# --------------------------------------------------------------------------- plumbing


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _insert_ignore(model: Any) -> Any:
    return (pg_insert if _dialect() == "postgresql" else sqlite_insert)(model)


def begin_write(timeout: float = _SQLITE_LOCK_SECONDS) -> None:
    """Start this session's write transaction now (SQLite: take the single writer lock).

    SQLite's busy handler retries with back-off (up to 100 ms apart), so a writer that keeps
    re-taking the lock, such as a dispatch run between batches, can starve it. Polling every
    half millisecond gets in at the next gap. PostgreSQL needs nothing: row locks queue.
    """
    connection = db.session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw = connection.connection.dbapi_connection
    if raw is None or raw.in_transaction:
        return
    previous = int(raw.execute("PRAGMA busy_timeout").fetchone()[0])
    raw.execute("PRAGMA busy_timeout = 0")
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.0005)
    finally:
        raw.execute(f"PRAGMA busy_timeout = {previous}")


def _below(state: str) -> list[str]:
    """States a report may move forward to ``state``."""
    return [s for s, rank in RANK.items() if rank < RANK[state]]


def _outbox() -> Table:
    return Message.__table__


def _advance_many(state: str, rows: list[dict[str, Any]], **values: Any) -> int:
    """Move rows (``b_id`` per row, plus the binds named in ``values``) forward to ``state``.

    One executemany; the rank condition is in the WHERE clause, so it holds under any race.
    """
    if not rows:
        return 0
    table = _outbox()
    stmt = (
        update(table)
        .where(table.c.id == bindparam("b_id"), or_(*(table.c.state == s for s in _below(state))))
        .values(state=state, updated_at=bindparam("b_now"), lease_until=None, **values)
    )
    now = clock_now()
    params = [{"b_now": now, **row} for row in rows]
    result = db.session.connection().execute(stmt, params)
    return max(result.rowcount or 0, 0)


def _record_events(rows: list[dict[str, Any]]) -> set[str]:
    """Insert delivery events, ignoring ones already recorded; returns the new event ids.

    One executemany of ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (SQLAlchemy batches
    it into multi-row statements, compiled once).
    """
    if not rows:
        return set()
    table = DeliveryEvent.__table__
    at = clock_now()
    if _dialect() == "postgresql":
        # One array parameter per column, unnested by the server: a thousand events cost
        # one small statement to plan instead of a VALUES list of 7,000 parameters.
        names = list(rows[0])
        columns = [
            func.unnest(
                bindparam(f"a_{name}", [row[name] for row in rows], type_=ARRAY(table.c[name].type))
            ).label(name)
            for name in names
        ]
        source = select(*columns, bindparam("at", at, type_=table.c.created_at.type))
        stmt = (
            pg_insert(table)
            .from_select([*names, "created_at"], source)
            .on_conflict_do_nothing(index_elements=["provider", "provider_event_id"])
            .returning(table.c.provider_event_id)
        )
        return set(db.session.execute(stmt).scalars())
    stmt = (
        _insert_ignore(table)
        .on_conflict_do_nothing(index_elements=["provider", "provider_event_id"])
        .returning(table.c.provider_event_id)
    )
    result = db.session.connection().execute(stmt, [{**row, "created_at": at} for row in rows])
    return set(result.scalars())


#: The audience columns a reply's wording needs (read as a plain row, no ORM object).
_IDENTITY = (
    Audience.name,
    Audience.organisation_name,
    Audience.sms_program_name,
    Audience.sms_frequency_text,
    Audience.support_email,
    Audience.support_phone,
)


def _first_audience(subscriber_id: int | None) -> wording.SenderIdentity | None:
    """The sender identity that answers a text: the person's SMS list, else the first list."""
    if subscriber_id is not None:
        found = db.session.execute(
            select(*_IDENTITY)
            .join(Subscription, Subscription.audience_id == Audience.id)
            .where(Subscription.subscriber_id == subscriber_id, Subscription.channel == "sms")
            .order_by((Subscription.state == consent.ACTIVE).desc(), Subscription.id)
            .limit(1)
        ).first()
        if found is not None:
            return found
    return db.session.execute(select(*_IDENTITY).order_by(Audience.id).limit(1)).first()


def _has_active_sms(subscriber_id: int | None) -> bool:
    if subscriber_id is None:
        return False
    return (
        db.session.scalar(
            select(Subscription.id)
            .where(
                Subscription.subscriber_id == subscriber_id,
                Subscription.channel == "sms",
                Subscription.state == consent.ACTIVE,
            )
            .limit(1)
        )
        is not None
    )


def _normalised_phone(raw: str) -> str:
    try:
        return normalise_phone(raw)
    except InvalidContact:
        return raw.strip()[:32]


# --------------------------------------------------------------------------- inbound SMS


def _reply_text(
    intent: keywords.Intent, subscriber_id: int | None, twilio_handled: bool
) -> str | None:
    """The one reply a text gets; nothing when Twilio Advanced Opt-Out already answered."""
    if twilio_handled or intent == keywords.Intent.OTHER:
        return None
    audience = _first_audience(subscriber_id)
    if intent == keywords.Intent.OPT_OUT:
        return wording.sms_stopped(audience)
    if audience is None:
        return None
    if intent == keywords.Intent.OPT_IN and _has_active_sms(subscriber_id):
        return wording.sms_welcome(audience)
    # HELP, or START from a number with nothing to resume: who we are and how to stop.
    return wording.sms_help(audience)


def handle_inbound_sms(
    message_sid: str,
    from_number: str,
    to_number: str | None,
    body: str,
    opt_out_type: str | None = None,
) -> Reply:
    """Store an inbound text and act on it (STOP / START / HELP / other); commits.

    A replayed MessageSid changes nothing and gets the same reply as the first time.
    """
    phone = _normalised_phone(from_number)
    body = body or ""
    # Twilio Advanced Opt-Out set OptOutType and already answered with its own text.
    twilio_handled = (opt_out_type or "").strip().upper() in TWILIO_OPT_OUT_TYPES
    begin_write()
    intent = keywords.classify(body, opt_out_type)
    # One statement stores the text and finds its sender (a STOP's reply waits on this).
    inserted = db.session.execute(
        _insert_ignore(InboundSms)
        .values(
            message_sid=message_sid,
            from_phone=phone,
            to_phone=(to_number or "")[:32] or None,
            body=body[:1600],
            intent=intent.value,
            subscriber_id=select(Subscriber.id).filter_by(phone=phone).scalar_subquery(),
            created_at=clock_now(),
        )
        .on_conflict_do_nothing(index_elements=["message_sid"])
        .returning(InboundSms.subscriber_id)
    ).first()
    if inserted is None:  # a replay: answer as before, change nothing
        stored, subscriber_id = db.session.execute(
            select(InboundSms.intent, InboundSms.subscriber_id).filter_by(message_sid=message_sid)
        ).one()
        intent = keywords.Intent(stored) if stored in set(keywords.Intent) else intent
        reply = _reply_text(intent, subscriber_id, twilio_handled)
        db.session.rollback()
        return Reply(reply, intent)
    subscriber_id = inserted[0]
    evidence = consent.Evidence(source="sms_keyword", provider_ref=message_sid, wording=body[:500])
    if intent == keywords.Intent.OPT_OUT:
        if subscriber_id is not None:
            stop = consent.OptOut(subscriber_id, evidence, suppress_reason="sms_stop")
            consent.opt_out_many("sms", [stop])
        else:
            consent.suppress("sms", phone, "sms_stop")
    elif intent == keywords.Intent.OPT_IN and subscriber_id is not None:
        subscriber = db.session.get(Subscriber, subscriber_id)
        consent.resubscribe_everywhere(subscriber, "sms", evidence)
        if subscriber.phone_unreachable:  # a text from the handset proves it is reachable
            subscriber.phone_unreachable = False
    reply = _reply_text(intent, subscriber_id, twilio_handled)
    db.session.commit()
    log.info(
        "inbound sms %s: intent=%s known=%s", message_sid, intent.value, subscriber_id is not None
    )
    return Reply(reply, intent)


# --------------------------------------------------------------------------- Twilio status


def _find_sms_message(message_sid: str, message_id: int | None) -> Message | None:
    """The outbox row a callback is about: ``?mid=`` first, then the provider id."""
    if message_id is not None:
        found = db.session.get(Message, message_id)
        if (
            found is not None
            and found.channel == "sms"
            and found.provider_id in (None, message_sid)
        ):
            return found
    return db.session.scalar(
        select(Message).where(Message.provider_id == message_sid, Message.channel == "sms").limit(1)
    )


def handle_twilio_status(
    message_sid: str,
    status: str,
    error_code: str | None,
    message_id: int | None,
    to_number: str | None = None,
) -> bool:
    """Apply a Twilio status callback; False (and no change) if it was a replay. Commits."""
    status = (status or "").lower()
    begin_write()
    message = _find_sms_message(message_sid, message_id)
    fresh = _record_events(
        [
            {
                "provider": "twilio",
                "provider_event_id": f"{message_sid}:{status}",
                "event_type": status,
                "message_id": message.id if message is not None else None,
                "error_code": error_code,
                "detail": None,
            }
        ]
    )
    if not fresh:
        db.session.rollback()
        return False
    if message is None:
        if error_code == CARRIER_OPT_OUT and to_number:
            _carrier_opt_out(None, _normalised_phone(to_number), message_sid)
        db.session.commit()
        return True
    message_pk, subscriber_id = message.id, message.subscriber_id
    table = _outbox()
    if message.provider_id is None:
        db.session.execute(
            update(table)
            .where(table.c.id == message_pk, table.c.provider_id.is_(None))
            .values(provider_id=message_sid)
        )
    at = clock_now()
    state = TWILIO_STATUS.get(status)
    advanced = 0
    if state is not None:
        values: dict[str, Any] = {}
        row: dict[str, Any] = {"b_id": message_pk}
        if state == "sent":
            values["sent_at"] = func.coalesce(
                table.c.sent_at, bindparam("b_at", type_=table.c.sent_at.type)
            )
            row["b_at"] = at
        elif state == "delivered":
            values["delivered_at"] = bindparam("b_at")
            row["b_at"] = at
        if error_code:
            values["error_code"] = bindparam("b_code")
            row["b_code"] = error_code
        advanced = _advance_many(state, [row], **values)
    if error_code and not advanced:  # e.g. "failed" after "undelivered": keep the first code
        db.session.execute(
            update(table)
            .where(
                table.c.id == message_pk,
                table.c.error_code.is_(None),
                table.c.state != "delivered",
            )
            .values(error_code=error_code)
        )
    if error_code:
        _apply_sms_error(subscriber_id, error_code, message_sid)
    elif state == "delivered":
        db.session.execute(
            update(Subscriber)
            .where(Subscriber.id == subscriber_id, Subscriber.phone_unreachable.is_(True))
            .values(phone_unreachable=False)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return True


def _carrier_opt_out(subscriber: Subscriber | None, phone: str | None, message_sid: str) -> None:
    """Twilio 21610: the person opted out at the carrier; revoke and suppress the number."""
    if subscriber is not None:
        consent.opt_out_everywhere(
            subscriber,
            "sms",
            consent.Evidence(
                source="provider_event",
                provider_ref=message_sid,
                note="Twilio error 21610: opted out at the carrier",
            ),
            suppress_reason="carrier_opt_out",
        )
    elif phone:
        holder = db.session.scalar(select(Subscriber).filter_by(phone=phone))
        if holder is not None:
            _carrier_opt_out(holder, None, message_sid)
        else:
            consent.suppress("sms", phone, "carrier_opt_out")


def _apply_sms_error(subscriber_id: int, code: str, message_sid: str) -> None:
    if code == CARRIER_OPT_OUT:
        _carrier_opt_out(db.session.get(Subscriber, subscriber_id), None, message_sid)
        return
    if code not in UNREACHABLE_CODES:
        return
    mine = (Message.subscriber_id == subscriber_id, Message.channel == "sms")
    last_delivery = db.session.scalar(select(func.max(Message.delivered_at)).where(*mine))
    failures = select(func.count(Message.id)).where(
        *mine, Message.state == "failed", Message.error_code.in_(UNREACHABLE_CODES)
    )
    if last_delivery is not None:
        failures = failures.where(Message.updated_at > last_delivery)
    if (db.session.scalar(failures) or 0) >= UNREACHABLE_AFTER:
        db.session.execute(
            update(Subscriber)
            .where(Subscriber.id == subscriber_id)
            .values(phone_unreachable=True)
            .execution_options(synchronize_session=False)
        )
        log.info("subscriber %s marked unreachable by sms", subscriber_id)


# --------------------------------------------------------------------------- SendGrid


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
    for start in range(0, len(wanted), _CHUNK):
        chunk = sorted(wanted)[start : start + _CHUNK]
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
    for start in range(0, len(provider_ids), _CHUNK):
        rows = db.session.execute(
            select(*columns, Message.provider_id, Subscriber.email)
            .join(Campaign, Campaign.id == Message.campaign_id)
            .join(Subscriber, Subscriber.id == Message.subscriber_id)
            .where(
                Message.channel == "email",
                Message.provider_id.in_(provider_ids[start : start + _CHUNK]),
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
        return consent.UNSUBSCRIBED, None
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
            return consent.UNSUBSCRIBED, None
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
    fresh_ids = _record_events(
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
        if target is not None and event.kind in EMAIL_STATS:
            seen = stats[event.kind].get(target.message_id)
            stats[event.kind][target.message_id] = at if seen is None else min(seen, at)
        action = _consent_action(event)
        if action is not None:
            state, suppress_reason = action
            who: int | str | None = target.subscriber_id if target else event.email
            audience_id = target.audience_id if target and event.kind != "dropped" else None
            if state != consent.UNSUBSCRIBED:
                audience_id = None  # bounces and complaints are about the address
            if who is not None:
                actions.setdefault((who, state, audience_id), (event, suppress_reason))
    _apply_email_moves(moves)
    table = _outbox()
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


def _apply_email_moves(moves: dict[str, dict[int, dict[str, Any]]]) -> None:
    table = _outbox()
    for state, by_id in moves.items():
        rows = list(by_id.values())
        if state == "sent":
            for row in rows:
                row.pop("b_detail", None)
            _advance_many(
                state,
                rows,
                sent_at=func.coalesce(
                    table.c.sent_at, bindparam("b_at", type_=table.c.sent_at.type)
                ),
            )
        elif state == "delivered":
            for row in rows:
                row.pop("b_detail", None)
            _advance_many(state, rows, delivered_at=bindparam("b_at"))
        else:
            for row in rows:
                row.pop("b_at", None)
            _advance_many(state, rows, error_detail=bindparam("b_detail"))


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
    requests: list[consent.OptOut] = []
    for (who, state, audience_id), (event, suppress_reason) in actions.items():
        person = who if isinstance(who, int) else by_email.get(who)
        if person is None:
            if suppress_reason and isinstance(who, str):
                consent.suppress("email", who, suppress_reason)
            continue
        evidence = consent.Evidence(
            source="provider_event", provider_ref=event.event_id, note=f"SendGrid {event.kind}"
        )
        requests.append(consent.OptOut(person, evidence, state, audience_id, suppress_reason))
    consent.opt_out_many("email", requests)
