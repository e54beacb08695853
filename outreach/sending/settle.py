"""Staff settle an ``unknown`` row by hand, when reconciliation cannot (the provider keeps
no list to ask, or the row is still unknown after its one re-send).

Both moves are guarded by ``state = 'unknown'`` (a callback that lands first wins), noted
in the row's history and written to the audit log of staff actions.
"""

from __future__ import annotations

from sqlalchemy import func, update

from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.feedback.writes import begin_write, record_history
from outreach.models import Message
from outreach.staff import audit as staff_audit

MARKED_SENT = "marked sent by staff"
REQUEUED = "re-queued by staff"


class NotUnknown(Exception):
    """The row is no longer ``unknown``: a provider report or another person settled it."""


def _settle(message: Message, actor_id: int, note: str, kind: str, action: str, **values) -> None:
    at = clock_now()
    what = MARKED_SENT if kind == "marked_sent" else REQUEUED
    detail = f"{what}: {note}" if note else what
    begin_write()
    moved = db.session.scalar(
        update(Message)
        .where(Message.id == message.id, Message.state == "unknown")
        .values(error_detail=detail[:500], lease_until=None, updated_at=at, **values)
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    )
    if moved is None:
        db.session.rollback()
        raise NotUnknown(f"message {message.id} is no longer unknown")
    record_history([message.id], kind, detail)
    staff_audit.audit(actor_id, action, "message", message.id, note[:300] or None)
    db.session.commit()
    db.session.refresh(message)


def mark_sent(message: Message, actor_id: int, note: str = "") -> None:
    """The person checked with the provider that it went out: ``sent``, never re-sent."""
    _settle(
        message,
        actor_id,
        note,
        "marked_sent",
        "message.mark_sent",
        state="sent",
        sent_at=func.coalesce(Message.claimed_at, clock_now()),
    )


def requeue(message: Message, actor_id: int, note: str = "") -> None:
    """The person checked that it never went out: back to ``queued``, due now (consent,
    windows and caps are checked again when it is claimed)."""
    at = clock_now()
    _settle(
        message,
        actor_id,
        note,
        "requeued_by_hand",
        "message.requeue",
        state="queued",
        due_at=at,
        requeued_at=at,
    )
