"""Tracked links under gunicorn (``gunicorn -w 3 wsgi:app``) on PostgreSQL: ``GET /r/<code>``.

An open-loop load generator (threads, one connection per request) follows tracked links at a
fixed rate (500/s for 60 s): mostly a person's first click on a message's link, some repeat
clicks, HEAD requests and security scanners' user agents, and scanner bursts (two links of
one message within a second). Figures: p50 / p99 latency, errors, and the clicks table
afterwards: every request stored once, people counted, scanners not. A sampler watches
``pg_locks`` the whole time: a click must never take a lock on the clicks table stronger
than an ordinary insert's (ROW EXCLUSIVE). Baseline: the same requests at 20/s.

    python -m bench.clicks [--quick] [--rate R] [--seconds S] [--workers N]
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bench import cpu, loadgen
from bench.common import (
    SECRET_KEY,
    Figure,
    app_env,
    checkpoint,
    cli,
    database,
    free_port,
    make_app,
    percentile,
    queued_step,
    report,
    terminate,
)
from bench.webhooks import WORKERS, open_loop, start_gunicorn

ARTICLE = "https://clinic.example/migraine"
DIARY = "https://clinic.example/headache-diary"
BROWSER = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
SCANNER = "Mozilla/5.0 (compatible; Barracuda Sentinel link protection)"
REDIRECT = frozenset({302})
#: Locks an INSERT takes on its table; anything stronger on link_clicks is a table lock.
ROW_LOCKS = ("AccessShareLock", "RowShareLock", "RowExclusiveLock")


@dataclass
class Plan:
    """Requests to send and what the clicks table must hold afterwards."""

    requests: list[tuple]
    human: int
    clicked_messages: int


def plan(message_ids: list[int], count: int, rng: random.Random, key: bytes | None = None) -> Plan:
    """``count`` link requests over distinct messages: 85% a person's first click, 5% a
    repeat of an earlier one, 4% HEAD, 3% a scanner's agent, 3% a scanner burst (2 links).
    ``key``: the link-code key (default: the benchmark app's)."""
    from outreach.tracking import codes

    key = key or codes_key()

    made: list[tuple] = []
    human = 0
    clicked: list[int] = []
    fresh = iter(message_ids)
    while len(made) < count:
        draw = rng.random()
        if draw < 0.05 and clicked:
            message = rng.choice(clicked)
            made.append(_get(codes.encode(key, message, 1), BROWSER))
            human += 1
            continue
        message = next(fresh)
        if draw < 0.90:
            made.append(_get(codes.encode(key, message, 1), BROWSER))
            human += 1
            clicked.append(message)
        elif draw < 0.94:
            made.append(_get(codes.encode(key, message, 1), BROWSER, "HEAD"))
        elif draw < 0.97:
            made.append(_get(codes.encode(key, message, 2), SCANNER))
        else:
            made.append(_get(codes.encode(key, message, 1), BROWSER))
            made.append(_get(codes.encode(key, message, 2), BROWSER))
    return Plan(made, human, len(set(clicked)))


def codes_key() -> bytes:
    """The link-code key of the app the benchmark serves."""
    from outreach.tracking import codes

    return codes.derive_key(SECRET_KEY)


def _get(code: str, agent: str, method: str = "GET") -> tuple:
    return (f"/r/{code}", b"", {"User-Agent": agent}, method)


class LockSampler(threading.Thread):
    """Polls pg_locks every 20 ms for table locks on link_clicks stronger than an insert's
    (locktype "relation": the brief "extend" lock of a growing table is not a table lock)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        self.samples = 0
        self.strong: set[str] = set()
        self.backend_pid: int | None = None
        self.done = threading.Event()

    def run(self) -> None:  # noqa: D102
        query = sa.text(
            "SELECT l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'link_clicks' AND l.locktype = 'relation' "
            "AND l.mode <> ALL(:row_locks)"
        )
        with self.engine.connect() as conn:
            self.backend_pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            conn.rollback()
            while not self.done.is_set():
                self.strong.update(
                    conn.execute(query, {"row_locks": list(ROW_LOCKS)}).scalars().all()
                )
                conn.rollback()
                self.samples += 1
                time.sleep(0.02)
        self.engine.dispose()


def sent_step(rows: int) -> list[int]:
    """In an app context: a sent one-step email campaign to ``rows`` subscribers with two
    tracked links; returns the message ids."""
    from outreach.extensions import db
    from outreach.models import Message
    from outreach.tracking import links

    queued_step(rows, "email", slug="clicks")
    step_id = db.session.scalar(sa.select(Message.step_id).limit(1))
    links.register(step_id, [ARTICLE, DIARY])
    sent_at = datetime.now(UTC) - timedelta(hours=1)
    db.session.execute(sa.update(Message).values(state="sent", sent_at=sent_at))
    db.session.commit()
    ids = list(db.session.scalars(sa.select(Message.id).order_by(Message.id)))
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()
    return ids


def seed_messages(url: str, rows: int) -> list[int]:
    """``sent_step`` on the database at ``url``."""
    app = make_app(url)
    with app.app_context():
        from outreach.extensions import db

        ids = sent_step(rows)
        db.session.remove()
        # Set-up, not timed: the "sent" UPDATE above left a dead copy of every outbox row;
        # vacuum now, as autovacuum would have long before anyone clicks, instead of during
        # the measurement.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE outbox_messages"))
        db.engine.dispose()
    return ids


def clicks_table(url: str) -> tuple[int, int, int]:
    """(rows, human clicks, messages with a click time) after the run."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            rows, human = conn.execute(
                sa.text("SELECT count(*), count(*) FILTER (WHERE human) FROM link_clicks")
            ).one()
            clicked = conn.execute(
                sa.text("SELECT count(*) FROM outbox_messages WHERE clicked_at IS NOT NULL")
            ).scalar_one()
    finally:
        engine.dispose()
    return rows, human, clicked


