"""PostgreSQL: a click in one round trip.

The same transaction as ``clicks._record`` on SQLite, sent as one pipeline (psycopg
pipeline mode): ``BEGIN``; lock the message's row (``FOR NO KEY UPDATE``, a row lock, never
a table lock); one statement that checks the link, re-marks a burst, stores the click and
sets (or re-counts) the message's first human click, returning the link's address;
``COMMIT``. The statements still run one after the other in the server, so the click
statement's snapshot is taken after the row lock is granted and sees every click committed
before it: two clicks on one message are judged one after the other, as before. psycopg
prepares each statement after a few uses, so the server plans them once per connection.

Clicks use their own small pool of autocommit connections (``BEGIN`` / ``COMMIT`` are
sent in the pipeline) without the app pool's pre-ping round trip: a pooled connection whose
server went away (a restart closes it) has something to read while idle, and is replaced
before use.
"""

from __future__ import annotations

import select
import threading
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError

from outreach.extensions import db

_SLOT = "outreach.click_engine"
_LOCK = threading.Lock()

_ROW_LOCK = "SELECT 1 FROM outbox_messages WHERE id = %(m_id)s FOR NO KEY UPDATE"
#: The message's step and the link's address; empty for no such message or link.
_TARGET = """
    target AS (
        SELECT m.campaign_id, m.step_id, t.url
        FROM outbox_messages m
        JOIN tracked_links t ON t.step_id = m.step_id AND t.position = %(link)s
        WHERE m.id = %(m_id)s
    )"""
#: A person's click: re-mark the other links' clicks within the burst window, store this
#: one (a scanner's too if there were any), set or re-count the message's first human
#: click. Sub-statements share one snapshot, so the re-count leaves out the re-marked rows.
_PERSON = f"""
    WITH {_TARGET}, burst AS (
        UPDATE link_clicks SET human = false, reason = coalesce(reason, 'burst')
        WHERE message_id = %(m_id)s AND clicked_at >= %(since)s
          AND link_position <> %(link)s AND EXISTS (SELECT 1 FROM target)
        RETURNING id
    ), stored AS (
        INSERT INTO link_clicks
            (message_id, campaign_id, step_id, link_position, human, reason, clicked_at)
        SELECT %(m_id)s, campaign_id, step_id, %(link)s, NOT EXISTS (SELECT 1 FROM burst),
               CASE WHEN EXISTS (SELECT 1 FROM burst) THEN 'burst' END, %(at)s
        FROM target
        RETURNING human
    ), first_click AS (
        UPDATE outbox_messages SET clicked_at = CASE
            WHEN (SELECT human FROM stored) THEN coalesce(clicked_at, %(at)s)
            ELSE (SELECT min(c.clicked_at) FROM link_clicks c
                  WHERE c.message_id = %(m_id)s AND c.human
                    AND c.id NOT IN (SELECT id FROM burst))
        END
        WHERE id = %(m_id)s AND EXISTS (SELECT 1 FROM stored)
          AND (clicked_at IS NULL OR EXISTS (SELECT 1 FROM burst))
    )
    SELECT url FROM target
"""
#: A HEAD request or a scanner's agent: stored, not counted, nothing else changes.
_OTHER = f"""
    WITH {_TARGET}, stored AS (
        INSERT INTO link_clicks
            (message_id, campaign_id, step_id, link_position, human, reason, clicked_at)
        SELECT %(m_id)s, campaign_id, step_id, %(link)s, false, %(reason)s, %(at)s
        FROM target
    )
    SELECT url FROM target
"""


def record(
    message_id: int, position: int, reason: str | None, at: datetime, since: datetime
) -> str | None:
    """Store one click; returns the link's address, or None (nothing stored) when the
    message or its step's link does not exist. ``since``: the burst window's start."""
    params = {
        "m_id": message_id,
        "link": position,
        "reason": reason,
        "at": _naive_utc(at),
        "since": _naive_utc(since),
    }
    proxied = engine().raw_connection()
    try:
        connection = proxied.driver_connection
        with connection.pipeline():
            connection.execute("BEGIN")
            connection.execute(_ROW_LOCK, params)
            cursor = connection.execute(_PERSON if reason is None else _OTHER, params)
            connection.execute("COMMIT")
        row = cursor.fetchone()
    except BaseException:
        proxied.invalidate()  # whatever state it was left in, it is not reused
        raise
    finally:
        proxied.close()
    return row[0] if row else None


def _naive_utc(at: datetime) -> datetime:
    """What a UTC column stores (``models.base.UTCDateTime``)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return at.astimezone(UTC).replace(tzinfo=None)


def engine() -> Engine:
    """This app's click pool: the app database's URL and options, autocommit, no
    pre-ping; disposed with the app's engine."""
    found = current_app.extensions.get(_SLOT)
    if found is not None:
        return found
    with _LOCK:
        found = current_app.extensions.get(_SLOT)
        if found is None:
            options = dict(current_app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
            options.pop("pool_pre_ping", None)
            # Autocommit, and a connection that failed is invalidated: nothing to reset.
            found = create_engine(
                db.engine.url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None, **options
            )
            event.listen(found, "checkout", _alive)
            event.listen(db.engine, "engine_disposed", lambda _engine: found.dispose())
            current_app.extensions[_SLOT] = found
    return found


def _alive(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Pool checkout: an idle connection with something to read (the server's goodbye,
    or end of file) or a broken one is replaced (the pool retries with a new one)."""
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("click connection closed")
    readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    if readable:
        raise DisconnectionError("click connection has unread data (server gone?)")
