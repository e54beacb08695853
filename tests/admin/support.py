"""Helpers for staff workspace tests: log in, post forms with the session's CSRF token."""

from __future__ import annotations

import html
import re
from typing import Any

from flask.testing import FlaskClient

from tests.helpers import csrf_token

PASSWORD = "correct horse battery"


def login(client: FlaskClient, email: str, password: str = PASSWORD):  # noqa: ANN201
    """Log in through the login form; asserts it worked."""
    page = client.get("/admin/login")
    response = client.post(
        "/admin/login",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "email": email,
            "password": password,
        },
    )
    assert response.status_code == 302, response.status_code
    return response


def token(client: FlaskClient) -> str:
    """The CSRF token of the client's session (every staff page carries one)."""
    page = client.get("/admin/campaigns")
    return csrf_token(page.get_data(as_text=True))


def post(client: FlaskClient, url: str, data: dict[str, Any] | None = None, **kw: Any):  # noqa: ANN401
    """POST a staff form like a browser (with the CSRF token)."""
    return client.post(url, data={"csrf_token": token(client), **(data or {})}, **kw)


def text(response) -> str:  # noqa: ANN001
    """The page as text with tags removed and entities decoded (what a person reads)."""
    body = response.get_data(as_text=True)
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())
