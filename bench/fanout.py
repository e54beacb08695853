"""Fan-out: one calendar step materialised into outbox rows for every subscriber.

Ours: ``materialise_due`` (``sending.fanout``: one INSERT ... SELECT per step, the zones'
due times as a VALUES table, rows in key order, an anti-join under a per-step advisory lock
on PostgreSQL). Baseline: the previous path, measured in the same run on the same
subscribers (``materialise_due(per_zone=True)``: one INSERT ... SELECT ... ON CONFLICT DO
NOTHING per time zone, big zones in parts on 2 connections); the outbox is emptied
(TRUNCATE on PostgreSQL) and checkpointed before each run, and the paths alternate
(``--runs N``: the median of each). The note also gives the ORM loop a user would write
(one ``Message`` per subscriber, ``session.add`` each, commit every 10,000), measured on
a smaller N and extrapolated linearly.

    python -m bench.fanout [--quick] [--pg-rows N] [--sqlite-rows N] [--runs N]
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import UTC, date, datetime

import sqlalchemy as sa

from bench.common import (
    US_ZONES,
    Figure,
    checkpoint,
    cli,
    database,
    make_app,
    make_audience,
    report,
    seed,
    start_campaign,
)
from outreach.campaigns import lifecycle
from outreach.sending import materialise as materialising

ANCHOR = date(2027, 6, 1)
#: After 10:00 on June 1 in every zone of US_ZONES (Honolulu: 20:00 UTC).
AT = datetime(2027, 6, 1, 21, 0, tzinfo=UTC)


def _campaign(audience_id: int, name: str) -> tuple[int, int]:
    from outreach.extensions import db
    from outreach.models import Audience, Campaign, Step

    campaign = Campaign(
        name=name,
        audience=db.session.get(Audience, audience_id),
        anchor_kind="date",
        anchor_date=ANCHOR,
    )
    campaign.steps.append(
        Step(position=0, channel="email", send_time="10:00", subject="June", html="<p>Hi</p>")
    )
    db.session.add(campaign)
    db.session.flush()
    start_campaign(campaign)
    db.session.commit()
    return campaign.id, campaign.steps[0].id


def orm_baseline(audience_id: int, campaign_id: int, step_id: int, limit: int) -> float:
    """The row-by-row ORM fan-out of the first ``limit`` eligible subscribers; seconds."""
    from outreach.extensions import db
    from outreach.models import Campaign, Message, Step, Subscriber, Subscription

    started = time.perf_counter()
    campaign = db.session.get(Campaign, campaign_id)
    step = db.session.get(Step, step_id)
    eligible = db.session.execute(
        sa.select(Subscriber.id, Subscriber.timezone)
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(
            Subscription.audience_id == audience_id,
            Subscription.channel == "email",
            Subscription.state == "active",
        )
        .order_by(Subscriber.id)
        .limit(limit)
    ).all()
    now = datetime.now(UTC)
    for index, (subscriber_id, tz) in enumerate(eligible, 1):
        db.session.add(
            Message(
                campaign_id=campaign.id,
                step_id=step.id,
                subscriber_id=subscriber_id,
                channel="email",
                state="queued",
                due_at=lifecycle.step_due_at(campaign, step, tz),
                attempts=0,
                created_at=now,
                updated_at=now,
            )
        )
        if index % 10_000 == 0:
            db.session.commit()
    db.session.commit()
    return time.perf_counter() - started


def _empty_outbox(kind: str) -> None:
    """No outbox rows and no zone marks; dirty pages flushed (set-up, not timed)."""
    from outreach.extensions import db

    if kind == "postgresql":
        db.session.execute(sa.text("TRUNCATE outbox_messages, delivery_events"))
    else:
        db.session.execute(sa.text("DELETE FROM outbox_messages"))
    db.session.execute(sa.text("DELETE FROM step_zones"))
    db.session.commit()
    if kind == "postgresql":
        checkpoint()


def server_cpu(kind: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends connected to this benchmark's
    database (its own: read from /proc on this machine; 0 on SQLite or elsewhere). On a
    shared machine this moves less than wall time when other processes want the cores."""
    from outreach.extensions import db

    if kind != "postgresql":
        return 0.0
    pids = db.session.scalars(
        sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    ).all()
    db.session.commit()
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _timed(kind: str, rows: int, per_zone: bool) -> tuple[float, float, float]:
    """One fan-out of the step from an empty outbox, then the no-op re-run: seconds each,
    and the fan-out's server CPU seconds (PostgreSQL)."""
    _empty_outbox(kind)
    if per_zone and kind == "postgresql":
        warm_pool()
    cpu = server_cpu(kind)
    started = time.perf_counter()
    added = materialising.materialise_due(AT, per_zone=per_zone)
    seconds = time.perf_counter() - started
    cpu = server_cpu(kind) - cpu
    started = time.perf_counter()
    again = materialising.materialise_due(AT, per_zone=per_zone)
    tick = time.perf_counter() - started
    assert added == rows and again == 0, (per_zone, added, again)
    return seconds, tick, cpu


