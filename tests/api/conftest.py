"""Fixtures for the JSON API tests: a bearer token and a client that sends it."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from outreach.extensions import db
from outreach.staff import api_tokens as staff_tokens
from tests.results.support import isolated_client


class ApiClient:
    """A test client that sends ``Authorization: Bearer <token>`` (one app context per call)."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.token = token

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(headers or {})}

    def get(self, url: str, headers: dict[str, str] | None = None, **kw: Any):  # noqa: ANN201
        """GET with the token."""
        db.session.rollback()
        return self.client.get(url, headers=self._headers(headers), **kw)

    def post(self, url: str, json: Any = None, headers: dict[str, str] | None = None, **kw: Any):  # noqa: ANN201
        """POST (JSON) with the token."""
        db.session.rollback()
        return self.client.post(url, json=json, headers=self._headers(headers), **kw)


@pytest.fixture
def token(app: Flask) -> str:
    """A live API token (as `flask outreach create-api-token` makes)."""
    _, plain = staff_tokens.create_api_token("test suite")
    db.session.commit()
    return plain


@pytest.fixture
def api(app: Flask, token: str) -> ApiClient:
    """A client for /api/v1 with a valid bearer token."""
    return ApiClient(isolated_client(app), token)
