"""The suppression list as staff see it: search, filter by reason, and removal of the
entries staff may lift (a hard bounce or a manual entry) with a reason in the consent
ledger. An opt-out (STOP, unsubscribe, spam report, carrier opt-out) or an erasure is never
removed by staff: only the person can lift it, by opting in again."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from outreach import database
from outreach.audiences.contacts import address_hash
from outreach.clock import now as clock_now
from outreach.consent import ledger
from outreach.extensions import db
from outreach.models import Subscriber, Subscription, Suppression
from outreach.staff import audit as staff_audit

PAGE = 50
#: Reasons staff may lift (the address was mistyped and fixed, a mailbox came back).
STAFF_REMOVABLE = frozenset({"hard_bounce", "manual"})
REASON_LABELS = {
    "sms_stop": "replied STOP",
    "unsubscribe": "unsubscribed",
    "spam_report": "marked as spam",
    "carrier_opt_out": "carrier opt-out (21610)",
    "hard_bounce": "hard bounce",
    "erased": "erased (address kept hashed only)",
    "manual": "added by staff",
}


class RemovalRefused(ValueError):
    """A suppression staff may not lift, or a removal without a reason."""


@dataclass(frozen=True)
class Page:
    rows: list[Suppression]
    next_before: int | None


def reasons_present() -> list[str]:
    """The reasons on the list (the filter's choices)."""
    return list(db.session.scalars(select(Suppression.reason).distinct().order_by("reason")))


def find(query: str = "", reason: str = "", channel: str = "", before: int | None = None) -> Page:
    """Entries newest first; ``query`` matches the address (or its exact hash, for an
    erased one: paste the address and it is found by hash)."""
    stmt = select(Suppression)
    query = query.strip()
    if query:
        hashes = [address_hash(c, query) for c in ("email", "sms")]
        digits = "".join(ch for ch in query if ch.isdigit())
        matches = [func.lower(Suppression.address).contains(query.lower(), autoescape=True),
                   Suppression.address_hash.in_(hashes)]  # fmt: skip
        if len(digits) >= 3:
            matches.append(Suppression.address.contains(digits, autoescape=True))
        stmt = stmt.where(db.or_(*matches))
    if reason:
        stmt = stmt.where(Suppression.reason == reason)
    if channel in ("email", "sms"):
        stmt = stmt.where(Suppression.channel == channel)
    return Page(*database.newest_first_page(stmt, Suppression.id, before, PAGE))


def removable(row: Suppression) -> bool:
    """Whether staff may lift this entry."""
    return row.reason in STAFF_REMOVABLE and row.address is not None


def remove(row: Suppression, why: str, actor_id: int | None) -> int:
    """Lift an entry; every subscription of the person with that address on that channel
    gets an ``unsuppressed`` ledger row with the reason (their state is unchanged: a bounced
    subscription stays bounced until they subscribe again). Returns the ledger rows added."""
    why = " ".join(why.split())[:300]
    if not removable(row):
        raise RemovalRefused(
            "only the person can lift this entry, by opting in again"
            if row.reason not in STAFF_REMOVABLE
            else "this address was erased; it stays suppressed"
        )
    if len(why) < 5:
        raise RemovalRefused("say why the address may be contacted again (for the ledger)")
    contact = Subscriber.email if row.channel == "email" else Subscriber.phone
    subs = db.session.scalars(
        select(Subscription)
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .where(contact == row.address, Subscription.channel == row.channel)
    ).all()
    at = clock_now()
    evidence = ledger.Evidence(source="admin", actor_id=actor_id, note=f"suppression lifted: {why}")
    for sub in subs:
        ledger.record(sub, "unsuppressed", evidence, at)
    staff_audit.audit(actor_id, "suppression.remove", "suppression", row.id, row.reason)
    db.session.delete(row)
    db.session.flush()
    return len(subs)
