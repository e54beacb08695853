"""PostgreSQL: a click in one call of ``record_click()`` (migration 5c7e2a9d4f10).

The server-side function does what ``clicks._record`` does on SQLite, in one transaction:
take the message's advisory lock (``pg_advisory_xact_lock``: never a table lock, and no
write to the message's row); then one statement that checks the link, re-marks a burst,
stores the click and sets (or re-counts) the message's first human click, returning the
link's address. Each statement of the function takes its own snapshot, so the click
statement sees every click committed before the lock was granted: two clicks on one
message are judged one after the other.
PL/pgSQL plans its statements once per connection, and the call itself is a prepared
statement in autocommit (one message each way, no ``BEGIN`` / ``COMMIT``).

Each thread keeps one connection of its own, outside the app's pool (no checkout, no
pre-ping round trip): a click is the busiest public request. A connection that failed is
dropped; an idle one whose server went away (a restart closes it) has something to read,
and is replaced before use.
"""

from __future__ import annotations

import select
import threading
import weakref
from datetime import UTC, datetime
from typing import Any

import psycopg
from flask import current_app
from sqlalchemy import Engine, event

from outreach.extensions import db

_SLOT = "outreach.click_connections"
_LOCK = threading.Lock()
_CALL = "SELECT record_click(%s, %s, %s, %s, %s)"


class ClickConnections:
    """One autocommit psycopg connection per thread to the app's database."""

    def __init__(self, engine: Engine, connect_args: dict[str, Any]) -> None:
        url = engine.url.set(drivername="postgresql")
        self.conninfo = url.render_as_string(hide_password=False)
        self.connect_args = connect_args  # the app engine's (time zone, connect timeout)
        self.local = threading.local()
        self.opened: weakref.WeakSet[psycopg.Connection] = weakref.WeakSet()

    def get(self) -> psycopg.Connection:
        """This thread's connection, opened (again) when missing, closed or stale."""
        connection: psycopg.Connection | None = getattr(self.local, "connection", None)
        if connection is not None and _usable(connection):
            return connection
        self.drop()
        connection = psycopg.connect(
            self.conninfo, autocommit=True, prepare_threshold=0, **self.connect_args
        )
        self.local.connection = connection
        self.opened.add(connection)
        return connection

    def drop(self) -> None:
        """Close this thread's connection (after an error: it is not reused)."""
        connection = getattr(self.local, "connection", None)
        self.local.connection = None
        if connection is not None:
            connection.close()

    def close_all(self) -> None:
        """Close every thread's connection (the app's engine was disposed)."""
        for connection in list(self.opened):
            connection.close()


def record(
    message_id: int, position: int, reason: str | None, at: datetime, since: datetime
) -> str | None:
    """Store one click; returns the link's address, or None (nothing stored) when the
    message or its step's link does not exist. ``since``: the burst window's start."""
    connections = click_connections()
    params = (message_id, position, reason, _naive_utc(at), _naive_utc(since))
    try:
        row = connections.get().execute(_CALL, params).fetchone()
    except BaseException:
        connections.drop()  # whatever state it was left in, it is not reused
        raise
    return row[0] if row else None


def _naive_utc(at: datetime) -> datetime:
    """What a UTC column stores (``models.base.UTCDateTime``)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return at.astimezone(UTC).replace(tzinfo=None)


def click_connections() -> ClickConnections:
    """This app's click connections (closed when the app's engine is disposed)."""
    found = current_app.extensions.get(_SLOT)
    if found is not None:
        return found
    with _LOCK:
        found = current_app.extensions.get(_SLOT)
        if found is None:
            options = current_app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})
            found = ClickConnections(db.engine, dict(options.get("connect_args", {})))
            event.listen(db.engine, "engine_disposed", lambda _engine: found.close_all())
            current_app.extensions[_SLOT] = found
    return found


def _usable(connection: Any) -> bool:
    """Open, not broken, and with nothing unread while idle (the server's goodbye, or end
    of file, means the server went away)."""
    if connection.closed or connection.broken:
        return False
    readable, _, _ = select.select([connection.fileno()], [], [], 0)
    return not readable
