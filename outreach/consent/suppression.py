"""The suppression list: addresses never contacted again on a channel (kept hashed)."""

from __future__ import annotations

from sqlalchemy import select

from outreach import database
from outreach.audiences.contacts import address_hash
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import (
    Subscriber,
    Suppression,
)

#: Suppression reasons that the subscriber can lift by opting back in (e.g. texting START).
LIFTABLE_BY_OPT_IN = {"sms_stop", "carrier_opt_out", "unsubscribe"}


def contact_for(subscriber: Subscriber, channel: str) -> str | None:
    return subscriber.email if channel == "email" else subscriber.phone


def suppress(channel: str, address: str, reason: str, *, keep_address: bool = True) -> bool:
    """Add (channel, address) to the suppression list; False if it was already there.

    One ``INSERT ... ON CONFLICT DO NOTHING``: two webhooks suppressing the same address at
    the same moment (a STOP and a carrier error, a bounce and a spam report) both succeed.
    """
    db.session.flush()
    table = Suppression.__table__
    stmt = (
        database.insert_ignore(table, ["channel", "address_hash"])
        .values(
            channel=channel,
            address_hash=address_hash(channel, address),
            address=address if keep_address else None,
            reason=reason,
            created_at=clock_now(),
        )
        .execution_options(preserve_rowcount=True)
    )
    return db.session.execute(stmt).rowcount > 0


def is_suppressed(channel: str, address: str | None) -> bool:
    """True when the address is on the suppression list for that channel."""
    if not address:
        return False
    digest = address_hash(channel, address)
    return (
        db.session.scalar(select(Suppression.id).filter_by(channel=channel, address_hash=digest))
        is not None
    )


def lift_suppression(subscriber: Subscriber, channel: str) -> None:
    address = contact_for(subscriber, channel)
    if not address:
        return
    digest = address_hash(channel, address)
    for row in db.session.scalars(
        select(Suppression).filter_by(channel=channel, address_hash=digest)
    ):
        if row.reason in LIFTABLE_BY_OPT_IN:
            db.session.delete(row)
