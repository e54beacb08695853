"""The audit log: who did what to which record."""

from __future__ import annotations

from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import AuditLog


def audit(
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: object = None,
    detail: str | None = None,
) -> None:
    """Append a row to the audit log of staff actions."""
    db.session.add(
        AuditLog(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            detail=detail,
            created_at=clock_now(),
        )
    )
