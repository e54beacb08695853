"""Fan-out: one calendar step materialised into outbox rows for every subscriber.

Ours: ``outbox.materialise_due`` (one INSERT ... SELECT ... ON CONFLICT DO NOTHING per time
zone). Baseline: the ORM loop a user would write (one ``Message`` object per subscriber,
due time computed per row in Python, ``session.add`` each, commit every 10,000), measured
on a smaller N and extrapolated linearly when the full size would take minutes.

    python -m bench.fanout [--quick] [--pg-rows N] [--sqlite-rows N]
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import sqlalchemy as sa

from bench.common import (
    US_ZONES,
    Figure,
    cli,
    database,
    make_app,
    make_audience,
    materialise,
    report,
    seed,
    start_campaign,
)
from outreach.campaigns import lifecycle

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


def measure(kind: str, rows: int, baseline_rows: int, target: float) -> list[Figure]:
    """Seed, materialise (ours, then a no-op re-run), then the ORM baseline."""
    with database(kind, f"outreach_bench_fanout_{kind[:2]}") as url:
        app = make_app(url)
        with app.app_context():
            from outreach.extensions import db

            audience_id = make_audience()
            seeded = time.perf_counter()
            seed(rows, [audience_id], channels=("email",), zones=US_ZONES)
            print(f"  {kind}: seeded {rows:,} subscribers in {time.perf_counter() - seeded:.1f}s")
            campaign_id, step_id = _campaign(audience_id, "Fan-out")
            added, seconds = materialise(AT)
            again, tick = materialise(AT)
            print(f"  {kind}: materialised {added:,} rows in {seconds:.2f}s; re-run {tick:.2f}s")
            assert added == rows and again == 0, (added, again)

            db.session.execute(sa.text("DELETE FROM outbox_messages"))
            db.session.commit()
            campaign_b, step_b = _campaign(audience_id, "Fan-out baseline")
            base = orm_baseline(audience_id, campaign_b, step_b, baseline_rows)
            count = db.session.scalar(sa.text("SELECT count(*) FROM outbox_messages"))
            assert count == min(baseline_rows, rows), count
            db.session.remove()
    per_row = base / min(baseline_rows, rows)
    extrapolated = baseline_rows < rows
    label = "PostgreSQL" if kind == "postgresql" else "SQLite"
    return [
        Figure(
            name=f"fan-out {rows:,} rows, {label}",
            ours=seconds,
            unit="s",
            target=f"<= {target:g} s",
            passed=seconds <= target,
            baseline=per_row * rows,
            baseline_note=(
                f"ORM, measured on {baseline_rows:,} and extrapolated" if extrapolated else "ORM"
            ),
            note=(
                f"{rows / seconds:,.0f} rows/s vs ORM {1 / per_row:,.0f} rows/s "
                f"({per_row * rows / seconds:,.0f}x); re-running the tick with nothing new: "
                f"{tick:.2f}s; {len(US_ZONES)} time zones, one INSERT ... SELECT each (big zones "
                "in subscriber-id parts on 2 connections on PostgreSQL)"
            ),
        )
    ]


def run(quick: bool = False, pg_rows: int = 1_000_000, sqlite_rows: int = 100_000) -> list[Figure]:
    """Both databases; quick: 5,000 rows each."""
    if quick:
        pg_rows = sqlite_rows = 5_000
    figures = measure("postgresql", pg_rows, min(pg_rows, 50_000), 10.0)
    figures += measure("sqlite", sqlite_rows, min(sqlite_rows, 20_000), 5.0)
    return figures


def main() -> None:
    """Command line entry point."""
    parser = cli(__doc__.splitlines()[0])
    parser.add_argument("--pg-rows", type=int, default=1_000_000)
    parser.add_argument("--sqlite-rows", type=int, default=100_000)
    args = parser.parse_args()
    figures = run(args.quick, args.pg_rows, args.sqlite_rows)
    report("Fan-out", figures, args.json)


if __name__ == "__main__":
    main()
