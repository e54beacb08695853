"""What providers and subscribers tell us: inbound texts, status callbacks, email events.

Webhook views verify signatures and parse; everything that changes state is here, and
every handler is idempotent (provider event ids are unique in ``delivery_events``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from outreach import consent, keywords, wording
from outreach.clock import now as clock_now
from outreach.contacts import InvalidContact, normalise_phone
from outreach.extensions import db
from outreach.models import (
    Audience,
    DeliveryEvent,
    InboundSms,
    Message,
    Subscriber,
    Subscription,
)

#: Forward-only ordering of outbox states for provider reports.
RANK = {
    "queued": 0,
    "sending": 1,
    "unknown": 1,
    "sent": 2,
    "delivered": 3,
    "failed": 3,
    "bounced": 3,
}
TWILIO_STATUS = {
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "failed",
    "failed": "failed",
}
UNREACHABLE_CODES = {"30003", "30005", "30006"}
UNREACHABLE_AFTER = 3


@dataclass(frozen=True)
class Reply:
    """The TwiML reply to an inbound text (None: reply with nothing)."""

    body: str | None
    intent: keywords.Intent


def _insert_ignore(model):  # noqa: ANN001, ANN202
    return (pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert)(
        model
    )


def _first_audience(subscriber: Subscriber | None) -> Audience | None:
    if subscriber is None:
        return db.session.scalar(select(Audience).order_by(Audience.id).limit(1))
    return db.session.scalar(
        select(Audience)
        .join(Subscription, Subscription.audience_id == Audience.id)
        .where(Subscription.subscriber_id == subscriber.id, Subscription.channel == "sms")
        .order_by(Subscription.id)
        .limit(1)
    ) or _first_audience(None)


def _reply_text(
    intent: keywords.Intent, audience: Audience | None, twilio_handled: bool
) -> str | None:
    if audience is None:
        return None
    if intent == keywords.Intent.OPT_OUT:
        # Twilio Advanced Opt-Out already sent its own confirmation: send no second one.
        return None if twilio_handled else wording.sms_stopped(audience)
    if intent == keywords.Intent.OPT_IN:
        return None if twilio_handled else wording.sms_welcome(audience)
    if intent == keywords.Intent.HELP:
        return None if twilio_handled else wording.sms_help(audience)
    return None


def handle_inbound_sms(
    message_sid: str,
    from_number: str,
    to_number: str | None,
    body: str,
    opt_out_type: str | None = None,
) -> Reply:
    """Classify an inbound text and act on it (STOP / START / HELP / other); commits."""
    try:
        phone = normalise_phone(from_number)
    except InvalidContact:
        phone = from_number.strip()[:32]
    intent = keywords.classify(body, opt_out_type)
    subscriber = db.session.scalar(select(Subscriber).filter_by(phone=phone))
    twilio_handled = bool(opt_out_type)
    if db.session.scalar(select(InboundSms.id).filter_by(message_sid=message_sid)) is not None:
        return Reply(_reply_text(intent, _first_audience(subscriber), twilio_handled), intent)
    db.session.add(
        InboundSms(
            message_sid=message_sid,
            from_phone=phone,
            to_phone=(to_number or "")[:32] or None,
            body=(body or "")[:1600],
            intent=intent.value,
            subscriber_id=subscriber.id if subscriber else None,
            created_at=clock_now(),
        )
    )
    try:
        db.session.flush()
    except IntegrityError:  # the same request, handled concurrently
        db.session.rollback()
        return Reply(_reply_text(intent, _first_audience(subscriber), twilio_handled), intent)
    evidence = consent.Evidence(
        source="sms_keyword", provider_ref=message_sid, wording=(body or "")[:500]
    )
    audience = _first_audience(subscriber)
    if intent == keywords.Intent.OPT_OUT:
        if subscriber is not None:
            consent.opt_out_everywhere(subscriber, "sms", evidence, suppress_reason="sms_stop")
        else:
            consent.suppress("sms", phone, "sms_stop")
    elif intent == keywords.Intent.OPT_IN and subscriber is not None:
        consent.resubscribe_everywhere(subscriber, "sms", evidence)
    db.session.commit()
    return Reply(_reply_text(intent, audience, twilio_handled), intent)


def _record_event(
    provider: str,
    event_id: str,
    event_type: str,
    message_id: int | None,
    error_code: str | None = None,
    detail: str | None = None,
) -> bool:
    """Insert a delivery event; False when this provider event was already recorded."""
    stmt = (
        _insert_ignore(DeliveryEvent)
        .values(
            provider=provider,
            provider_event_id=event_id[:160],
            event_type=event_type,
            message_id=message_id,
            error_code=error_code,
            detail=detail,
            created_at=clock_now(),
        )
        .on_conflict_do_nothing(index_elements=["provider", "provider_event_id"])
        .execution_options(preserve_rowcount=True)
    )
    return bool(db.session.execute(stmt).rowcount)


def _advance(message: Message, new_state: str, at: datetime, **values: Any) -> bool:
    if RANK.get(new_state, 0) <= RANK.get(message.state, 0):
        return False
    message.state = new_state
    message.updated_at = at
    message.lease_until = None
    for key, value in values.items():
        setattr(message, key, value)
    return True


def handle_twilio_status(
    message_sid: str, status: str, error_code: str | None, message_id: int | None
) -> bool:
    """Apply a Twilio status callback; False if it was a replay. Commits."""
    status = (status or "").lower()
    if not _record_event("twilio", f"{message_sid}:{status}", status, None, error_code or None):
        db.session.rollback()
        return False
    message = None
    if message_id is not None:
        message = db.session.get(Message, message_id)
    if message is None:
        message = db.session.scalar(select(Message).filter_by(provider_id=message_sid))
    new_state = TWILIO_STATUS.get(status)
    at = clock_now()
    if message is not None:
        db.session.execute(
            update(DeliveryEvent)
            .where(
                DeliveryEvent.provider == "twilio",
                DeliveryEvent.provider_event_id == f"{message_sid}:{status}",
            )
            .values(message_id=message.id)
        )
        if message.provider_id is None:
            message.provider_id = message_sid
        if new_state:
            extra: dict[str, Any] = {}
            if new_state == "delivered":
                extra["delivered_at"] = at
            if new_state == "sent" and message.sent_at is None:
                extra["sent_at"] = at
            if error_code:
                extra["error_code"] = error_code
            _advance(message, new_state, at, **extra)
        if error_code:
            _apply_sms_error(message, error_code)
    db.session.commit()
    return True


def _apply_sms_error(message: Message, code: str) -> None:
    subscriber = db.session.get(Subscriber, message.subscriber_id)
    if subscriber is None:
        return
    if code == "21610":
        consent.opt_out_everywhere(
            subscriber,
            "sms",
            consent.Evidence(
                source="provider_event",
                provider_ref=message.provider_id,
                note="Twilio error 21610: opted out at the carrier",
            ),
            suppress_reason="carrier_opt_out",
        )
    elif code in UNREACHABLE_CODES:
        failures = db.session.scalar(
            select(func.count(Message.id)).where(
                Message.subscriber_id == subscriber.id,
                Message.channel == "sms",
                Message.error_code.in_(UNREACHABLE_CODES),
            )
        )
        if failures >= UNREACHABLE_AFTER:
            subscriber.phone_unreachable = True


# --------------------------------------------------------------------------- SendGrid


def _event_message_ids(events: list[dict]) -> dict[int, int | None]:
    """Map each event (by list index) to an outbox id: custom_args first, then sg_message_id."""
    found: dict[int, int | None] = {}
    fallback: dict[int, tuple[str, str]] = {}
    for index, event in enumerate(events):
        raw = event.get("message_id")
        if isinstance(raw, (str, int)) and str(raw).isdigit() and int(raw) > 0:
            found[index] = int(raw)
            continue
        sg_id = event.get("sg_message_id")
        email = event.get("email")
        if isinstance(sg_id, str) and isinstance(email, str):
            fallback[index] = (sg_id.split(".", 1)[0], email.strip().lower())
        found[index] = None
    if fallback:
        provider_ids = {pid for pid, _ in fallback.values()}
        rows = db.session.execute(
            select(Message.id, Message.provider_id, Subscriber.email)
            .join(Subscriber, Subscriber.id == Message.subscriber_id)
            .where(Message.provider_id.in_(provider_ids), Message.channel == "email")
        )
        by_key = {(pid, email): mid for mid, pid, email in rows}
        for index, key in fallback.items():
            found[index] = by_key.get(key)
    existing = set(
        db.session.scalars(
            select(Message.id).where(Message.id.in_({m for m in found.values() if m}))
        )
    )
    return {i: (m if m in existing else None) for i, m in found.items()}


def _event_time(event: dict) -> datetime:
    stamp = event.get("timestamp")
    if isinstance(stamp, (int, float)) and 0 < stamp < 10**11:
        return datetime.fromtimestamp(stamp, UTC)
    return clock_now()


def handle_sendgrid_events(events: Iterable[dict]) -> dict[str, int]:
    """Apply a batch of SendGrid events; replays are ignored. Returns counts. Commits."""
    events = [e for e in events if isinstance(e, dict)]
    counts: dict[str, int] = defaultdict(int)
    message_ids = _event_message_ids(events)
    fresh: list[tuple[dict, int | None]] = []
    for index, event in enumerate(events):
        kind = str(event.get("event") or "unknown")[:30]
        event_id = event.get("sg_event_id")
        if not isinstance(event_id, str) or not event_id:
            counts["ignored"] += 1
            continue
        reason = event.get("reason") or event.get("response") or event.get("type")
        if _record_event(
            "sendgrid",
            event_id,
            kind,
            message_ids[index],
            str(event.get("status") or "")[:32] or None,
            str(reason)[:500] if reason else None,
        ):
            fresh.append((event, message_ids[index]))
        else:
            counts["duplicate"] += 1
    grouped: dict[str, list[tuple[dict, int]]] = defaultdict(list)
    for event, mid in fresh:
        grouped[str(event.get("event"))].append((event, mid))
        counts[str(event.get("event"))] += 1
    at = clock_now()
    delivered = [mid for _, mid in grouped.get("delivered", []) if mid]
    if delivered:
        db.session.execute(
            update(Message)
            .where(Message.id.in_(delivered), Message.state.in_(("sending", "sent", "unknown")))
            .values(state="delivered", delivered_at=at, updated_at=at, lease_until=None)
            .execution_options(synchronize_session=False)
        )
    for kind, column in (("open", Message.opened_at), ("click", Message.clicked_at)):
        ids = [mid for _, mid in grouped.get(kind, []) if mid]
        if ids:
            db.session.execute(
                update(Message)
                .where(Message.id.in_(ids), column.is_(None))
                .values({column.key: at})
                .execution_options(synchronize_session=False)
            )
    for kind in ("bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe"):
        for event, mid in grouped.get(kind, []):
            _apply_email_event(kind, event, mid, at)
    db.session.commit()
    return dict(counts)


HARD_DROP_REASONS = ("bounced address", "invalid", "spam reporting address", "unsubscribed")


def _apply_email_event(kind: str, event: dict, mid: int | None, at: datetime) -> None:
    message = db.session.get(Message, mid) if mid else None
    subscriber = db.session.get(Subscriber, message.subscriber_id) if message else None
    email = event.get("email") if isinstance(event.get("email"), str) else None
    if subscriber is None and email:
        subscriber = db.session.scalar(select(Subscriber).filter_by(email=email.strip().lower()))
    evidence = consent.Evidence(
        source="provider_event", provider_ref=str(event.get("sg_event_id")), note=f"SendGrid {kind}"
    )
    if kind == "bounce":
        if str(event.get("type", "bounce")) != "bounce":
            return  # a "blocked" bounce: recorded only
        if message:
            _advance(message, "bounced", at, error_detail=str(event.get("reason") or "")[:500])
        if subscriber:
            consent.opt_out_everywhere(
                subscriber, "email", evidence, state="bounced", suppress_reason="hard_bounce"
            )
    elif kind == "dropped":
        reason = str(event.get("reason") or "").lower()
        if message:
            _advance(message, "failed", at, error_detail=f"dropped: {reason}"[:500])
        if subscriber and any(word in reason for word in HARD_DROP_REASONS):
            consent.opt_out_everywhere(
                subscriber, "email", evidence, state="bounced", suppress_reason="hard_bounce"
            )
    elif kind == "spamreport":
        if subscriber:
            consent.opt_out_everywhere(
                subscriber, "email", evidence, state="complained", suppress_reason="spam_report"
            )
    elif kind in ("unsubscribe", "group_unsubscribe") and subscriber:
        if message:
            from outreach.models import Campaign

            campaign = db.session.get(Campaign, message.campaign_id)
            sub = db.session.scalar(
                select(Subscription).filter_by(
                    subscriber_id=subscriber.id, audience_id=campaign.audience_id, channel="email"
                )
            )
            if sub is not None:
                consent.revoke(sub, evidence)
        else:
            consent.opt_out_everywhere(subscriber, "email", evidence)
