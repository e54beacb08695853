"""Helpers for staff workspace tests: log in, post forms with the session's CSRF token."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.helpers import PASSWORD as PASSWORD  # re-exported for tests/admin
from tests.helpers import csrf_token, page_text
from tests.helpers import login as login


def token(client: FlaskClient) -> str:
    """The CSRF token of the client's session (every staff page carries one)."""
    page = client.get("/admin/campaigns")
    return csrf_token(page.get_data(as_text=True))


def post(client: FlaskClient, url: str, data: dict[str, Any] | None = None, **kw: Any):  # noqa: ANN401
    """POST a staff form like a browser (with the CSRF token)."""
    return client.post(url, data={"csrf_token": token(client), **(data or {})}, **kw)


text = page_text
