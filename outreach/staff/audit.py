"""The audit log: who did what to which record."""

from __future__ import annotations

import io

from sqlalchemy import select

from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import AuditLog, StaffUser
from outreach.spreadsheets import SafeWriter

EXPORT_COLUMNS = ("id", "time", "actor", "action", "target_type", "target_id", "detail")


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


def export_csv() -> str:
    """The whole audit log as CSV, oldest first, safe to open in a spreadsheet."""
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    writer.writerow(EXPORT_COLUMNS)
    rows = db.session.execute(
        select(AuditLog, StaffUser.email)
        .outerjoin(StaffUser, StaffUser.id == AuditLog.actor_id)
        .order_by(AuditLog.id)
        .execution_options(yield_per=1000)
    )
    for row, email in rows:
        writer.writerow(
            [
                row.id,
                row.created_at.isoformat(),
                email or "system / CLI / API",
                row.action,
                row.target_type,
                row.target_id,
                row.detail,
            ]
        )
    return buffer.getvalue()
