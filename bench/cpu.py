"""CPU accounting per process during a load test: the gunicorn workers, their PostgreSQL
backends and the load generator, read from ``/proc`` (psutil) before and after, so a run
says where the machine's two cores went."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass

import psutil
import sqlalchemy as sa


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (gone ones count 0)."""
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def worker_pids(server: subprocess.Popen) -> list[int]:
    """gunicorn's workers (the master's children)."""
    return [child.pid for child in psutil.Process(server.pid).children()]


def backend_pids(url: str, exclude: tuple[int, ...] = ()) -> list[int]:
    """Client backends connected to the database at ``url`` (not this query's own)."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            pids = conn.execute(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                )
            ).scalars()
            return [pid for pid in pids if pid not in exclude]
    finally:
        engine.dispose()


@dataclass
class Usage:
    """CPU seconds each part took over a measured window."""

    seconds: float  # wall time of the window
    workers: float
    backends: float
    client: float
    machine_busy: float  # share of all cores busy (everyone's processes, others' too)

    def per_request(self, requests: int) -> str:
        """The note's text: CPU per answered request of each part, and how busy the machine
        was (``requests``: those answered, so a request that never reached the server does
        not dilute the figure)."""
        ms = 1000.0 / max(1, requests)
        cores = self.seconds or 1.0
        return (
            f"CPU per request: gunicorn {self.workers * ms:.2f} ms, PostgreSQL "
            f"{self.backends * ms:.2f} ms, load generator {self.client * ms:.2f} ms "
            f"({self.client / cores:.0%} of a core); machine {self.machine_busy:.0%} busy "
            f"over {os.cpu_count()} cores"
        )


class Meter:
    """Start before the measured window, ``stop`` after it."""

    def __init__(self, workers: list[int], backends: list[int]) -> None:
        self.workers, self.backends = workers, backends
        self.w0, self.b0 = cpu_seconds(workers), cpu_seconds(backends)
        self.machine0 = psutil.cpu_times()
        self.t0 = time.perf_counter()

    def stop(self, client: float) -> Usage:
        """``client``: the load generator's CPU over the window (it reports its own)."""
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - machine.iowait
        busy0 = sum(self.machine0) - self.machine0.idle - self.machine0.iowait
        total = sum(machine) - sum(self.machine0)
        return Usage(
            seconds=time.perf_counter() - self.t0,
            workers=cpu_seconds(self.workers) - self.w0,
            backends=cpu_seconds(self.backends) - self.b0,
            client=client,
            machine_busy=(busy - busy0) / total if total else 0.0,
        )
