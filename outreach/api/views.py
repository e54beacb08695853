"""JSON API views."""

from __future__ import annotations

from functools import wraps
from typing import Any

from flask import g, jsonify, request
from sqlalchemy import select

from outreach import staff
from outreach.api import bp
from outreach.extensions import db
from outreach.models import Audience


def problem(status: int, title: str, detail: str = ""):  # noqa: ANN201
    """An application/problem+json error response."""
    response = jsonify(type="about:blank", title=title, status=status, detail=detail)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def token_required(view):  # noqa: ANN001, ANN201
    """Require ``Authorization: Bearer <token>``."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any):  # noqa: ANN202
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        row = staff.token_owner(token.strip()) if scheme.lower() == "bearer" and token else None
        if row is None:
            return problem(401, "Unauthorized", "A valid bearer token is required.")
        db.session.commit()
        g.api_token = row
        return view(*args, **kwargs)

    return wrapper


@bp.get("/audiences")
@token_required
def audiences():  # noqa: ANN201
    """List audiences."""
    rows = db.session.scalars(select(Audience).order_by(Audience.id)).all()
    return jsonify(
        items=[{"slug": a.slug, "name": a.name, "channels": a.channel_list} for a in rows]
    )
