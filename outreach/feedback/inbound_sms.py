"""Inbound texts: STOP / START / HELP keywords (and ALTO / INICIO / AYUDA) change consent
and get one reply in the keyword's language; other texts are stored for staff."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Insert, Select, bindparam, select

from outreach import database
from outreach.audiences.contacts import InvalidContact, normalise_phone
from outreach.clock import now as clock_now
from outreach.consent import keywords, subscriptions, suppression, wording
from outreach.consent import ledger as consent_ledger
from outreach.extensions import db
from outreach.feedback.writes import begin_write
from outreach.models import Audience, InboundSms, Subscriber, Subscription

log = logging.getLogger(__name__)


#: Values of Twilio's OptOutType (Advanced Opt-Out): Twilio has replied itself.
TWILIO_OPT_OUT_TYPES = frozenset({"STOP", "START", "HELP"})


@dataclass(frozen=True)
class Reply:
    """The TwiML reply to an inbound text (None: reply with nothing)."""

    body: str | None
    intent: keywords.Intent


#: The audience columns a reply's wording needs (read as a plain row, no ORM object).
_IDENTITY = (
    Audience.name,
    Audience.organisation_name,
    Audience.sms_program_name,
    Audience.sms_frequency_text,
    Audience.support_email,
    Audience.support_phone,
)


@database.per_dialect
def _audience_statements() -> tuple[Select, Select]:
    """The person's SMS list, active first (``subscriber_id``); the first list."""
    of_person = (
        select(*_IDENTITY)
        .join(Subscription, Subscription.audience_id == Audience.id)
        .where(
            Subscription.subscriber_id == bindparam("subscriber_id"),
            Subscription.channel == "sms",
        )
        .order_by((Subscription.state == consent_ledger.ACTIVE).desc(), Subscription.id)
        .limit(1)
    )
    return of_person, select(*_IDENTITY).order_by(Audience.id).limit(1)


def _first_audience(subscriber_id: int | None) -> wording.SenderIdentity | None:
    """The sender identity that answers a text: the person's SMS list, else the first list."""
    of_person, first = _audience_statements()
    connection = db.session.connection()
    if subscriber_id is not None:
        found = connection.execute(of_person, {"subscriber_id": subscriber_id}).first()
        if found is not None:
            return found
    return connection.execute(first).first()


@database.per_dialect
def _active_sms() -> Select:
    return (
        select(Subscription.id)
        .where(
            Subscription.subscriber_id == bindparam("subscriber_id"),
            Subscription.channel == "sms",
            Subscription.state == consent_ledger.ACTIVE,
        )
        .limit(1)
    )


def _has_active_sms(subscriber_id: int | None) -> bool:
    if subscriber_id is None:
        return False
    found = db.session.connection().execute(_active_sms(), {"subscriber_id": subscriber_id})
    return found.first() is not None


@database.per_dialect
def _store_text() -> Insert:
    """Store an inbound text and find its sender (``b_phone``) in one statement; returns the
    sender's id, or no row when the MessageSid was stored already (a Twilio retry)."""
    table = InboundSms.__table__
    return (
        database.insert(table)
        .values(
            message_sid=bindparam("b_sid"),
            from_phone=bindparam("b_phone"),
            to_phone=bindparam("b_to"),
            body=bindparam("b_body"),
            intent=bindparam("b_intent"),
            subscriber_id=select(Subscriber.id)
            .where(Subscriber.phone == bindparam("b_phone"))
            .scalar_subquery(),
            created_at=bindparam("b_at"),
        )
        .on_conflict_do_nothing(index_elements=["message_sid"])
        .returning(table.c.subscriber_id)
    )


def normalised_phone(raw: str) -> str:
    try:
        return normalise_phone(raw)
    except InvalidContact:
        return raw.strip()[:32]


def _reply_text(
    intent: keywords.Intent, language: str | None, subscriber_id: int | None, twilio_handled: bool
) -> str | None:
    """The one reply a text gets, in the keyword's language (ALTO is answered in Spanish);
    nothing when Twilio Advanced Opt-Out already answered."""
    if twilio_handled or intent == keywords.Intent.OTHER:
        return None
    audience = _first_audience(subscriber_id)
    if intent == keywords.Intent.OPT_OUT:
        return wording.sms_stopped(audience, language)
    if audience is None:
        return None
    if intent == keywords.Intent.OPT_IN and _has_active_sms(subscriber_id):
        return wording.sms_welcome(audience, language)
    # HELP, or START from a number with nothing to resume: who we are and how to stop.
    return wording.sms_help(audience, language)


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
    phone = normalised_phone(from_number)
    body = body or ""
    # Twilio Advanced Opt-Out set OptOutType and already answered with its own text.
    twilio_handled = (opt_out_type or "").strip().upper() in TWILIO_OPT_OUT_TYPES
    begin_write()
    reading = keywords.read(body, opt_out_type)
    intent = reading.intent
    # One statement stores the text and finds its sender (a STOP's reply waits on this).
    inserted = (
        db.session.connection()
        .execute(
            _store_text(),
            {
                "b_sid": message_sid,
                "b_phone": phone,
                "b_to": (to_number or "")[:32] or None,
                "b_body": body[:1600],
                "b_intent": intent.value,
                "b_at": clock_now(),
            },
        )
        .first()
    )
    if inserted is None:  # a replay: answer as before, change nothing
        stored, subscriber_id = db.session.execute(
            select(InboundSms.intent, InboundSms.subscriber_id).filter_by(message_sid=message_sid)
        ).one()
        intent = keywords.Intent(stored) if stored in set(keywords.Intent) else intent
        reply = _reply_text(intent, reading.language, subscriber_id, twilio_handled)
        db.session.rollback()
        return Reply(reply, intent)
    subscriber_id = inserted[0]
    evidence = consent_ledger.Evidence(
        source="sms_keyword", provider_ref=message_sid, wording=body[:500]
    )
    if intent == keywords.Intent.OPT_OUT:
        if subscriber_id is not None:
            stop = subscriptions.OptOut(subscriber_id, evidence, suppress_reason="sms_stop")
            subscriptions.opt_out_many("sms", [stop])
        else:
            suppression.suppress("sms", phone, "sms_stop")
    elif intent == keywords.Intent.OPT_IN and subscriber_id is not None:
        subscriber = db.session.get(Subscriber, subscriber_id)
        subscriptions.resubscribe_everywhere(subscriber, "sms", evidence)
        if subscriber.phone_unreachable:  # a text from the handset proves it is reachable
            subscriber.phone_unreachable = False
    reply = _reply_text(intent, reading.language, subscriber_id, twilio_handled)
    db.session.commit()
    log.info(
        "inbound sms %s: intent=%s known=%s", message_sid, intent.value, subscriber_id is not None
    )
    return Reply(reply, intent)