def tracked_links(
    url: str,
    rate: float,
    seconds: float,
    workers: int = WORKERS,
    client: str = "selectors",
    gunicorn_args: Sequence[str] = (),
) -> list[Figure]:
    """The /r/<code> load test; returns its figures. ``client``: "selectors" (the
    one-thread generator in its own process, ``bench.loadgen``) or "threads" (the 48-thread
    ``open_loop`` of the webhook benchmark, in this process)."""
    count = int(rate * seconds)
    base_rate, base_seconds = 20.0, min(5.0, seconds)
    base_count = int(base_rate * base_seconds)
    warm_count = 10 * workers
    total = warm_count + base_count + count
    ids = seed_messages(url, int(total * 1.1) + 100)
    rng = random.Random(13)
    warm = plan(ids[:warm_count], warm_count, rng)
    baseline = plan(ids[warm_count : warm_count + base_count * 2], base_count, rng)
    load = plan(ids[warm_count + base_count * 2 :], count, rng)
    checkpoint()
    port = free_port()
    server = start_gunicorn(app_env(url), port, workers, args=gunicorn_args)
    sampler = LockSampler(url)
    send = _selectors_client if client == "selectors" else _threads_client
    try:
        send(port, warm.requests, base_rate)
        base_lat, _, base_errors, _, _ = send(port, baseline.requests, base_rate)
        sampler.start()
        while sampler.backend_pid is None:
            time.sleep(0.01)
        meter = cpu.Meter(
            cpu.worker_pids(server), cpu.backend_pids(url, exclude=(sampler.backend_pid,))
        )
        lat, late, errors, took, client_cpu = send(port, load.requests, rate)
        usage = meter.stop(client_cpu)
    finally:
        sampler.done.set()
        terminate(server)
    sampler.join(5)
    rows, human, clicked = clicks_table(url)
    sent = len(warm.requests) + len(baseline.requests) + len(load.requests)
    want_human = warm.human + baseline.human + load.human
    want_clicked = warm.clicked_messages + baseline.clicked_messages + load.clicked_messages
    stored_ok = rows == sent and human == want_human and clicked == want_clicked
    p99 = percentile(lat, 0.99)
    return [
        Figure(
            name=f"tracked link GET /r/<code> at {rate:g}/s for {seconds:g}s: p99",
            ours=p99 * 1000,
            unit="ms",
            target="p99 < 20 ms, 0 errors, clicks stored, no table lock",
            passed=p99 < 0.02 and errors == 0 and stored_ok and not sampler.strong,
            baseline=percentile(base_lat, 0.99) * 1000,
            baseline_note=f"p99 at {base_rate:g}/s",
            note=(
                f"{len(lat):,} requests in {took:.1f}s ({len(lat) / took:.0f}/s), errors "
                f"{errors + base_errors}, p50 {percentile(lat, 0.5) * 1000:.1f} ms, p99 from the "
                f"scheduled send time {percentile(late, 0.99) * 1000:.1f} ms, max "
                f"{max(late, default=0) * 1000:.0f} ms; {usage.per_request(len(lat) - errors)}; "
                f"client {client}, gunicorn -w {workers} {' '.join(gunicorn_args)}; "
                f"clicks table: {rows:,} of {sent:,} requests stored, {human:,} human "
                f"(expected {want_human:,}), {clicked:,} messages clicked (expected "
                f"{want_clicked:,}); pg_locks sampled {sampler.samples:,} times, locks "
                f"stronger than ROW EXCLUSIVE on link_clicks: "
                f"{', '.join(sorted(sampler.strong)) or 'none'}"
            ),
        )
    ]


def _selectors_client(
    port: int, requests_: list[tuple], rate: float
) -> tuple[list[float], list[float], int, float, float]:
    result = loadgen.run(port, requests_, rate)
    errors = sum(n for status, n in result.statuses.items() if status not in REDIRECT)
    return result.latencies, result.lateness, errors, result.seconds, result.cpu_seconds


def _threads_client(
    port: int, requests_: list[tuple], rate: float
) -> tuple[list[float], list[float], int, float, float]:
    cpu0 = time.process_time()  # this whole process: the lock sampler's thread too
    lat, late, errors, took = open_loop(port, requests_, rate, expected=REDIRECT)
    return lat, late, errors, took, time.process_time() - cpu0


def run(
    quick: bool = False,
    rate: float = 500.0,
    seconds: float = 60.0,
    workers: int = WORKERS,
    client: str = "selectors",
    gunicorn_args: Sequence[str] = (),
) -> list[Figure]:
    """The tracked-link benchmark on a fresh PostgreSQL database."""
    if quick:
        rate, seconds = 20.0, 1.0
    with database("postgresql", "outreach_bench_clicks") as url:
        return tracked_links(url, rate, seconds, workers, client, gunicorn_args)


def main() -> None:
    """Command line entry point."""
    parser = cli(__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=WORKERS, help="gunicorn workers")
    parser.add_argument(
        "--client",
        choices=("selectors", "threads"),
        default="selectors",
        help="load generator: one thread in its own process, or 48 threads in this one",
    )
    parser.add_argument(
        "--gunicorn", default="", help='more gunicorn options, e.g. "--worker-class gthread"'
    )
    args = parser.parse_args()
    figures = run(
        args.quick, args.rate, args.seconds, args.workers, args.client, args.gunicorn.split()
    )
    report("Tracked links", figures, args.json)


if __name__ == "__main__":
    main()
