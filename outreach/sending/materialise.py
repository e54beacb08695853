"""Materialise due steps into outbox rows: set-based SQL, idempotent, safe in N workers.

Calendar steps: one ``INSERT ... SELECT`` per step for every due zone (``sending.fanout``).
Confirmation-anchored steps: one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` per step.
The unique key (step, subscriber, channel) makes re-running harmless.

The per-zone path below (``materialise_calendar_step_per_zone``, ``materialise_due(...,
per_zone=True)``) is the previous one, kept so bench/fanout.py measures both in one run:
one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` per (step, time zone); big steps
on PostgreSQL (``PARALLEL_MIN_ROWS`` rows or more) split big zones into subscriber-id
ranges run on ``PARALLEL_CONNECTIONS`` connections at once, each part in its own
transaction (a part that fails leaves the others committed; the next tick completes the
step). See bench/README.md for the two paths measured side by side.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import Select, func, literal, select, text
from sqlalchemy.exc import DBAPIError

from outreach import database
from outreach.campaigns import lifecycle
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import Campaign, Message, Step, StepZone, Subscriber, Subscription
from outreach.sending import fanout
from outreach.sending.outbox_rows import (
    LOOKAHEAD,
    eligible,
    hold_step,
    insert_select,
    insert_stmt,
    mark_zone_done,
    zone_due,
)

log = logging.getLogger(__name__)

#: A calendar step with at least this many eligible rows is materialised in parallel parts.
PARALLEL_MIN_ROWS = 100_000
#: Connections used for a parallel fan-out (PostgreSQL only; SQLite has one writer).
PARALLEL_CONNECTIONS = 2
#: A tick that adds at least this many rows refreshes the outbox's planner statistics.
ANALYZE_MIN_ROWS = 10_000
#: Rows per part when a big zone is split by subscriber id.
PART_ROWS = 125_000


def zone_sizes(campaign: Campaign, step: Step) -> dict[str, tuple[int, int, int]]:
    """Time zone -> (eligible rows, lowest, highest subscriber id) for a step (one query)."""
    rows = db.session.execute(
        select(
            Subscriber.timezone,
            func.count(),
            func.min(Subscription.subscriber_id),
            func.max(Subscription.subscriber_id),
        )
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(eligible(campaign, step))
        .group_by(Subscriber.timezone)
    )
    return {tz: (count, low, high) for tz, count, low, high in rows}


def zones_present(campaign: Campaign, step: Step) -> list[str]:
    """Distinct time zones of the eligible subscribers of a step."""
    return list(zone_sizes(campaign, step))


def _rows(campaign: Campaign, step: Step, due, at: datetime, conditions: list) -> Select:  # noqa: ANN001
    """The outbox rows (``_COLUMNS``) for a step's eligible subscribers: ``due`` is a value
    or an SQL expression (per-subscriber for confirmation-anchored steps)."""
    return (
        select(
            literal(campaign.id),
            literal(step.id),
            Subscription.subscriber_id,
            literal(step.channel),
            literal("queued"),
            due,
            literal(0),
            literal(at, type_=Message.created_at.type),
            literal(at, type_=Message.updated_at.type),
        )
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .where(*conditions)
    )


def _zone_select(campaign: Campaign, step: Step, tz: str, due: datetime, at: datetime) -> Select:
    conditions = [eligible(campaign, step), Subscriber.timezone == tz]
    if not step.include_late_joiners:
        conditions.append(Subscription.confirmed_at <= due)
    return _rows(campaign, step, literal(due, type_=Message.due_at.type), at, conditions)


def _parts(select_stmt: Select, size: tuple[int, int, int]) -> list[Select]:
    """Split one zone's SELECT into subscriber-id ranges of about PART_ROWS rows."""
    count, low, high = size
    pieces = max(1, math.ceil(count / PART_ROWS))
    if pieces == 1:
        return [select_stmt]
    width = math.ceil((high - low + 1) / pieces)
    return [
        select_stmt.where(
            Subscription.subscriber_id >= low + i * width,
            Subscription.subscriber_id < low + (i + 1) * width,
        )
        for i in range(pieces)
    ]


def _run_parallel(statements: list) -> list[int]:  # noqa: ANN001
    """Run INSERT statements on PARALLEL_CONNECTIONS connections, one transaction each."""
    engine = db.engine

    def run(stmt) -> int:  # noqa: ANN001
        with engine.begin() as conn:
            return conn.execute(stmt).rowcount or 0

    with ThreadPoolExecutor(max_workers=PARALLEL_CONNECTIONS) as pool:
        return list(pool.map(run, statements))