def warm_pool() -> None:
    """Open the per-zone path's extra connections before it is timed (so their backends
    exist when server CPU is read)."""
    from concurrent.futures import ThreadPoolExecutor

    from outreach.extensions import db

    engine = db.engine

    def touch(_: int) -> None:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_sleep(0.05)"))

    with ThreadPoolExecutor(max_workers=materialising.PARALLEL_CONNECTIONS) as pool:
        list(pool.map(touch, range(materialising.PARALLEL_CONNECTIONS)))


def measure(kind: str, rows: int, baseline_rows: int, target: float, runs: int = 1) -> list[Figure]:
    """Seed; fan out with the new and the per-zone path (alternating, ``runs`` each, each
    followed by a no-op re-run); then the ORM loop on ``baseline_rows``."""
    with database(kind, f"outreach_bench_fanout_{kind[:2]}") as url:
        app = make_app(url)
        with app.app_context():
            from outreach.extensions import db

            audience_id = make_audience()
            seeded = time.perf_counter()
            seed(rows, [audience_id], channels=("email",), zones=US_ZONES)
            print(f"  {kind}: seeded {rows:,} subscribers in {time.perf_counter() - seeded:.1f}s")
            _campaign(audience_id, "Fan-out")
            new: list[tuple[float, float, float]] = []
            old: list[tuple[float, float, float]] = []
            for _ in range(runs):
                new.append(_timed(kind, rows, per_zone=False))
                old.append(_timed(kind, rows, per_zone=True))
                print(
                    f"  {kind}: {rows:,} rows: new {new[-1][0]:.2f}s (server CPU "
                    f"{new[-1][2]:.2f}s, re-run {new[-1][1]:.3f}s), per-zone {old[-1][0]:.2f}s "
                    f"(server CPU {old[-1][2]:.2f}s, re-run {old[-1][1]:.3f}s)"
                )

            _empty_outbox(kind)
            campaign_b, step_b = _campaign(audience_id, "Fan-out baseline")
            base = orm_baseline(audience_id, campaign_b, step_b, baseline_rows)
            count = db.session.scalar(sa.text("SELECT count(*) FROM outbox_messages"))
            assert count == min(baseline_rows, rows), count
            db.session.remove()
    seconds, tick, cpu = (statistics.median(run[i] for run in new) for i in range(3))
    per_zone, per_zone_tick, per_zone_cpu = (
        statistics.median(run[i] for run in old) for i in range(3)
    )
    orm_per_row = base / min(baseline_rows, rows)
    label = "PostgreSQL" if kind == "postgresql" else "SQLite"
    spread = (
        f"; runs: new {', '.join(f'{run[0]:.2f}' for run in new)} s, "
        f"per-zone {', '.join(f'{run[0]:.2f}' for run in old)} s"
        if runs > 1
        else ""
    )
    return [
        Figure(
            name=f"fan-out {rows:,} rows, {label}",
            ours=seconds,
            unit="s",
            target=f"<= {target:g} s",
            passed=seconds <= target,
            baseline=per_zone,
            baseline_note="previous path: per zone, ON CONFLICT, same run",
            note=(
                f"{rows / seconds:,.0f} rows/s vs {rows / per_zone:,.0f} rows/s per zone "
                f"({per_zone / seconds:.1f}x) and ORM {1 / orm_per_row:,.0f} rows/s "
                f"({orm_per_row * rows:,.0f} s extrapolated from {min(baseline_rows, rows):,}); "
                f"re-running the tick with nothing new: {tick:.3f} s (per zone "
                f"{per_zone_tick:.3f} s); {len(US_ZONES)} time zones; median of {runs}{spread}"
                + (
                    f"; server CPU {cpu:.2f} s vs {per_zone_cpu:.2f} s per zone"
                    if kind == "postgresql"
                    else ""
                )
            ),
        )
    ]


def run(
    quick: bool = False, pg_rows: int = 1_000_000, sqlite_rows: int = 100_000, runs: int = 1
) -> list[Figure]:
    """Both databases; quick: 5,000 rows each."""
    if quick:
        pg_rows = sqlite_rows = 5_000
    figures = measure("postgresql", pg_rows, min(pg_rows, 50_000), 3.0, runs)
    figures += measure("sqlite", sqlite_rows, min(sqlite_rows, 20_000), 0.3, runs)
    return figures


def main() -> None:
    """Command line entry point."""
    parser = cli(__doc__.splitlines()[0])
    parser.add_argument("--pg-rows", type=int, default=1_000_000)
    parser.add_argument("--sqlite-rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1, help="runs of each path (median)")
    args = parser.parse_args()
    figures = run(args.quick, args.pg_rows, args.sqlite_rows, args.runs)
    report("Fan-out", figures, args.json)


if __name__ == "__main__":
    main()
