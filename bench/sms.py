"""SMS: messages per second through TwilioChannel, with pacing off and on.

Ours: a worker process (bench.worker: the real ``dispatch.dispatch_channel``) on
PostgreSQL, sending to the fake Twilio in its own process. Old path, in the same run: the
same worker with ``OUTREACH_FAST_COMPOSE=0`` (each text through ``messages.create``, which
builds the library's message object). Also: the loop a user would
write, one ``twilio.rest.Client().messages.create`` per message with the library's default
HTTP client, one after the other (measured for a few seconds). Pacing: a second audience
sent with ``OUTREACH_SMS_MPS`` set; the achieved rate is measured from the fake's arrival
times over the whole run (default 50 messages/s for 60 s).

    python -m bench.sms [--quick] [--rows N] [--mps R] [--pace-seconds S]
"""

from __future__ import annotations

import json
import time

from bench.common import (
    TWILIO_SID,
    TWILIO_TOKEN,
    FakeProcess,
    Figure,
    bench_worker,
    cli,
    database,
    make_app,
    phone,
    queued_step,
    report,
    states,
    worker_env,
)


def naive_loop(fake_url: str, seconds: float) -> float:
    """One Client.messages.create per text, default HTTP client, sequential; texts/s."""
    from twilio.rest import Client

    client = Client(TWILIO_SID, TWILIO_TOKEN)
    client.api.base_url = fake_url
    messages = client.api.v2010.accounts(TWILIO_SID).messages
    sent = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        messages.create(
            to=phone(9_000_000 + sent),
            messaging_service_sid="MG" + "c" * 32,
            body=f"Hi Reader, June is Migraine Awareness Month ({sent}). Reply STOP to opt out.",
        )
        sent += 1
    return sent / (time.perf_counter() - started)


def run(
    quick: bool = False, rows: int = 30_000, mps: float = 50.0, pace_seconds: float = 60.0
) -> list[Figure]:
    """Throughput (pacing off), the naive baseline, then a paced run; returns figures."""
    if quick:
        rows, pace_seconds = 200, 2.0
    paced_rows = int(mps * pace_seconds)
    with FakeProcess() as fake, database("postgresql", "outreach_bench_sms") as url:
        app = make_app(url)
        with app.app_context():
            from outreach.extensions import db

            queued_step(rows, "sms", slug="bench-a", name="SMS A")
            db.session.remove()
            ours = bench_worker(worker_env(url, fake.url, OUTREACH_SMS_MPS="0"), "sms")
            print(f"  sms: ours {json.dumps(ours)}")
            stats = fake.stats()
            assert states() == {"sent": rows}, states()
            assert stats["sms"] == rows and stats["duplicate_sms"] == 0, stats

            # The old path in the same run: each text through the library's messages.create.
            queued_step(rows, "sms", slug="bench-old", name="SMS old path", start=2 * rows)
            db.session.remove()
            fake.reset()
            old_env = worker_env(url, fake.url, OUTREACH_SMS_MPS="0", OUTREACH_FAST_COMPOSE="0")
            old_path = bench_worker(old_env, "sms")
            print(f"  sms: old path {json.dumps(old_path)}")
            assert fake.stats()["sms"] == rows

            naive = naive_loop(fake.url, 1.0 if quick else 3.0)

            queued_step(paced_rows, "sms", slug="bench-b", name="SMS paced", start=rows)
            db.session.remove()
            fake.reset()
            paced = bench_worker(worker_env(url, fake.url, OUTREACH_SMS_MPS=str(mps)), "sms")
            times = sorted(fake.timeline()["sms"])
            assert len(times) == paced_rows, (len(times), paced_rows)
            achieved = (len(times) - 1) / (times[-1] - times[0])
            db.session.remove()
    error = abs(achieved - mps) / mps
    return [
        Figure(
            name="sms/s through TwilioChannel, pacing off",
            ours=ours["rate"],
            unit="/s",
            target=">= 3,000 /s",
            passed=ours["rate"] >= 3_000,
            baseline=old_path["rate"],
            baseline_note="old path: messages.create (OUTREACH_FAST_COMPOSE=0)",
            note=(
                f"{rows:,} texts in {ours['seconds']:.1f}s, worker CPU "
                f"{ours['cpu_us_per_sent']:,.0f} us per text (old path "
                f"{old_path['cpu_us_per_sent']:,.0f} us); naive loop (Client.messages.create, "
                f"sequential) {naive:,.0f}/s; peak RSS {ours['wait4_maxrss_mb']:.0f} MB"
            ),
        ),
        Figure(
            name=f"sms pacing at {mps:g} mps for {pace_seconds:g}s: achieved",
            ours=achieved,
            unit="/s",
            target=f"{mps:g} +/- 1%",
            passed=error <= 0.01,
            baseline=mps,
            baseline_note="configured",
            note=(
                f"{len(times):,} texts, first to last arrival {times[-1] - times[0]:.2f}s, "
                f"error {error:.2%}; the worker took {paced['seconds']:.1f}s"
            ),
        ),
    ]


def main() -> None:
    """Command line entry point."""
    parser = cli(__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--mps", type=float, default=50.0)
    parser.add_argument("--pace-seconds", type=float, default=60.0)
    args = parser.parse_args()
    report("SMS", run(args.quick, args.rows, args.mps, args.pace_seconds), args.json)


if __name__ == "__main__":
    main()
