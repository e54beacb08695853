"""The audit log page and its export: filters (who, what kind of action, which days) and
every target named as staff know it (campaign name, step position and subject, audience
name, staff address), never a bare id."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select

from outreach.campaigns import naming
from outreach.extensions import db
from outreach.models import (
    Audience,
    AuditLog,
    ConsultationRequest,
    StaffUser,
    Subscription,
)
from outreach.spreadsheets import SafeWriter

PAGE_ROWS = 300
SYSTEM = "system"
_KIND = re.compile(r"[a-z_]{1,40}")
EXPORT_COLUMNS = (
    "id", "time_utc", "actor", "action", "target_type", "target_id", "target", "detail",
)  # fmt: skip


@dataclass(frozen=True)
class AuditFilters:
    """What the page shows: an actor (a staff id, or ``"system"`` for the CLI and API), a
    kind of action (``campaign``, ``step``, ``staff`` ...), and days in the staff zone."""

    actor: str = ""
    kind: str = ""
    since: date | None = None
    until: date | None = None

    def as_args(self) -> dict[str, str]:
        """The filters as query arguments (for the export link and paging)."""
        args = {"actor": self.actor, "kind": self.kind,
                "since": self.since.isoformat() if self.since else "",
                "until": self.until.isoformat() if self.until else ""}  # fmt: skip
        return {k: v for k, v in args.items() if v}


@dataclass(frozen=True)
class AuditEntry:
    """One row as the page shows it. ``link`` is (kind, id) of the page to open, if any."""

    row: AuditLog
    actor: str
    target: str
    link: tuple[str, int] | None


def parse_filters(args: dict[str, str]) -> AuditFilters:
    """Filters from query arguments; unreadable values are ignored, not an error page."""

    def day(value: str | None) -> date | None:
        try:
            return date.fromisoformat(value) if value else None
        except ValueError:
            return None

    actor = (args.get("actor") or "").strip()
    if actor != SYSTEM and not actor.isdigit():
        actor = ""
    kind = (args.get("kind") or "").strip()
    if not _KIND.fullmatch(kind):
        kind = ""  # a kind the log has never held simply matches nothing
    return AuditFilters(actor, kind, day(args.get("since")), day(args.get("until")))


def kinds() -> list[str]:
    """The kinds of action the log holds (the part before the dot: campaign, step ...)."""
    actions = db.session.scalars(select(AuditLog.action).distinct())
    return sorted({action.partition(".")[0] for action in actions})


def actors() -> list[tuple[int, str]]:
    """Staff who appear in the log, by address."""
    rows = db.session.execute(
        select(StaffUser.id, StaffUser.email)
        .where(StaffUser.id.in_(select(AuditLog.actor_id).distinct()))
        .order_by(StaffUser.email)
    )
    return [(staff_id, email) for staff_id, email in rows]


def _query(filters: AuditFilters, zone: ZoneInfo) -> Select:
    query = select(AuditLog, StaffUser.email).outerjoin(
        StaffUser, StaffUser.id == AuditLog.actor_id
    )
    if filters.actor == SYSTEM:
        query = query.where(AuditLog.actor_id.is_(None))
    elif filters.actor:
        query = query.where(AuditLog.actor_id == int(filters.actor))
    if filters.kind:
        query = query.where(
            func.substr(AuditLog.action, 1, len(filters.kind) + 1) == filters.kind + "."
        )
    if filters.since:
        query = query.where(AuditLog.created_at >= _start_of(filters.since, zone))
    if filters.until:
        query = query.where(AuditLog.created_at < _start_of(filters.until + timedelta(1), zone))
    return query


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(ZoneInfo("UTC"))


def find(filters: AuditFilters, zone: ZoneInfo, limit: int = PAGE_ROWS) -> list[AuditEntry]:
    """The newest ``limit`` matching rows, targets named."""
    rows = db.session.execute(_query(filters, zone).order_by(AuditLog.id.desc()).limit(limit))
    return list(_named(rows.all()))


def _named(rows: Iterable) -> Iterator[AuditEntry]:
    rows = list(rows)
    ids: dict[str, set[int]] = {}
    for row, _ in rows:
        if row.target_id and row.target_id.isdigit():
            ids.setdefault(row.target_type, set()).add(int(row.target_id))
    names = _target_names(ids)
    for row, email in rows:
        target_id = int(row.target_id) if row.target_id and row.target_id.isdigit() else None
        found = names.get((row.target_type, target_id))
        if found is None:
            label = row.target_type.replace("_", " ") + (
                f" {row.target_id}" if row.target_id else ""
            )
            yield AuditEntry(row, email or "system / CLI / API", label, None)
        else:
            yield AuditEntry(row, email or "system / CLI / API", found[0], found[1])


def _target_names(
    ids: dict[str, set[int]],
) -> dict[tuple[str, int], tuple[str, tuple[str, int] | None]]:
    """(type, id) -> (name, link) for every target that still exists."""
    names: dict[tuple[str, int], tuple[str, tuple[str, int] | None]] = {}
    for campaign_id, name in naming.campaign_names(ids.get("campaign", ())).items():
        names["campaign", campaign_id] = (name, ("campaign", campaign_id))
    for step_id, step in naming.step_names(ids.get("step", ())).items():
        names["step", step_id] = (f"{step.campaign_name} · {step.label}",
                                  ("campaign", step.campaign_id))  # fmt: skip
    if ids.get("audience"):
        for audience_id, name in db.session.execute(
            select(Audience.id, Audience.name).where(Audience.id.in_(ids["audience"]))
        ):
            names["audience", audience_id] = (name, ("audience", audience_id))
    staff_ids = ids.get("staff_user", set())
    if staff_ids:
        for staff_id, email in db.session.execute(
            select(StaffUser.id, StaffUser.email).where(StaffUser.id.in_(staff_ids))
        ):
            names["staff_user", staff_id] = (email, ("staff", staff_id))
    for subscriber_id in ids.get("subscriber", ()):
        names["subscriber", subscriber_id] = (f"subscriber #{subscriber_id}",
                                              ("subscriber", subscriber_id))  # fmt: skip
    if ids.get("subscription"):
        for sub_id, subscriber_id, channel in db.session.execute(
            select(Subscription.id, Subscription.subscriber_id, Subscription.channel).where(
                Subscription.id.in_(ids["subscription"])
            )
        ):
            label = f"{channel} subscription of subscriber #{subscriber_id}"
            names["subscription", sub_id] = (label, ("subscriber", subscriber_id))
    if ids.get("consultation_request"):
        for request_id in db.session.scalars(
            select(ConsultationRequest.id).where(
                ConsultationRequest.id.in_(ids["consultation_request"])
            )
        ):
            names["consultation_request", request_id] = (f"consultation request #{request_id}",
                                                         ("requests", request_id))  # fmt: skip
    return names


def export_csv(filters: AuditFilters, zone: ZoneInfo) -> str:
    """The matching rows as CSV, oldest first, targets named, safe in a spreadsheet."""
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    writer.writerow(EXPORT_COLUMNS)
    query = _query(filters, zone).order_by(AuditLog.id)
    result = db.session.execute(query.execution_options(yield_per=1000))
    for chunk in result.partitions():
        for entry in _named(chunk):
            row = entry.row
            writer.writerow([row.id, row.created_at.isoformat(), entry.actor, row.action,
                             row.target_type, row.target_id, entry.target, row.detail])  # fmt: skip
    return buffer.getvalue()
