"""The workers page: one row per worker, stale ones marked; staff only; fits a phone."""

from __future__ import annotations

from datetime import timedelta

from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import WorkerHeartbeat
from tests.admin.support import text


def add_worker(host: str, pid: int, silent: timedelta, batch: str | None = None) -> str:
    worker_id = f"{host}:{pid}:0a0b0c0d"
    db.session.add(
        WorkerHeartbeat(
            worker_id=worker_id,
            host=host,
            pid=pid,
            started_at=clock_now() - timedelta(hours=2),
            last_beat_at=clock_now() - silent,
            current_batch=batch,
        )
    )
    db.session.commit()
    return worker_id


def _row(page: str, worker_id: str) -> str:
    start = page.index(f'data-worker="{worker_id}"')
    return page[start : page.index("</tr>", start)]


def test_the_page_needs_a_login(client):
    response = client.get("/admin/workers")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_workers_are_listed_and_a_silent_one_is_stale(viewer):
    live = add_worker("worker-a", 101, timedelta(seconds=3), "email: 500 rows")
    dead = add_worker("worker-b", 202, timedelta(minutes=5))

    response = viewer.get("/admin/workers")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'href="/admin/workers"' in page  # in the nav
    live_row, dead_row = _row(page, live), _row(page, dead)
    assert "live" in live_row and "stale" not in live_row
    assert "worker-a" in live_row and "pid 101" in live_row and "email: 500 rows" in live_row
    assert "3 s ago" in live_row
    assert 'class="stale"' in dead_row and "badge failed" in dead_row and "5 min ago" in dead_row
    assert "idle" in dead_row
    assert "2 workers, 1 stale" in text(response)
    assert 'name="viewport"' in page and "table-scroll" in page  # the phone layout


def test_no_worker_says_how_to_start_one(viewer):
    assert "No worker is running" in text(viewer.get("/admin/workers"))
