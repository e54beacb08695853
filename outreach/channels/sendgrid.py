"""SendGrid v3 Mail Send channel: one request per up to 1000 personalizations.

The ``sendgrid`` library supplies the API host and the default request headers
(Bearer auth, User-Agent, Accept). Its own transport (``python_http_client``) opens a new
urllib connection for every call, so the requests themselves go through one pooled
``requests.Session`` that keeps connections alive between batches.

Result mapping, per request (every recipient of a request shares its fate):

* 202: ``SENT``, ``provider_id`` = the ``X-Message-Id`` response header.
* 429, 500, 503 and other 5xx, connection refused / connect timeout: retried here with
  exponential backoff honouring ``Retry-After``; after ``max_retries`` retries: ``RETRY``
  with ``retry_after``.
* 502 / 504 (a gateway lost or timed out waiting for the answer), a read timeout, or a
  connection lost after the request went out: ``UNKNOWN``. The mail may have been accepted
  and SendGrid has no idempotency key, so it is never re-sent blindly (at-most-once);
  the event webhook (``custom_args.message_id``) reconciles the row.
* 400: the personalizations named in ``errors[].field`` fail and the rest are sent again;
  otherwise the whole request fails with the ``errors[].message`` text.
* 401 / 403: ``FAILED`` with a clear detail; the rest of the batch is not attempted.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Sequence

import requests
import sendgrid
from requests.adapters import HTTPAdapter

from outreach.channels.base import EmailBatch, EmailRecipient, Outcome, SendResult
from outreach.channels.http import MAYBE_SENT_STATUSES, parse_retry_after, reached_server

log = logging.getLogger(__name__)

_SEPARATORS = (",", ":")
_FIELD_INDEX = re.compile(r"^personalizations\.(\d+)(?:\.|$)")
_MAX_CATEGORIES = 10
_MAX_CATEGORY_LENGTH = 255
_MAX_400_ROUNDS = 5


def _request_part(
    chunk: list[tuple[EmailRecipient, str]], request_id: str, part: str
) -> list[tuple[EmailRecipient, str]]:
    """The chunk with ``request_id`` made ``<request_id>/<part>`` in every personalization:
    one batch sent in several requests, each atomic on its own."""
    old = _dumps({"request_id": request_id})[1:-1]
    new = _dumps({"request_id": f"{request_id}/{part}"})[1:-1]
    return [(recipient, text.replace(old, new, 1)) for recipient, text in chunk]


def _split_request(
    chunk: list[tuple[EmailRecipient, str]], half: int
) -> list[tuple[EmailRecipient, str]]:
    """A half of a request SendGrid found too large (413): a request of its own."""
    if not chunk:
        return chunk
    current = json.loads(chunk[0][1]).get("custom_args", {}).get("request_id")
    return _request_part(chunk, current, str(half)) if current else chunk


def _dumps(value: object) -> str:
    """Compact ASCII JSON: its length is its size in bytes."""
    return json.dumps(value, separators=_SEPARATORS)


class SendGridChannel:
    """Sends :class:`EmailBatch` objects through SendGrid's v3 Mail Send API."""

    name = "sendgrid"
    #: At most this many personalizations (one ``to`` each) per request.
    max_personalizations: int = 1000
    #: Every request body stays strictly under this many bytes (SendGrid: 30 MB).
    max_request_bytes: int = 30_000_000
    #: First backoff delay in seconds; doubles on each retry (with jitter), capped.
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    #: A wait longer than this is not slept here: the batch returns RETRY at once.
    max_wait: float = 60.0

    def __init__(
        self,
        api_key: str,
        api_host: str = "https://api.sendgrid.com",
        timeout: float = 30.0,
        max_retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise ValueError("SendGridChannel needs an API key (SENDGRID_API_KEY)")
        client = sendgrid.SendGridAPIClient(api_key, host=api_host)
        self.url = f"{client.host.rstrip('/')}/v3/mail/send"
        self.timeout = timeout
        self.max_retries = max_retries
        self._sleep = sleep
        self._session = requests.Session()
        self._session.headers.update(client.client.request_headers)
        self._session.headers["Content-Type"] = "application/json"
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def __repr__(self) -> str:
        return f"SendGridChannel(url={self.url!r})"

    def close(self) -> None:
        """Close pooled connections."""
        self._session.close()

    # -- building requests -------------------------------------------------------------

    @staticmethod
    def personalization(
        recipient: EmailRecipient, request_id: str | None = None
    ) -> dict[str, object]:
        """The personalization object for one recipient (``custom_args``: our message id
        and, when given, the request id; never personal data)."""
        item: dict[str, object] = {"to": [{"email": recipient.to}]}
        if recipient.substitutions:
            item["substitutions"] = {k: str(v) for k, v in recipient.substitutions.items()}
        if recipient.headers:
            item["headers"] = dict(recipient.headers)
        custom_args = {"message_id": str(recipient.message_id)}
        if request_id:
            custom_args["request_id"] = request_id
        item["custom_args"] = custom_args
        return item

    @staticmethod
    def common_fields(batch: EmailBatch) -> dict[str, object]:
        """Top-level fields shared by every personalization of a batch."""
        sender: dict[str, str] = {"email": batch.from_email}
        if batch.from_name:
            sender["name"] = batch.from_name
        content = [
            {"type": kind, "value": value}
            for kind, value in (("text/plain", batch.text), ("text/html", batch.html))
            if value
        ]
        body: dict[str, object] = {"from": sender, "subject": batch.subject, "content": content}
        categories = list(dict.fromkeys(c[:_MAX_CATEGORY_LENGTH] for c in batch.categories if c))
        if len(categories) > _MAX_CATEGORIES:
            log.warning(
                "sendgrid: %d categories given, only the first %d are sent",
                len(categories),
                _MAX_CATEGORIES,
            )
            categories = categories[:_MAX_CATEGORIES]
        if categories:
            body["categories"] = categories
        if batch.reply_to:
            body["reply_to"] = {"email": batch.reply_to}
        # Always explicit, so the account's own defaults never decide for us.
        body["tracking_settings"] = {
            "open_tracking": {"enable": batch.open_tracking},
            "click_tracking": {"enable": batch.click_tracking, "enable_text": batch.click_tracking},
        }
        return body

    def _chunks(
        self, items: Sequence[tuple[EmailRecipient, str]], overhead: int
    ) -> list[list[tuple[EmailRecipient, str]]]:
        """Split (recipient, personalization JSON) pairs by count and by body size."""
        chunks: list[list[tuple[EmailRecipient, str]]] = []
        current: list[tuple[EmailRecipient, str]] = []
        size = overhead
        for item in items:
            extra = len(item[1]) + (1 if current else 0)
            if current and (
                len(current) >= self.max_personalizations or size + extra >= self.max_request_bytes
            ):
                chunks.append(current)
                current, size, extra = [], overhead, len(item[1])
            current.append(item)
            size += extra
        if current:
            chunks.append(current)
        return chunks

    # -- sending -----------------------------------------------------------------------

    def send_batch(self, batch: EmailBatch) -> list[SendResult]:
        """Send one batch in as few requests as the limits allow; one result per recipient."""
        if not batch.recipients:
            return []
        if not batch.subject or not (batch.text or batch.html):
            detail = "email has no subject" if not batch.subject else "email has no content"
            return [
                _result(r, Outcome.FAILED, code="invalid", detail=detail) for r in batch.recipients
            ]

        common = _dumps(self.common_fields(batch))
        prefix, suffix = '{"personalizations":[', "]," + common[1:]
        overhead = len(prefix) + len(suffix)

        results: list[SendResult] = []
        items: list[tuple[EmailRecipient, str]] = []
        texts = batch.personalizations or [
            _dumps(self.personalization(r, batch.request_id)) for r in batch.recipients
        ]
        for recipient, text in zip(batch.recipients, texts, strict=True):
            if overhead + len(text) >= self.max_request_bytes:
                results.append(
                    _result(recipient, Outcome.FAILED, code="too_large", detail="email too large")
                )
            else:
                items.append((recipient, text))

        chunks = self._chunks(items, overhead)
        if len(chunks) > 1 and batch.request_id:
            chunks = [
                _request_part(chunk, batch.request_id, str(n)) for n, chunk in enumerate(chunks, 1)
            ]
        stop: SendResult | None = None  # set when later requests would fare no better
        for chunk in chunks:
            if stop is not None:
                results.extend(_like(stop, r) for r, _ in chunk)
                continue
            chunk_results, stop = self._send_chunk(chunk, prefix, suffix)
            results.extend(chunk_results)
        return results

    def _send_chunk(
        self, chunk: list[tuple[EmailRecipient, str]], prefix: str, suffix: str
    ) -> tuple[list[SendResult], SendResult | None]:
        """Send one request (retrying as needed).

        Returns the results and, when the rest of the batch should not be attempted, the
        result to give the recipients that were not tried.
        """
        results: list[SendResult] = []
        pending = chunk
        for _ in range(_MAX_400_ROUNDS):
            body = (prefix + ",".join(text for _, text in pending) + suffix).encode("ascii")
            response = self._post(body, len(pending))
            if isinstance(response, SendResult):  # gave up: RETRY or UNKNOWN
                results.extend(_like(response, r) for r, _ in pending)
                return results, _not_attempted(response)
            status = response.status_code
            if 200 <= status < 300:
                provider_id = response.headers.get("X-Message-Id")
                results.extend(
                    _result(r, Outcome.SENT, provider_id=provider_id) for r, _ in pending
                )
                return results, None
            errors = _errors(response)
            reasons = "; ".join(dict.fromkeys(message for _, message in errors))
            if status in (401, 403):
                hint = (
                    "SendGrid rejected the API key (check SENDGRID_API_KEY)"
                    if status == 401
                    else "SendGrid refused the request (API key scope or unverified sender)"
                )
                failed = SendResult(
                    0,
                    Outcome.FAILED,
                    error_code=str(status),
                    error_detail=f"{hint}: {reasons}" if reasons else hint,
                )
                log.error("sendgrid: %s", hint)
                results.extend(_like(failed, r) for r, _ in pending)
                return results, failed
            if status == 413 and len(pending) > 1:
                half = len(pending) // 2
                stop: SendResult | None = None
                halves = (pending[:half], pending[half:])
                for n, part in enumerate(halves, 1):
                    part = _split_request(part, n)
                    if stop is not None:
                        results.extend(_like(stop, r) for r, _ in part)
                        continue
                    part_results, stop = self._send_chunk(part, prefix, suffix)
                    results.extend(part_results)
                return results, stop
            if status == 400:
                bad = _bad_indexes(errors, len(pending))
                if bad and len(bad) < len(pending):
                    log.warning(
                        "sendgrid: 400 for %d of %d personalizations; sending the rest again",
                        len(bad),
                        len(pending),
                    )
                    for index, message in bad.items():
                        results.append(
                            _result(pending[index][0], Outcome.FAILED, code="400", detail=message)
                        )
                    pending = [item for i, item in enumerate(pending) if i not in bad]
                    continue
            detail = f"SendGrid answered {status}" + (f": {reasons}" if reasons else "")
            log.warning("sendgrid: %d for a request of %d personalizations", status, len(pending))
            results.extend(
                _result(r, Outcome.FAILED, code=str(status), detail=detail) for r, _ in pending
            )
            return results, None
        detail = "SendGrid kept rejecting personalizations of this request (400)"
        results.extend(_result(r, Outcome.FAILED, code="400", detail=detail) for r, _ in pending)
        return results, None

    def _post(self, body: bytes, count: int) -> requests.Response | SendResult:
        """POST one body; retry 429 / 5xx / connection failures.

        Returns the final response, or a template result (message_id 0) when giving up.
        """
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                response = self._session.post(
                    self.url,
                    data=body,
                    timeout=(min(self.timeout, 10.0), self.timeout),
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                if reached_server(exc):
                    log.warning(
                        "sendgrid: %s after sending %d personalizations; outcome unknown",
                        type(exc).__name__,
                        count,
                    )
                    return SendResult(
                        0,
                        Outcome.UNKNOWN,
                        error_code="timeout"
                        if isinstance(exc, requests.exceptions.Timeout)
                        else "connection",
                        error_detail=f"no answer from SendGrid ({type(exc).__name__}); "
                        "the request may have been accepted",
                    )
                code, detail = "connection", f"could not reach SendGrid ({type(exc).__name__})"
            else:
                status = response.status_code
                if status != 429 and status < 500:
                    return response
                if status in MAYBE_SENT_STATUSES:
                    log.warning(
                        "sendgrid: %d after sending %d personalizations; outcome unknown",
                        status,
                        count,
                    )
                    return SendResult(
                        0,
                        Outcome.UNKNOWN,
                        error_code=str(status),
                        error_detail=f"SendGrid's gateway answered {status}; "
                        "the request may have been accepted",
                    )
                retry_after = parse_retry_after(response.headers)
                code, detail = str(status), f"SendGrid answered {status}"
                reasons = "; ".join(dict.fromkeys(message for _, message in _errors(response)))
                if reasons:
                    detail = f"{detail}: {reasons}"
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            if attempt >= self.max_retries or delay > self.max_wait:
                return SendResult(
                    0, Outcome.RETRY, error_code=code, error_detail=detail, retry_after=delay
                )
            log.warning(
                "sendgrid: %s for %d personalizations; retry %d/%d in %.2fs",
                code,
                count,
                attempt + 1,
                self.max_retries,
                delay,
            )
            self._sleep(delay)
            attempt += 1

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter (between half and all of the nominal delay)."""
        nominal = min(self.backoff_cap, self.backoff_base * (2**attempt))
        return nominal * (0.5 + random.random() / 2)


def _result(
    recipient: EmailRecipient,
    outcome: Outcome,
    *,
    provider_id: str | None = None,
    code: str | None = None,
    detail: str | None = None,
) -> SendResult:
    return SendResult(
        recipient.message_id,
        outcome,
        provider_id=provider_id,
        error_code=code,
        error_detail=detail,
    )


def _like(template: SendResult, recipient: EmailRecipient) -> SendResult:
    """A copy of ``template`` for one recipient."""
    return SendResult(
        recipient.message_id,
        template.outcome,
        provider_id=template.provider_id,
        error_code=template.error_code,
        error_detail=template.error_detail,
        retry_after=template.retry_after,
    )


def _not_attempted(stopped: SendResult) -> SendResult:
    """What recipients of later requests get once a request gave up."""
    if stopped.outcome is Outcome.RETRY:
        return stopped
    return SendResult(
        0,
        Outcome.RETRY,
        error_code="not_attempted",
        error_detail="not sent: an earlier request of this batch got no answer",
    )


def _errors(response: requests.Response) -> list[tuple[str, str]]:
    """(field, message) pairs of a SendGrid error body; empty when there are none."""
    try:
        payload = response.json()
    except ValueError:
        return []
    found = payload.get("errors") if isinstance(payload, dict) else None
    if not isinstance(found, list):
        return []
    return [
        (str(error.get("field") or ""), str(error.get("message") or "invalid request"))
        for error in found
        if isinstance(error, dict)
    ]


def _bad_indexes(errors: list[tuple[str, str]], count: int) -> dict[int, str]:
    """Personalizations named by every error, or {} when any error is not about one."""
    bad: dict[int, str] = {}
    for field, message in errors:
        match = _FIELD_INDEX.match(field)
        if match is None or int(match.group(1)) >= count:
            return {}
        index = int(match.group(1))
        bad[index] = f"{bad[index]}; {message}" if index in bad else message
    return bad
