"""Webhooks through a database outage: nothing acknowledged that was not stored.

The app is served by ``gunicorn -w 3 wsgi:app`` (its own process, as deployed) on a
database reached through ``bench.pgproxy``, a TCP proxy the benchmark controls, so the
app's connection pool sees the outage as in production while the shared PostgreSQL is
never touched. Signed STOP texts (each from a different active subscriber) and signed
SendGrid event batches (processed + delivered for sent rows) are posted at a fixed rate
before, throughout and after the outage:

1. up: the proxy forwards;
2. cut: every connection is closed and new ones are refused (a server restarting);
3. silent: connections are accepted and never answered (a host gone: only the 5 s connect
   timeout ends them);
4. up again.

Every request that does not get a 2xx is posted again after a short back-off (0.25 s
doubling to 2 s), as SendGrid retries and Twilio calls the fallback URL (``ErrorCode``,
``ErrorUrl`` added, re-signed), until a 2xx or the deadline. Then the database says what
was applied: each STOP'd subscriber unsubscribed on sms with one ``revoked`` ledger row,
each batch's rows ``delivered`` with every event stored.

    python -m bench.faults_webhooks [--quick] [--posters N] [--json FILE]
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa

from bench import webhooks
from bench.common import (
    Figure,
    app_env,
    cli,
    database,
    free_port,
    make_app,
    make_audience,
    make_campaign,
    materialise,
    report,
    seed,
    terminate,
)
from bench.outage_posting import Attempt, Job, event_jobs, post_through, stop_jobs
from bench.pgproxy import proxied

#: Concurrent senders of the second full run: 4 per gunicorn worker.
CROWD = 12
#: Longest acceptable answer while the database is away (connect timeout 5 s + margin).
ANSWER_TARGET_SECONDS = 6.0


@dataclass(frozen=True)
class Plan:
    """The outage's timeline (seconds) and the load posted through it."""

    before: float  # the database up
    cut: float  # connections closed, new ones refused
    silent: float  # connections accepted, never answered
    after: float  # the database back
    stop_rate: float  # STOP texts per second
    batch_rate: float  # SendGrid event batches per second
    batch_rows: int  # rows per batch (two events each)
    posters: int = 3  # concurrent senders: one per gunicorn worker
    deadline: float = 90.0  # after the last first attempt, to get a 2xx

    @property
    def seconds(self) -> float:
        """How long new requests are posted."""
        return self.before + self.cut + self.silent + self.after


QUICK = Plan(before=1, cut=3, silent=6, after=2, stop_rate=8, batch_rate=1, batch_rows=20)
FULL = Plan(before=5, cut=10, silent=15, after=10, stop_rate=20, batch_rate=2, batch_rows=50)


@dataclass
class OutageRun:
    """What was posted and answered, the outage's window, and what the database holds."""

    plan: Plan
    jobs: list[Job]
    window: tuple[float, float] = (0.0, 0.0)  # cut .. restore, s from the start
    silent_at: float = 0.0
    doubled: int = 0  # STOPs with more than one ledger row per subscription
    server_errors: int = 0  # tracebacks in the server's log
    logged_503: int = 0

    def attempts(self) -> list[Attempt]:
        """Every request sent."""
        return [a for job in self.jobs for a in job.attempts]

    def statuses(self) -> Counter:
        """Requests by status (0: no answer)."""
        return Counter(a.status for a in self.attempts())

    def unstored_acks(self) -> list[Job]:
        """Jobs answered 2xx whose effect is not in the database."""
        return [j for j in self.jobs if j.acknowledged and not j.applied]

    def outage_answers(self) -> list[Attempt]:
        """Requests sent while the database was away."""
        start, end = self.window
        return [a for a in self.attempts() if start <= a.sent < end]

    def passed(self) -> bool:
        """No 2xx for what was not stored, every job applied, only 2xx / 503 answers."""
        other = set(self.statuses()) - {200, 204, 503}
        return (
            not self.unstored_acks()
            and all(j.applied for j in self.jobs)
            and not other
            and not self.doubled
            and not self.server_errors
        )


