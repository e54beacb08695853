"""Did Twilio create this text? A look-up in Twilio's Message list resource.

Reconciliation asks this for a row left ``unknown`` (a crash or a lost answer between the
request and its record). ``GET /2010-04-01/Accounts/{Sid}/Messages.json`` is filtered by
``To`` and ``DateSent>=`` the claim's day, and its pages (``next_page_uri``) are read until
a message matches: outbound, from our Messaging Service when we use one, created at or after
the claim, and with the body we composed (compared after the substitutions Twilio's Smart
Encoding makes, such as curly quotes to straight ones). The Message resource does not carry
the StatusCallback URL, so the body and the time are the marker.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import urllib3
from twilio.base.exceptions import TwilioException

#: Twilio's clock and ours may differ a little: a message this much older than the claim
#: still counts.
CLOCK_SKEW = timedelta(minutes=2)
PAGE_SIZE = 200

#: Smart Encoding's usual replacements (Unicode punctuation -> GSM-7 look-alikes).
_SMART = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u00a0": " ",
    }
)


class LookupFailed(Exception):
    """Twilio could not be asked (outage, rate limit, credentials): try again later."""


def same_text(sent: str, listed: str) -> bool:
    """Whether a listed body is the body we sent (after Smart Encoding's substitutions)."""

    def norm(text: str) -> str:
        return " ".join(unicodedata.normalize("NFC", text).translate(_SMART).split())

    return sent == listed or norm(sent) == norm(listed)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def matching_sid(
    messages: Iterable[Any], body: str, since: datetime, service_sid: str | None
) -> str | None:
    """The SID of the first listed message that is the text we sent, else None."""
    earliest = _aware(since) - CLOCK_SKEW
    for message in messages:
        if not str(getattr(message, "direction", "") or "").startswith("outbound"):
            continue
        listed_service = getattr(message, "messaging_service_sid", None)
        if service_sid and listed_service and listed_service != service_sid:
            continue
        created = _aware(getattr(message, "date_created", None))
        if created is not None and created < earliest:
            continue
        if same_text(body, str(getattr(message, "body", "") or "")):
            return str(message.sid)
    return None


def find_sent(
    message_list: Any, to: str, body: str, since: datetime, service_sid: str | None
) -> str | None:
    """Ask Twilio (through the library's Message list) for our text; its SID or None.

    Raises :class:`LookupFailed` when Twilio answers with an error or cannot be reached.
    """
    day = _aware(since).astimezone(UTC).strftime("%Y-%m-%d")
    try:
        listed = message_list.stream(to=to, date_sent_after=day, page_size=PAGE_SIZE)
        return matching_sid(listed, body, since, service_sid)
    except TwilioException as exc:
        # A failed page comes as TwilioException("Unable to fetch page", response).
        answer = exc.args[1] if len(exc.args) > 1 else None
        status = getattr(exc, "status", None) or getattr(answer, "status_code", None)
        raise LookupFailed(f"Twilio answered {status or 'an error'} to the message list") from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise LookupFailed(f"could not reach Twilio ({type(exc).__name__})") from exc
