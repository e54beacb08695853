"""A timed worker process: the real dispatch code, with a stopwatch (and optionally a profile).

Materialises what is due first (timed apart), then runs ``dispatch.dispatch_channel`` until
nothing of the channel is due, and prints one JSON line: rows sent, seconds, rate, peak RSS.
Configured from the environment like ``flask outreach worker`` (see bench.common.worker_env).

    python -m bench.worker --channel email [--profile out.txt]
"""

from __future__ import annotations

import argparse
import json
import time

from bench.common import quiet_logs, self_maxrss_mb
from outreach.sending import batch
from outreach.sending import claim as claiming
from outreach.sending import materialise as materialising
from outreach.sending import run as sending


def main() -> None:
    """Run one timed dispatch pass and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channel", choices=("email", "sms"), required=True)
    parser.add_argument("--profile", help="write a pyinstrument profile (text) here")
    parser.add_argument(
        "--start-at", type=float, default=0.0, help="wait until this Unix time to send"
    )
    parser.add_argument(
        "--clock-offset", type=float, default=0.0, help="run this many seconds in the future"
    )
    args = parser.parse_args()

    from outreach import create_app
    from outreach.clock import now

    app = create_app()
    quiet_logs()
    if args.clock_offset:
        from datetime import UTC, datetime, timedelta

        offset = timedelta(seconds=args.clock_offset)
        app.extensions["outreach.clock"] = lambda: datetime.now(UTC) + offset
    with app.app_context():
        started = time.perf_counter()
        materialised = materialising.materialise_due()
        materialise_seconds = time.perf_counter() - started
        claiming.recover_expired_leases()
        report = batch.Report()
        profiler = None
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
        if args.start_at:  # several workers start sending together (bench.scaleout)
            time.sleep(max(0.0, args.start_at - time.time()))
        began = time.time()
        started, cpu_started = time.perf_counter(), time.process_time()
        sending.dispatch_channel(args.channel, now(), report)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started  # all of this process's threads
        if profiler is not None:
            profiler.stop()
            with open(args.profile, "w") as handle:
                handle.write(profiler.output_text(unicode=False, color=False))
    print(
        json.dumps(
            {
                "materialised": materialised,
                "materialise_seconds": materialise_seconds,
                "sent": report.sent,
                "claimed": report.claimed,
                "skipped": report.skipped,
                "deferred": report.deferred,
                "retried": report.retried,
                "failed": report.failed,
                "unknown": report.unknown,
                "seconds": seconds,
                "rate": report.sent / seconds if seconds else 0.0,
                "cpu_seconds": cpu_seconds,
                "cpu_us_per_sent": cpu_seconds / report.sent * 1e6 if report.sent else 0.0,
                "maxrss_mb": self_maxrss_mb(),
                "began": began,
                "ended": began + seconds,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
