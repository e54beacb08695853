"""Memory: the real worker's peak RSS from 10,000 to 1,000,000 recipients.

Ours: ``flask outreach dispatch --once`` (a child process; its peak RSS comes from wait4)
sending a 10,000- and then a 1,000,000-recipient email step to the fake SendGrid on
PostgreSQL. It must stay under 200 MB and roughly flat. Baseline: the loader a user would
write, every due row and its subscriber as ORM objects (``.all()``), measured at 10,000 and
100,000 rows and extrapolated to 1,000,000.

    python -m bench.memory [--quick] [--large N]
"""

from __future__ import annotations

import json
import sys

import sqlalchemy as sa

from bench.common import (
    FakeProcess,
    Figure,
    app_env,
    cli,
    database,
    dispatch_command,
    make_app,
    make_campaign,
    materialise,
    queued_step,
    report,
    run_child,
    seed,
    self_maxrss_mb,
    worker_env,
)


def naive_load(limit: int) -> None:
    """(In a child process) load due rows and their subscribers as ORM objects."""
    from sqlalchemy.orm import joinedload, relationship

    from outreach import create_app
    from outreach.extensions import db
    from outreach.models import Message, Subscriber

    if not hasattr(Message, "subscriber"):
        Message.subscriber = relationship(
            Subscriber,
            primaryjoin=Message.subscriber_id == Subscriber.id,
            foreign_keys=[Message.subscriber_id],
            viewonly=True,
        )
    app = create_app()
    with app.app_context():
        rows = (
            db.session.query(Message)
            .options(joinedload(Message.subscriber))
            .filter(Message.state == "queued")
            .order_by(Message.id)
            .limit(limit)
            .all()
        )
        print(json.dumps({"rows": len(rows), "maxrss_mb": self_maxrss_mb()}))


def _naive(url: str, limit: int) -> float:
    code = f"from bench.memory import naive_load; naive_load({limit})"
    finished = run_child([sys.executable, "-c", code], {**app_env(url), "PATH": "/usr/bin:/bin"})
    assert finished.returncode == 0, finished.output[-2000:]
    return finished.maxrss_mb


def run(quick: bool = False, small: int = 10_000, large: int = 1_000_000) -> list[Figure]:
    """Small and large sends by the real worker; returns figures."""
    if quick:
        small, large = 1_000, 5_000
    middle = min(100_000, large)
    with FakeProcess() as fake, database("postgresql", "outreach_bench_memory") as url:
        app = make_app(url)
        with app.app_context():
            from outreach.extensions import db

            audience_id, _, _ = queued_step(small, "email", name="Memory small")
            db.session.remove()
            naive_small = _naive(url, small)
            env = worker_env(url, fake.url)
            first = run_child(dispatch_command(), env)
            assert first.returncode == 0, first.output[-2000:]

            seed(large - small, [audience_id], channels=("email",), start=small)
            make_campaign(audience_id, "email", name="Memory large")
            materialise()
            queued = db.session.scalar(
                sa.text("SELECT count(*) FROM outbox_messages WHERE state = 'queued'")
            )
            db.session.remove()
            naive_middle = _naive(url, middle)
            second = run_child(dispatch_command(), env)
            assert second.returncode == 0, second.output[-2000:]
            stats = fake.stats()
            db.session.remove()
    assert queued == large and stats["emails"] == small + large, (queued, stats)
    slope = (naive_middle - naive_small) / (middle - small)
    naive_large = naive_small + slope * (large - small)
    growth = second.maxrss_mb - first.maxrss_mb
    return [
        Figure(
            name=f"worker peak RSS at {large:,} recipients",
            ours=second.maxrss_mb,
            unit="MB",
            target="< 200 MB, flat",
            passed=second.maxrss_mb < 200 and growth < 0.25 * first.maxrss_mb,
            baseline=naive_large,
            baseline_note=f"ORM .all(), from {small:,} and {middle:,}",
            note=(
                f"steady (median) RSS {first.steady_rss_mb():.0f} MB at {small:,} -> "
                f"{second.steady_rss_mb():.0f} MB at {large:,}; peak "
                f"{first.maxrss_mb:.0f} MB at {small:,} ({first.seconds:.0f}s) -> "
                f"{second.maxrss_mb:.0f} MB at {large:,} ({second.seconds:.0f}s, "
                f"{large / second.seconds:,.0f}/s incl. start-up): +{growth:.0f} MB; "
                f"ORM loader {naive_small:.0f} MB at {small:,}, {naive_middle:.0f} MB at "
                f"{middle:,}"
            ),
        )
    ]


def main() -> None:
    """Command line entry point."""
    parser = cli(__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    report("Memory", run(args.quick, large=args.large), args.json)


if __name__ == "__main__":
    main()
