"""SMTP channel: any relay (one the clinic has a BAA with), through the standard library.

One connection per batch: connect, (STARTTLS,) log in once, then MAIL / RCPT / DATA for
each recipient in turn, and QUIT. Each recipient gets their own message (their
substitutions, their List-Unsubscribe headers, a Message-ID carrying our message id).

Result mapping, per recipient:

* 250 after DATA: ``SENT``, ``provider_id`` = the Message-ID's left part
  (``outreach.<message id>.<random>``).
* 4xx (450, 451, 452, ...) on MAIL, RCPT or DATA: not accepted; tried again in this call
  with exponential backoff (a new connection each round), then ``RETRY`` with
  ``retry_after``. 421 (the relay is closing) ends the connection: this recipient and the
  rest wait for the next round. A connection that cannot be made (refused, timeout, 421
  greeting) is retried the same way.
* 5xx on RCPT or after DATA: ``FAILED`` with the relay's reason; a "no such mailbox"
  (5.1.1, 5.1.2, 5.1.3, 5.1.10, or 550 "user unknown") is ``BOUNCED``, which suppresses
  the address like a SendGrid hard bounce. 5xx on MAIL FROM (the sender refused) fails
  the recipient and the rest of the batch with it.
* A login refused (535), STARTTLS or AUTH not offered, a certificate that does not
  verify: ``FAILED`` for the whole batch, with a detail naming ``OUTREACH_SMTP_URL``.
* The connection lost mid-batch: ``UNKNOWN`` for the recipient whose DATA was in flight
  (the relay may have queued it; never re-sent blindly), ``RETRY`` for a recipient still
  in MAIL / RCPT and for those not yet attempted.

No reply text is logged (it may quote the address); in ``error_detail`` the recipient's
address is replaced by ``<recipient>``.
"""

from __future__ import annotations

import logging
import random
import re
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from outreach.channels.base import EmailBatch, EmailRecipient, Outcome, SendResult
from outreach.channels.smtp_message import (
    SmtpSettings,
    build_message,
    message_id_domain,
    new_message_id,
    parse_smtp_url,
)

log = logging.getLogger(__name__)

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_NO_SUCH_MAILBOX = {"5.1.1", "5.1.2", "5.1.3", "5.1.10"}
_USER_UNKNOWN = re.compile(
    r"user unknown|unknown user|no such (?:user|mailbox|recipient)|unknown recipient|"
    r"recipient not found|mailbox not found|does not exist",
    re.IGNORECASE,
)
_MAX_DETAIL = 500


