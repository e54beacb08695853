"""The Channel protocol: plain dataclasses in and out.

Nothing in ``outreach.channels`` imports Flask or the models. Dispatch builds these
dataclasses from outbox rows, hands them to a channel, and records the results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Outcome(StrEnum):
    """What a provider said about one message."""

    SENT = "sent"  # accepted by the provider
    RETRY = "retry"  # temporary: 429, 5xx, timeout; try again later
    FAILED = "failed"  # permanent for this message (bad request, bad address)
    OPTED_OUT = "opted_out"  # carrier-level opt-out (Twilio 21610): suppress, never retry
    INVALID_NUMBER = "invalid_number"  # Twilio 21211: the number cannot receive texts
    BOUNCED = "bounced"  # SMTP 5.1.1 and kin: no such mailbox; suppress, never retry
    UNKNOWN = "unknown"  # the request may or may not have gone through


@dataclass(frozen=True)
class EmailRecipient:
    """One personalization of an email batch."""

    message_id: int
    to: str
    substitutions: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EmailBatch:
    """One email, rendered once with substitution tags, to many recipients.

    ``subject``, ``html`` and ``text`` may contain the keys of each recipient's
    ``substitutions``; the channel (or the provider) swaps them per recipient.
    """

    from_email: str
    from_name: str
    subject: str
    html: str
    text: str
    recipients: tuple[EmailRecipient, ...]
    categories: tuple[str, ...] = ()
    reply_to: str | None = None
    #: Sent as ``custom_args.request_id`` with every recipient (no personal data): the
    #: events of one recipient then prove the whole request was accepted. A batch that
    #: needs several requests gets ``/1``, ``/2``... appended per request.
    request_id: str | None = None
    #: SendGrid's open pixel (the audience's choice); sent disabled explicitly when False.
    open_tracking: bool = False
    #: SendGrid's own link rewriting: only where our ``/r/`` links are off (never both).
    click_tracking: bool = False
    #: Each recipient's SendGrid personalization as JSON text, when composed in advance
    #: (``sending.fast_compose``, ``request_id`` included); else built from ``recipients``.
    personalizations: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutgoingSms:
    """One text message to one number."""

    message_id: int
    to: str
    body: str
    status_callback: str | None = None


@dataclass(frozen=True)
class SendResult:
    """The fate of one message after one attempt."""

    message_id: int
    outcome: Outcome
    provider_id: str | None = None
    error_code: str | None = None
    error_detail: str | None = None
    retry_after: float | None = None


def personalize(template: str, substitutions: dict[str, str]) -> str:
    """Apply per-recipient substitution tags the way SendGrid does (plain replace)."""
    for key, value in substitutions.items():
        template = template.replace(key, value)
    return template


class EmailChannel(Protocol):
    """Sends email batches."""

    name: str

    def send_batch(self, batch: EmailBatch) -> list[SendResult]:
        """Send one batch; return one result per recipient, in any order."""
        ...


class SmsChannel(Protocol):
    """Sends text messages."""

    name: str

    def send_many(self, messages: list[OutgoingSms]) -> list[SendResult]:
        """Send each message (concurrently where the channel can); one result each."""
        ...
