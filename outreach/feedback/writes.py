"""What every feedback handler shares: the write lock, forward-only state moves, and
provider events stored once."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from outreach import database
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import DeliveryEvent, Message

#: Forward-only ordering of outbox states for provider reports. A report moves a row only to
#: a higher rank; rows that never went out (queued, skipped, cancelled) rank lowest, so a
#: report proving a send reconciles them instead of leaving them to be sent again.
RANK = {
    "queued": 0,
    "skipped": 0,
    "cancelled": 0,
    "sending": 1,
    "unknown": 1,
    "sent": 2,
    "delivered": 3,
    "failed": 3,
    "bounced": 3,
}


#: Rows per multi-row INSERT (well below SQLite's bound-parameter limit).
CHUNK = 500


#: How long an SQLite handler keeps trying for the writer lock (the busy timeout's length).
_SQLITE_LOCK_SECONDS = 30.0


def begin_write(timeout: float = _SQLITE_LOCK_SECONDS, connection: Any = None) -> None:
    """Start this session's (or ``connection``'s) write transaction now (SQLite: take the
    single writer lock).

    SQLite's busy handler retries with back-off (up to 100 ms apart), so a writer that keeps
    re-taking the lock, such as a dispatch run between batches, can starve it. Polling every
    half millisecond gets in at the next gap. PostgreSQL needs nothing: row locks queue.
    """
    connection = connection if connection is not None else db.session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw = connection.connection.dbapi_connection
    if raw is None or raw.in_transaction:
        return
    previous = int(raw.execute("PRAGMA busy_timeout").fetchone()[0])
    raw.execute("PRAGMA busy_timeout = 0")
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.0005)
    finally:
        raw.execute(f"PRAGMA busy_timeout = {previous}")


def _below(state: str) -> list[str]:
    """States a report may move forward to ``state``."""
    return [s for s, rank in RANK.items() if rank < RANK[state]]


def outbox() -> Table:
    return Message.__table__


def advance_many(state: str, rows: list[dict[str, Any]], **values: Any) -> int:
    """Move rows (``b_id`` per row, plus the binds named in ``values``) forward to ``state``.

    One executemany; the rank condition is in the WHERE clause, so it holds under any race.
    """
    if not rows:
        return 0
    table = outbox()
    stmt = (
        update(table)
        .where(table.c.id == bindparam("b_id"), or_(*(table.c.state == s for s in _below(state))))
        .values(state=state, updated_at=bindparam("b_now"), lease_until=None, **values)
    )
    now = clock_now()
    params = [{"b_now": now, **row} for row in rows]
    result = db.session.connection().execute(stmt, params)
    return max(result.rowcount or 0, 0)


def record_events(rows: list[dict[str, Any]]) -> set[str]:
    """Insert delivery events, ignoring ones already recorded; returns the new event ids.

    One executemany of ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (SQLAlchemy batches
    it into multi-row statements, compiled once).
    """
    if not rows:
        return set()
    table = DeliveryEvent.__table__
    at = clock_now()
    if database.is_postgres():
        # One array parameter per column, unnested by the server: a thousand events cost
        # one small statement to plan instead of a VALUES list of 7,000 parameters.
        names = list(rows[0])
        columns = [
            func.unnest(
                bindparam(f"a_{name}", [row[name] for row in rows], type_=ARRAY(table.c[name].type))
            ).label(name)
            for name in names
        ]
        source = select(*columns, bindparam("at", at, type_=table.c.created_at.type))
        stmt = (
            database.insert(table)
            .from_select([*names, "created_at"], source)
            .on_conflict_do_nothing(index_elements=["provider", "provider_event_id"])
            .returning(table.c.provider_event_id)
        )
        return set(db.session.execute(stmt).scalars())
    stmt = (
        database.insert(table)
        .on_conflict_do_nothing(index_elements=["provider", "provider_event_id"])
        .returning(table.c.provider_event_id)
    )
    result = db.session.connection().execute(stmt, [{**row, "created_at": at} for row in rows])
    return set(result.scalars())


#: ``delivery_events.provider`` of the rows that record what reconciliation did.
HISTORY_PROVIDER = "outreach"


def record_history(message_ids: list[int], kind: str, detail: str) -> None:
    """Add one history entry (``kind``: reconciled_sent, requeued, marked_sent...) per row."""
    if not message_ids:
        return
    stamp = clock_now().strftime("%Y%m%dT%H%M%S.%f")
    record_events(
        [
            {
                "provider": HISTORY_PROVIDER,
                "provider_event_id": f"{kind}:{mid}:{stamp}",
                "event_type": kind,
                "message_id": mid,
                "error_code": None,
                "detail": detail[:500],
            }
            for mid in message_ids
        ]
    )
