"""SendGrid Signed Event Webhook: verify the ECDSA signature over the raw body, then apply."""

from __future__ import annotations

import json

from flask import abort, current_app, jsonify, request
from sendgrid.helpers.eventwebhook import EventWebhook

from outreach import feedback
from outreach.webhooks import bp

SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


def verify_sendgrid_signature(raw: bytes) -> None:
    """Abort 403 unless the body carries a valid signature from the configured key."""
    public_key = current_app.config["SENDGRID_WEBHOOK_PUBLIC_KEY"]
    signature = request.headers.get(SIGNATURE, "")
    timestamp = request.headers.get(TIMESTAMP, "")
    if not public_key or not signature or not timestamp:
        abort(403)
    try:
        helper = EventWebhook()
        key = helper.convert_public_key_to_ecdsa(public_key)
        valid = helper.verify_signature(raw.decode("utf-8"), signature, timestamp, key)
    except Exception:  # noqa: BLE001 - a malformed key, signature or body is simply not valid
        valid = False
    if not valid:
        abort(403)


@bp.post("/sendgrid/events")
def sendgrid_events():  # noqa: ANN201
    """A batch of email events (delivered, open, click, bounce, dropped, spamreport, ...)."""
    raw = request.get_data(cache=False)
    verify_sendgrid_signature(raw)
    try:
        events = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        abort(400, "The body is not JSON.")
    if not isinstance(events, list):
        abort(400, "Expected a JSON array of events.")
    counts = feedback.handle_sendgrid_events(events)
    return jsonify(status="ok", counts=counts)
