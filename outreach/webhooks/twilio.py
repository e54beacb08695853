"""Twilio: inbound SMS (answers TwiML) and message status callbacks.

Both check X-Twilio-Signature against ``OUTREACH_BASE_URL`` + path (+ query string), not the
URL the request arrived on, so the check holds behind a proxy. A missing or wrong signature
is 403 before anything is parsed further; a signed request with unusable fields is 400.
"""

from __future__ import annotations

import re

from flask import Response, abort, current_app, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from outreach.feedback import inbound_sms, sms_status
from outreach.webhooks import bp

#: Twilio ids (MessageSid "SM" + 32 hex): printable ASCII, no spaces.
_SID = re.compile(r"[\x21-\x7e]{1,64}")
_STATUS = re.compile(r"[a-z_]{1,20}")
_ERROR_CODE = re.compile(r"[0-9]{1,10}")
_MID = re.compile(r"[0-9]{1,18}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def verify_twilio_signature() -> None:
    """Abort 403 unless X-Twilio-Signature matches OUTREACH_BASE_URL + path (+ query)."""
    token = current_app.config["TWILIO_AUTH_TOKEN"]
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        abort(403)
    url = current_app.config["OUTREACH_BASE_URL"] + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    # Every value of every field is signed (a MultiDict), so nothing can be appended.
    if not RequestValidator(token).validate(url, request.form, signature):
        abort(403)


def _field(name: str, *, limit: int, required: bool = False) -> str | None:
    """One form field, stripped; 400 when required and missing, too long or with controls."""
    value = (request.form.get(name) or "").strip()
    if not value:
        if required:
            abort(400, f"{name} is required.")
        return None
    if len(value) > limit or _CONTROL.search(value):
        abort(400, f"{name} is not valid.")
    return value


def _sid() -> str:
    sid = request.form.get("MessageSid") or request.form.get("SmsSid") or ""
    if not _SID.fullmatch(sid):
        abort(400, "MessageSid is required.")
    return sid


def _twiml(body: str | None) -> Response:
    response = MessagingResponse()
    if body:
        response.message(body)
    return Response(str(response), mimetype="application/xml")


@bp.post("/twilio/sms")
def twilio_sms() -> Response:
    """Inbound text: STOP / START / HELP / other."""
    verify_twilio_signature()
    sid = _sid()
    sender = _field("From", limit=32, required=True)
    to = _field("To", limit=32)
    body = (request.form.get("Body") or "").replace("\x00", "")
    opt_out_type = _field("OptOutType", limit=20)
    reply = inbound_sms.handle_inbound_sms(sid, sender, to, body, opt_out_type)
    return _twiml(reply.body)


@bp.post("/twilio/status")
def twilio_status() -> tuple[str, int]:
    """Message status callback: moves the outbox row forward only."""
    verify_twilio_signature()
    sid = _sid()
    status = (request.form.get("MessageStatus") or request.form.get("SmsStatus") or "").lower()
    if not _STATUS.fullmatch(status):
        abort(400, "MessageStatus is required.")
    raw_mid = request.args.get("mid", "")
    message_id = int(raw_mid) if _MID.fullmatch(raw_mid) else None
    raw_code = (request.form.get("ErrorCode") or "").strip()
    error_code = raw_code if _ERROR_CODE.fullmatch(raw_code) else None
    to = _field("To", limit=32)
    sms_status.handle_twilio_status(sid, status, error_code, message_id, to)
    return "", 204
