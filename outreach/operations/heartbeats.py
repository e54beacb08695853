"""Worker heartbeats: which sending workers are alive, and what each has in hand.

A worker process registers with ``running()`` (the ``worker`` and ``dispatch --once``
commands). It writes its row at start, then ``beat()`` (from the sending loop after each
claim, and from the worker's main loop every second) writes it again at most every
``OUTREACH_HEARTBEAT_SECONDS``: one UPSERT on a connection of its own, never inside the
caller's transaction (call it between transactions: on SQLite a beat waits for the one
writer lock). On a graceful exit the row is deleted; a worker that died keeps its row,
which turns stale after ``OUTREACH_WORKER_STALE_SECONDS`` without a beat (``/admin/workers``,
``/healthz?deep=1``), and is pruned by the next worker start after a day.

A process that never registered (the web process with ``OUTREACH_SCHEDULER=1``, tests
calling ``dispatch_once``) writes nothing: it would leave rows nobody removes.

A heartbeat never stops sending: a failed write is logged (the exception class only) and
the loop goes on. The batch description is a channel and a row count, never a person.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, select

from outreach import database
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import WorkerHeartbeat
from outreach.sending.identity import worker_id

log = logging.getLogger(__name__)

#: Rows of workers silent this long are deleted when another worker starts.
PRUNE_AFTER = timedelta(days=1)


class _Keep:
    """``beat()`` without a batch: keep the description the sending loop last gave."""


KEEP = _Keep()


@dataclass
class _Registration:
    pid: int
    worker_id: str
    host: str
    started_at: datetime
    batch: str | None = None
    written: float = -math.inf  # time.monotonic() of the last write attempt


_lock = threading.Lock()
_current: _Registration | None = None


def _registered() -> _Registration | None:
    current = _current
    return current if current is not None and current.pid == os.getpid() else None


def _write(statement: Any, what: str) -> bool:
    try:
        with db.engine.begin() as connection:
            connection.execute(statement)
    except Exception as exc:  # noqa: BLE001 - a heartbeat must never stop sending
        log.warning("worker heartbeat not %s (%s); sending goes on", what, type(exc).__name__)
        return False
    return True


def beat(batch: str | None | _Keep = KEEP, *, force: bool = False) -> bool:
    """Note what this worker has in hand (``None``: idle) and write its row if a beat is
    due (or ``force``). True when a row was written; a no-op in an unregistered process."""
    registration = _registered()
    if registration is None:
        return False
    every = float(current_app.config.get("OUTREACH_HEARTBEAT_SECONDS") or 0)
    with _lock:
        if not isinstance(batch, _Keep):
            registration.batch = batch[:120] if batch else None
        now = time.monotonic()
        if not force and now - registration.written < every:
            return False
        registration.written = now
        values = {
            "worker_id": registration.worker_id,
            "host": registration.host,
            "pid": registration.pid,
            "started_at": registration.started_at,
            "last_beat_at": clock_now(),
            "current_batch": registration.batch,
        }
    statement = database.upsert(
        WorkerHeartbeat.__table__,
        ["worker_id"],
        values,
        update=["host", "pid", "last_beat_at", "current_batch"],
    )
    return _write(statement, "written")


def batch_description(channel: str, rows: int) -> str:
    """How a batch appears on the workers page: its channel and size only."""
    return f"{channel}: {rows} row{'' if rows == 1 else 's'}"


def start() -> None:
    """Register this process as a worker, prune long-dead workers' rows, write the row."""
    global _current
    with _lock:
        _current = _Registration(
            pid=os.getpid(),
            worker_id=worker_id(),
            host=socket.gethostname()[:64],
            started_at=clock_now(),
        )
    table = WorkerHeartbeat.__table__
    _write(delete(table).where(table.c.last_beat_at < clock_now() - PRUNE_AFTER), "pruned")
    beat(None, force=True)


def stop() -> None:
    """A graceful exit: delete this worker's row and stop beating."""
    global _current
    registration = _registered()
    with _lock:
        _current = None
    if registration is not None:
        table = WorkerHeartbeat.__table__
        _write(delete(table).where(table.c.worker_id == registration.worker_id), "removed")


@contextlib.contextmanager
def running() -> Iterator[None]:
    """While inside, this process is a worker with a heartbeat row. Leaving normally (a
    finished run, a graceful stop) removes the row; an exception leaves it to turn stale."""
    global _current
    start()
    try:
        yield
    except BaseException:
        with _lock:
            _current = None
        raise
    stop()


# -- reading ------------------------------------------------------------------------------


def stale_after() -> timedelta:
    """How long without a beat makes a worker stale (``OUTREACH_WORKER_STALE_SECONDS``)."""
    return timedelta(seconds=float(current_app.config.get("OUTREACH_WORKER_STALE_SECONDS") or 60))


def ago(seconds: float) -> str:
    """A short 'how long ago': ``4 s``, ``3 min``, ``2 h``, ``5 d``."""
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


@dataclass(frozen=True)
class WorkerStatus:
    """One worker as staff and the deep health check see it."""

    worker_id: str
    host: str
    pid: int
    started_at: datetime
    last_beat_at: datetime
    current_batch: str | None
    seconds_since_beat: float
    stale: bool

    @property
    def since_beat(self) -> str:
        """How long ago the last beat was, for people."""
        return ago(self.seconds_since_beat)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "worker_id": self.worker_id,
            "host": self.host,
            "pid": self.pid,
            "started_at": self.started_at.isoformat(),
            "last_beat_at": self.last_beat_at.isoformat(),
            "seconds_since_beat": round(self.seconds_since_beat, 1),
            "current_batch": self.current_batch,
            "stale": self.stale,
        }


def _status(row: WorkerHeartbeat, at: datetime, limit: timedelta) -> WorkerStatus:
    age = at - row.last_beat_at
    return WorkerStatus(
        worker_id=row.worker_id,
        host=row.host,
        pid=row.pid,
        started_at=row.started_at,
        last_beat_at=row.last_beat_at,
        current_batch=row.current_batch,
        seconds_since_beat=max(0.0, age.total_seconds()),
        stale=age > limit,
    )


def workers(at: datetime | None = None) -> list[WorkerStatus]:
    """Every worker with a row, the longest-running first."""
    at = at or clock_now()
    limit = stale_after()
    rows = db.session.scalars(
        select(WorkerHeartbeat).order_by(WorkerHeartbeat.started_at, WorkerHeartbeat.worker_id)
    )
    return [_status(row, at, limit) for row in rows]


def stale_workers(at: datetime | None = None) -> list[WorkerStatus]:
    """Workers whose last beat is older than ``stale_after()`` (the silent longest first)."""
    at = at or clock_now()
    limit = stale_after()
    rows = db.session.scalars(
        select(WorkerHeartbeat)
        .where(WorkerHeartbeat.last_beat_at < at - limit)
        .order_by(WorkerHeartbeat.last_beat_at)
    )
    return [_status(row, at, limit) for row in rows]


def counts(at: datetime | None = None) -> dict[str, int]:
    """How many workers are live and how many stale."""
    listed = workers(at)
    stale = sum(1 for w in listed if w.stale)
    return {"live": len(listed) - stale, "stale": stale}
