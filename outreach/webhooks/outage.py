"""Webhooks never acknowledge what they did not store.

Every webhook commits what it was told before it answers. When the database cannot be
reached (or refuses the write), the handler's error becomes ``503 Service Unavailable``
with ``Retry-After``, quickly and with nothing stored: SendGrid then retries the batch of
events, and Twilio calls the Messaging Service's fallback URL (and a STOP lost to a long
outage still becomes a 21610 refusal at the next send, through Advanced Opt-Out).

A lost PostgreSQL connection also opens a short circuit breaker (per process,
``OUTREACH_WEBHOOK_BREAKER_SECONDS``, default 2 s): until it closes, webhooks answer 503 at
once instead of each waiting for the connect timeout, so a burst of provider retries during
an outage does not hold every worker for seconds. The first request after the pause tries
the database again.
"""

from __future__ import annotations

import logging
import time

from flask import Response, current_app, jsonify
from sqlalchemy.exc import DBAPIError, OperationalError

from outreach.extensions import db
from outreach.webhooks import bp

log = logging.getLogger(__name__)

#: Seconds the provider is asked to wait before trying again.
RETRY_AFTER_SECONDS = 30
_BREAKER = "outreach.webhook_breaker_open_until"


def connection_lost(exc: DBAPIError) -> bool:
    """Whether a database error means PostgreSQL cannot be reached (not a lock wait, a
    conflict or a cancelled statement): no SQLSTATE (a client-side connection failure),
    class 08 (connection exception) or 57P (the server is shutting down / starting)."""
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError) or db.engine.dialect.name != "postgresql":
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(("08", "57P"))


@bp.before_request
def short_circuit_while_the_database_is_down() -> tuple[Response, int, dict[str, str]] | None:
    """Answer 503 at once while the breaker is open (nothing is read or stored)."""
    open_until = current_app.extensions.get(_BREAKER, 0.0)
    if open_until and time.monotonic() < open_until:
        return _unavailable()
    return None


def _unavailable() -> tuple[Response, int, dict[str, str]]:
    return (
        jsonify(status=503, title="Service unavailable", detail="Please retry later."),
        503,
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


@bp.errorhandler(DBAPIError)
def database_unavailable(exc: DBAPIError) -> tuple[Response, int, dict[str, str]]:
    """Any database failure inside a webhook: 503, nothing acknowledged."""
    try:
        db.session.rollback()
    except DBAPIError:  # the connection is gone: the pool drops it
        db.session.close()
    # The exception class only: its text may carry SQL with a subscriber's number.
    log.warning("webhook answered 503: database unavailable (%s)", type(exc.orig).__name__)
    pause = float(current_app.config.get("OUTREACH_WEBHOOK_BREAKER_SECONDS", 0) or 0)
    if pause > 0 and connection_lost(exc):
        current_app.extensions[_BREAKER] = time.monotonic() + pause
    return _unavailable()
