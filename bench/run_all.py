"""Run every benchmark (each in its own process) and print one table (``make bench``).

    python -m bench.run_all [--quick] [--only fanout,emails,...] [--no-pg-restart]

The fault benchmark restarts the shared PostgreSQL server for a few seconds; pass
--no-pg-restart (or set BENCH_NO_PG_RESTART=1) when others are using it. The table is also
written to bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, Figure, machine, now_stamp, table

BENCHMARKS = (
    "fanout",
    "emails",
    "scaleout",
    "sms",
    "memory",
    "webhooks",
    "clicks",
    "results_page",
    "faults",
)
RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    """Run the benchmarks and print the combined table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--only", help="comma-separated subset of " + ", ".join(BENCHMARKS))
    parser.add_argument("--no-pg-restart", action="store_true")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(BENCHMARKS)
    if "faults" in chosen and not args.no_pg_restart:
        print(
            "NOTE: bench.faults restarts PostgreSQL (pg_ctlcluster ... restart) mid-send; "
            "use --no-pg-restart to skip that.",
            flush=True,
        )
    figures: list[Figure] = []
    timings: list[str] = []
    started = time.monotonic()
    for name in chosen:
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            argv = [sys.executable, "-m", f"bench.{name}", "--json", out.name]
            if args.quick:
                argv.append("--quick")
            if name == "faults" and args.no_pg_restart:
                argv.append("--no-pg-restart")
            print(f"\n=== bench.{name} ===", flush=True)
            began = time.monotonic()
            code = subprocess.call(argv, cwd=ROOT)
            timings.append(f"{name} {time.monotonic() - began:.0f}s")
            text = Path(out.name).read_text() if code == 0 else ""
        if code != 0 or not text:
            figures.append(Figure(f"bench.{name}", None, "", f"crashed (exit {code})", False))
            continue
        figures.extend(Figure(**item) for item in json.loads(text))
    header = f"Outreach benchmarks — {now_stamp()} — {machine()}"
    body = table(figures)
    notes = "\n".join(f"* {f.name}: {f.note}" for f in figures if f.note)
    footer = f"total {time.monotonic() - started:.0f}s ({', '.join(timings)})"
    print(f"\n{header}\n{body}\n{notes}\n{footer}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / ("latest-quick.md" if args.quick else "latest.md")).write_text(
        f"{header}\n\n{body}\n\n{notes}\n\n{footer}\n"
    )
    failed = [f.name for f in figures if f.passed is False]
    if failed:
        print(f"\n{len(failed)} figure(s) missed the target: {', '.join(failed)}")


if __name__ == "__main__":
    main()
