"""The staff inbox of consultation requests: listing (newest first, paged, by status), the
new-request count in the navigation, assignment, status changes (audit-logged) and the
CSV export (formula injection defused)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select

from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import Audience, Campaign, ConsultationRequest, StaffUser, Step
from outreach.models.consultations import REQUEST_STATUSES
from outreach.spreadsheets import SafeWriter
from outreach.staff import audit as staff_audit

PAGE_SIZE = 50
EXPORT_COLUMNS = (
    "id",
    "received_at",
    "status",
    "assigned_to",
    "name",
    "email",
    "phone",
    "contact_time",
    "language",
    "note",
    "audience",
    "campaign",
    "step",
    "channel",
)


class InboxError(ValueError):
    """A change staff asked for that cannot be made (shown to them)."""


@dataclass(frozen=True)
class Row:
    """One request as the inbox shows it."""

    request: ConsultationRequest
    audience: str
    assignee: str | None
    campaign: str | None
    step_number: int | None

    @property
    def source(self) -> str:
        """ "direct", or the campaign, step and channel that brought the person."""
        if self.request.campaign_id is None:
            return "direct"
        name = self.campaign or f"campaign {self.request.campaign_id}"
        step = f"step {self.step_number}" if self.step_number else "a deleted step"
        return f"{name}, {step} ({self.request.channel})"


@dataclass(frozen=True)
class Page:
    """One page of the inbox."""

    rows: list[Row]
    total: int
    page: int
    pages: int


def _filtered(query: Select, status: str | None) -> Select:
    return query.where(ConsultationRequest.status == status) if status else query


def new_count() -> int:
    """Requests nobody has acted on yet (the navigation's badge)."""
    return db.session.scalar(
        select(func.count())
        .select_from(ConsultationRequest)
        .where(ConsultationRequest.status == "new")
    )


def _rows(query: Select) -> list[Row]:
    """Requests with their audience, assignee, campaign and step number (one query)."""
    own = aliased(Step)
    step_number = (
        select(func.count())
        .select_from(Step)
        .where(
            Step.campaign_id == ConsultationRequest.campaign_id,
            Step.position
            <= select(own.position).where(own.id == ConsultationRequest.step_id).scalar_subquery(),
        )
        .scalar_subquery()
    )
    statement = (
        query.add_columns(Audience.name, StaffUser.email, Campaign.name, step_number)
        .join(Audience, Audience.id == ConsultationRequest.audience_id)
        .outerjoin(StaffUser, StaffUser.id == ConsultationRequest.assigned_to)
        .outerjoin(Campaign, Campaign.id == ConsultationRequest.campaign_id)
    )
    return [
        Row(request, audience, assignee, campaign, number if number else None)
        for request, audience, assignee, campaign, number in db.session.execute(statement)
    ]


def listing(status: str | None = None, page: int = 1) -> Page:
    """Requests newest first, ``PAGE_SIZE`` a page, optionally in one status."""
    if status is not None and status not in REQUEST_STATUSES:
        raise InboxError(f"Unknown status {status!r}.")
    total = db.session.scalar(
        _filtered(select(func.count()).select_from(ConsultationRequest), status)
    )
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    query = (
        _filtered(select(ConsultationRequest), status)
        .order_by(ConsultationRequest.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    )
    return Page(_rows(query), total, page, pages)


def assignable() -> list[StaffUser]:
    """Staff a request can be assigned to: active accounts, by email."""
    return list(
        db.session.scalars(
            select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.email)
        )
    )


def set_status(row: ConsultationRequest, status: str, actor_id: int) -> bool:
    """Move a request to ``status``; audit-logged; commits. False when nothing changed."""
    if status not in REQUEST_STATUSES:
        raise InboxError("Choose new, contacted, booked or closed.")
    if row.status == status:
        return False
    before = row.status
    row.status = status
    row.updated_at = clock_now()
    staff_audit.audit(
        actor_id, "request.status", "consultation_request", row.id, f"{before} -> {status}"
    )
    db.session.commit()
    return True


def assign(row: ConsultationRequest, staff_id: int | None, actor_id: int) -> bool:
    """Give a request to a staff user (None: nobody); audit-logged; commits. False when
    nothing changed."""
    staff = None
    if staff_id is not None:
        staff = db.session.get(StaffUser, staff_id)
        if staff is None or not staff.active:
            raise InboxError("Choose an active staff account.")
    if row.assigned_to == staff_id:
        return False
    row.assigned_to = staff_id
    row.updated_at = clock_now()
    staff_audit.audit(
        actor_id,
        "request.assign",
        "consultation_request",
        row.id,
        f"assigned to {staff.email}" if staff else "unassigned",
    )
    db.session.commit()
    return True


def export_csv(status: str | None, actor_id: int) -> str:
    """Requests (one status, or all) as CSV, oldest first, safe to open in a spreadsheet;
    the export itself is audit-logged (it holds names and contact details); commits."""
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    writer.writerow(EXPORT_COLUMNS)
    rows = _rows(_filtered(select(ConsultationRequest), status).order_by(ConsultationRequest.id))
    for row in rows:
        item = row.request
        writer.writerow(
            [
                item.id,
                item.created_at.isoformat(),
                item.status,
                row.assignee,
                item.name,
                item.email,
                item.phone,
                item.contact_time,
                item.language,
                item.note,
                row.audience,
                row.campaign,
                row.step_number,
                item.channel,
            ]
        )
    staff_audit.audit(
        actor_id, "request.export", "consultation_request", None,
        f"{len(rows)} request(s), status {status or 'any'}",
    )  # fmt: skip
    db.session.commit()
    return buffer.getvalue()
