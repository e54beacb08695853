"""What the SMTP channel needs before it talks to a relay: its settings, read from one URL,
and one recipient's message, built from an :class:`EmailBatch` the way the console channel
personalises it.

``OUTREACH_SMTP_URL`` looks like ``smtp://user:pass@relay.example:587?starttls=1`` or
``smtps://user:pass@relay.example:465``. Query parameters: ``starttls`` (0/1, only with
``smtp://``), ``mps`` (messages per second, 0 = no pacing), ``cafile`` (a PEM bundle of
the certificate authorities to trust instead of the system's).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from urllib.parse import parse_qs, unquote, urlsplit

from outreach.channels.base import EmailBatch, EmailRecipient, personalize

#: Headers the channel writes itself; a recipient's ``headers`` never replace them.
_OWN_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "subject", "reply-to", "date", "message-id", "mime-version"}
)
_LINE_BREAKS = re.compile(r"[\r\n]+")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_PARAMETERS = {"starttls", "mps", "cafile"}
#: Header lines up to RFC 5322's hard limit: a long List-Unsubscribe URL stays one token
#: (at the default 78 the library turns it into encoded words, which breaks one-click).
_WIRE = policy.SMTP.clone(max_line_length=998)
_WIRE_UTF8 = policy.SMTPUTF8.clone(max_line_length=998)


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to reach the relay (the password is never shown in ``repr``)."""

    host: str
    port: int
    #: ``"tls"`` (implicit TLS, smtps), ``"starttls"`` or ``"none"``.
    security: str = "none"
    username: str = ""
    password: str = field(default="", repr=False)
    #: Messages per second this process sends (0 = as fast as the relay answers).
    mps: float = 0.0
    cafile: str | None = None


def _flag(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"?{name}= must be 0 or 1, not {value!r}")


def parse_smtp_url(url: str) -> SmtpSettings:
    """Read ``smtp://`` / ``smtps://`` URLs; ``ValueError`` with a one-line reason if bad."""
    if not url:
        raise ValueError("it is empty")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("it must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("it names no host")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - _PARAMETERS)
    if unknown:
        raise ValueError(f"unknown parameter {unknown[0]!r} (known: starttls, mps, cafile)")
    values = {name: items[-1] for name, items in query.items()}
    starttls = _flag("starttls", values.get("starttls", "0"))
    if parts.scheme == "smtps" and starttls:
        raise ValueError("smtps:// is TLS from the start: drop ?starttls=1")
    security = "tls" if parts.scheme == "smtps" else ("starttls" if starttls else "none")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("its port is not a number from 1 to 65535") from exc
    if port is None:
        port = {"tls": 465, "starttls": 587, "none": 25}[security]
    try:
        mps = float(values.get("mps") or 0)
    except ValueError as exc:
        raise ValueError("?mps= must be a number (messages per second)") from exc
    if mps < 0:
        raise ValueError("?mps= must not be negative")
    username = unquote(parts.username or "")
    password = unquote(parts.password or "")
    if password and not username:
        raise ValueError("it has a password but no user name")
    if username and security == "none":
        raise ValueError("it would send the password unencrypted: use smtps:// or add ?starttls=1")
    return SmtpSettings(
        host=parts.hostname,
        port=port,
        security=security,
        username=username,
        password=password,
        mps=mps,
        cafile=values.get("cafile") or None,
    )


def message_id_domain(from_email: str) -> str:
    """The right-hand side of our Message-IDs: the sender's domain (IDNA, lower case)."""
    domain = from_email.rpartition("@")[2].strip().lower() or "outreach.invalid"
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return "outreach.invalid"


def new_message_id(message_id: int, domain: str) -> str:
    """``outreach.<our message id>.<random>`` (no personal data); a new one per attempt."""
    return f"outreach.{message_id}.{secrets.token_hex(8)}@{domain}"


def sender(batch: EmailBatch) -> str:
    """The From header: name and address."""
    return formataddr((batch.from_name, batch.from_email)) if batch.from_name else batch.from_email


def build_message(batch: EmailBatch, recipient: EmailRecipient, message_id: str) -> bytes:
    """One recipient's message as it goes on the wire (CRLF line ends).

    Subject, text and HTML get the recipient's substitutions (as the console channel
    does); the text and HTML parts are alternatives, quoted-printable so that any relay
    takes them (no 8BITMIME needed). Only the recipient's own headers are added (the
    List-Unsubscribe pair): no categories, no campaign names, nothing personal.
    """
    subs = recipient.substitutions
    message = EmailMessage()
    message["From"] = sender(batch)
    message["To"] = recipient.to
    message["Subject"] = _LINE_BREAKS.sub(" ", personalize(batch.subject, subs))
    if batch.reply_to:
        message["Reply-To"] = batch.reply_to
    message["Date"] = format_datetime(datetime.now(UTC), usegmt=True)
    message["Message-ID"] = f"<{message_id}>"
    for name, value in recipient.headers.items():
        if name.lower() not in _OWN_HEADERS:
            message[name] = _LINE_BREAKS.sub(" ", value)
    text = personalize(batch.text, subs) if batch.text else ""
    html = personalize(batch.html, subs) if batch.html else ""
    if text:
        message.set_content(text, cte="quoted-printable")
        if html:
            message.add_alternative(html, subtype="html", cte="quoted-printable")
    else:
        message.set_content(html, subtype="html", cte="quoted-printable")
    wire = _WIRE if recipient.to.isascii() else _WIRE_UTF8
    return message.as_bytes(policy=wire)
