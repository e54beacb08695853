"""SendGrid Signed Event Webhook: verify the ECDSA signature over the raw body, then apply.

Order matters: the signature is checked over the exact bytes received before anything is
parsed (403 when missing or wrong). A signed body that is not a JSON array of well-formed
events is refused as a whole (400) and changes nothing, so SendGrid's retry can't half-apply.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from flask import abort, current_app, jsonify, request
from sendgrid.helpers.eventwebhook import EventWebhook

from outreach.feedback import email_events
from outreach.webhooks import bp

log = logging.getLogger(__name__)

SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
#: Most events one request may carry (SendGrid posts a few thousand at most).
MAX_EVENTS = 10_000
#: Event timestamps outside this range (2000..2100) are ignored in favour of "now".
_MIN_STAMP, _MAX_STAMP = 946_684_800, 4_102_444_800
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DIGITS = re.compile(r"[0-9]{1,18}")
_REQUEST_ID = re.compile(r"[0-9a-f]{10}\.[0-9]{1,18}(?:-[a-z]{2})?(?:/[0-9]{1,4})*")


class MalformedEvent(ValueError):
    """A field of an event has the wrong type or an unusable value."""


def _public_key() -> ec.EllipticCurvePublicKey | None:
    """The configured verification key, parsed once per app (None: not set or unusable)."""
    configured = current_app.config.get("SENDGRID_WEBHOOK_PUBLIC_KEY") or ""
    cache = current_app.extensions.setdefault("outreach.sendgrid_key", {})
    if configured not in cache:
        key = None
        if configured:
            try:
                key = EventWebhook().convert_public_key_to_ecdsa(configured)
            except (ValueError, TypeError):
                log.warning("SENDGRID_WEBHOOK_PUBLIC_KEY is not a usable public key")
        cache.clear()
        cache[configured] = key
    return cache[configured]


def verify_sendgrid_signature(raw: bytes) -> None:
    """Abort 403 unless the raw body carries a valid signature from the configured key."""
    key = _public_key()
    signature = request.headers.get(SIGNATURE, "")
    timestamp = request.headers.get(TIMESTAMP, "")
    if key is None or not signature or not timestamp:
        abort(403)
    try:
        try:
            payload = raw.decode("utf-8")
        except UnicodeDecodeError:  # not JSON, but verify the bytes as signed all the same
            key.verify(
                base64.b64decode(signature),
                timestamp.encode("utf-8") + raw,
                ec.ECDSA(hashes.SHA256()),
            )
            valid = True
        else:
            valid = EventWebhook().verify_signature(payload, signature, timestamp, key)
    except (InvalidSignature, ValueError, TypeError, binascii.Error):
        valid = False
    if not valid:
        abort(403)


def _text(event: dict, name: str, *, limit: int = 500, numbers: bool = False) -> str | None:
    """An optional string field (numbers too when ``numbers``); wrong types raise."""
    value = event.get(name)
    if value is None:
        return None
    if numbers and isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise MalformedEvent(f"{name} must be a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedEvent(f"{name} is not valid text") from None
    value = _CONTROL.sub("", value).strip()
    return value[:limit] or None


def _stamp(event: dict) -> datetime | None:
    value = event.get("timestamp")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedEvent("timestamp must be a number")
    if not _MIN_STAMP <= value <= _MAX_STAMP:  # also false for NaN
        return None
    return datetime.fromtimestamp(value, UTC)


def _message_id(event: dict) -> int | None:
    """Our outbox id from custom_args (a string of digits, or a whole number)."""
    value = event.get("message_id")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedEvent("message_id must be a string")
    if isinstance(value, int):
        return value if 0 < value < 2**63 else None
    value = value.strip()
    return int(value) if _DIGITS.fullmatch(value) and int(value) > 0 else None


def _request_id(event: dict) -> str | None:
    """Our request id from custom_args (``<claim token>.<step id>[/<part>]``), if well formed."""
    value = event.get("request_id")
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if _REQUEST_ID.fullmatch(value) else None


def parse_event(event: Any) -> email_events.EmailEvent:
    """Check one event's fields and build the service's view of it; raises MalformedEvent."""
    if not isinstance(event, dict):
        raise MalformedEvent("each event must be an object")
    kind = _text(event, "event", limit=30)
    event_id = _text(event, "sg_event_id", limit=100_000)
    if not kind or not event_id:
        raise MalformedEvent("event and sg_event_id are required")
    kind = kind.lower()
    bounce_type = (_text(event, "type", limit=30) or "").lower()
    if kind == "bounce" and bounce_type == "blocked":
        kind = "blocked"
    email = _text(event, "email", limit=320)
    sg_message_id = _text(event, "sg_message_id", limit=300)
    provider_id = sg_message_id.split(".", 1)[0][:64] if sg_message_id else ""
    reason = _text(event, "reason", numbers=True) or _text(event, "response", numbers=True)
    return email_events.EmailEvent(
        event_id=email_events.event_id_key(event_id),
        kind=kind,
        email=email.lower() if email else None,
        at=_stamp(event),
        message_id=_message_id(event),
        request_id=_request_id(event),
        sg_message_id=provider_id or None,
        reason=reason,
        status=_text(event, "status", limit=32, numbers=True),
        url=_text(event, "url", limit=2000) if kind == "click" else None,
    )


@bp.post("/sendgrid/events")
def sendgrid_events():  # noqa: ANN201
    """A batch of email events (delivered, open, click, bounce, dropped, spamreport, ...)."""
    raw = request.get_data(cache=False)
    verify_sendgrid_signature(raw)
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        abort(400, "The body is not JSON.")
    if not isinstance(payload, list):
        abort(400, "Expected a JSON array of events.")
    if len(payload) > MAX_EVENTS:
        abort(413)
    try:
        events = [parse_event(item) for item in payload]
    except MalformedEvent as exc:
        abort(400, f"Malformed event: {exc}")
    counts = email_events.handle_sendgrid_events(events)
    return jsonify(status="ok", counts=counts)
