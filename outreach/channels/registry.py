"""Build the configured channels from a plain settings mapping (no Flask import here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from outreach.channels.base import EmailChannel, SmsChannel


def _timeout(settings: Mapping[str, Any]) -> float:
    """Seconds to wait for a provider's answer (OUTREACH_PROVIDER_TIMEOUT, default 30)."""
    return float(settings.get("OUTREACH_PROVIDER_TIMEOUT") or 30.0)


def sms_mps_per_worker(settings: Mapping[str, Any]) -> float:
    """This process's share of the sender's messages per second.

    The channel paces per process; with OUTREACH_SMS_WORKERS processes sending for the same
    sender, each takes OUTREACH_SMS_MPS / workers so that together they keep the rate.
    """
    workers = max(1, int(settings.get("OUTREACH_SMS_WORKERS") or 1))
    return float(settings.get("OUTREACH_SMS_MPS") or 0) / workers


def build_email_channel(settings: Mapping[str, Any]) -> EmailChannel:
    """The email channel named by OUTREACH_EMAIL_CHANNEL."""
    if settings["OUTREACH_EMAIL_CHANNEL"] == "sendgrid":
        from outreach.channels.sendgrid import SendGridChannel

        return SendGridChannel(
            api_key=settings["SENDGRID_API_KEY"],
            api_host=settings["SENDGRID_API_HOST"],
            timeout=_timeout(settings),
        )
    if settings["OUTREACH_EMAIL_CHANNEL"] == "smtp":
        from outreach.channels.smtp import SmtpChannel

        return SmtpChannel(settings["OUTREACH_SMTP_URL"], timeout=_timeout(settings))
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
            mps=sms_mps_per_worker(settings),
            concurrency=settings["OUTREACH_SMS_CONCURRENCY"],
            timeout=_timeout(settings),
            direct=bool(settings.get("OUTREACH_FAST_COMPOSE", True)),
        )
    from outreach.channels.console import ConsoleSmsChannel

    return ConsoleSmsChannel(settings["OUTREACH_DEV_MAILBOX"])
