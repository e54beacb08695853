"""Worker heartbeats: a row while a worker runs (with the batch in hand), throttled beats,
removed on a graceful stop, never a reason to stop sending."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import WorkerHeartbeat
from outreach.operations import heartbeats
from outreach.sending import identity
from outreach.sending import run as sending
from tests.fakes import RecordingChannels
from tests.sending.test_workers import ROOT

WORKER = [sys.executable, "-m", "flask", "--app", "wsgi", "outreach", "worker", "--interval", "1"]


def rows() -> list[WorkerHeartbeat]:
    db.session.expire_all()
    rows = list(db.session.scalars(select(WorkerHeartbeat)))
    db.session.commit()  # end the read: a SQLite writer elsewhere must not wait for it
    return rows


@pytest.fixture
def registered(app):  # noqa: ANN001, ANN201
    """This test process as a registered worker (unregistered afterwards)."""
    app.config["OUTREACH_HEARTBEAT_SECONDS"] = 5
    heartbeats.start()
    yield
    heartbeats.stop()


class SeesHeartbeats(RecordingChannels):
    """Records, at each email request, the heartbeat rows there are."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[list[tuple[str, str | None]]] = []

    def send_batch(self, batch):  # noqa: ANN001, ANN201
        found = db.session.execute(select(WorkerHeartbeat.worker_id, WorkerHeartbeat.current_batch))
        self.seen.append([tuple(row) for row in found])
        return super().send_batch(batch)


def test_dispatch_once_keeps_a_row_while_it_runs_and_removes_it_at_the_end(app, cli, due_campaign):
    app.config["OUTREACH_HEARTBEAT_SECONDS"] = 0  # every beat is written
    channel = SeesHeartbeats().install(app)

    result = cli.invoke(args=["outreach", "dispatch", "--once", "--quiet"])

    assert result.exit_code == 0, result.output
    assert "sent 5" in result.output
    assert channel.seen == [[(identity.worker_id(), "email: 3 rows")]]
    assert rows() == []  # a graceful end removes it


def test_a_registered_worker_beats_with_its_batch_and_at_most_every_interval(
    app, clock, registered, channels, due_campaign
):
    (row,) = rows()
    assert row.worker_id == identity.worker_id() and row.current_batch is None
    assert row.pid > 0 and row.host and row.started_at == clock_now()
    clock.advance(seconds=2)
    assert heartbeats.beat("email: 3 rows") is False  # within OUTREACH_HEARTBEAT_SECONDS
    assert rows()[0].last_beat_at == row.started_at
    assert heartbeats.beat(force=True) is True  # keeps the batch it was given
    (row,) = rows()
    assert row.current_batch == "email: 3 rows" and row.last_beat_at == clock_now()

    app.config["OUTREACH_HEARTBEAT_SECONDS"] = 0
    assert sending.dispatch_once().sent == 5
    (row,) = rows()
    assert row.current_batch is None  # idle after the run


def test_an_unregistered_process_writes_no_heartbeat(app, channels, due_campaign):
    assert heartbeats.beat("email: 1 row", force=True) is False
    sending.dispatch_once()
    assert rows() == []


def test_a_failed_heartbeat_write_never_stops_sending(
    app, registered, channels, due_campaign, monkeypatch, caplog
):
    app.config["OUTREACH_HEARTBEAT_SECONDS"] = 0
    broken = text("INSERT INTO no_such_table (x) VALUES (1)")
    monkeypatch.setattr(heartbeats.database, "upsert", lambda *args, **kwargs: broken)
    monkeypatch.setattr(heartbeats.log, "disabled", False)  # alembic's fileConfig disables it
    with caplog.at_level(logging.WARNING, logger="outreach.operations.heartbeats"):
        report = sending.dispatch_once()
    assert report.sent == 5 and len(channels.emails) == 3 and len(channels.texts) == 2
    warnings = [r.getMessage() for r in caplog.records if r.name.endswith("heartbeats")]
    assert warnings and all("sending goes on" in w for w in warnings)
    assert not any("example.org" in w or "+1646" in w for w in warnings)


def test_a_worker_start_prunes_rows_silent_for_a_day(app, clock):
    db.session.add(
        WorkerHeartbeat(
            worker_id="gone:1:abcd",
            host="gone",
            pid=1,
            started_at=clock_now() - timedelta(days=3),
            last_beat_at=clock_now() - timedelta(days=2),
        )
    )
    db.session.commit()
    with heartbeats.running():
        assert [r.worker_id for r in rows()] == [identity.worker_id()]
    assert rows() == []


def test_an_exception_leaves_the_row_to_turn_stale(app, clock):
    with pytest.raises(RuntimeError), heartbeats.running():
        raise RuntimeError("crash")
    (row,) = rows()
    assert heartbeats.beat(force=True) is False  # no longer registered
    clock.advance(minutes=5)
    assert [w.worker_id for w in heartbeats.stale_workers()] == [row.worker_id]


def test_the_worker_process_beats_and_removes_its_row_on_sigterm(app, worker_env):
    worker_env["OUTREACH_HEARTBEAT_SECONDS"] = "1"
    worker = subprocess.Popen(
        WORKER,
        cwd=ROOT,
        env=worker_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not [r for r in rows() if r.pid == worker.pid]:
            assert worker.poll() is None, worker.communicate()[0]
            assert time.monotonic() < deadline, "the worker never wrote its heartbeat"
            time.sleep(0.1)
        (first,) = [r.last_beat_at for r in rows() if r.pid == worker.pid]
        while rows()[0].last_beat_at == first:  # it beats again
            assert time.monotonic() < deadline, "the worker beat only once"
            time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=30)[0]
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, output
    assert rows() == []