def _mark_applied(run: OutageRun) -> None:
    """Read what the database holds for each job (one query per kind)."""
    from outreach.extensions import db

    stops = [j for j in run.jobs if j.kind == "stop"]
    revoked = dict(
        (r.id, (r.active, r.revoked))
        for r in db.session.execute(
            sa.text(
                "SELECT s.id, count(*) FILTER (WHERE sub.state <> 'unsubscribed') AS active, "
                "(SELECT count(*) FROM consent_events e WHERE e.subscriber_id = s.id "
                " AND e.channel = 'sms' AND e.action = 'revoked') AS revoked "
                "FROM subscribers s JOIN subscriptions sub ON sub.subscriber_id = s.id "
                "AND sub.channel = 'sms' WHERE s.id = ANY(:ids) GROUP BY s.id"
            ),
            {"ids": [j.subscriber_id for j in stops]},
        )
    )
    for job in stops:
        active, ledger = revoked.get(job.subscriber_id, (1, 0))
        job.applied = active == 0 and ledger >= 1
        run.doubled += ledger > 1
    batches = [j for j in run.jobs if j.kind == "events"]
    ids = [m for j in batches for m in j.message_ids]
    delivered = set(
        db.session.scalars(
            sa.text("SELECT id FROM outbox_messages WHERE id = ANY(:ids) AND state = 'delivered'"),
            {"ids": ids},
        )
    )
    stored = set(
        db.session.scalars(
            sa.text(
                "SELECT provider_event_id FROM delivery_events WHERE provider_event_id = ANY(:e)"
            ),
            {"e": [e for j in batches for e in j.event_ids]},
        )
    )
    for job in batches:
        job.applied = set(job.message_ids) <= delivered and set(job.event_ids) <= stored
    db.session.commit()


def _seed(plan: Plan, start: int = 0) -> tuple[list[int], list[tuple[int, str, str]]]:
    """Active sms subscribers for the STOPs, sent email rows for the events."""
    from outreach.extensions import db

    stops = int(plan.stop_rate * plan.seconds)
    rows = int(plan.batch_rate * plan.seconds) * plan.batch_rows
    seed(stops, [make_audience("outage-sms")], channels=("sms",), start=start)
    audience = make_audience("outage-email")
    seed(rows, [audience], channels=("email",), start=start + stops)
    make_campaign(audience, "email", name="Outage events")
    materialise()
    db.session.execute(
        sa.text(
            "UPDATE outbox_messages SET state = 'sent', sent_at = now(), "
            "provider_id = 'sg' || id::text WHERE channel = 'email'"
        )
    )
    db.session.commit()
    sent = db.session.execute(
        sa.text(
            "SELECT m.id, m.provider_id, s.email FROM outbox_messages m "
            "JOIN subscribers s ON s.id = m.subscriber_id WHERE m.channel = 'email' ORDER BY m.id"
        )
    ).all()
    db.session.remove()
    return list(range(start + 1, start + stops + 1)), [tuple(r) for r in sent]


def webhook_outage(database_url: str, plan: Plan = FULL, start: int = 0) -> OutageRun:
    """Seed, serve the app through a proxy, post through the outage, read what was applied.

    Needs an app context on ``database_url`` (PostgreSQL); ``start``: first subscriber id."""
    subscriber_ids, sent_rows = _seed(plan, start)
    jobs = sorted(
        stop_jobs(subscriber_ids, plan.stop_rate)
        + event_jobs(sent_rows, plan.batch_rate, plan.batch_rows),
        key=lambda j: j.due,
    )
    run = OutageRun(plan, jobs)
    public, sign_events = webhooks._signer()
    port = free_port()
    with proxied(database_url) as (proxy, through), tempfile.TemporaryFile() as log:
        env = app_env(through, SENDGRID_WEBHOOK_PUBLIC_KEY=public)
        server = webhooks.start_gunicorn(env, port, log=log)
        try:
            started, threads = post_through(
                port, jobs, plan.posters, plan.deadline, proxy, sign_events
            )
            time.sleep(max(0.0, started + plan.before - time.monotonic()))
            proxy.cut()
            cut_at = time.monotonic() - started
            time.sleep(max(0.0, started + plan.before + plan.cut - time.monotonic()))
            proxy.silence()
            run.silent_at = time.monotonic() - started
            time.sleep(max(0.0, started + plan.before + plan.cut + plan.silent - time.monotonic()))
            proxy.restore()
            run.window = (cut_at, time.monotonic() - started)
            for thread in threads:
                thread.join()
        finally:
            terminate(server)
        log.seek(0)
        output = log.read().decode(errors="replace")
    run.server_errors = output.count("Traceback")
    run.logged_503 = output.count("webhook answered 503")
    _mark_applied(run)
    return run


