"""Opaque, signed codes for tracked links: ``/r/<code>`` names one message and one of its
step's numbered links, and nothing else (no email, phone, name or step wording).

A code is the message id and the link number (varints), then a 6-byte HMAC of both, in
URL-safe base64: about 15 characters for a ten-million-row outbox. A changed character
fails the HMAC, so a code cannot be forged to reach another message or link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from flask import current_app

MAC_BYTES = 6
#: Longest code for any id below 2**63 and any link number below 2**14 (preflight's sample).
SAMPLE_CODE = "x" * 24


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data: bytes, start: int) -> tuple[int, int]:
    value = shift = 0
    for index in range(start, min(len(data), start + 10)):
        byte = data[index]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, index + 1
        shift += 7
    raise ValueError("truncated number")


def derive_key(secret: str) -> bytes:
    """The HMAC key of link codes, derived from the app's secret key."""
    return hmac.digest(secret.encode(), b"outreach.link-code.v1", "sha256")


def app_key() -> bytes:
    """This app's link-code key (derived once per secret key)."""
    secret = current_app.config["SECRET_KEY"]
    cached = current_app.extensions.get("outreach.link_code_key")
    if cached is None or cached[0] != secret:
        cached = current_app.extensions["outreach.link_code_key"] = (secret, derive_key(secret))
    return cached[1]


def encode(key: bytes, message_id: int, position: int) -> str:
    """The code of link ``position`` in message ``message_id``."""
    payload = _varint(message_id) + _varint(position)
    mac = hmac.digest(key, payload, "sha256")[:MAC_BYTES]
    return base64.urlsafe_b64encode(payload + mac).rstrip(b"=").decode("ascii")


def decode(key: bytes, code: str) -> tuple[int, int] | None:
    """``(message_id, position)`` of a genuine code; None for anything else."""
    if not code or len(code) > 40 or not code.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
        message_id, index = _read_varint(raw, 0)
        position, index = _read_varint(raw, index)
    except (ValueError, TypeError):
        return None
    payload, mac = raw[:index], raw[index:]
    expected = hmac.digest(key, payload, "sha256")[:MAC_BYTES]
    if len(mac) != MAC_BYTES or not hmac.compare_digest(mac, expected):
        return None
    return message_id, position


def url_hash(url: str) -> str:
    """The unique key of a link within its step."""
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()
