"""Helpers for the consultation request tests: the page, a browser-like POST, the rows."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from outreach.extensions import db
from outreach.models import ConsultationRequest
from tests.helpers import csrf_token

SLUG = "migraine-awareness"
PAGE = f"/request/{SLUG}"


def send_request(  # noqa: ANN201
    client,  # noqa: ANN001
    page_url: str = PAGE,
    headers: dict[str, str] | None = None,
    **fields: Any,  # noqa: ANN401
):
    """GET the page (CSRF token, the tracked link's hidden field, cookies), then POST the
    form like a browser: every hidden field the page carries goes back with it."""
    page = client.get(page_url, headers=headers or {})
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    data: dict[str, Any] = {"csrf_token": csrf_token(html), "contact_time": "any"}
    via = _hidden(html, "via")
    if via:
        data["via"] = via
    data.update(fields)
    return client.post(PAGE, data=data, headers=headers or {})


def _hidden(html: str, name: str) -> str | None:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', html)
    return match.group(1) if match else None


def stored() -> list[ConsultationRequest]:
    """Every stored request, oldest first, fresh from the database."""
    db.session.expire_all()
    found = list(db.session.scalars(select(ConsultationRequest).order_by(ConsultationRequest.id)))
    db.session.rollback()
    return found
