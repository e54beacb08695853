"""Database gone, database back: wait for it, and put rows this process claimed but
never handed to a provider back in the queue."""

from __future__ import annotations

import logging
import time

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from outreach import database
from outreach.database import in_values
from outreach.extensions import db
from outreach.models import Message
from outreach.sending.identity import claimer

log = logging.getLogger(__name__)


#: How long a worker waits for a lost database before giving up (rows stay ``sending``).
DATABASE_OUTAGE_SECONDS = 120.0


def database_gone(exc: DBAPIError) -> bool:
    """True when the error means the database connection was lost or cannot be made.

    SQLite's "database is locked" is not one of these (the busy timeout handles it).
    """
    if exc.connection_invalidated:
        return True
    return database.is_postgres() and isinstance(exc, OperationalError | InterfaceError)


def wait_for_database(deadline: float | None = None) -> None:
    """Roll back, then wait until the database answers again (or raise at the deadline)."""
    deadline = deadline or time.monotonic() + DATABASE_OUTAGE_SECONDS
    delay = 0.1
    while True:
        db.session.rollback()
        try:
            db.session.execute(select(1))
            db.session.commit()
            return
        except DBAPIError as exc:
            if not database_gone(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


#: Ids of rows this process handed to a provider whose results are not recorded yet.
HANDED_OFF: set[int] = set()


def release(message_ids: list[int] | None = None) -> int:
    """Put rows this process claimed but did not send back to ``queued``; commits.

    With no ids: every row this process holds in ``sending`` (used between batches, when
    nothing is in this lane's flight). The worker id is unique per process start, so a
    predecessor's rows (maybe sent) are never touched, nor another lane's.
    """
    conditions = [Message.state == "sending", Message.claimed_by == claimer()]
    if message_ids is not None:
        conditions.append(in_values(Message.id, message_ids))
    if HANDED_OFF:  # sent (or maybe sent) but not yet recorded: never re-queue
        conditions.append(Message.id.not_in(sorted(HANDED_OFF)))
    result = db.session.execute(
        update(Message)
        .where(*conditions)
        .values(state="queued", lease_until=None, attempts=Message.attempts - 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount or 0


def recover_between_batches(exc: DBAPIError) -> None:
    """After losing the database outside a send: wait, then re-queue our unsent rows."""
    if not database_gone(exc):
        raise exc
    log.warning("database unavailable (%s); waiting for it", type(exc.orig).__name__)
    wait_for_database()
    released = release()
    log.warning("database back; %d claimed rows put back in the queue", released)