class _Lost(Exception):
    """The connection went away; ``in_flight`` when DATA had been sent."""

    def __init__(self, in_flight: bool, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.in_flight = in_flight
        self.cause = cause


@dataclass
class _Round:
    """What one connection did with its share of the batch."""

    results: list[SendResult]
    #: Recipients not accepted for a temporary reason, with the reason: the next round.
    deferred: list[tuple[EmailRecipient, SendResult]]
    #: Set when the rest of the batch should not be attempted (given to each of them).
    stop: SendResult | None = None
    rest: tuple[EmailRecipient, ...] = ()


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


def _code(status: int, text: str) -> str:
    """``"550 5.1.1"``: the reply code and, when given, the enhanced status code."""
    match = _ENHANCED.search(text)
    return f"{status} {match.group(0)}" if match else str(status)


def is_hard_bounce(status: int, text: str) -> bool:
    """A permanent "no such mailbox" answer (the address should be suppressed)."""
    if status < 500:
        return False
    match = _ENHANCED.search(text)
    if match:
        return match.group(0) in _NO_SUCH_MAILBOX
    return status == 550 and bool(_USER_UNKNOWN.search(text))


class SmtpChannel:
    """Sends :class:`EmailBatch` objects through an SMTP relay (``OUTREACH_SMTP_URL``)."""

    name = "smtp"
    #: First backoff delay in seconds; doubles on each retry (with jitter), capped.
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    #: A wait longer than this is not slept here: the recipients return RETRY at once.
    max_wait: float = 60.0

    def __init__(
        self,
        url: str | SmtpSettings,
        timeout: float = 30.0,
        max_retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        self.settings = url if isinstance(url, SmtpSettings) else parse_smtp_url(url)
        self.timeout = timeout
        self.max_retries = max_retries
        self._sleep = sleep
        self._context = ssl_context
        self._local_hostname = local_hostname
        self._pace_lock = threading.Lock()
        self._next_slot = 0.0

    def __repr__(self) -> str:
        s = self.settings
        return f"SmtpChannel(host={s.host!r}, port={s.port}, security={s.security!r})"

    def close(self) -> None:
        """Nothing to close between batches (each batch has its own connection)."""

    # -- sending -----------------------------------------------------------------------

    def send_batch(self, batch: EmailBatch) -> list[SendResult]:
        """Send each recipient's message over one connection; one result per recipient."""
        if not batch.recipients:
            return []
        if not batch.subject or not (batch.text or batch.html):
            detail = "email has no subject" if not batch.subject else "email has no content"
            return [_result(r, Outcome.FAILED, "invalid", detail) for r in batch.recipients]
        results: list[SendResult] = []
        pending = tuple(batch.recipients)
        attempt = 0
        while pending:
            round_ = self._round(batch, pending)
            results.extend(round_.results)
            if round_.stop is not None:
                results.extend(_like(round_.stop, r) for r in round_.rest)
            if not round_.deferred:
                break
            last = round_.deferred[-1][1]
            delay = self._backoff(attempt)
            if attempt >= self.max_retries or delay > self.max_wait:
                results.extend(
                    SendResult(
                        r.message_id,
                        Outcome.RETRY,
                        error_code=why.error_code,
                        error_detail=why.error_detail,
                        retry_after=delay,
                    )
                    for r, why in round_.deferred
                )
                break
            log.warning(
                "smtp: %s for %d recipients; retry %d/%d in %.2fs",
                last.error_code,
                len(round_.deferred),
                attempt + 1,
                self.max_retries,
                delay,
            )
            self._sleep(delay)
            attempt += 1
            pending = tuple(r for r, _ in round_.deferred)
        return results

    def _round(self, batch: EmailBatch, pending: tuple[EmailRecipient, ...]) -> _Round:
        """One connection: log in, send each pending recipient, quit."""
        try:
            smtp = self._connect()
        except _Temporary as exc:
            why = SendResult(0, Outcome.RETRY, error_code=exc.code, error_detail=exc.detail)
            return _Round([], [(r, why) for r in pending])
        except _Fatal as exc:
            log.error("smtp: %s", exc.detail)
            stop = SendResult(0, Outcome.FAILED, error_code=exc.code, error_detail=exc.detail)
            return _Round([], [], stop, pending)
        done = _Round([], [])
        domain = message_id_domain(batch.from_email)
        try:
            for index, recipient in enumerate(pending):
                try:
                    outcome = self._send_one(smtp, batch, recipient, domain)
                except _SenderRefused as exc:  # the same for every recipient of the batch
                    done.results.append(exc.result)
                    done.stop = exc.result
                    done.rest = pending[index + 1 :]
                    return done
                except _Lost as exc:
                    log.warning(
                        "smtp: connection lost (%s) after %d of %d messages",
                        type(exc.cause).__name__,
                        index,
                        len(pending),
                    )
                    done.results.append(_lost(recipient, exc))
                    done.stop = SendResult(
                        0,
                        Outcome.RETRY,
                        error_code="not_attempted",
                        error_detail="not sent: the connection to the relay was lost earlier "
                        "in this batch",
                    )
                    done.rest = pending[index + 1 :]
                    return done
                if outcome.outcome is Outcome.RETRY:
                    done.deferred.append((recipient, outcome))
                    if outcome.error_code and outcome.error_code.startswith("421"):
                        # The relay is closing this connection: the rest go next round.
                        done.deferred.extend((r, outcome) for r in pending[index + 1 :])
                        return done
                    continue
                done.results.append(outcome)
            return done
        finally:
            _quit(smtp)

    def _send_one(
        self, smtp: smtplib.SMTP, batch: EmailBatch, recipient: EmailRecipient, domain: str
    ) -> SendResult:
        """MAIL, RCPT, DATA for one recipient (RSET after a refusal)."""
        message_id = new_message_id(recipient.message_id, domain)
        try:
            body = build_message(batch, recipient, message_id)
        except (ValueError, TypeError, UnicodeError) as exc:
            return _result(recipient, Outcome.FAILED, "invalid", f"bad message: {exc}")
        options = [] if recipient.to.isascii() else ["SMTPUTF8"]
        self._pace()
        in_flight = False
        try:
            try:
                status, reply = smtp.mail(batch.from_email, options)
            except smtplib.SMTPNotSupportedError:
                detail = "the relay does not take international addresses (no SMTPUTF8)"
                return _result(recipient, Outcome.FAILED, "smtputf8", detail)
            if status != 250:
                return self._refused(smtp, recipient, status, reply, sender_refused=True)
            status, reply = smtp.rcpt(recipient.to)
            if status not in (250, 251):
                return self._refused(smtp, recipient, status, reply)
            in_flight = True
            try:
                status, reply = smtp.data(body)
            except smtplib.SMTPDataError as exc:  # DATA itself refused: nothing went out
                in_flight = False
                return self._refused(smtp, recipient, exc.smtp_code, exc.smtp_error)
            if status != 250:
                in_flight = False
                return self._refused(smtp, recipient, status, reply)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _Lost(in_flight, exc) from exc
        provider_id = message_id.partition("@")[0]  # outreach.<id>.<random>: fits the column
        return SendResult(recipient.message_id, Outcome.SENT, provider_id=provider_id)

    def _refused(
        self,
        smtp: smtplib.SMTP,
        recipient: EmailRecipient,
        status: int,
        reply: bytes | str,
        *,
        sender_refused: bool = False,
    ) -> SendResult:
        """The result for a refusal; the transaction is reset for the next recipient."""
        text = _reply_text(reply).replace(recipient.to, "<recipient>")[:_MAX_DETAIL]
        code = _code(status, text)
        detail = f"the relay answered {status} {text}".strip()
        if status != 421:
            try:
                smtp.rset()
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                if status >= 500:
                    # Answered for this one; the lost connection shows on the next one.
                    pass
                else:
                    raise _Lost(False, exc) from exc
        if 400 <= status < 500:
            return _result(recipient, Outcome.RETRY, code, detail)
        if sender_refused:
            detail = f"the relay refused the sender: {detail}"
            raise _SenderRefused(_result(recipient, Outcome.FAILED, code, detail))
        if is_hard_bounce(status, text):
            return _result(recipient, Outcome.BOUNCED, code, detail)
        return _result(recipient, Outcome.FAILED, code, detail)

    # -- the connection ----------------------------------------------------------------

    def _context_for_tls(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = ssl.create_default_context(cafile=self.settings.cafile)
        return self._context

    def _connect(self) -> smtplib.SMTP:
        """An open, logged-in connection; ``_Fatal`` / ``_Temporary`` otherwise."""
        s = self.settings
        smtp: smtplib.SMTP | None = None
        try:
            if s.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    s.host,
                    s.port,
                    local_hostname=self._local_hostname,
                    timeout=self.timeout,
                    context=self._context_for_tls(),
                )
            else:
                smtp = smtplib.SMTP(
                    s.host, s.port, local_hostname=self._local_hostname, timeout=self.timeout
                )
            smtp.ehlo()
            if s.security == "starttls":
                smtp.starttls(context=self._context_for_tls())
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, s.password)
            return smtp
        except smtplib.SMTPNotSupportedError as exc:
            _quit(smtp)
            what = "STARTTLS" if "STARTTLS" in str(exc) else "AUTH"
            detail = f"the relay does not offer {what} (check OUTREACH_SMTP_URL)"
            raise _Fatal("config", detail) from exc
        except smtplib.SMTPAuthenticationError as exc:
            _quit(smtp)
            code = _code(exc.smtp_code, _reply_text(exc.smtp_error))
            if 400 <= exc.smtp_code < 500:
                raise _Temporary(code, f"the relay could not log us in now ({code})") from exc
            raise _Fatal(
                code, f"the relay refused the login ({code}); check OUTREACH_SMTP_URL"
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            _quit(smtp)
            raise _Fatal(
                "tls", f"the relay's certificate does not verify ({exc.verify_message})"
            ) from exc
        except smtplib.SMTPResponseException as exc:  # 421 greeting, EHLO refused, ...
            _quit(smtp)
            code = _code(exc.smtp_code, _reply_text(exc.smtp_error))
            if exc.smtp_code >= 500:
                raise _Fatal(code, f"the relay refused the session ({code})") from exc
            raise _Temporary(code, f"the relay answered {code} on connecting") from exc
        except (smtplib.SMTPException, OSError) as exc:
            _quit(smtp)
            name = type(exc).__name__
            raise _Temporary("connection", f"could not reach the relay ({name})") from exc

    def _pace(self) -> None:
        """Wait for this message's slot when the URL sets ``mps`` (shared by every lane)."""
        if self.settings.mps <= 0:
            return
        with self._pace_lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + 1.0 / self.settings.mps
        if slot > now:
            self._sleep(slot - now)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter (between half and all of the nominal delay)."""
        nominal = min(self.backoff_cap, self.backoff_base * (2**attempt))
        return nominal * (0.5 + random.random() / 2)


class _SenderRefused(Exception):
    """MAIL FROM answered 5xx: no recipient of this batch can go."""

    def __init__(self, result: SendResult) -> None:
        super().__init__(result.error_detail)
        self.result = result


class _Fatal(Exception):
    """Connecting can never work as configured: the batch fails."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


class _Temporary(_Fatal):
    """Connecting failed for now: try again."""


def _quit(smtp: smtplib.SMTP | None) -> None:
    """QUIT politely; close regardless."""
    if smtp is None:
        return
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _lost(recipient: EmailRecipient, exc: _Lost) -> SendResult:
    if exc.in_flight:
        return _result(
            recipient,
            Outcome.UNKNOWN,
            "connection",
            "the connection to the relay was lost during DATA; it may have queued the "
            "message (settle it on /admin/outbox)",
        )
    return _result(
        recipient,
        Outcome.RETRY,
        "connection",
        "the connection to the relay was lost before the message was sent",
    )


def _result(recipient: EmailRecipient, outcome: Outcome, code: str, detail: str) -> SendResult:
    return SendResult(recipient.message_id, outcome, error_code=code, error_detail=detail)


def _like(template: SendResult, recipient: EmailRecipient) -> SendResult:
    """A copy of ``template`` for one recipient."""
    return SendResult(
        recipient.message_id,
        template.outcome,
        error_code=template.error_code,
        error_detail=template.error_detail,
        retry_after=template.retry_after,
    )
