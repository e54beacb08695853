"""Twilio status callbacks: move a text forward (never back), 21610 suppresses the
number, repeated 3000x failures mark it unreachable."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import bindparam, func, select, update

from outreach.clock import now as clock_now
from outreach.consent import subscriptions
from outreach.extensions import db
from outreach.feedback.inbound_sms import normalised_phone
from outreach.feedback.writes import advance_many, begin_write, outbox, record_events
from outreach.models import Message, Subscriber

log = logging.getLogger(__name__)


#: Twilio MessageStatus -> outbox state (other statuses are recorded only).
TWILIO_STATUS = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "failed",
    "failed": "failed",
}


#: Twilio error: the recipient opted out at the carrier.
CARRIER_OPT_OUT = "21610"


#: Twilio errors meaning the handset could not be reached (unknown, unavailable, lost).
UNREACHABLE_CODES = frozenset({"30003", "30005", "30006"})


#: Failures with those codes, since the last delivery, after which a number is unreachable.
UNREACHABLE_AFTER = 3


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
    fresh = record_events(
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
            subscriptions.carrier_opt_out(None, normalised_phone(to_number), message_sid)
        db.session.commit()
        return True
    message_pk, subscriber_id = message.id, message.subscriber_id
    table = outbox()
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
        advanced = advance_many(state, [row], **values)
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


def _apply_sms_error(subscriber_id: int, code: str, message_sid: str) -> None:
    if code == CARRIER_OPT_OUT:
        subscriptions.carrier_opt_out(db.session.get(Subscriber, subscriber_id), None, message_sid)
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
