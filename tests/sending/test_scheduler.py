"""The clock: jobs declared as data with stable ids; N worker processes = one."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from apscheduler.schedulers.background import BackgroundScheduler

from outreach import scheduler
from tests.sending.test_workers import ROOT, seed_audience, states


def test_jobs_are_data_with_stable_unique_ids(app):
    ids = [job.id for job in scheduler.JOBS]
    assert ids == ["outreach.dispatch", "outreach.confirmations"]
    assert len(set(ids)) == len(ids)
    sched = BackgroundScheduler(timezone="UTC")
    sched.start(paused=True)
    try:
        scheduler.add_jobs(app, sched)
        scheduler.add_jobs(app, sched)  # registering twice replaces, never duplicates
        assert sorted(j.id for j in sched.get_jobs()) == sorted(ids)
        assert all(j.max_instances == 1 and j.coalesce for j in sched.get_jobs())
    finally:
        sched.shutdown(wait=False)


def test_two_worker_processes_send_each_message_once(app, fake, worker_env):
    count = 600
    worker_env["OUTREACH_BATCH_SIZE"] = "50"
    seed_audience(count)
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flask",
                "--app",
                "wsgi",
                "outreach",
                "worker",
                "--interval",
                "1",
            ],
            cwd=ROOT,
            env=worker_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and states().get("sent", 0) < count:
            time.sleep(0.5)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        outputs = [w.communicate(timeout=30)[0] for w in workers]
    assert states() == {"sent": count}, outputs
    assert fake.stats()["duplicate_emails"] == 0
    assert sorted(fake.sent_email_ids) == sorted(set(fake.sent_email_ids))
