"""Privacy requests: export everything held on one subscriber, or erase one subscriber.

Erasure (see ``docs/results-privacy-api.md``):

* every subscription is withdrawn through ``consent`` (ledger rows, queued messages
  cancelled) and every address is put on the suppression list **as a hash only**
  (reason ``erased``), so the address or number is never contacted again, even if it signs
  up again: ``consent.check_batch`` reports it ``suppressed`` and confirmation messages
  are refused. An existing suppression of the address loses its plain-text copy, and one
  the person could lift by opting in again (STOP, unsubscribe) becomes ``erased``;
* the subscriber row keeps only its random public id, timestamps and ``erased_at``:
  email, phone and first name are blanked, the time zone reset;
* outbox rows stay (campaign statistics stay true) with their error details blanked;
  delivery events lose their detail text; inbound texts lose the number and the body;
  consultation requests sent with the email or phone lose the name, contacts and note
  (``consultations/privacy.py``; their counts in the results stay);
* the consent ledger is **kept**: it is append-only (database triggers refuse UPDATE and
  DELETE) and is the proof of consent the sender must be able to show for every message
  it sent (TCPA: 47 CFR 64.1200, four-year limitation period; GDPR Art. 17(3)(b) and (e):
  a legal obligation, and the establishment, exercise or defence of legal claims). Its
  rows hold no email address or phone number; the subscriber is reached through the
  internal id only.

Functions flush but do not commit: the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update

from outreach.audiences.contacts import address_hash, normalise_email, normalise_phone
from outreach.clock import now as clock_now
from outreach.consent import evidence, subscriptions, suppression
from outreach.consent import ledger as consent_ledger
from outreach.consent import signup as signups
from outreach.consultations import privacy as consultation_privacy
from outreach.extensions import db
from outreach.models import (
    Campaign,
    DeliveryEvent,
    InboundSms,
    Message,
    Step,
    Subscriber,
    Subscription,
    Suppression,
)
from outreach.staff import audit as staff_audit

ERASED = "erased"
#: The time zone an erased subscriber is left with (a location hint is personal data).
ERASED_TIMEZONE = "Etc/UTC"
EXPORT_FORMAT = "outreach.subscriber-export/1"


class PrivacyError(ValueError):
    """A privacy request that cannot be carried out (message safe to show)."""


@dataclass
class ErasureReport:
    """What an erasure changed (counts only: no personal data)."""

    subscriber_id: str
    subscriptions_withdrawn: int = 0
    addresses_suppressed: int = 0
    messages_cancelled: int = 0
    messages_blanked: int = 0
    events_blanked: int = 0
    inbound_blanked: int = 0
    requests_blanked: int = 0

    def summary(self) -> str:
        """One line for the audit log and the CLI."""
        return (
            f"{self.subscriptions_withdrawn} subscription(s) withdrawn, "
            f"{self.addresses_suppressed} address(es) suppressed by hash, "
            f"{self.messages_cancelled} queued message(s) cancelled, "
            f"{self.messages_blanked} message(s), {self.events_blanked} delivery event(s), "
            f"{self.inbound_blanked} inbound text(s) and {self.requests_blanked} consultation "
            "request(s) blanked; consent ledger kept"
        )


def find(reference: str) -> Subscriber | None:
    """The subscriber with this email, phone or public id (raises InvalidContact if neither)."""
    reference = (reference or "").strip()
    if len(reference) == 32 and all(c in "0123456789abcdef" for c in reference):
        found = db.session.scalar(select(Subscriber).filter_by(public_id=reference))
        if found is not None:
            return found
    if "@" in reference:
        return signups.find_subscriber(email=normalise_email(reference))
    return signups.find_subscriber(phone=normalise_phone(reference))


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _message_ids(subscriber: Subscriber) -> Any:
    return select(Message.id).where(Message.subscriber_id == subscriber.id)


def _inbound_filter(subscriber: Subscriber) -> Any:
    conditions = [InboundSms.subscriber_id == subscriber.id]
    if subscriber.phone:
        conditions.append(InboundSms.from_phone == subscriber.phone)
    return or_(*conditions)


def export(subscriber: Subscriber, actor_id: int | None = None) -> dict[str, Any]:
    """Everything held on one subscriber, as one JSON-ready document (audited)."""
    messages = db.session.execute(
        select(Message, Campaign.name, Step.position)
        .join(Campaign, Campaign.id == Message.campaign_id)
        .join(Step, Step.id == Message.step_id)
        .where(Message.subscriber_id == subscriber.id)
        .order_by(Message.id)
    ).all()
    events = db.session.scalars(
        select(DeliveryEvent)
        .where(DeliveryEvent.message_id.in_(_message_ids(subscriber)))
        .order_by(DeliveryEvent.id)
    ).all()
    inbound = db.session.scalars(
        select(InboundSms).where(_inbound_filter(subscriber)).order_by(InboundSms.id)
    ).all()
    suppressions = []
    for channel, address in (("email", subscriber.email), ("sms", subscriber.phone)):
        if address:
            suppressions += db.session.scalars(
                select(Suppression).filter_by(
                    channel=channel, address_hash=address_hash(channel, address)
                )
            ).all()
    ledger = evidence.ledger_json(subscriber)
    document = {
        "format": EXPORT_FORMAT,
        "generated_at": clock_now().isoformat(),
        "profile": {
            **ledger["subscriber"],
            "phone_invalid": subscriber.phone_invalid,
            "phone_unreachable": subscriber.phone_unreachable,
        },
        "subscriptions": [
            {
                "audience": s.audience.slug,
                "audience_name": s.audience.name,
                "channel": s.channel,
                "state": s.state,
                "requested_at": _iso(s.requested_at),
                "confirmed_at": _iso(s.confirmed_at),
                "updated_at": _iso(s.updated_at),
                "note": s.note,
            }
            for s in subscriber.subscriptions
        ],
        "consent_ledger": ledger["ledger"],
        "suppressions": [
            {"channel": s.channel, "reason": s.reason, "created_at": _iso(s.created_at)}
            for s in suppressions
        ],
        "messages": [
            {
                "id": m.id,
                "campaign": campaign_name,
                "step": position + 1,
                "channel": m.channel,
                "state": m.state,
                "skip_reason": m.skip_reason,
                "due_at": _iso(m.due_at),
                "sent_at": _iso(m.sent_at),
                "delivered_at": _iso(m.delivered_at),
                "opened_at": _iso(m.opened_at),
                "clicked_at": _iso(m.clicked_at),
                "attempts": m.attempts,
                "provider_id": m.provider_id,
                "error_code": m.error_code,
                "error_detail": m.error_detail,
                "created_at": _iso(m.created_at),
            }
            for m, campaign_name, position in messages
        ],
        "delivery_events": [
            {
                "message_id": e.message_id,
                "provider": e.provider,
                "provider_event_id": e.provider_event_id,
                "event_type": e.event_type,
                "error_code": e.error_code,
                "detail": e.detail,
                "created_at": _iso(e.created_at),
            }
            for e in events
        ],
        "inbound_texts": [
            {
                "message_sid": t.message_sid,
                "from_phone": t.from_phone,
                "to_phone": t.to_phone,
                "body": t.body,
                "intent": t.intent,
                "created_at": _iso(t.created_at),
            }
            for t in inbound
        ],
        "consultation_requests": consultation_privacy.held_for(subscriber.email, subscriber.phone),
    }
    staff_audit.audit(actor_id, "privacy.export", "subscriber", subscriber.public_id)
    return document


def _harden_suppression(channel: str, address: str) -> bool:
    """Suppress by hash for good: add it, or strip the address from an existing entry.

    An entry the person could lift by opting in again (after STOP or unsubscribe) becomes
    ``erased``; other reasons (hard bounce, spam report) stay, equally permanent.
    """
    if suppression.suppress(channel, address, ERASED, keep_address=False):
        return True
    digest = address_hash(channel, address)
    db.session.execute(
        update(Suppression)
        .where(Suppression.channel == channel, Suppression.address_hash == digest)
        .values(address=None)
    )
    db.session.execute(
        update(Suppression)
        .where(
            Suppression.channel == channel,
            Suppression.address_hash == digest,
            Suppression.reason.in_(sorted(suppression.LIFTABLE_BY_OPT_IN)),
        )
        .values(reason=ERASED)
    )
    return True


def _changed(statement: Any) -> int:
    """Run an UPDATE (no ORM synchronisation); how many rows it changed."""
    return db.session.execute(statement.execution_options(synchronize_session=False)).rowcount or 0


def erase(subscriber: Subscriber, actor_id: int | None = None, note: str = "") -> ErasureReport:
    """Erase one subscriber's personal data, keeping a hashed suppression (audited)."""
    if subscriber.erased_at is not None:
        raise PrivacyError("this subscriber was already erased")
    at = clock_now()
    report = ErasureReport(subscriber.public_id)
    reference = " ".join((note or "").split())[:300]
    proof = consent_ledger.Evidence(
        source="admin",
        actor_id=actor_id,
        note=f"erasure request: {reference}" if reference else "erasure request",
    )
    for sub in db.session.scalars(
        select(Subscription).filter_by(subscriber_id=subscriber.id).order_by(Subscription.id)
    ):
        if sub.state in (consent_ledger.ACTIVE, consent_ledger.PENDING) and subscriptions.revoke(
            sub, proof
        ):
            report.subscriptions_withdrawn += 1
    inbound_filter = _inbound_filter(subscriber)  # uses the phone: before it is blanked
    report.requests_blanked = consultation_privacy.blank_for(subscriber.email, subscriber.phone)
    for channel, address in (("email", subscriber.email), ("sms", subscriber.phone)):
        if address and _harden_suppression(channel, address):
            report.addresses_suppressed += 1
    report.messages_cancelled = _changed(
        update(Message)
        .where(Message.subscriber_id == subscriber.id, Message.state == "queued")
        .values(state="cancelled", skip_reason=ERASED, updated_at=at)
    )
    report.messages_blanked = _changed(
        update(Message)
        .where(Message.subscriber_id == subscriber.id, Message.error_detail.is_not(None))
        .values(error_detail=None, updated_at=at)
    )
    report.events_blanked = _changed(
        update(DeliveryEvent)
        .where(
            DeliveryEvent.message_id.in_(_message_ids(subscriber)),
            DeliveryEvent.detail.is_not(None),
        )
        .values(detail=None)
    )
    report.inbound_blanked = _changed(
        update(InboundSms)
        .where(inbound_filter)
        .values(from_phone="", body="", subscriber_id=subscriber.id)
    )
    subscriber.email = None
    subscriber.phone = None
    subscriber.first_name = ""
    subscriber.timezone = ERASED_TIMEZONE
    subscriber.phone_invalid = False
    subscriber.phone_unreachable = False
    subscriber.erased_at = at
    detail = (f"{reference}: " if reference else "") + report.summary()
    staff_audit.audit(actor_id, "privacy.erase", "subscriber", subscriber.public_id, detail)
    db.session.flush()
    return report
