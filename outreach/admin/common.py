"""Small helpers the staff views share: form parsing, lookups, confirmations."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import abort, request

from outreach.extensions import db

T = TypeVar("T")


def get_or_404(model: type[T], ident: Any) -> T:
    """The row with this primary key, or a 404 page."""
    row = db.session.get(model, ident)
    if row is None:
        abort(404)
    return row


def form_str(name: str, default: str = "") -> str:
    """A stripped form value (NUL characters dropped: no database stores them)."""
    return (request.form.get(name) or default).replace("\x00", "").strip()


def form_text(name: str) -> str:
    """A multi-line form value with line endings normalised (not stripped inside)."""
    value = (request.form.get(name) or "").replace("\x00", "")
    return value.replace("\r\n", "\n").replace("\r", "\n")


def form_int(name: str, default: int | None = None) -> int | None:
    """An integer form value; None (or ``default``) when empty or not a number."""
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        return None


def form_bool(name: str) -> bool:
    """A ticked checkbox."""
    return (request.form.get(name) or "").lower() in {"y", "yes", "on", "1", "true"}


def confirmed() -> bool:
    """Did the person press the button on a confirmation page (``confirm=yes``)?"""
    return request.form.get("confirm") == "yes"
