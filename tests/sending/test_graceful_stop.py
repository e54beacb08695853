"""Stopping gracefully: SIGTERM/SIGINT to ``dispatch --once`` or the ``worker`` finishes and
records the batch in flight and exits 0, so a deploy restart leaves no row ``unknown``; a
second signal exits at once (the crash path)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from bench.faults_kill import has_claimed
from outreach.sending import run as sending
from outreach.sending import stopping
from tests.sending.test_workers import ROOT, seed_audience, start_worker, states

WORKER = [sys.executable, "-m", "flask", "--app", "wsgi", "outreach", "worker", "--interval", "1"]


def _wait_for_claim(process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not has_claimed(process.pid):
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, "the worker never claimed a batch"
        time.sleep(0.01)


def _assert_nothing_in_flight() -> dict[str, int]:
    result = states()
    assert "unknown" not in result and "sending" not in result, result
    return result


def test_a_stop_request_claims_nothing_more(app, fake):
    seed_audience(30)
    stopping.request()
    try:
        report = sending.dispatch_once()
    finally:
        stopping.clear()
    assert report.sent == 0 and states() == {"queued": 30}
    assert sending.dispatch_once().sent == 30  # the next run sends them


def test_sigterm_to_dispatch_once_records_the_batch_in_flight_and_exits_0(app, fake, worker_env):
    fake.configure(latency=0.05)
    worker_env["OUTREACH_BATCH_SIZE"] = "20"
    worker_env["OUTREACH_LEASE_SECONDS"] = "4"  # a busy 2-core CI machine needs headroom
    seed_audience(1000)
    worker = start_worker(worker_env)
    _wait_for_claim(worker)
    worker.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    output = worker.communicate(timeout=30)[0]
    assert worker.returncode == 0, output
    assert time.monotonic() - signalled < 4  # within the lease: no row can turn unknown
    assert "stopped by a signal: the rest stays queued" in output
    result = _assert_nothing_in_flight()
    assert result.get("queued", 0) > 0, result  # it really stopped early
    assert result["sent"] == len(fake.sent_email_ids)  # everything handed over is recorded

    finish = start_worker(worker_env)
    assert finish.wait(timeout=120) == 0
    assert states() == {"sent": 1000}
    assert fake.stats()["duplicate_emails"] == 0


def test_deploy_restarts_of_the_worker_leave_nothing_unknown(app, fake, worker_env):
    fake.configure(latency=0.05)
    worker_env["OUTREACH_BATCH_SIZE"] = "20"
    count = 600
    seed_audience(count)
    for _ in range(3):  # a rolling deploy: SIGTERM, start the new one
        worker = subprocess.Popen(
            WORKER,
            cwd=ROOT,
            env=worker_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        _wait_for_claim(worker)
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=30)[0]
        assert worker.returncode == 0, output
        assert "worker stopped; nothing left in flight" in output
        _assert_nothing_in_flight()
    assert states().get("queued", 0) > 0  # each restart interrupted a send
    finish = start_worker(worker_env)
    assert finish.wait(timeout=120) == 0
    assert states() == {"sent": count}
    assert fake.stats()["duplicate_emails"] == 0


def test_a_second_signal_exits_at_once_and_rows_follow_the_crash_path(app, fake, worker_env):
    fake.configure(latency=5.0)  # the provider is slow to answer the batch in flight
    worker_env["OUTREACH_BATCH_SIZE"] = "20"
    seed_audience(100)
    worker = start_worker(worker_env)
    _wait_for_claim(worker)
    time.sleep(0.2)
    worker.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    signalled = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    worker.communicate(timeout=30)
    assert time.monotonic() - signalled < 2.5  # did not wait for the 5 s answer
    assert worker.returncode == 128 + signal.SIGTERM
    result = states()
    assert result.get("sending", 0) > 0 and "sent" not in result  # left to the lease
