"""The suppression list: addresses never contacted again on a channel (kept hashed)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from outreach import database
from outreach.audiences.contacts import address_hash
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import Subscriber, Suppression

#: Suppression reasons that the subscriber can lift by opting back in (e.g. texting START).
LIFTABLE_BY_OPT_IN = {"sms_stop", "carrier_opt_out", "unsubscribe"}


def contact_for(subscriber: Subscriber, channel: str) -> str | None:
    return subscriber.email if channel == "email" else subscriber.phone


def _row(channel: str, address: str, reason: str, keep_address: bool, at: datetime) -> dict:
    return {
        "channel": channel,
        "address_hash": address_hash(channel, address),
        "address": address if keep_address else None,
        "reason": reason,
        "created_at": at,
    }


@database.per_dialect
def _insert() -> Any:
    """One ``INSERT ... ON CONFLICT DO NOTHING``: two webhooks suppressing the same address
    at the same moment (a STOP and a carrier error, a bounce and a spam report) both succeed."""
    return database.insert_ignore(Suppression.__table__, ["channel", "address_hash"])


def suppress(channel: str, address: str, reason: str, *, keep_address: bool = True) -> bool:
    """Add (channel, address) to the suppression list; False if it was already there."""
    db.session.flush()
    row = _row(channel, address, reason, keep_address, clock_now())
    stmt = _insert().values(row).execution_options(preserve_rowcount=True)
    return db.session.execute(stmt).rowcount > 0


def suppress_many(
    channel: str, entries: Iterable[tuple[str, str]], *, at: datetime | None = None
) -> None:
    """``suppress`` for many (address, reason) pairs in one statement (addresses kept)."""
    at = at or clock_now()
    rows = [_row(channel, address, reason, True, at) for address, reason in entries]
    if rows:
        db.session.connection().execute(_insert(), rows)


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
