"""May we contact this person on this channel now? (confirmed, active, not suppressed)"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import String, select

from outreach import database
from outreach.audiences.contacts import address_hash
from outreach.consent.ledger import ACTIVE
from outreach.database import in_values
from outreach.extensions import db
from outreach.models import Audience, Subscriber, Subscription, Suppression


def check_batch(
    subscriber_ids: Iterable[int], channel: str, audience_id: int, *, lock: bool = False
) -> dict[int, str | None]:
    """For each subscriber: None if we may contact them now on the channel for the audience,
    else the reason (``no_consent``, ``suppressed``, ``invalid_number``).

    Two queries for the whole batch. With ``lock`` (PostgreSQL) the active subscription rows
    are held FOR SHARE until the caller's transaction ends, so a concurrent opt-out waits
    for an in-flight send instead of racing it.
    """
    ids = sorted(set(subscriber_ids))
    verdict: dict[int, str | None] = dict.fromkeys(ids, "no_consent")
    if not ids:
        return verdict
    contact = Subscriber.email if channel == "email" else Subscriber.phone
    query = (
        select(Subscriber.id, contact, Subscriber.phone_invalid, Subscriber.phone_unreachable)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(
            in_values(Subscriber.id, ids),
            Subscription.audience_id == audience_id,
            Subscription.channel == channel,
            Subscription.state == ACTIVE,
            contact.is_not(None),
            Subscriber.erased_at.is_(None),
        )
        .order_by(Subscription.id)
    )
    if lock and database.is_postgres():
        query = query.with_for_update(read=True, of=Subscription)
    digests: dict[int, str] = {}
    for sid, address, invalid, unreachable in db.session.execute(query):
        if channel == "sms" and invalid:
            verdict[sid] = "invalid_number"
        elif channel == "sms" and unreachable:
            verdict[sid] = "unreachable"
        else:
            digests[sid] = address_hash(channel, address)
            verdict[sid] = None
    if digests:
        suppressed = set(
            db.session.scalars(
                select(Suppression.address_hash).where(
                    Suppression.channel == channel,
                    in_values(Suppression.address_hash, digests.values(), String),
                )
            )
        )
        for sid, digest in digests.items():
            if digest in suppressed:
                verdict[sid] = "suppressed"
    return verdict


def allowed_subscribers(subscriber_ids: Iterable[int], channel: str, audience_id: int) -> set[int]:
    """Of these subscribers, those we may contact now on the channel for the audience."""
    verdict = check_batch(subscriber_ids, channel, audience_id)
    return {sid for sid, reason in verdict.items() if reason is None}


def may_contact(subscriber: Subscriber, channel: str, audience: Audience) -> bool:
    """May we contact this person on this channel for this audience right now?"""
    return subscriber.id in allowed_subscribers([subscriber.id], channel, audience.id)
