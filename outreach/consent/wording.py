"""The exact words the rules require: consent boxes, confirmation, HELP and STOP replies.

Pure functions of an audience's sender identity, so the form shows (and the ledger
records) exactly the text the subscriber agreed to.
"""

from __future__ import annotations

from typing import Protocol

STOP_WORDING = "Reply HELP for help, STOP to opt out."
RATES_WORDING = "Msg & data rates may apply."


class SenderIdentity(Protocol):
    """The audience fields the wording needs."""

    name: str
    organisation_name: str
    sms_program_name: str
    sms_frequency_text: str
    support_email: str
    support_phone: str


def program(audience: SenderIdentity) -> str:
    """The SMS program name, falling back to the organisation's name."""
    return audience.sms_program_name or audience.organisation_name or audience.name


def consent_wording(audience: SenderIdentity, channel: str) -> str:
    """The sentence next to a consent box; stored verbatim in the ledger."""
    org = audience.organisation_name or audience.name
    if channel == "email":
        return (
            f"Yes, email me {audience.name} news and awareness updates from {org}. "
            "I can unsubscribe at any time with one click."
        )
    frequency = audience.sms_frequency_text or "Message frequency varies"
    return (
        f"Yes, send me {program(audience)} text messages from {org} at the mobile number "
        f"above. {frequency.rstrip('.')}. Consent is not a condition of purchase. "
        f"{RATES_WORDING} {STOP_WORDING}"
    )


def sms_confirmation(audience: SenderIdentity) -> str:
    """The opt-in confirmation text (CTIA): program, frequency, rates, HELP/STOP."""
    frequency = audience.sms_frequency_text or "Message frequency varies"
    return (
        f"{program(audience)}: reply YES to confirm your subscription. "
        f"{frequency.rstrip('.')}. {RATES_WORDING} {STOP_WORDING}"
    )


def sms_welcome(audience: SenderIdentity) -> str:
    """The reply to YES/START: subscribed, frequency, rates, HELP/STOP."""
    frequency = audience.sms_frequency_text or "Message frequency varies"
    return (
        f"{program(audience)}: you're subscribed. {frequency.rstrip('.')}. "
        f"{RATES_WORDING} {STOP_WORDING}"
    )


def sms_help(audience: SenderIdentity) -> str:
    """The HELP/INFO reply: program, support contact, how to stop."""
    contact = " or ".join(c for c in (audience.support_phone, audience.support_email) if c)
    return (
        f"{program(audience)}: awareness texts from {audience.organisation_name or audience.name}."
        f" Help: {contact or 'reply to this message'}. {RATES_WORDING} Reply STOP to opt out."
    )


def sms_stopped(audience: SenderIdentity | None) -> str:
    """The one confirmation text after an opt-out: no marketing in it."""
    name = program(audience) if audience is not None else "Outreach"
    return f"{name}: you're unsubscribed and will get no more texts. Reply START to rejoin."


def with_brand_and_stop(body: str, brand: str | None) -> str:
    """A campaign's first text names the program and says how to stop (CTIA): the brand is
    put in front and "Reply STOP to opt out." after, where the copy lacks them."""
    if brand and not body.lower().startswith(brand.lower()):
        body = f"{brand}: {body}"
    if "stop" not in body.lower():
        body = f"{body} Reply STOP to opt out."
    return body
