"""A calendar step's fan-out: one ``INSERT ... SELECT`` per step, every due zone at once.

Each zone's due time is computed in Python once (``lifecycle.step_due_at``: DST and the
audience's default zone for an unknown name) and joined as a small ``VALUES`` table, so the
eligible subscriptions are read once per step, not once per zone. Rows are inserted in
(step, subscriber) order, the unique key's order: its B-tree and the subscriber index are
appended to instead of written at random (a hash join's batches scramble the order).

On PostgreSQL a transaction-level advisory lock per step (``pg_try_advisory_xact_lock``)
lets one worker at a time fan a step out; another worker's tick skips it and the next
tick finds the rows. Under that lock a plain INSERT with an anti-join (``NOT EXISTS``) is
idempotent and skips ``ON CONFLICT``'s speculative insertion (a second unique-index
descent and WAL record per row, ~25% of the CPU at a million rows: bench/README.md). If
a row appears anyway (an inserter that does not take the lock), the statement's
savepoint is rolled back and it runs again with ``ON CONFLICT DO NOTHING``. SQLite has one
writer and checks the unique key on every insert anyway: it keeps ``ON CONFLICT``.

The zones come from the subscriber time-zone index (a loose index scan: one probe per
distinct zone), not from a GROUP BY over the audience; a zone is only considered for a
step when one of its subscribers is eligible (one ``EXISTS`` probe per zone, the first
time), the same zones the per-zone path (``materialise.materialise_calendar_step_per_zone``)
lists.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, literal, select, text, values
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import column

from outreach import database
from outreach.extensions import db
from outreach.models import Campaign, Message, Step, StepZone, Subscriber, Subscription
from outreach.sending import outbox_rows

#: pg_try_advisory_xact_lock(FANOUT_LOCK_CLASS, step id): one fan-out of a step at a time.
FANOUT_LOCK_CLASS = 0x0FA0
#: Memory for the sort into key order (PostgreSQL, this transaction only): a million rows
#: sort in memory instead of in temporary files.
SORT_MEMORY = "64MB"

#: Every distinct subscriber time zone, by the index (WITH RECURSIVE: min above the last).
_DISTINCT_ZONES = text(
    "WITH RECURSIVE zones(tz) AS ("
    " SELECT min(timezone) FROM subscribers"
    " UNION ALL"
    " SELECT (SELECT min(timezone) FROM subscribers WHERE timezone > zones.tz)"
    " FROM zones WHERE zones.tz IS NOT NULL"
    ") SELECT tz FROM zones WHERE tz IS NOT NULL"
)


def distinct_zones() -> list[str]:
    """Every time zone some subscriber is in (milliseconds at any size: one index probe
    per zone)."""
    return list(db.session.scalars(_DISTINCT_ZONES))


def _has_eligible(campaign: Campaign, step: Step, tz: str) -> bool:
    """True if a subscriber in ``tz`` is eligible for the step (stops at the first)."""
    probe = (
        select(Subscription.id)
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .where(outbox_rows.eligible(campaign, step), Subscriber.timezone == tz)
    )
    return bool(db.session.scalar(select(exists(probe))))


def due_zones(campaign: Campaign, step: Step, at: datetime) -> dict[str, datetime]:
    """Zone -> due time (UTC) of the zones this tick fans out: due by ``at`` plus the
    look-ahead, not yet done (or the step takes late joiners), with an eligible subscriber."""
    done = set(db.session.scalars(select(StepZone.timezone).where(StepZone.step_id == step.id)))
    zones: dict[str, datetime] = {}
    for tz in distinct_zones():
        if tz in done and not step.include_late_joiners:
            continue
        due = outbox_rows.zone_due(campaign, step, tz, at)
        if due is None:
            continue
        if tz in done or _has_eligible(campaign, step, tz):
            zones[tz] = due
    return zones


def _select(campaign: Campaign, step: Step, zones: dict[str, datetime], at: datetime):  # noqa: ANN202
    """The step's rows for ``zones`` (``materialise.COLUMNS``), in subscriber order."""
    table = (
        values(
            column("tz", Subscriber.timezone.type),
            column("due", Message.due_at.type),
            name="zone_due",
        )
        .data(sorted(zones.items()))
        .cte("zone_due")
    )
    conditions = [outbox_rows.eligible(campaign, step)]
    if not step.include_late_joiners:
        conditions.append(Subscription.confirmed_at <= table.c.due)
    stmt = (
        select(
            literal(campaign.id),
            literal(step.id),
            Subscription.subscriber_id,
            literal(step.channel),
            literal("queued"),
            table.c.due,
            literal(0),
            literal(at, type_=Message.created_at.type),
            literal(at, type_=Message.updated_at.type),
        )
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .join(table, table.c.tz == Subscriber.timezone)
        .where(*conditions)
        .order_by(Subscription.subscriber_id)
    )
    return stmt


def _not_there(step: Step):  # noqa: ANN202
    """No outbox row yet for this step, subscriber and channel (the anti-join)."""
    return ~exists(
        select(Message.id).where(
            Message.step_id == step.id,
            Message.channel == step.channel,
            Message.subscriber_id == Subscription.subscriber_id,
        )
    )


def _plain_insert(rows):  # noqa: ANN001, ANN202
    return (
        database.insert(Message.__table__)
        .from_select(outbox_rows.COLUMNS, rows)
        .execution_options(preserve_rowcount=True)
    )


def insert_rows(campaign: Campaign, step: Step, zones: dict[str, datetime], at: datetime) -> int:
    """Insert the step's missing rows for ``zones``; returns rows added. The caller holds
    the step's fan-out lock on PostgreSQL."""
    rows = _select(campaign, step, zones, at)
    if not database.is_postgres():
        # The statement starts with WITH, so sqlite3 reports no rowcount: ask SQLite.
        db.session.execute(outbox_rows.insert_stmt(rows))
        return db.session.scalar(text("SELECT changes()")) or 0
    db.session.execute(text(f"SET LOCAL work_mem = '{SORT_MEMORY}'"))
    try:
        with db.session.begin_nested():
            result = db.session.execute(_plain_insert(rows.where(_not_there(step))))
            return result.rowcount or 0
    except IntegrityError:  # a row inserted meanwhile by a path without the lock
        return outbox_rows.insert_select(rows)


def lock_step(step: Step) -> bool:
    """Take the step's fan-out lock for this transaction (PostgreSQL); False if another
    session holds it (it is fanning the step out now). Always True on SQLite (one writer)."""
    if not database.is_postgres():
        return True
    got = db.session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:kind, :step)"),
        {"kind": FANOUT_LOCK_CLASS, "step": step.id},
    )
    return bool(got)


def materialise_calendar_step(campaign: Campaign, step: Step, at: datetime) -> int:
    """Create the rows of a calendar step in every zone where it is due, in one statement;
    returns rows added. Marks each zone due by ``at`` as done (``StepZone``)."""
    if not outbox_rows.hold_step(step) or not lock_step(step):
        return 0
    zones = due_zones(campaign, step, at)
    if not zones:
        return 0
    added = insert_rows(campaign, step, zones, at)
    done = set(db.session.scalars(select(StepZone.timezone).where(StepZone.step_id == step.id)))
    for tz, due in zones.items():
        if due <= at and tz not in done:
            outbox_rows.mark_zone_done(step, tz, due, added, at)
    return added
