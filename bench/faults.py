"""Faults: SIGKILL at random points then reconciliation, SIGTERM restarts, provider storms
and timeouts, PostgreSQL restarted.

1. SIGKILL + reconciliation (``bench.faults_reconcile``): real workers (``flask outreach
   dispatch --once``) on PostgreSQL, two at a time, each killed at a random moment after its
   first claim and replaced; 100 kills, half while an email step goes out, half during a
   text step. Then SendGrid's events for every accepted email are signed and posted to the
   app's webhook (``custom_args``: message id, request id), ``flask outreach reconcile``
   runs with a 1 s horizon and SMS listing delay (the fake Twilio lists what it received),
   and a worker sends what was re-queued. Counted at the fake: duplicates (a row received
   twice), lost (never received and not queued), rows left ``unknown``: all 0; and the time
   reconciliation took.
2. SIGTERM: 20 graceful stops of a worker mid-send (half on email, half on texts): each
   finishes its batch and exits 0; nothing ``unknown``, lost or sent twice.
3. Storms: 429 / 500 answers, read timeouts and gateway 504s after acceptance; workers run
   with the clock moved forward until nothing is due. Every message ends ``sent`` once,
   ``failed`` with its reason, or ``unknown`` (the timeouts / 504s: the provider did accept
   them; retrying would have sent them twice - that count is the baseline).
4. PostgreSQL restart (``pg_ctlcluster ... restart``) while a worker sends: the worker waits,
   re-queues what it had not sent, writes what it had, and finishes without a duplicate.
   This restarts the shared server for a few seconds: skip it with --no-pg-restart (or
   BENCH_NO_PG_RESTART=1).
5. Webhooks through a database outage (``bench.faults_webhooks``): STOP texts and SendGrid
   event batches posted to gunicorn throughout an outage simulated by a TCP proxy in front
   of PostgreSQL (cut and refused, then silent, then back; the shared server is not
   touched), each retried until a 2xx: no 2xx for what was not stored, every retried one
   applied, only 2xx / 503 answers, the 503 within 6 s.

    python -m bench.faults [--quick] [--kills N] [--restarts N] [--no-pg-restart]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import sqlalchemy as sa

from bench import faults_reconcile, faults_webhooks, webhooks
from bench.common import (
    ROOT,
    FakeProcess,
    Figure,
    bench_worker,
    cli,
    database,
    make_app,
    make_audience,
    make_campaign,
    materialise,
    queued_step,
    report,
    seed,
    states,
    worker_env,
)


def _signer_and_app(url: str):  # noqa: ANN202
    """An app on ``url`` that checks event signatures, and a poster of signed batches."""
    public, sign = webhooks._signer()
    app = make_app(url, SENDGRID_WEBHOOK_PUBLIC_KEY=public)
    client = app.test_client()

    def post(body: bytes) -> int:
        return client.post(webhooks.EVENTS_PATH, data=body, headers=sign(body)).status_code

    return app, post


def sigkill_runs(
    kills: int, email_rows: int, sms_rows: int, batch: int, seed_value: int = 8
) -> list[Figure]:
    """``kills`` SIGKILLs mid-send, then events + reconciliation + re-send; the figures."""
    with FakeProcess(latency=0.01) as fake, database("postgresql", "outreach_bench_kill") as url:
        app, post = _signer_and_app(url)
        with app.app_context():
            from outreach.extensions import db

            run = faults_reconcile.kill_and_reconcile(
                url,
                fake,
                post,
                kills=kills,
                email_rows=email_rows,
                sms_rows=sms_rows,
                batch=batch,
                seed_value=seed_value,
            )
            db.session.remove()
    return kill_figures(run, email_rows, sms_rows)


def kill_figures(run: faults_reconcile.KillRun, email_rows: int, sms_rows: int) -> list[Figure]:
    """The kill test's figures (duplicates, lost, unknown, reconciliation time)."""
    tally = run.tally
    assert tally is not None
    done = sum(run.kills.values())
    name = f"SIGKILL x{done} (2 workers), reconciled"
    before = sum(run.unknown_before.values())
    duplicates = sum(tally.duplicates.values())
    where = (
        f"{email_rows:,} email + {sms_rows:,} sms rows, {run.kills['email']} kills during "
        f"email, {run.kills['sms']} during sms"
    )
    return [
        Figure(
            name=f"{name}: duplicates",
            ours=float(duplicates),
            unit="dup",
            target="0",
            passed=duplicates == 0 and not run.unrecorded,
            baseline=float(sum(run.accepted_unknown.values())),
            baseline_note="dups if unknown rows were re-sent blindly",
            note=(
                f"{where}; at the fake: {tally.duplicates['email']} email and "
                f"{tally.duplicates['sms']} sms rows received twice; accepted but recorded "
                f"queued (would be re-sent): {run.unrecorded}"
            ),
        ),
        Figure(
            name=f"{name}: lost",
            ours=float(tally.lost),
            unit="lost",
            target="0",
            passed=tally.lost == 0 and tally.pending == 0 and tally.phantom == 0,
            note=(
                f"rows the fake never received and not queued/sending: {tally.lost} (recorded "
                f"sent but never received: {tally.phantom}); queued/sending left: "
                f"{tally.pending}; final states {tally.states}"
            ),
        ),
        Figure(
            name=f"{name}: unknown left",
            ours=float(tally.unknown),
            unit="unknown",
            target="0",
            passed=(
                tally.unknown == 0
                and before <= run.allowed
                and not run.event_errors
                and run.finished.get("email", 0) > 0
            ),
            baseline=float(before),
            baseline_note="before reconciliation",
            note=(
                f"unknown after the kills: {run.unknown_before['email']:,} email "
                f"({run.accepted_unknown['email']:,} accepted by SendGrid), "
                f"{run.unknown_before['sms']:,} sms ({run.accepted_unknown['sms']:,} accepted "
                f"by Twilio; {run.found_by_workers:,} more were found in its list by the "
                f"workers' own passes meanwhile) - allowed {run.allowed:,}, one batch per "
                f"kill; {run.events:,} signed events posted ({run.event_errors} refused); "
                f"{run.requeued:,} re-queued and {run.resent:,} sent by the next worker"
            ),
        ),
        Figure(
            name=f"reconciliation after SIGKILL x{done}: time",
            ours=run.reconcile_seconds,
            unit="s",
            target="report",
            passed=None,
            note=(
                f"{len(run.passes)} pass(es) of `flask outreach reconcile` (start-up included; "
                f"the passes themselves {run.pass_seconds:.2f} s): "
                + " | ".join(run.passes)
                + f"; posting the events took {run.event_seconds:.1f} s"
            ),
        ),
    ]


