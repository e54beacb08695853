"""Opaque, signed codes for an email's web version: ``/view/<code>`` names one step and one
language, and nothing else (no message, subscriber, address or wording).

A code is the step id (a varint) and the two-letter language, then a 6-byte HMAC of both
under a key of its own (a link code can never pass as a view code), in URL-safe base64.
"""

from __future__ import annotations

from outreach import i18n
from outreach.consent import tokens
from outreach.tracking import codes

VIEW_PATH = "/view/"


VIEW_PURPOSE = b"outreach.view-code.v1"


def derive_key(secret: str) -> bytes:
    """The HMAC key of view codes, derived from the app's secret key."""
    return codes.purpose_key(secret, VIEW_PURPOSE)


def app_key() -> bytes:
    """This app's view-code key."""
    return codes.cached_key(VIEW_PURPOSE)


def encode(key: bytes, step_id: int, language: str) -> str:
    """The code of a step's web version in ``language``."""
    return codes.seal(key, codes.varint(step_id) + i18n.language_or_default(language).encode())


def decode(key: bytes, code: str) -> tuple[int, str] | None:
    """``(step_id, language)`` of a genuine code; None for anything else."""
    payload = codes.unseal(key, code)
    if payload is None:
        return None
    try:
        step_id, index = codes.read_varint(payload, 0)
    except ValueError:
        return None
    language = payload[index:].decode("ascii", "replace")
    return (step_id, language) if language in i18n.LANGUAGES else None


def view_url(step_id: int, language: str) -> str:
    """The absolute address of a step's web version in ``language``."""
    return tokens.public_url(VIEW_PATH + encode(app_key(), step_id, language))
