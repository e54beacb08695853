"""Opaque, signed codes for an email's web version: ``/view/<code>`` names one step and one
language, and nothing else (no message, subscriber, address or wording).

A code is the step id (a varint) and the two-letter language, then a 6-byte HMAC of both
under a key of its own (a link code can never pass as a view code), in URL-safe base64.
"""

from __future__ import annotations

import base64
import hmac

from flask import current_app

from outreach import i18n
from outreach.consent import tokens
from outreach.tracking.codes import MAC_BYTES, _read_varint, _varint

VIEW_PATH = "/view/"


def derive_key(secret: str) -> bytes:
    """The HMAC key of view codes, derived from the app's secret key."""
    return hmac.digest(secret.encode(), b"outreach.view-code.v1", "sha256")


def app_key() -> bytes:
    """This app's view-code key (derived once per secret key)."""
    secret = current_app.config["SECRET_KEY"]
    cached = current_app.extensions.get("outreach.view_code_key")
    if cached is None or cached[0] != secret:
        cached = current_app.extensions["outreach.view_code_key"] = (secret, derive_key(secret))
    return cached[1]


def encode(key: bytes, step_id: int, language: str) -> str:
    """The code of a step's web version in ``language``."""
    payload = _varint(step_id) + i18n.language_or_default(language).encode("ascii")
    mac = hmac.digest(key, payload, "sha256")[:MAC_BYTES]
    return base64.urlsafe_b64encode(payload + mac).rstrip(b"=").decode("ascii")


def decode(key: bytes, code: str) -> tuple[int, str] | None:
    """``(step_id, language)`` of a genuine code; None for anything else."""
    if not code or len(code) > 40 or not code.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
        step_id, index = _read_varint(raw, 0)
    except (ValueError, TypeError):
        return None
    payload, mac = raw[: index + 2], raw[index + 2 :]
    expected = hmac.digest(key, payload, "sha256")[:MAC_BYTES]
    if len(payload) != index + 2 or len(mac) != MAC_BYTES:
        return None
    if not hmac.compare_digest(mac, expected):
        return None
    language = payload[index:].decode("ascii", "replace")
    return (step_id, language) if language in i18n.LANGUAGES else None


def view_url(step_id: int, language: str) -> str:
    """The absolute address of a step's web version in ``language``."""
    return tokens.public_url(VIEW_PATH + encode(app_key(), step_id, language))
