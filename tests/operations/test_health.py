"""GET /healthz stays cheap; ?deep=1 adds the oldest due row and the stale workers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import Step, WorkerHeartbeat
from outreach.sending import materialise as materialising


def add_worker(name: str, silent: timedelta) -> None:
    db.session.add(
        WorkerHeartbeat(
            worker_id=f"{name}:42:0a0b0c0d",
            host=name,
            pid=42,
            started_at=clock_now() - timedelta(hours=1),
            last_beat_at=clock_now() - silent,
            current_batch="email: 10 rows",
        )
    )
    db.session.commit()


def test_healthz_without_deep_reports_only_the_database(client, due_campaign):
    add_worker("dead", timedelta(minutes=10))
    body = client.get("/healthz").get_json()
    assert body == {"status": "ok", "database": "ok"}


def test_deep_healthz_reports_the_oldest_due_row_and_stale_workers(client, due_campaign):
    materialising.materialise_due()  # both steps due 2027-06-01 14:00 UTC; now 15:00
    add_worker("alive", timedelta(seconds=4))
    add_worker("dead", timedelta(minutes=10))

    response = client.get("/healthz?deep=1")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["database"] == "ok"
    queue = body["queue"]
    due = datetime(2027, 6, 1, 14, 0, tzinfo=UTC)
    assert datetime.fromisoformat(queue["oldest_due_at"]) == due
    assert queue["oldest_due_age_seconds"] == 3600
    assert queue["channels"]["sms"]["oldest_due_age_seconds"] == 3600
    workers = body["workers"]
    assert workers["count"] == 2 and workers["stale_count"] == 1
    assert workers["stale_after_seconds"] == 60
    (stale,) = workers["stale"]
    assert stale["host"] == "dead" and stale["stale"] is True
    assert stale["seconds_since_beat"] == 600 and stale["current_batch"] == "email: 10 rows"


def test_rows_of_a_paused_step_are_not_due_work(client, due_campaign):
    materialising.materialise_due()
    for step in db.session.scalars(select(Step)):
        step.paused_reason = "paused by staff"
    db.session.commit()
    queue = client.get("/healthz?deep=1").get_json()["queue"]
    assert queue["oldest_due_at"] is None and queue["oldest_due_age_seconds"] is None


def test_nothing_due_and_no_workers(client):
    body = client.get("/healthz?deep=1").get_json()
    assert body["queue"]["oldest_due_at"] is None
    assert body["workers"]["count"] == 0 and body["workers"]["stale"] == []
