"""The consent ledger: append-only rows with their evidence, and the states they add up to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import ConsentEvent, Subscriber, Subscription

#: State a subscription ends in after each ledger action.
ACTIVE = "active"


PENDING = "pending"


UNSUBSCRIBED = "unsubscribed"


class LedgerIsAppendOnly(RuntimeError):
    """Raised when code tries to change or remove a consent ledger row."""


def _guard_ledger(session: Session, flush_context, instances) -> None:  # noqa: ANN001
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, ConsentEvent):
            raise LedgerIsAppendOnly("consent ledger rows are never updated or deleted")


def install_ledger_guard() -> None:
    """Refuse, at flush, any ORM update or delete of a ledger row (``create_app`` calls this;
    the database's own triggers refuse the same for any other writer)."""
    if not event.contains(db.session, "before_flush", _guard_ledger):
        event.listen(db.session, "before_flush", _guard_ledger)


@dataclass(frozen=True)
class Evidence:
    """Who or what asked for a consent change, and the proof that goes with it."""

    source: str
    wording: str | None = None
    form_url: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    provider_ref: str | None = None
    actor_id: int | None = None
    note: str | None = None


def ledger_row(
    subscriber_id: int,
    audience_id: int | None,
    channel: str,
    action: str,
    resulting_state: str,
    evidence: Evidence,
    at: datetime,
) -> dict:
    """The column values of one ledger row (for the ORM and for bulk inserts alike)."""
    return {
        "subscriber_id": subscriber_id,
        "audience_id": audience_id,
        "channel": channel,
        "action": action,
        "source": evidence.source,
        "resulting_state": resulting_state,
        "wording": evidence.wording,
        "form_url": (evidence.form_url or None) and evidence.form_url[:500],
        "ip_address": evidence.ip_address,
        "user_agent": (evidence.user_agent or None) and evidence.user_agent[:500],
        "provider_ref": evidence.provider_ref,
        "actor_id": evidence.actor_id,
        "note": evidence.note,
        "created_at": at,
    }


def record(
    sub: Subscription, action: str, evidence: Evidence, at: datetime | None = None
) -> ConsentEvent:
    row = ConsentEvent(
        **ledger_row(
            sub.subscriber_id,
            sub.audience_id,
            sub.channel,
            action,
            sub.state,
            evidence,
            at or clock_now(),
        )
    )
    db.session.add(row)
    return row


def replay(events: Iterable[ConsentEvent]) -> dict[tuple[int | None, str], str]:
    """Derive subscription states from ledger rows alone (for audits and tests)."""
    states: dict[tuple[int | None, str], str] = {}
    for row in sorted(events, key=lambda e: (e.created_at, e.id)):
        key = (row.audience_id, row.channel)
        if row.action == "requested":
            states[key] = row.resulting_state
        elif row.action in ("confirmed", "resubscribed"):
            states[key] = ACTIVE
        elif row.action in ("revoked", "suppressed"):
            states[key] = row.resulting_state
    return states


def ledger_for(subscriber: Subscriber) -> list[ConsentEvent]:
    """One subscriber's ledger, oldest first."""
    return list(
        db.session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.subscriber_id == subscriber.id)
            .order_by(ConsentEvent.created_at, ConsentEvent.id)
        )
    )