def kinds_of(jobs: list[Job]) -> str:
    """The jobs counted by kind ("3 events, 12 stop")."""
    counts = Counter(j.kind for j in jobs)
    return ", ".join(f"{n:,} {kind}" for kind, n in sorted(counts.items())) or "none"


def _acked_at(job: Job) -> float:
    """When the job's first 2xx arrived (s from the start)."""
    return min(a.sent + a.seconds for a in job.attempts if 200 <= a.status < 300)


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    if not ordered:
        return "-"
    return f"p50 {ordered[len(ordered) // 2] * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"


def figures(run: OutageRun) -> list[Figure]:
    """Requests and answers, 2xx not stored, retried ones applied, the longest answer."""
    plan, statuses = run.plan, run.statuses()
    ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
    other = {s: n for s, n in statuses.items() if not (200 <= s < 300 or s == 503)}
    kinds = Counter(j.kind for j in run.jobs)
    retried = [j for j in run.jobs if j.retried]
    retried_applied = sum(j.applied for j in retried)
    unstored = run.unstored_acks()
    during = run.outage_answers()
    cut_end = run.silent_at
    longest = max((a.seconds for a in during), default=0.0)
    after = [a for a in run.attempts() if a.sent >= run.window[1] and 200 <= a.status < 300]
    recovered = min((a.sent + a.seconds for a in after), default=run.window[1]) - run.window[1]
    backlog = [j for j in run.jobs if j.due < run.window[1] and j.acknowledged]
    start, end = run.window
    held = sum(1 for j in run.jobs if start <= j.due < end and j.attempts[0].sent >= end)
    cleared = max((_acked_at(j) for j in backlog), default=run.window[1]) - run.window[1]
    where = (
        f"gunicorn -w {webhooks.WORKERS} behind a TCP proxy; {plan.before:g} s up, "
        f"{plan.cut:g} s cut+refused, {plan.silent:g} s silent, {plan.after:g} s up; "
        f"{kinds['stop']:,} STOPs ({plan.stop_rate:g}/s) and {kinds['events']:,} event batches of "
        f"{2 * plan.batch_rows} ({plan.batch_rate:g}/s) from {plan.posters} senders"
    )
    name = "webhooks in a DB outage"
    return [
        Figure(
            name=f"{name}: 2xx not stored",
            ours=float(len(unstored)),
            unit="jobs",
            target="0",
            passed=not unstored and not run.doubled,
            note=(
                f"{where}; {sum(j.acknowledged for j in run.jobs):,} of {len(run.jobs):,} "
                f"acknowledged; 2xx for a STOP or batch not in the database: {len(unstored)} "
                f"({kinds_of(unstored)}); STOPs with a ledger row twice: "
                f"{run.doubled}"
            ),
        ),
        Figure(
            name=f"{name}: requests",
            ours=float(sum(statuses.values())),
            unit="req",
            target="only 2xx / 503 (no 500)",
            passed=not other and not run.server_errors,
            note=(
                f"{ok:,} x 2xx, {statuses.get(503, 0):,} x 503, other {other or 'none'} "
                f"(0 = no answer); server log: {run.logged_503:,} '503' warnings, "
                f"{run.server_errors} tracebacks"
            ),
        ),
        Figure(
            name=f"{name}: retried applied",
            ours=float(retried_applied),
            unit="jobs",
            target=f"all ({len(retried):,})",
            passed=retried_applied == len(retried) and all(j.applied for j in run.jobs),
            baseline=float(len(retried)),
            baseline_note="retried after a non-2xx",
            note=(
                f"retried: {kinds_of(retried)}; due during the outage but first posted after "
                f"it (every sender was waiting on an answer): {held:,}; applied of all: "
                f"{sum(j.applied for j in run.jobs):,} / {len(run.jobs):,}; attempts per "
                f"retried job max {max((len(j.attempts) for j in retried), default=0)}; "
                f"first 2xx {recovered:.2f} s after the database was back; every job due "
                f"before then acknowledged {cleared:.1f} s after"
            ),
        ),
        Figure(
            name=f"{name}: longest answer",
            ours=longest,
            unit="s",
            target=f"< {ANSWER_TARGET_SECONDS:g} s",
            passed=bool(during) and longest < ANSWER_TARGET_SECONDS,
            note=(
                f"{len(during):,} requests sent during the outage; cut/refused: "
                f"{_ms([a.seconds for a in during if a.sent + a.seconds < cut_end])}; silent "
                f"(answered after it began): "
                f"{_ms([a.seconds for a in during if a.sent + a.seconds >= cut_end])}; all: "
                f"{_ms([a.seconds for a in run.attempts()])}"
            ),
        ),
    ]


