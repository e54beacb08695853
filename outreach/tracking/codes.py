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
LINK_PURPOSE = b"outreach.link-code.v1"
#: Longest code for any id below 2**63 and any link number below 2**14 (preflight's sample).
SAMPLE_CODE = "x" * 24


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(data: bytes, start: int) -> tuple[int, int]:
    value = shift = 0
    for index in range(start, min(len(data), start + 10)):
        byte = data[index]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, index + 1
        shift += 7
    raise ValueError("truncated number")


def purpose_key(secret: str, purpose: bytes) -> bytes:
    """An HMAC key for one kind of code, derived from the app's secret key (a code of one
    kind never passes as another)."""
    return hmac.digest(secret.encode(), purpose, "sha256")


def cached_key(purpose: bytes) -> bytes:
    """This app's key for ``purpose`` (derived once per secret key)."""
    secret = current_app.config["SECRET_KEY"]
    slot = "outreach.code_key." + purpose.decode("ascii")
    cached = current_app.extensions.get(slot)
    if cached is None or cached[0] != secret:
        cached = current_app.extensions[slot] = (secret, purpose_key(secret, purpose))
    return cached[1]


def seal(key: bytes, payload: bytes) -> str:
    """``payload`` and its 6-byte HMAC, in URL-safe base64 without padding."""
    mac = hmac.digest(key, payload, "sha256")[:MAC_BYTES]
    return base64.urlsafe_b64encode(payload + mac).rstrip(b"=").decode("ascii")


def unseal(key: bytes, code: str) -> bytes | None:
    """The payload of a genuine sealed code; None for anything else."""
    if not code or len(code) > 40 or not code.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
    except (ValueError, TypeError):
        return None
    payload, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    if not payload or len(mac) != MAC_BYTES:
        return None
    expected = hmac.digest(key, payload, "sha256")[:MAC_BYTES]
    return payload if hmac.compare_digest(mac, expected) else None


def derive_key(secret: str) -> bytes:
    """The HMAC key of link codes, derived from the app's secret key."""
    return purpose_key(secret, LINK_PURPOSE)


def app_key() -> bytes:
    """This app's link-code key."""
    return cached_key(LINK_PURPOSE)


def encode(key: bytes, message_id: int, position: int) -> str:
    """The code of link ``position`` in message ``message_id``."""
    return seal(key, varint(message_id) + varint(position))


def decode(key: bytes, code: str) -> tuple[int, int] | None:
    """``(message_id, position)`` of a genuine code; None for anything else."""
    payload = unseal(key, code)
    if payload is None:
        return None
    try:
        message_id, index = read_varint(payload, 0)
        position, index = read_varint(payload, index)
    except ValueError:
        return None
    return (message_id, position) if index == len(payload) else None


def url_hash(url: str) -> str:
    """The unique key of a link within its step."""
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()
