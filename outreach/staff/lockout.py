"""Lockout after repeated failed sign-ins, per typed address and per IP address.

The address is counted whether or not an account has it, so a lockout says nothing about
which accounts exist. Failures (wrong password, wrong code, failed re-authentication)
are rows in ``login_failures``; a completed sign-in clears the account's count.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models.staff import LoginFailure
from outreach.staff import audit
from outreach.staff.accounts import by_email, normalise_email


def account_key(email: str | None) -> str:
    """The stored key of a typed address (SHA-256; the address itself is not kept here)."""
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()


def _window() -> timedelta:
    return timedelta(minutes=current_app.config["OUTREACH_LOCKOUT_MINUTES"])


def _count(column, value: str) -> int:  # noqa: ANN001
    since = clock_now() - _window()
    return db.session.scalar(
        select(func.count(LoginFailure.id)).where(column == value, LoginFailure.created_at > since)
    )


def locked(email: str | None, ip: str) -> bool:
    """Too many recent failures for this address or from this IP?"""
    config = current_app.config
    return (
        _count(LoginFailure.account_key, account_key(email)) >= config["OUTREACH_LOCKOUT_ATTEMPTS"]
        or _count(LoginFailure.ip, ip[:45]) >= config["OUTREACH_LOCKOUT_IP_ATTEMPTS"]
    )


def record_failure(email: str | None, ip: str) -> bool:
    """Count one failure; True when it locks the address or the IP (audit-logged once)."""
    config = current_app.config
    now = clock_now()
    db.session.execute(
        delete(LoginFailure).where(LoginFailure.created_at < now - timedelta(days=1))
    )
    db.session.add(LoginFailure(account_key=account_key(email), ip=ip[:45], created_at=now))
    db.session.flush()
    minutes = config["OUTREACH_LOCKOUT_MINUTES"]
    user = by_email(email)
    address = normalise_email(email)[:320]
    locked_now = False
    if _count(LoginFailure.account_key, account_key(email)) == config["OUTREACH_LOCKOUT_ATTEMPTS"]:
        audit.audit(
            None,
            "staff.lockout",
            "staff_user",
            user.id if user else None,
            f"{config['OUTREACH_LOCKOUT_ATTEMPTS']} failed sign-ins for {address!r} within "
            f"{minutes} min (last from {ip}); locked for {minutes} min",
        )
        locked_now = True
    if _count(LoginFailure.ip, ip[:45]) == config["OUTREACH_LOCKOUT_IP_ATTEMPTS"]:
        audit.audit(
            None,
            "staff.lockout_ip",
            "ip",
            ip[:45],
            f"{config['OUTREACH_LOCKOUT_IP_ATTEMPTS']} failed sign-ins from this IP within "
            f"{minutes} min; locked for {minutes} min",
        )
        locked_now = True
    return locked_now


def clear(email: str | None) -> None:
    """A completed sign-in forgets the address's failures."""
    db.session.execute(delete(LoginFailure).where(LoginFailure.account_key == account_key(email)))
