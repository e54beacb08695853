"""Scale-out: 1, 2 and 4 worker processes sending one email step against one PostgreSQL.

Each worker is its own process (``python -m bench.worker``: its own connection pool and
``OUTREACH_EMAIL_CONCURRENCY`` lanes), as on separate machines; the fake SendGrid answers
every request after ``--latency`` seconds (50 ms: SendGrid's real order of magnitude), so
a lane spends most of a batch waiting on the provider. For each worker count: a fresh queued
step of ``--rows`` recipients, the workers started together, recipients/s over the wall
time from the first start to the last exit, and the fake's count (every row once, no
duplicates). The baseline is one worker with one lane.

    python -m bench.scaleout [--quick] [--rows N] [--latency S] [--lanes L]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from bench.common import (
    ROOT,
    FakeProcess,
    Figure,
    cli,
    database,
    make_app,
    make_campaign,
    materialise,
    queued_step,
    report,
    states,
    worker_env,
)

COUNTS = (1, 2, 4)


#: Seconds for every worker to start (imports, app, connection pool) before they all send.
START_UP = 10.0


def _start(env: dict[str, str], out: Path, start_at: float) -> subprocess.Popen:
    argv = [sys.executable, "-m", "bench.worker", "--channel", "email"]
    with out.open("w") as handle:
        return subprocess.Popen(
            [*argv, "--start-at", str(start_at)],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
        )


def send_with(workers: int, env: dict[str, str], start_up: float = START_UP) -> dict:
    """Start ``workers`` bench workers on the queued step, sending from one moment on;
    recipients/s from that moment to the last worker's end."""
    with tempfile.TemporaryDirectory() as folder:
        outs = [Path(folder) / f"worker{i}.txt" for i in range(workers)]
        start_at = time.time() + start_up
        processes = [_start(env, out, start_at) for out in outs]
        codes = [process.wait(timeout=1800) for process in processes]
        results = []
        for code, out in zip(codes, outs, strict=True):
            text = out.read_text()
            lines = [line for line in text.splitlines() if line.startswith("{")]
            if code != 0 or not lines:
                raise RuntimeError(f"a bench worker failed ({code}):\n{text[-3000:]}")
            results.append(json.loads(lines[-1]))
    sent = sum(result["sent"] for result in results)
    first = min(result["began"] for result in results)
    seconds = max(result["ended"] for result in results) - first
    return {
        "late": max(result["began"] for result in results) - start_at,  # start-up overran
        "workers": workers,
        "sent": sent,
        "seconds": seconds,
        "rate": sent / seconds,
        "per_worker": [result["sent"] for result in results],
        "peak_rss_mb": max(result.get("maxrss_mb", 0.0) for result in results),
    }


def run(
    quick: bool = False, rows: int = 200_000, latency: float = 0.05, lanes: int = 8
) -> list[Figure]:
    """One fresh step per worker count; returns the figures (rate per count)."""
    if quick:
        rows = 4_000
    curve: list[dict] = []
    with (
        FakeProcess(latency=latency) as fake,
        database("postgresql", "outreach_bench_scale") as url,
    ):
        app = make_app(url)
        env = worker_env(url, fake.url, OUTREACH_EMAIL_CONCURRENCY=str(lanes))
        with app.app_context():
            from outreach.extensions import db

            audience_id, added, _ = queued_step(rows, "email", name="Scale 1")
            db.session.remove()
            runs = [("baseline", 1, {**env, "OUTREACH_EMAIL_CONCURRENCY": "1"})]
            runs += [(f"{n} workers", n, env) for n in COUNTS]
            for index, (label, workers, run_env) in enumerate(runs):
                if index:
                    db.session.execute(sa.text("DELETE FROM outbox_messages"))
                    db.session.commit()
                    make_campaign(audience_id, "email", name=f"Scale {index + 1}")
                    materialise()
                    db.session.remove()
                fake.reset()
                fake.configure(latency=latency)
                if label == "baseline" and not quick:  # one lane is slow: a fifth of the rows
                    db.session.execute(
                        sa.text(
                            "UPDATE outbox_messages SET state = 'cancelled' WHERE id IN ("
                            "SELECT id FROM outbox_messages ORDER BY id OFFSET :keep)"
                        ),
                        {"keep": rows // 5},
                    )
                    db.session.commit()
                    db.session.remove()
                result = send_with(workers, run_env)
                counted = states()
                stats = fake.stats()
                assert stats["duplicate_emails"] == 0, stats
                assert counted.get("queued", 0) == 0 and counted.get("sending", 0) == 0, counted
                assert stats["emails"] == result["sent"], (stats, result)
                result["label"] = label
                curve.append(result)
                print(f"  scale-out {label}: {json.dumps(result)}", flush=True)
    baseline = curve[0]["rate"]
    figures = []
    for result in curve[1:]:
        share = ", ".join(f"{n:,}" for n in result["per_worker"])
        figures.append(
            Figure(
                name=f"scale-out: {result['label']} ({lanes} lanes each, {latency * 1000:.0f} ms)",
                ours=result["rate"],
                unit="/s",
                target="report",
                passed=None,
                baseline=baseline,
                baseline_note="1 worker, 1 lane",
                note=(
                    f"{result['sent']:,} recipients in {result['seconds']:.1f}s (per worker: "
                    f"{share}); {result['rate'] / curve[1]['rate']:.2f}x one worker; "
                    f"peak RSS {result['peak_rss_mb']:.0f} MB"
                    + (f"; a worker began {result['late']:.1f}s late" if result["late"] > 1 else "")
                ),
            )
        )
    return figures


def main() -> None:
    """Command line entry point."""
    parser = cli(__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--lanes", type=int, default=8)
    args = parser.parse_args()
    report("Scale-out", run(args.quick, args.rows, args.latency, args.lanes), args.json)


if __name__ == "__main__":
    main()
