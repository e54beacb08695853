"""How long a staff session lasts: idle timeout, absolute lifetime, recent sign-in for
sensitive actions. Plain numbers in, answers out; the admin blueprint keeps the times in
the session cookie.

Session times are wall-clock seconds (``time.time``), not the service clock that tests
and demos move around; ``app.extensions["outreach.session_clock"]`` may replace it.
"""

from __future__ import annotations

import time

from flask import current_app, has_app_context


def now() -> float:
    """Seconds since the epoch for session bookkeeping."""
    if has_app_context():
        clock = current_app.extensions.get("outreach.session_clock")
        if clock is not None:
            return float(clock())
    return time.time()


def expiry_reason(started: object, seen: object, at: float) -> str | None:
    """Why a session with these times is over (``idle`` or ``lifetime``), or None."""
    config = current_app.config
    if not isinstance(started, int | float) or not isinstance(seen, int | float):
        return "lifetime"
    if at - started > config["OUTREACH_SESSION_LIFETIME_HOURS"] * 3600:
        return "lifetime"
    if at - seen > config["OUTREACH_IDLE_TIMEOUT_MINUTES"] * 60:
        return "idle"
    return None


def recently_authenticated(auth_at: object, at: float) -> bool:
    """Was the password (and code) entered within OUTREACH_REAUTH_MINUTES?"""
    window = current_app.config["OUTREACH_REAUTH_MINUTES"] * 60
    return isinstance(auth_at, int | float) and 0 <= at - auth_at <= window