def crowded_figure(run: OutageRun) -> Figure:
    """The longest answer with more concurrent senders than gunicorn workers."""
    during = run.outage_answers()
    longest = max((a.seconds for a in during), default=0.0)
    silent = sorted(a.seconds for a in during if a.sent + a.seconds >= run.silent_at)
    slow = sum(1 for value in silent if value >= ANSWER_TARGET_SECONDS)
    return Figure(
        name=f"webhooks in a DB outage: longest answer, {run.plan.posters} senders",
        ours=longest,
        unit="s",
        target=f"< {ANSWER_TARGET_SECONDS:g} s",
        passed=bool(during) and longest < ANSWER_TARGET_SECONDS,
        note=(
            f"the same outage with {run.plan.posters} concurrent senders on "
            f"{webhooks.WORKERS} sync workers: "
            f"while connections go unanswered each worker is held 5 s (the connect timeout) "
            f"per request and the rest queue: silent {_ms(silent)}, {slow:,} of "
            f"{len(silent):,} answers >= {ANSWER_TARGET_SECONDS:g} s; correctness the same: "
            f"{len(run.unstored_acks())} 2xx not stored, "
            f"{sum(j.applied for j in run.jobs):,} of {len(run.jobs):,} applied, statuses "
            f"{dict(sorted(run.statuses().items()))}, {run.server_errors} tracebacks"
        ),
    )


def outage(plan: Plan) -> OutageRun:
    """One outage run on a fresh PostgreSQL database."""
    with database("postgresql", "outreach_bench_outage") as url:
        app = make_app(url)
        with app.app_context():
            from outreach.extensions import db

            outcome = webhook_outage(url, plan)
            db.session.remove()
            db.engine.dispose()
    return outcome


def run(quick: bool = False, posters: int | None = None) -> list[Figure]:
    """The outage phase: one sender per gunicorn worker, then (full run) 4 per worker.

    ``posters``: only one run, with that many concurrent senders."""
    plan = QUICK if quick else FULL
    if posters:
        return figures(outage(dataclasses.replace(plan, posters=posters)))
    result = figures(outage(plan))
    if not quick:
        result.append(crowded_figure(outage(dataclasses.replace(plan, posters=CROWD))))
    return result


def main() -> None:
    """Command line entry point."""
    parser = cli(__doc__.splitlines()[0])
    parser.add_argument("--posters", type=int, help=f"concurrent senders ({FULL.posters})")
    args = parser.parse_args()
    report("Webhooks through a database outage", run(args.quick, args.posters), args.json)


if __name__ == "__main__":
    main()
