"""Build the configured channels from a plain settings mapping (no Flask import here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from outreach.channels.base import EmailChannel, SmsChannel


def build_email_channel(settings: Mapping[str, Any]) -> EmailChannel:
    """The email channel named by OUTREACH_EMAIL_CHANNEL."""
    if settings["OUTREACH_EMAIL_CHANNEL"] == "sendgrid":
        from outreach.channels.sendgrid import SendGridChannel

        return SendGridChannel(
            api_key=settings["SENDGRID_API_KEY"], api_host=settings["SENDGRID_API_HOST"]
        )
    from outreach.channels.console import ConsoleEmailChannel

    return ConsoleEmailChannel(settings["OUTREACH_DEV_MAILBOX"])


def build_sms_channel(settings: Mapping[str, Any]) -> SmsChannel:
    """The SMS channel named by OUTREACH_SMS_CHANNEL."""
    if settings["OUTREACH_SMS_CHANNEL"] == "twilio":
        from outreach.channels.twilio import TwilioChannel

        return TwilioChannel(
            account_sid=settings["TWILIO_ACCOUNT_SID"],
            auth_token=settings["TWILIO_AUTH_TOKEN"],
            messaging_service_sid=settings["TWILIO_MESSAGING_SERVICE_SID"] or None,
            from_number=settings["TWILIO_FROM_NUMBER"] or None,
            api_base=settings["TWILIO_API_BASE"],
            mps=settings["OUTREACH_SMS_MPS"],
            concurrency=settings["OUTREACH_SMS_CONCURRENCY"],
        )
    from outreach.channels.console import ConsoleSmsChannel

    return ConsoleSmsChannel(settings["OUTREACH_DEV_MAILBOX"])