def sigterm_runs(restarts: int, email_rows: int, sms_rows: int, batch: int) -> Figure:
    """``restarts`` graceful stops (SIGTERM) mid-send; nothing unknown, nothing doubled."""
    with FakeProcess(latency=0.01) as fake, database("postgresql", "outreach_bench_term") as url:
        app = make_app(url)
        with app.app_context():
            from outreach.extensions import db

            run = faults_reconcile.sigterm_restarts(
                url, fake, restarts=restarts, email_rows=email_rows, sms_rows=sms_rows, batch=batch
            )
            db.session.remove()
    return term_figure(run)


def term_figure(run: faults_reconcile.TermRun) -> Figure:
    """The SIGTERM loop's figure."""
    tally = run.tally
    assert tally is not None
    stops = sorted(s for loop in run.loops for s in loop.stop_seconds)
    slowest = f"{stops[-1]:.2f} s" if stops else "-"
    duplicates = sum(tally.duplicates.values())
    return Figure(
        name=f"SIGTERM x{sum(run.restarts.values())} mid-send (2 workers): unknown",
        ours=float(tally.unknown),
        unit="unknown",
        target="0 unknown, 0 dup, exit 0",
        passed=run.passed(),
        note=(
            f"{run.restarts['email']} on email, {run.restarts['sms']} on sms; duplicates "
            f"{duplicates}, lost {tally.lost}, left sending after the stops "
            f"{run.left_sending}, exits other than 0 "
            f"{sum(loop.unclean for loop in run.loops)}; signal to exit: slowest {slowest}; "
            f"final states {tally.states}"
        ),
    )


