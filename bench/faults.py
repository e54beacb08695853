"""Faults: SIGKILL at random points, provider storms and timeouts, PostgreSQL restarted.

1. SIGKILL: real workers (``flask outreach dispatch --once``) on PostgreSQL, two at a time,
   each killed at a random moment after its first claim and replaced; 100 kills, then one
   last worker finishes the step. Zero duplicates at the fake, every row ``sent`` or
   ``unknown``, at most one batch ``unknown`` per kill, and every message the provider
   accepted is recorded ``sent`` or ``unknown`` (none left to be sent again).
2. Storms: 429 / 500 answers, read timeouts and gateway 504s after acceptance; workers run
   with the clock moved forward until nothing is due. Every message ends ``sent`` once,
   ``failed`` with its reason, or ``unknown`` (the timeouts / 504s: the provider did accept
   them; retrying would have sent them twice - that count is the baseline).
3. PostgreSQL restart (``pg_ctlcluster ... restart``) while a worker sends: the worker waits,
   re-queues what it had not sent, writes what it had, and finishes without a duplicate.
   This restarts the shared server for a few seconds: skip it with --no-pg-restart (or
   BENCH_NO_PG_RESTART=1).

    python -m bench.faults [--quick] [--kills N] [--no-pg-restart]
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import sqlalchemy as sa

from bench.common import (
    ROOT,
    FakeProcess,
    Figure,
    bench_worker,
    cli,
    database,
    dispatch_command,
    make_app,
    make_audience,
    make_campaign,
    materialise,
    queued_step,
    report,
    run_child,
    seed,
    states,
    worker_env,
)


def _message_ids(state: str) -> set[int]:
    from outreach.extensions import db

    ids = set(
        db.session.scalars(sa.text("SELECT id FROM outbox_messages WHERE state = :s"), {"s": state})
    )
    db.session.commit()
    return ids


def _has_claimed(pid: int) -> bool:
    from outreach.extensions import db

    found = db.session.scalar(
        sa.text("SELECT 1 FROM outbox_messages WHERE claimed_by LIKE :p LIMIT 1"),
        {"p": f"%:{pid}:%"},
    )
    db.session.commit()
    return found is not None


def sigkill_runs(kills: int, rows: int, batch: int, seed_value: int = 8) -> Figure:
    """Kill workers at random points ``kills`` times; check nothing is duplicated or lost."""
    rng = random.Random(seed_value)
    with FakeProcess(latency=0.01) as fake, database("postgresql", "outreach_bench_kill") as url:
        app = make_app(url)
        with app.app_context():
            from outreach.extensions import db

            queued_step(rows, "email")
            env = worker_env(
                url, fake.url, OUTREACH_BATCH_SIZE=str(batch), OUTREACH_LEASE_SECONDS="2"
            )
            done = 0
            slots: list[tuple[subprocess.Popen, float] | None] = [None, None]
            started = time.monotonic()
            while done < kills and time.monotonic() - started < 900:
                for index, slot in enumerate(slots):
                    if slot is None:
                        process = subprocess.Popen(
                            dispatch_command(),
                            cwd=ROOT,
                            env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                        slots[index] = (process, 0.0)
                        continue
                    process, kill_at = slot
                    if process.poll() is not None:  # finished: the step is done
                        slots[index] = None
                        continue
                    if kill_at == 0.0 and _has_claimed(process.pid):
                        slots[index] = (process, time.monotonic() + rng.uniform(0.0, 0.6))
                    elif kill_at and time.monotonic() >= kill_at:
                        process.send_signal(signal.SIGKILL)
                        process.wait()
                        done += 1
                        slots[index] = None
                if not _message_ids("queued") and all(s is None for s in slots):
                    break
                time.sleep(0.01)
            for slot in slots:
                if slot is not None:
                    slot[0].send_signal(signal.SIGKILL)
                    slot[0].wait()
                    done += 1
            time.sleep(2.2)  # leases expire
            final = run_child(dispatch_command(), {**env, "OUTREACH_BATCH_SIZE": "1000"})
            assert final.returncode == 0, final.output[-2000:]
            result = states()
            stats = fake.stats()
            accepted = set(fake.email_ids())
            sent, unknown = _message_ids("sent"), _message_ids("unknown")
            db.session.remove()
    lost = rows - len(sent) - len(unknown)
    accepted_unrecorded = accepted - sent - unknown
    passed = (
        stats["duplicate_emails"] == 0
        and set(result) <= {"sent", "unknown"}
        and sum(result.values()) == rows
        and lost == 0
        and len(unknown) <= done * batch
        and sent <= accepted
        and not accepted_unrecorded
    )
    return Figure(
        name=f"SIGKILL x{done} during dispatch (PostgreSQL, 2 workers)",
        ours=float(stats["duplicate_emails"]),
        unit="duplicates",
        target="0 dup, 0 lost",
        passed=passed,
        baseline=float(len(unknown & accepted)),
        baseline_note="dups if stale rows were re-queued",
        note=(
            f"{rows:,} rows: {len(sent):,} sent, {len(unknown):,} unknown (allowed: "
            f"{done * batch:,}, one batch per kill) "
            f"({len(unknown & accepted):,} of them accepted by the provider, reconcilable by "
            f"events; {len(unknown - accepted):,} never sent), lost {lost}, provider-accepted "
            f"but unrecorded {len(accepted_unrecorded)}"
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


def run(quick: bool = False, kills: int = 100, pg_restart_too: bool = True) -> list[Figure]:
    """All three fault benchmarks (quick: 2 kills, a small storm, no restart)."""
    if quick:
        figures = [sigkill_runs(2, 600, 20)]
        figures.append(storms(300, quick))
        return figures
    figures = [sigkill_runs(kills, 40_000, 50)]
    figures.append(storms(3_000, quick))
    if pg_restart_too:
        figures.append(pg_restart(20_000))
    else:
        figures.append(
            Figure("PostgreSQL restarted mid-send", None, "", "skipped (--no-pg-restart)", None)
        )
    return figures


def main() -> None:
    """Command line entry point."""
    parser = cli(__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument(
        "--no-pg-restart",
        action="store_true",
        default=os.environ.get("BENCH_NO_PG_RESTART") == "1",
        help="do not restart the (shared) PostgreSQL server",
    )
    args = parser.parse_args()
    report("Faults", run(args.quick, args.kills, not args.no_pg_restart), args.json)


if __name__ == "__main__":
    main()
