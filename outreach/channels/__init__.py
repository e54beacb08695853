"""Provider channels: plain dataclasses in, plain results out (no Flask, no models).

Only the protocol is re-exported here; the provider modules (``sendgrid``, ``twilio``,
``console``) are imported where they are chosen (``registry``), so importing this package
stays cheap.
"""

from outreach.channels.base import (
    EmailBatch,
    EmailChannel,
    EmailRecipient,
    Outcome,
    OutgoingSms,
    SendResult,
    SmsChannel,
    personalize,
)

__all__ = [
    "EmailBatch",
    "EmailChannel",
    "EmailRecipient",
    "Outcome",
    "OutgoingSms",
    "SendResult",
    "SmsChannel",
    "personalize",
]