def storms(rows: int, quick: bool) -> Figure:
    """429 / 5xx storms, read timeouts and 504s; rounds with the clock moved forward."""
    behaviour = {
        "error_429_rate": 0.3,
        "error_5xx_rate": 0.15,
        "retry_after": 0.2,
        "slow_rate": 0.03,
        "slow_latency": 1.5,
        "accepted_error_rate": 0.03,
        "seed": 3,
    }
    sms_rows = rows // 5
    with FakeProcess(**behaviour) as fake, database("postgresql", "outreach_bench_storm") as url:
        app = make_app(url)
        with app.app_context():
            from outreach.extensions import db

            email_audience = make_audience("storm-email")
            sms_audience = make_audience("storm-sms")
            seed(rows, [email_audience], channels=("email",))
            seed(sms_rows, [sms_audience], channels=("sms",), start=rows)
            make_campaign(email_audience, "email", name="Storm email")
            make_campaign(sms_audience, "sms", name="Storm sms")
            materialise()
            db.session.remove()
            env = worker_env(
                url,
                fake.url,
                OUTREACH_BATCH_SIZE="100",
                OUTREACH_PROVIDER_TIMEOUT="0.5",
                OUTREACH_SMS_CONCURRENCY="32",
            )
            offset, rounds = 0.0, 0
            while rounds < 12:
                for channel in ("email", "sms"):
                    bench_worker(env, channel, clock_offset=offset)
                rounds += 1
                left = states()
                if not left.get("queued") and not left.get("sending"):
                    break
                offset += 600  # backoff: 30 s doubling, at most 4 retries
            result = states()
            stats = fake.stats()
            accepted = set(fake.email_ids())
            rows_by_state = db.session.execute(
                sa.text(
                    "SELECT id, channel, state, error_code, error_detail FROM outbox_messages "
                    "WHERE state IN ('failed', 'unknown')"
                )
            ).all()
            db.session.remove()
    unexplained = [r for r in rows_by_state if not (r.error_code and r.error_detail)]
    unknown_email = {r.id for r in rows_by_state if r.state == "unknown" and r.channel == "email"}
    unknown_all = sum(1 for r in rows_by_state if r.state == "unknown")
    duplicates = stats["duplicate_emails"] + stats["duplicate_sms"]
    passed = (
        duplicates == 0
        and set(result) <= {"sent", "failed", "unknown"}
        and not unexplained
        and unknown_email <= accepted
    )
    return Figure(
        name="429/5xx storm + timeouts + 504s: duplicates",
        ours=float(duplicates),
        unit="dup",
        target="0 dup; every row sent/failed(reason)/unknown",
        passed=passed,
        baseline=float(unknown_all),
        baseline_note="dups if timeouts/504s were retried",
        note=(
            f"{rows + sms_rows:,} messages ({rows:,} email, {sms_rows:,} sms) in {rounds} "
            f"rounds: {result}; provider answered {stats['errors_429']} x 429 and "
            f"{stats['errors_5xx']} x 5xx; {len(unexplained)} failed/unknown rows without a "
            "reason"
        ),
    )


def pg_restart(rows: int) -> Figure:
    """Restart PostgreSQL while a worker sends; it must recover without a duplicate."""
    version = _cluster()
    with FakeProcess(latency=0.05) as fake, database("postgresql", "outreach_bench_pgr") as url:
        app = make_app(url)
        with app.app_context():
            from outreach.extensions import db

            queued_step(rows, "email")
            db.session.remove()
            env = worker_env(url, fake.url, OUTREACH_BATCH_SIZE="200")
            worker = subprocess.Popen(
                [sys.executable, "-m", "bench.worker", "--channel", "email"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            deadline = time.monotonic() + 120
            while fake.stats()["emails"] < rows // 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            print(f"  faults: RESTARTING PostgreSQL {version}/main (shared server) now")
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                check=True,
            )
            output = worker.communicate(timeout=600)[0]
            db.engine.dispose()
            result = states()
            stats = fake.stats()
            db.session.remove()
    unknown = result.get("unknown", 0)
    passed = (
        worker.returncode == 0
        and stats["duplicate_emails"] == 0
        and set(result) <= {"sent", "unknown"}
        and unknown <= 200
    )
    return Figure(
        name="PostgreSQL restarted mid-send: duplicates",
        ours=float(stats["duplicate_emails"]),
        unit="dup",
        target="0 dup, worker recovers",
        passed=passed,
        baseline=None,
        note=(f"worker exit {worker.returncode}; {result}; {_outage_seen(output)}"),
    )


def _outage_seen(output: str) -> str:
    """What the worker's log says about the restart."""
    lost = output.count("database unavailable")
    if lost:
        return f"the worker lost the database {lost} time(s) mid-work and recovered"
    return "no error reached the worker (the pool's pre-ping re-opened its connections)"


def _cluster() -> str:
    listing = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
    )
    return listing.stdout.split()[0]


def run(
    quick: bool = False, kills: int = 100, restarts: int = 20, pg_restart_too: bool = True
) -> list[Figure]:
    """All the fault benchmarks (quick: 4 kills, 4 restarts, a small storm, no restart, a
    short webhook outage)."""
    if quick:
        figures = sigkill_runs(4, 3_000, 600, 20)
        figures.append(sigterm_runs(4, 2_000, 400, 20))
        figures.append(storms(300, quick))
        return figures + faults_webhooks.run(quick=True)
    figures = sigkill_runs(kills, 40_000, 10_000, 50)
    figures.append(sigterm_runs(restarts, 20_000, 5_000, 50))
    figures.append(storms(3_000, quick))
    if pg_restart_too:
        figures.append(pg_restart(20_000))
    else:
        figures.append(
            Figure("PostgreSQL restarted mid-send", None, "", "skipped (--no-pg-restart)", None)
        )
    return figures + faults_webhooks.run()


def main() -> None:
    """Command line entry point."""
    parser = cli(__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--restarts", type=int, default=20, help="SIGTERM restarts")
    parser.add_argument(
        "--no-pg-restart",
        action="store_true",
        default=os.environ.get("BENCH_NO_PG_RESTART") == "1",
        help="do not restart the (shared) PostgreSQL server",
    )
    args = parser.parse_args()
    report("Faults", run(args.quick, args.kills, args.restarts, not args.no_pg_restart), args.json)


if __name__ == "__main__":
    main()
