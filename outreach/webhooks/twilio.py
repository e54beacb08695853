"""Twilio: inbound SMS (answers TwiML) and message status callbacks."""

from __future__ import annotations

from flask import Response, abort, current_app, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from outreach import feedback
from outreach.webhooks import bp


def verify_twilio_signature() -> None:
    """Abort 403 unless X-Twilio-Signature matches OUTREACH_BASE_URL + path (+ query)."""
    token = current_app.config["TWILIO_AUTH_TOKEN"]
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        abort(403)
    url = current_app.config["OUTREACH_BASE_URL"] + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    params = (
        request.form.to_dict(flat=True)
        if request.mimetype == ("application/x-www-form-urlencoded")
        else {}
    )
    if not RequestValidator(token).validate(url, params, signature):
        abort(403)


def _twiml(body: str | None) -> Response:
    response = MessagingResponse()
    if body:
        response.message(body)
    return Response(str(response), mimetype="application/xml")


@bp.post("/twilio/sms")
def twilio_sms() -> Response:
    """Inbound text: STOP / START / HELP / other."""
    verify_twilio_signature()
    form = request.form
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    sender = form.get("From", "")
    if not sid or not sender or len(sid) > 64 or len(sender) > 32:
        abort(400, "MessageSid and From are required.")
    reply = feedback.handle_inbound_sms(
        sid, sender, form.get("To"), form.get("Body", ""), form.get("OptOutType") or None
    )
    return _twiml(reply.body)


@bp.post("/twilio/status")
def twilio_status() -> tuple[str, int]:
    """Message status callback: moves the outbox row forward only."""
    verify_twilio_signature()
    form = request.form
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    status = form.get("MessageStatus") or form.get("SmsStatus") or ""
    if not sid or not status or len(sid) > 64 or len(status) > 20:
        abort(400, "MessageSid and MessageStatus are required.")
    raw_mid = request.args.get("mid", "")
    message_id = int(raw_mid) if raw_mid.isdigit() and len(raw_mid) < 19 else None
    error_code = (form.get("ErrorCode") or "")[:32] or None
    feedback.handle_twilio_status(sid, status, error_code, message_id)
    return "", 204
