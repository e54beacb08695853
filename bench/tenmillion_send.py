"""The send phase of bench.tenmillion: one worker sends the fanned-out step to the fake
SendGrid while STOP texts arrive at the webhook, and the worker's RSS is sampled.

The STOP latency is measured twice at the same rate on the same gunicorn: before the send
(the baseline) and while the worker sends. Each STOP opts out a number of its own (an SMS
audience seeded beside the ten million), so every request does the full opt-out work.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from bench import webhooks
from bench.common import (
    FakeProcess,
    Finished,
    app_env,
    free_port,
    make_audience,
    phone,
    run_child,
    seed,
    terminate,
    worker_env,
)

STOP_RATE = 50.0
STOP_SECONDS = 20.0


@dataclass
class SendPhase:
    """What the send phase measured."""

    sent: int
    seconds: float
    rss_mb: list[float]  # sampled every 0.5 s
    peak_rss_mb: float
    stop_before: list[float]  # STOP latencies (s) before the send
    stop_during: list[float]  # ... and while the worker sent
    stop_errors: int
    fake_emails: int
    fake_duplicates: int
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Recipients per second over the whole send."""
        return self.sent / self.seconds if self.seconds else 0.0

    def rss_growth_mb(self) -> float:
        """RSS at the end minus RSS once the first tenth had gone (the "flat" check)."""
        if len(self.rss_mb) < 10:
            return 0.0
        return self.rss_mb[-1] - self.rss_mb[len(self.rss_mb) // 10]


def seed_stop_numbers(first_id: int, count: int) -> list[str]:
    """``count`` SMS subscribers (ids after ``first_id``) in an audience of their own."""
    audience_id = make_audience("ten-million-stop")
    seed(count, [audience_id], channels=("sms",), start=first_id)
    return [phone(first_id + n + 1) for n in range(count)]


def _stops(port: int, numbers: list[str], rng: random.Random) -> tuple[list[float], int]:
    requests_ = webhooks.stop_requests(numbers, rng, repeats=0)
    latencies, _, errors, _ = webhooks.open_loop(port, requests_, STOP_RATE)
    return latencies, errors


def _first_email(fake: FakeProcess, worker: threading.Thread, wait: float = 120.0) -> None:
    """Return once the fake has accepted an email (the worker is sending) or it ended."""
    deadline = time.monotonic() + wait
    while worker.is_alive() and time.monotonic() < deadline:
        if fake.stats()["emails"]:
            return
        time.sleep(0.2)


def send(url: str, numbers: list[str], at: datetime, seconds: float = STOP_SECONDS) -> SendPhase:
    """Start gunicorn, time STOPs for ``seconds``, then run one worker (its clock at
    ``at``, when the step is due) until the step is sent, timing STOPs again from its first
    email on."""
    rng = random.Random(16)
    per_run = int(STOP_RATE * seconds)
    warm, before = numbers[:30], numbers[30 : 30 + per_run]
    during = numbers[30 + per_run : 30 + 2 * per_run]
    port = free_port()
    server = webhooks.start_gunicorn(app_env(url), port)
    try:
        _stops(port, warm, rng)
        stop_before, errors_before = _stops(port, before, rng)
        with FakeProcess() as fake:
            env = worker_env(url, fake.url)
            offset = (at - datetime.now(at.tzinfo)).total_seconds()
            # nice 10: on one machine the webhook's latency comes before the send's rate
            # (the README's deployment runs workers so); PostgreSQL's backends are not niced.
            argv = ["nice", "-n", "10", sys.executable, "-m", "bench.worker", "--channel", "email"]
            argv += ["--clock-offset", str(offset)]
            finished: list[Finished] = []
            worker = threading.Thread(target=lambda: finished.append(run_child(argv, env, 7200)))
            worker.start()
            _first_email(fake, worker)
            stop_during, errors_during = _stops(port, during, rng)
            during_send = worker.is_alive()
            worker.join()
            stats = fake.stats()
    finally:
        terminate(server)
    done = finished[0]
    if done.returncode != 0:
        raise RuntimeError(f"worker failed ({done.returncode}):\n{done.output[-3000:]}")
    figures = json.loads([line for line in done.output.splitlines() if line.startswith("{")][-1])
    return SendPhase(
        sent=figures["sent"],
        seconds=figures["seconds"],
        rss_mb=[mb for _, mb in done.rss_samples],
        peak_rss_mb=done.maxrss_mb,
        stop_before=stop_before,
        stop_during=stop_during,
        stop_errors=errors_before + errors_during,
        fake_emails=stats["emails"],
        fake_duplicates=stats["duplicate_emails"],
        notes=[] if during_send else ["the send ended before the last STOP"],
    )


def stop_count(seconds: float = STOP_SECONDS) -> int:
    """SMS numbers the phase needs: warm-up, the baseline run and the run during the send."""
    return 30 + 2 * int(STOP_RATE * seconds)
