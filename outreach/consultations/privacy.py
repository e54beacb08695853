"""A person's consultation requests in a privacy export or erasure (``consent/privacy.py``):
requests are matched by the subscriber's email or phone (a request is not tied to a
subscriber record). An erasure blanks the name, contacts and note and keeps the counts
(status, audience, attribution) so the results stay right."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import ConsultationRequest

ERASED_NAME = "(erased)"


def _matching(email: str | None, phone: str | None) -> ColumnElement[bool] | None:
    conditions = []
    if email:
        conditions.append(ConsultationRequest.email == email)
    if phone:
        conditions.append(ConsultationRequest.phone == phone)
    return or_(*conditions) if conditions else None


def held_for(email: str | None, phone: str | None) -> list[dict[str, Any]]:
    """The requests sent with this email or phone, oldest first, as JSON-ready rows."""
    condition = _matching(email, phone)
    if condition is None:
        return []
    rows = db.session.scalars(
        select(ConsultationRequest).where(condition).order_by(ConsultationRequest.id)
    )
    return [
        {
            "id": r.id,
            "name": r.name,
            "email": r.email,
            "phone": r.phone,
            "contact_time": r.contact_time,
            "note": r.note,
            "language": r.language,
            "status": r.status,
            "created_at": r.created_at.isoformat(),
        }
        for r in rows
    ]


def blank_for(email: str | None, phone: str | None) -> int:
    """Blank the personal fields of the requests sent with this email or phone; how many."""
    condition = _matching(email, phone)
    if condition is None:
        return 0
    result = db.session.execute(
        update(ConsultationRequest)
        .where(condition)
        .values(name=ERASED_NAME, email=None, phone=None, note="", updated_at=clock_now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0