def materialise_calendar_step_per_zone(
    campaign: Campaign, step: Step, at: datetime, *, parallel: bool = False
) -> int:
    """The per-zone path (previous): rows for a calendar step in every zone where it is
    due, one statement per zone; returns rows added.

    With ``parallel`` (the caller has committed: parts run in their own transactions) a
    big step on PostgreSQL is inserted in parts on several connections.
    """
    if not hold_step(step):
        return 0
    done_zones = set(
        db.session.scalars(select(StepZone.timezone).where(StepZone.step_id == step.id))
    )
    work: list[tuple[str, datetime, Select, tuple[int, int, int]]] = []
    for tz, size in zone_sizes(campaign, step).items():
        if tz in done_zones and not step.include_late_joiners:
            continue
        due = zone_due(campaign, step, tz, at)
        if due is None:
            continue
        work.append((tz, due, _zone_select(campaign, step, tz, due, at), size))
    rows_by_zone: dict[str, int] = {}
    total = sum(size[0] for *_, size in work)
    if parallel and total >= PARALLEL_MIN_ROWS and database.is_postgres():
        jobs = [(tz, insert_stmt(p)) for tz, _, query, size in work for p in _parts(query, size)]
        for (tz, _), rows in zip(jobs, _run_parallel([stmt for _, stmt in jobs]), strict=True):
            rows_by_zone[tz] = rows_by_zone.get(tz, 0) + rows
    else:
        for tz, _, query, _ in work:
            rows_by_zone[tz] = insert_select(query)
    for tz, due, _, _ in work:
        if due <= at and tz not in done_zones:
            mark_zone_done(step, tz, due, rows_by_zone[tz], at)
    return sum(rows_by_zone.values())


def _plus_minutes(column, minutes: int):  # noqa: ANN001, ANN202
    if database.is_postgres():
        return column + text(f"interval '{int(minutes)} minutes'")
    return db.func.strftime("%Y-%m-%d %H:%M:%f", column, f"+{int(minutes)} minutes")


def materialise_confirmation_step(campaign: Campaign, step: Step, at: datetime) -> int:
    """Create rows for a step anchored on each subscriber's confirmation time."""
    if not hold_step(step):
        return 0
    due = _plus_minutes(Subscription.confirmed_at, step.after_minutes)
    conditions = [
        eligible(campaign, step),
        Subscription.confirmed_at.is_not(None),
        Subscription.confirmed_at <= at + LOOKAHEAD - timedelta(minutes=step.after_minutes),
    ]
    if not step.include_late_joiners and campaign.started_at is not None:
        conditions.append(Subscription.confirmed_at >= campaign.started_at)
    return insert_select(_rows(campaign, step, due, at, conditions))


def materialise_due(at: datetime | None = None, *, per_zone: bool = False) -> int:
    """Materialise every due step of every running campaign; returns rows added.
    ``per_zone`` takes the previous calendar path (benchmarks compare the two)."""
    at = at or clock_now()
    lifecycle.start_due(at)
    db.session.commit()  # big steps insert in parts on other connections: they must see it
    added = 0
    running = db.session.scalars(select(Campaign).where(Campaign.status == "running")).all()
    for campaign in running:
        for step in campaign.steps:
            if step.paused_reason:
                continue
            if campaign.anchor_kind == "confirmation":
                added += materialise_confirmation_step(campaign, step, at)
            elif per_zone:
                added += materialise_calendar_step_per_zone(campaign, step, at, parallel=True)
            else:
                added += fanout.materialise_calendar_step(campaign, step, at)
            db.session.commit()
    if added >= ANALYZE_MIN_ROWS:
        refresh_statistics()
    return added


def refresh_statistics() -> None:
    """After a big fan-out, update PostgreSQL's statistics on the outbox (ANALYZE samples a
    fixed number of rows: tens of milliseconds at any size). Until autovacuum gets to it,
    the planner would plan the first claims for the table as it was before the fan-out."""
    if not database.is_postgres():
        return
    try:
        # Never queue behind an autovacuum that will not yield (anti-wraparound).
        db.session.execute(text("SET LOCAL lock_timeout = '1s'"))
        db.session.execute(text(f"ANALYZE {Message.__tablename__}"))
        db.session.commit()
    except DBAPIError:
        db.session.rollback()
        log.warning("could not refresh the outbox statistics now; autovacuum will")
