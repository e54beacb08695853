"""Helpers for the sign-in tests: authenticator codes, enrolment, the dev mailbox's links,
a settable session clock."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pyotp
from flask import Flask
from flask.testing import FlaskClient

from outreach.devtools import mailbox
from outreach.extensions import db
from outreach.models import StaffUser
from outreach.staff import two_factor
from tests.helpers import PASSWORD, csrf_token


def code_at(secret: str, when: datetime, steps: int = 0) -> str:
    """The authenticator's code at ``when`` moved by ``steps`` 30-second steps."""
    return pyotp.TOTP(secret).at(when + timedelta(seconds=30 * steps))


def enrol(user_id: int) -> tuple[str, list[str]]:
    """Give an account a confirmed authenticator through the service: (secret, codes)."""
    user = db.session.get(StaffUser, user_id)
    secret = two_factor.begin_enrolment(user)
    codes = two_factor.confirm_enrolment(user, pyotp.TOTP(secret).at(_clock_now()))
    user.totp_last_step = None  # the enrolment code is not a sign-in
    db.session.commit()
    assert codes is not None
    return secret, codes


def _clock_now() -> datetime:
    from outreach.clock import now

    return now()


def password_step(client: FlaskClient, email: str, password: str = PASSWORD):  # noqa: ANN201
    """GET the login page, POST email and password; returns the response."""
    page = client.get("/admin/login")
    return client.post(
        "/admin/login",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "email": email,
            "password": password,
        },
    )


def code_step(client: FlaskClient, code: str):  # noqa: ANN201
    """POST the second step of the sign-in."""
    page = client.get("/admin/login/code")
    return client.post(
        "/admin/login/code",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "code": code},
    )


def links_in_mailbox(to: str) -> list[str]:
    """The staff links (invitation, reset) emailed to ``to``, newest first."""
    found = []
    for record in mailbox.recent_messages():
        if record.get("to") == to:
            found += re.findall(r"https?://\S+/admin/(?:invite|reset)/\S+", record.get("text", ""))
    return found


class SessionClock:
    """A settable wall clock for the session rules (seconds)."""

    def __init__(self, app: Flask, start: float = 1_800_000_000.0) -> None:
        self.current = start
        app.extensions["outreach.session_clock"] = self

    def __call__(self) -> float:
        return self.current

    def advance(self, minutes: float) -> None:
        """Move forward."""
        self.current += minutes * 60
