"""The dev inbound-text simulator: staff reply to a text as the subscriber ("YES", "STOP",
free text) without Twilio. The text goes through the webhook's own handler
(``feedback/inbound_sms.handle_inbound_sms``, what ``/webhooks/twilio/sms`` calls once the
signature is checked) and our reply lands in the dev mailbox. Development only."""

from __future__ import annotations

import secrets

from flask import current_app

from outreach.audiences.contacts import InvalidContact, normalise_phone
from outreach.channels.base import OutgoingSms
from outreach.channels.console import ConsoleSmsChannel, record_inbound
from outreach.feedback import inbound_sms

MAX_BODY = 1600


class SimulatorRefused(RuntimeError):
    """The simulator is off: production, or texts really go out through Twilio."""


def available() -> bool:
    """Whether this app may simulate inbound texts (development, console SMS channel)."""
    config = current_app.config
    return config["OUTREACH_ENV"] != "production" and config["OUTREACH_SMS_CHANNEL"] == "console"


def reply_as_subscriber(from_number: str, body: str) -> inbound_sms.Reply:
    """Handle ``body`` as a text from ``from_number``; our reply (if any) is recorded in the
    dev mailbox as Twilio would have delivered it. Raises SimulatorRefused, ValueError."""
    if not available():
        raise SimulatorRefused("the inbound simulator works only with the console SMS channel")
    try:
        phone = normalise_phone(from_number)
    except InvalidContact as exc:
        raise ValueError(f"not a phone number: {exc}") from None
    body = body.replace("\x00", "").strip()[:MAX_BODY]
    if not body:
        raise ValueError("type what the subscriber texts")
    mailbox = current_app.config["OUTREACH_DEV_MAILBOX"]
    record_inbound(mailbox, phone, body)
    reply = inbound_sms.handle_inbound_sms("SM" + secrets.token_hex(16), phone, None, body)
    if reply.body:
        ConsoleSmsChannel(mailbox).send_many([OutgoingSms(message_id=0, to=phone, body=reply.body)])
    return reply
