"""Real worker processes against a local fake SendGrid: scale-out, SIGKILL, pause/resume.

These run `flask outreach dispatch --once` as separate processes on the test database, so
they exercise the real claim statement (FOR UPDATE SKIP LOCKED on PostgreSQL, the single
writer on SQLite), leases, and crash recovery. Long versions live in bench/.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from bench.common import dispatch_command
from outreach.campaigns import lifecycle
from outreach.extensions import db
from outreach.models import Campaign, Message, Step, Subscriber, Subscription
from outreach.sending.materialise import materialise_due
from tests.factories import make_audience, start_campaign
from tests.fakes.providers import FakeProviders

ROOT = Path(__file__).resolve().parents[2]


def seed_audience(count: int) -> Campaign:
    """An audience of ``count`` confirmed email subscribers and a running one-step campaign
    due now (real time), bulk-inserted."""
    audience = make_audience(email_window_start="00:00", email_window_end="23:59")
    now = datetime.now(UTC)
    db.session.execute(
        insert(Subscriber),
        [
            {
                "public_id": f"{i:032x}",
                "email": f"user{i}@example.org",
                "timezone": "UTC",
                "first_name": f"U{i}",
                "created_at": now,
            }
            for i in range(count)
        ],
    )
    ids = db.session.scalars(select(Subscriber.id)).all()
    db.session.execute(
        insert(Subscription),
        [
            {
                "subscriber_id": sid,
                "audience_id": audience.id,
                "channel": "email",
                "state": "active",
                "requested_at": now,
                "confirmed_at": now,
                "updated_at": now,
            }
            for sid in ids
        ],
    )
    campaign = Campaign(name="Scale", audience=audience, anchor_kind="date", anchor_date=now.date())
    campaign.steps.append(
        Step(
            position=0,
            channel="email",
            send_time="00:00",
            include_late_joiners=True,
            subject="Hi {{ first_name }}",
            html="<p>June is migraine awareness month.</p>",
        )
    )
    db.session.add(campaign)
    db.session.flush()
    start_campaign(campaign)
    db.session.commit()
    return campaign


@pytest.fixture
def fake():
    with FakeProviders(latency=0.005) as providers:
        yield providers


@pytest.fixture
def worker_env(app, fake, tmp_path, clock):
    clock.set(datetime.now(UTC))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "SENDGRID_"))}
    env.update(
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        OUTREACH_ENV="testing",
        OUTREACH_INSTANCE_DIR=str(tmp_path / "worker-instance"),
        OUTREACH_BASE_URL="https://outreach.example.org",
        OUTREACH_EMAIL_CHANNEL="sendgrid",
        SENDGRID_API_KEY="SG.test",
        SENDGRID_API_HOST=fake.base_url,
        OUTREACH_LEASE_SECONDS="2",
        OUTREACH_BATCH_SIZE="200",
    )
    return env


def start_worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        dispatch_command(),  # what the benchmarks run too
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_claimers(wanted: int, workers: list[subprocess.Popen], seconds: float = 120) -> None:
    """Until ``wanted`` distinct lanes ("<worker>/<lane>") have claimed rows, or a worker
    has exited, or ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and all(w.poll() is None for w in workers):
        db.session.rollback()  # a fresh snapshot each time
        claimers = db.session.scalar(
            select(func.count(func.distinct(Message.claimed_by))).where(
                Message.claimed_by.is_not(None)
            )
        )
        if claimers >= wanted:
            return
        time.sleep(0.2)


def states() -> dict[str, int]:
    db.session.expire_all()
    return dict(
        db.session.execute(
            select(Message.state, func.count(Message.id)).group_by(Message.state)
        ).all()
    )


def test_three_workers_share_a_step_and_send_each_recipient_once(
    app, fake, worker_env, is_postgres
):
    count = 20_000 if is_postgres else 3_000
    worker_env["OUTREACH_BATCH_SIZE"] = "200" if is_postgres else "50"
    lanes = int(worker_env.get("OUTREACH_EMAIL_CONCURRENCY", "2"))
    # PostgreSQL: the provider answers slowly until every lane of every worker has claimed
    # a batch, so a worker that starts late on a slow machine still finds work to share.
    fake.configure(latency=1.0 if is_postgres else 0.05)
    seed_audience(count)
    # Fanned out before the workers start: a `--once` worker that arrives while another
    # fans out finds nothing queued yet and exits (this test is about sharing the send).
    materialise_due()
    db.session.commit()
    workers = [start_worker(worker_env) for _ in range(3)]
    if is_postgres:
        wait_for_claimers(3 * lanes, workers)
        fake.configure(latency=0.02)
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    stats = fake.stats()
    assert stats["duplicate_emails"] == 0
    assert len(fake.sent_email_ids) == count
    assert states() == {"sent": count}
    shares = dict(
        db.session.execute(
            select(Message.claimed_by, func.count(Message.id)).group_by(Message.claimed_by)
        ).all()
    )
    by_worker: dict[str, int] = defaultdict(int)
    for claimer, rows in shares.items():
        by_worker[claimer.split("/")[0]] += rows  # "<worker>/<lane>" for extra email lanes
    if is_postgres:  # SKIP LOCKED lets every worker take a share; SQLite has one writer
        assert len(by_worker) == 3, shares
        assert min(by_worker.values()) >= count * 0.05, shares
        assert len(shares) == 3 * lanes, shares  # and every lane of every worker sent some


def test_sigkill_during_dispatch_never_duplicates_or_loses(app, fake, worker_env):
    count, batch, kills = 1_500, 50, 6
    worker_env["OUTREACH_BATCH_SIZE"] = str(batch)
    fake.configure(latency=0.02)
    seed_audience(count)
    rng = random.Random(7)
    for _ in range(kills):
        worker = start_worker(worker_env)
        time.sleep(rng.uniform(1.2, 2.5))  # imports take ~1 s; then it is mid-send
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    time.sleep(2.1)  # let the last leases expire
    final = start_worker(worker_env)
    output = final.communicate(timeout=300)[0]
    assert final.returncode == 0, output
    result = states()
    assert fake.stats()["duplicate_emails"] == 0
    assert sum(result.values()) == count
    assert set(result) <= {"sent", "unknown"}, result
    assert result.get("unknown", 0) <= kills * batch
    # every row the provider accepted is either recorded as sent or awaits reconciliation
    sent_ids = set(db.session.scalars(select(Message.id).where(Message.state == "sent")))
    assert sent_ids <= set(fake.sent_email_ids)


def test_pause_and_resume_twenty_times_during_a_send(app, fake, worker_env):
    count = 2_000
    worker_env["OUTREACH_BATCH_SIZE"] = "50"
    fake.configure(latency=0.01)
    campaign = seed_audience(count)
    worker = start_worker(worker_env)
    for _ in range(20):
        time.sleep(0.1)
        db.session.refresh(campaign)
        if campaign.status == "running":
            lifecycle.pause(campaign, "staff pause")
            db.session.commit()
        time.sleep(0.05)
        db.session.refresh(campaign)
        if campaign.status == "paused":
            lifecycle.resume(campaign)
            db.session.commit()
    worker.communicate(timeout=300)
    # finish whatever the pauses left behind
    rest = start_worker(worker_env)
    rest.communicate(timeout=300)
    assert fake.stats()["duplicate_emails"] == 0
    assert len(fake.sent_email_ids) == count
    assert states() == {"sent": count}
