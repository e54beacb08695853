"""The service's notion of "now": the system clock, replaceable in tests and demos."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, has_app_context

from outreach.models.base import utcnow


def now() -> datetime:
    """Aware UTC now; an app may install ``app.extensions["outreach.clock"]`` (a callable)."""
    if has_app_context():
        clock = current_app.extensions.get("outreach.clock")
        if clock is not None:
            return clock()
    return utcnow()
