"""Fixtures for the staff workspace: staff users of each role and logged-in clients."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.staff import accounts
from tests.admin.support import PASSWORD, login


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, like production.

    The ``app`` fixture keeps one app context pushed for the test; Flask would reuse it
    for requests, sharing ``g`` (the logged-in user, the CSRF token) between clients and
    requests. Each request here gets a fresh context and database session instead.
    """

    def open(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client with one app context per request."""
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def staff_users(app: Flask, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """One active staff user per role: {role: id} (hashed with a cheap work factor)."""
    monkeypatch.setattr(accounts, "HASH_METHOD", "pbkdf2:sha256:1000")
    ids = {}
    for role in ("admin", "editor", "viewer"):
        ids[role] = accounts.create_staff(f"{role}@clinic.example", PASSWORD, role).id
    db.session.commit()
    return ids


def logged_in(app: Flask, role: str) -> FlaskClient:
    """A new client (its own cookie jar) logged in as the staff user of that role."""
    app.test_client_class = IsolatedClient
    client = app.test_client()
    login(client, f"{role}@clinic.example")
    return client


@pytest.fixture
def editor(app: Flask, staff_users: dict[str, int]) -> FlaskClient:
    """A client (its own cookie jar) logged in as the editor."""
    return logged_in(app, "editor")


@pytest.fixture
def admin(app: Flask, staff_users: dict[str, int]) -> FlaskClient:
    """A client (its own cookie jar) logged in as the admin."""
    return logged_in(app, "admin")


@pytest.fixture
def viewer(app: Flask, staff_users: dict[str, int]) -> FlaskClient:
    """A client (its own cookie jar) logged in as the viewer."""
    return logged_in(app, "viewer")
