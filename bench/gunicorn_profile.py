"""gunicorn settings file that profiles each worker with cProfile (not used by default).

    BENCH_PROFILE_DIR=/tmp/prof python -m bench.clicks --gunicorn "-c bench/gunicorn_profile.py"

Each worker writes ``worker-<pid>.prof`` when it exits (read with ``python -m pstats``)."""

from __future__ import annotations

import cProfile
import os
import time
from typing import Any


def post_fork(server: Any, worker: Any) -> None:
    """Start profiling in the new worker (its main thread serves the requests)."""
    if os.environ.get("BENCH_PROFILE_DIR"):
        worker.bench_profile = cProfile.Profile(time.process_time)
        worker.bench_profile.enable()


def worker_exit(server: Any, worker: Any) -> None:
    """Write the worker's profile."""
    profile = getattr(worker, "bench_profile", None)
    if profile is not None:
        profile.disable()
        folder = os.environ["BENCH_PROFILE_DIR"]
        os.makedirs(folder, exist_ok=True)
        profile.dump_stats(os.path.join(folder, f"worker-{os.getpid()}.prof"))
