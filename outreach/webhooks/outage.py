"""Webhooks never acknowledge what they did not store.

Every webhook commits what it was told before it answers. When the database cannot be
reached (or refuses the write), the handler's error becomes ``503 Service Unavailable``
with ``Retry-After``, quickly and with nothing stored: SendGrid then retries the batch of
events, and Twilio calls the Messaging Service's fallback URL (and a STOP lost to a long
outage still becomes a 21610 refusal at the next send, through Advanced Opt-Out).
"""

from __future__ import annotations

import logging

from flask import Response, jsonify
from sqlalchemy.exc import DBAPIError

from outreach.extensions import db
from outreach.webhooks import bp

log = logging.getLogger(__name__)

#: Seconds the provider is asked to wait before trying again.
RETRY_AFTER_SECONDS = 30


@bp.errorhandler(DBAPIError)
def database_unavailable(exc: DBAPIError) -> tuple[Response, int, dict[str, str]]:
    """Any database failure inside a webhook: 503, nothing acknowledged."""
    try:
        db.session.rollback()
    except DBAPIError:  # the connection is gone: the pool drops it
        db.session.close()
    # The exception class only: its text may carry SQL with a subscriber's number.
    log.warning("webhook answered 503: database unavailable (%s)", type(exc.orig).__name__)
    return (
        jsonify(status=503, title="Service unavailable", detail="Please retry later."),
        503,
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
