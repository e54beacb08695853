"""Fake SendGrid and Twilio APIs on one local port, for tests, demos and benchmarks.

Answers like the real services for the calls Outreach makes:

* ``POST /v3/mail/send`` (JSON): 202 with an ``X-Message-Id`` header and an empty body; a
  malformed request gets 400 ``{"errors": [{"message", "field"}]}`` like SendGrid.
* ``POST /2010-04-01/Accounts/{sid}/Messages.json`` (form): 201 with a Message resource
  (``sid`` "SM" + 32 hex, ``status`` "queued"); errors use Twilio codes (21610 opted out,
  21211 invalid number, 21614 not a mobile number, 20429 too many requests).
* ``GET /2010-04-01/Accounts/{sid}/Messages.json``: the Message list, newest first, filtered
  by ``To`` and ``DateSent>`` (on or after that day), paged by ``PageSize`` and
  ``PageToken`` with ``next_page_uri`` like Twilio's (accepted texts count as sent at once;
  ``fail_next(api="sms_list")`` scripts its failures, ``list_hidden`` hides texts from it).
* ``GET /_stats``: counters as JSON; ``GET /_timeline``: arrival times of accepted texts and
  Mail Send requests; ``GET /_email_ids``: accepted email message ids; ``GET /_sms_ids``:
  the outbox ids (``mid`` of the StatusCallback) of accepted texts; ``GET /_email_events``:
  the Event Webhook events SendGrid would post for every accepted personalization
  (``?kinds=processed,delivered``; see :meth:`FakeProviders.email_events`); ``POST
  /_reset``; ``POST /_configure`` (JSON body with the keyword arguments of
  :meth:`FakeProviders.configure`).

Every accepted message is recorded in memory so tests can count duplicates. Latency and
random 429 / 5xx answers (seeded) are configurable; ``fail_next`` scripts exact failures.
Two faults model a request that *was* accepted but whose answer the client never sees
properly: ``slow_rate`` (answered after ``slow_latency``: a client read timeout) and
``accepted_error_rate`` (a gateway ``accepted_error_status``, 504 by default). Retrying
either duplicates the message, which the counters show.

Run standalone: ``python -m tests.fakes.providers --port 8025 --latency 0.005``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import json
import random
import re
import secrets
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

_TWILIO_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9A-Za-z]+)/Messages\.json$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_JSON = "application/json"
_SETS = {"opted_out", "invalid_numbers", "landlines", "bad_addresses", "list_hidden"}


@dataclass
class Behaviour:
    """How the fake answers; change it with :meth:`FakeProviders.configure`."""

    latency: float = 0.0  # seconds slept before every answer (after recording)
    error_429_rate: float = 0.0  # share of requests answered 429 (with Retry-After)
    error_5xx_rate: float = 0.0  # share of requests answered 5xx
    error_5xx_status: int = 500
    retry_after: float = 1.0  # the Retry-After value sent with a 429
    seed: int = 0
    opted_out: frozenset[str] = frozenset()  # Twilio 21610
    invalid_numbers: frozenset[str] = frozenset()  # Twilio 21211 (also any non-E.164 To)
    landlines: frozenset[str] = frozenset()  # Twilio 21614
    bad_addresses: frozenset[str] = frozenset()  # SendGrid 400 for that personalization
    sendgrid_api_key: str | None = None  # when set, any other key gets 401
    twilio_auth_token: str | None = None  # when set, any other token gets 401 (20003)
    keep_bodies: bool = False  # keep each accepted SendGrid body in ``email_bodies``
    slow_rate: float = 0.0  # share of accepted requests answered after ``slow_latency``
    slow_latency: float = 0.0
    accepted_error_rate: float = 0.0  # share of accepted requests answered with ...
    accepted_error_status: int = 504  # ... this gateway error (the message still went)
    list_hidden: frozenset[str] = frozenset()  # numbers whose texts the Message list omits
    clock_offset: float = 0.0  # seconds added to the fake's clock (a test's frozen time)


@dataclass
class _Scripted:
    status: int
    api: str | None
    retry_after: float | None


@dataclass
class _Records:
    sent_email_ids: list[int] = field(default_factory=list)
    email_requests: list[int] = field(default_factory=list)
    email_bodies: list[dict[str, Any]] = field(default_factory=list)
    sent_sms: list[dict[str, Any]] = field(default_factory=list)
    sms_times: list[float] = field(default_factory=list)
    email_times: list[tuple[float, int]] = field(default_factory=list)
    # (message_id, request_id, email, X-Message-Id, epoch seconds) per accepted personalization
    email_accepted: list[tuple[int, str | None, str, str, float]] = field(default_factory=list)
    sms_by_to: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # list look-ups
    errors_429: int = 0
    errors_5xx: int = 0
    rejected: int = 0


class FakeProviders:
    """A threaded local HTTP server that behaves like SendGrid and Twilio."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **behaviour: Any) -> None:
        self.host = host
        self.port = port
        self._initial = _behaviour(Behaviour(), behaviour)
        self.behaviour = self._initial
        self._rng = random.Random(self.behaviour.seed)
        self._lock = threading.Lock()
        self._records = _Records()
        self._script: deque[_Scripted] = deque()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> str:
        """Bind, serve in a daemon thread and return the base URL."""
        if self._server is not None:
            return self.base_url
        server = _Server((self.host, self.port), _Handler)
        server.fake = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )
        self._thread.name = f"fake-providers-{self.port}"
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and drop open connections."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeProviders:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server."""
        return f"http://{self.host}:{self.port}"

    # -- behaviour ---------------------------------------------------------------------

    def configure(self, **changes: Any) -> None:
        """Change behaviour (see :class:`Behaviour` for the keyword names)."""
        with self._lock:
            self.behaviour = _behaviour(self.behaviour, changes)
            if "seed" in changes:
                self._rng = random.Random(self.behaviour.seed)

    def fail_next(
        self, count: int = 1, status: int = 429, api: str | None = None, retry_after: float = 1.0
    ) -> None:
        """Answer the next ``count`` requests of ``api`` ("email", "sms", None: any) so."""
        with self._lock:
            for _ in range(count):
                self._script.append(_Scripted(status, api, retry_after))

    def reset(self) -> None:
        """Forget every record and scripted failure; restore the constructor's behaviour."""
        with self._lock:
            self._records = _Records()
            self._script.clear()
            self.behaviour = self._initial
            self._rng = random.Random(self.behaviour.seed)

    # -- records -----------------------------------------------------------------------

    @property
    def sent_email_ids(self) -> list[int]:
        """``custom_args.message_id`` of every accepted personalization, in arrival order."""
        return self._records.sent_email_ids

    @property
    def email_requests(self) -> list[int]:
        """Number of personalizations of each accepted Mail Send request."""
        return self._records.email_requests

    @property
    def email_bodies(self) -> list[dict[str, Any]]:
        """Accepted Mail Send bodies (only with ``keep_bodies=True``)."""
        return self._records.email_bodies

    @property
    def sent_sms(self) -> list[dict[str, Any]]:
        """Accepted messages: sid, to, body, from, messaging_service_sid, status_callback."""
        return self._records.sent_sms

    @property
    def sent_sms_ids(self) -> list[int]:
        """Outbox ids of accepted texts (``mid`` of their StatusCallback), in arrival order;
        texts without one are left out."""
        with self._lock:
            texts = list(self._records.sent_sms)
        ids = []
        for text in texts:
            query = urlsplit(text.get("status_callback") or "").query
            mid = parse_qs(query).get("mid", [""])[0]
            if mid.isdigit():
                ids.append(int(mid))
        return ids

    def email_events(self, kinds: Sequence[str] = ("processed", "delivered")) -> list[dict]:
        """The Event Webhook events SendGrid would post for every accepted personalization,
        in arrival order: one of each of ``kinds`` ("processed", "delivered"), with the
        personalization's ``custom_args`` (``message_id``, ``request_id``) at the top level as
        SendGrid puts them. Event ids are stable, so posting them twice is a webhook retry."""
        with self._lock:
            accepted = list(self._records.email_accepted)
        events = []
        for n, (message_id, request_id, email, x_message_id, at) in enumerate(accepted):
            for kind in kinds:
                event: dict[str, Any] = {
                    "email": email,
                    "timestamp": int(at) + (kind == "delivered"),
                    "smtp-id": f"<{x_message_id}@ismtpd-fake>",
                    "event": kind,
                    "category": ["outreach"],
                    "sg_event_id": f"{kind[:4]}-{x_message_id}-{n}",
                    "sg_message_id": f"{x_message_id}.filterdrecv-fake-{n}.0",
                    "message_id": str(message_id),
                }
                if request_id is not None:
                    event["request_id"] = request_id
                if kind == "delivered":
                    event.update(response="250 2.0.0 OK", ip="127.0.0.1", tls=1)
                events.append(event)
        return events

    def timeline(self) -> dict[str, list]:
        """Arrival times (``time.monotonic``) of accepted texts and of Mail Send requests
        (with their personalization count)."""
        with self._lock:
            return {
                "sms": list(self._records.sms_times),
                "email": [list(item) for item in self._records.email_times],
            }

    def stats(self) -> dict[str, int]:
        """Counters, including duplicates (same email message_id; same SMS To + Body)."""
        with self._lock:
            records = self._records
            emails = len(records.sent_email_ids)
            sms = len(records.sent_sms)
            unique_sms = len({(m["to"], m["body"]) for m in records.sent_sms})
            return {
                "email_requests": len(records.email_requests),
                "emails": emails,
                "duplicate_emails": emails - len(set(records.sent_email_ids)),
                "sms": sms,
                "duplicate_sms": sms - unique_sms,
                "errors_429": records.errors_429,
                "errors_5xx": records.errors_5xx,
                "rejected": records.rejected,
            }

    # -- answering (called from handler threads) ----------------------------------------

    def _injected_failure(self, api: str) -> tuple[int, float | None] | None:
        """A scripted or random 429 / 5xx for this request, if any."""
        with self._lock:
            for index, scripted in enumerate(self._script):
                if scripted.api in (None, api):
                    del self._script[index]
                    failure: tuple[int, float | None] = (scripted.status, scripted.retry_after)
                    break
            else:
                behaviour = self.behaviour
                if not (behaviour.error_429_rate or behaviour.error_5xx_rate):
                    return None
                draw = self._rng.random()
                if draw < behaviour.error_429_rate:
                    failure = (429, behaviour.retry_after)
                elif draw < behaviour.error_429_rate + behaviour.error_5xx_rate:
                    failure = (behaviour.error_5xx_status, None)
                else:
                    return None
            if failure[0] == 429:
                self._records.errors_429 += 1
            elif failure[0] >= 500:
                self._records.errors_5xx += 1
            else:
                self._records.rejected += 1
            return failure

    def _after_accept(self, api: str) -> tuple[int, float]:
        """(gateway error status or 0, extra delay) for a request that was just accepted."""
        behaviour = self.behaviour
        if not (behaviour.accepted_error_rate or behaviour.slow_rate):
            return 0, 0.0
        with self._lock:
            draw = self._rng.random()
        if draw < behaviour.accepted_error_rate:
            with self._lock:
                self._records.errors_5xx += 1
            return behaviour.accepted_error_status, 0.0
        if draw < behaviour.accepted_error_rate + behaviour.slow_rate:
            return 0, behaviour.slow_latency
        return 0, 0.0

    def _count_rejected(self) -> None:
        with self._lock:
            self._records.rejected += 1

    def sendgrid(self, headers: Any, raw: bytes) -> tuple[int, bytes, list[tuple[str, str]]]:
        """Answer one Mail Send request."""
        behaviour = self.behaviour
        auth = headers.get("Authorization") or ""
        if not auth.startswith("Bearer ") or (
            behaviour.sendgrid_api_key is not None and auth[7:] != behaviour.sendgrid_api_key
        ):
            self._count_rejected()
            return _sg_error(
                401, "The provided authorization grant is invalid, expired, or revoked"
            )
        failure = self._injected_failure("email")
        if failure is not None:
            status, retry_after = failure
            extra = [("Retry-After", _number(retry_after))] if retry_after is not None else []
            message = "too many requests" if status == 429 else "internal server error"
            return _sg_error(status, message, extra=extra)
        try:
            payload = json.loads(raw)
        except ValueError:
            self._count_rejected()
            return _sg_error(400, "Bad Request")
        problem, ids = _check_mail(payload, behaviour.bad_addresses)
        if problem is not None:
            self._count_rejected()
            return _sg_error(400, problem[1], problem[0])
        x_message_id = secrets.token_urlsafe(16)[:22]
        accepted_at = time.time() + behaviour.clock_offset
        accepted = [
            (
                message_id,
                item["custom_args"].get("request_id"),
                item["to"][0]["email"],
                x_message_id,
                accepted_at,
            )
            for message_id, item in zip(ids, payload["personalizations"], strict=True)
        ]
        with self._lock:
            records = self._records
            records.sent_email_ids.extend(ids)
            records.email_accepted.extend(accepted)
            records.email_requests.append(len(ids))
            records.email_times.append((time.monotonic(), len(ids)))
            if behaviour.keep_bodies:
                records.email_bodies.append(payload)
        status, delay = self._after_accept("email")
        if delay:
            time.sleep(delay)
        if status:
            return _sg_error(status, "gateway timeout")
        return 202, b"", [("X-Message-Id", x_message_id)]

    def twilio(
        self, account_sid: str, headers: Any, raw: bytes
    ) -> tuple[int, bytes, list[tuple[str, str]]]:
        """Answer one Messages create request."""
        behaviour = self.behaviour
        if not _basic_auth_ok(headers.get("Authorization"), account_sid, behaviour):
            self._count_rejected()
            return _tw_error(401, 20003, "Authenticate")
        failure = self._injected_failure("sms")
        if failure is not None:
            status, retry_after = failure
            extra = [("Retry-After", _number(retry_after))] if retry_after is not None else []
            if status == 429:
                return _tw_error(429, 20429, "Too Many Requests", extra)
            return _tw_error(status, 20500, "An internal server error has occurred", extra)
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
        to, body = form.get("To"), form.get("Body")
        problem: tuple[int, str] | None = None
        if not to:
            problem = (21604, "A 'To' phone number is required.")
        elif not body:
            problem = (21602, "Message body is required.")
        elif not (form.get("From") or form.get("MessagingServiceSid")):
            problem = (21603, "A 'From' phone number is required.")
        elif to in behaviour.opted_out:
            problem = (21610, "Attempt to send to unsubscribed recipient")
        elif to in behaviour.invalid_numbers or not _E164.match(to):
            problem = (21211, "Invalid 'To' Phone Number")
        elif to in behaviour.landlines:
            problem = (21614, "'To' number is not a valid mobile number")
        if problem is not None:
            self._count_rejected()
            return _tw_error(400, problem[0], problem[1])
        sid = "SM" + uuid.uuid4().hex
        created = time.time() + behaviour.clock_offset
        record = {
            "date_created": formatdate(created, usegmt=True).replace("GMT", "+0000"),
            "created": created,
            "account_sid": account_sid,
            "sid": sid,
            "to": to,
            "body": body,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "status_callback": form.get("StatusCallback"),
        }
        with self._lock:
            self._records.sent_sms.append(record)
            self._records.sms_by_to.setdefault(to, []).append(record)
            self._records.sms_times.append(time.monotonic())
        status, delay = self._after_accept("sms")
        if delay:
            time.sleep(delay)
        if status:
            return _tw_error(status, 20500, "gateway timeout")
        return 201, json.dumps(_tw_message(record, sent=False)).encode(), []

    def twilio_list(
        self, account_sid: str, headers: Any, query: str
    ) -> tuple[int, bytes, list[tuple[str, str]]]:
        """Answer one Message list request (newest first, paged by PageToken)."""
        if not _basic_auth_ok(headers.get("Authorization"), account_sid, self.behaviour):
            return _tw_error(401, 20003, "Authenticate")
        failure = self._injected_failure("sms_list")
        if failure is not None:
            return _tw_error(failure[0], 20500, "An internal server error has occurred")
        params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        to, after = params.get("To"), params.get("DateSent>", "")
        since = _day_start(after)
        hidden = self.behaviour.list_hidden
        with self._lock:
            candidates = self._records.sms_by_to.get(to, []) if to else self._records.sent_sms
            found = [
                m
                for m in reversed(candidates)
                if m.get("account_sid") == account_sid
                and (not to or m["to"] == to)
                and m["to"] not in hidden
                and float(m.get("created") or 0) >= since
            ]
        size = max(1, min(1000, int(params.get("PageSize") or 50)))
        start = int(params.get("PageToken", "PA0")[2:] or 0)
        page = found[start : start + size]
        base = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
        keep = {k: v for k, v in params.items() if k not in ("Page", "PageToken")}
        number = start // size
        next_uri = None
        if start + size < len(found):
            next_query = urlencode({**keep, "Page": number + 1, "PageToken": f"PA{start + size}"})
            next_uri = f"{base}?{next_query}"
        listing = {
            "messages": [_tw_message(m, sent=True) for m in page],
            "page": number,
            "page_size": size,
            "start": start,
            "end": start + len(page) - 1,
            "uri": f"{base}?{urlencode(params)}",
            "first_page_uri": f"{base}?{urlencode({**keep, 'Page': 0})}",
            "next_page_uri": next_uri,
            "previous_page_uri": None,
        }
        return 200, json.dumps(listing).encode(), []


def _day_start(value: str) -> float:
    """Epoch seconds of the start of a ``YYYY-MM-DD[Thh:mm:ssZ]`` day (0 when empty)."""
    if not value:
        return 0.0
    day = datetime.strptime(value[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    return day.timestamp()


def _tw_message(record: dict[str, Any], *, sent: bool) -> dict[str, Any]:
    """A Message resource for an accepted text (``sent``: as listed later, with date_sent)."""
    sid, account_sid = record["sid"], record["account_sid"]
    return {
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": record["body"],
        "date_created": record["date_created"],
        "date_sent": record["date_created"] if sent else None,
        "date_updated": record["date_created"],
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": record["from"],
        "messaging_service_sid": record["messaging_service_sid"],
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "sent" if sent else "queued",
        "to": record["to"],
        "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
    }


def _behaviour(current: Behaviour, changes: dict[str, Any]) -> Behaviour:
    known = {f.name for f in fields(Behaviour)}
    unknown = set(changes) - known
    if unknown:
        raise TypeError(f"unknown fake provider settings: {sorted(unknown)}")
    converted = dict(changes)
    for key in _SETS & set(changes):
        value = changes[key]
        if isinstance(value, str):
            value = [value]
        converted[key] = frozenset(value) if isinstance(value, Iterable) else frozenset()
    return replace(current, **converted)


def _number(value: float | None) -> str:
    if value is None:
        return "1"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _sg_error(
    status: int, message: str, field_name: str | None = None, extra: Sequence[tuple[str, str]] = ()
) -> tuple[int, bytes, list[tuple[str, str]]]:
    body = {"errors": [{"message": message, "field": field_name, "help": None}]}
    return status, json.dumps(body).encode(), list(extra)


def _tw_error(
    status: int, code: int, message: str, extra: Sequence[tuple[str, str]] = ()
) -> tuple[int, bytes, list[tuple[str, str]]]:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return status, json.dumps(body).encode(), list(extra)


def _basic_auth_ok(header: str | None, account_sid: str, behaviour: Behaviour) -> bool:
    if not header or not header.startswith("Basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    if not user or not password:
        return False
    if behaviour.twilio_auth_token is None:
        return True
    return user == account_sid and password == behaviour.twilio_auth_token


def _check_mail(
    payload: Any, bad_addresses: frozenset[str]
) -> tuple[tuple[str | None, str] | None, list[int]]:
    """Basic SendGrid validation: ((field, message) or None, message ids)."""
    if not isinstance(payload, dict):
        return (None, "Bad Request"), []
    personalizations = payload.get("personalizations")
    if not isinstance(personalizations, list) or not 1 <= len(personalizations) <= 1000:
        return (
            "personalizations",
            "The personalizations field is required and must have at least one "
            "personalization, and at most 1000.",
        ), []
    sender = payload.get("from")
    if not isinstance(sender, dict) or "@" not in str(sender.get("email", "")):
        return ("from.email", "The from email does not contain a valid address."), []
    content = payload.get("content")
    if not isinstance(content, list) or not content:
        return (
            "content",
            "Unless a valid template_id is provided, the content parameter is "
            "required. There must be at least one defined content block.",
        ), []
    top_subject = bool(payload.get("subject"))
    ids: list[int] = []
    for index, item in enumerate(personalizations):
        to = item.get("to") if isinstance(item, dict) else None
        if not isinstance(to, list) or not to:
            return (
                f"personalizations.{index}.to",
                "The to array is required for all personalization objects, and must have at "
                "least one email object with a valid email address.",
            ), []
        for position, address in enumerate(to):
            email = address.get("email") if isinstance(address, dict) else None
            if not isinstance(email, str) or "@" not in email or email in bad_addresses:
                return (
                    f"personalizations.{index}.to.{position}.email",
                    "Does not contain a valid address.",
                ), []
        custom_args = item.get("custom_args")
        message_id = custom_args.get("message_id") if isinstance(custom_args, dict) else None
        if not isinstance(message_id, str) or not message_id.isdigit():
            return (
                f"personalizations.{index}.custom_args.message_id",
                "custom_args.message_id is required (a string of digits) in this fake.",
            ), []
        if not top_subject and not item.get("subject"):
            return (
                "subject",
                "The subject is required. You can get around this requirement "
                "if you use a template with a subject defined.",
            ), []
        ids.append(int(message_id))
    return None, ids


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    fake: FakeProviders

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client gives up (a timeout test); report anything else."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeProviders/1"
    disable_nagle_algorithm = True
    timeout = 120
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines carry account ids and the fake is used at high rates."""

    def _reply(
        self,
        status: int,
        body: bytes = b"",
        headers: Sequence[tuple[str, str]] = (),
        content_type: str = _JSON,
    ) -> None:
        """Write status line, headers and body in one send (no Nagle / delayed-ACK stalls)."""
        lines = [
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
            f"Content-Length: {len(body)}",
        ]
        if body:
            lines.append(f"Content-Type: {content_type}")
        lines.extend(f"{name}: {value}" for name, value in headers)
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if length is None:
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
                self._reply(411, b'{"message": "Content-Length required"}')
                return None
            return b""
        return self.rfile.read(int(length))

    def do_POST(self) -> None:
        raw = self._body()
        if raw is None:
            return
        fake = self.server.fake
        path = urlsplit(self.path).path
        if path == "/v3/mail/send":
            status, body, headers = fake.sendgrid(self.headers, raw)
        elif (match := _TWILIO_PATH.match(path)) is not None:
            status, body, headers = fake.twilio(match.group(1), self.headers, raw)
        elif path == "/_reset":
            fake.reset()
            status, body, headers = 200, b'{"ok": true}', []
        elif path == "/_configure":
            try:
                fake.configure(**json.loads(raw or b"{}"))
            except (TypeError, ValueError) as exc:
                status, body, headers = 400, json.dumps({"error": str(exc)}).encode(), []
            else:
                status, body, headers = 200, b'{"ok": true}', []
        else:
            status, body, headers = 404, b'{"message": "not found"}', []
        latency = fake.behaviour.latency
        if latency > 0 and not path.startswith("/_"):
            time.sleep(latency)
        self._reply(status, body, headers)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        fake = self.server.fake
        if (match := _TWILIO_PATH.match(path)) is not None:
            self._reply(*fake.twilio_list(match.group(1), self.headers, parts.query))
        elif path == "/_stats":
            self._reply(200, json.dumps(fake.stats()).encode())
        elif path == "/_timeline":
            self._reply(200, json.dumps(fake.timeline()).encode())
        elif path == "/_email_ids":
            with fake._lock:
                ids = list(fake.sent_email_ids)
            self._reply(200, json.dumps(ids).encode())
        elif path == "/_sms_ids":
            self._reply(200, json.dumps(fake.sent_sms_ids).encode())
        elif path == "/_email_events":
            kinds = parse_qs(parts.query).get("kinds", ["processed,delivered"])[0]
            events = fake.email_events([k for k in kinds.split(",") if k])
            self._reply(200, json.dumps(events).encode())
        else:
            self._reply(404, b'{"message": "not found"}')


def main(argv: list[str] | None = None) -> None:
    """Run the fake providers in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    parser.add_argument("--error-429-rate", type=float, default=0.0)
    parser.add_argument("--error-5xx-rate", type=float, default=0.0)
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--opted-out", default="", help="comma-separated numbers (21610)")
    args = parser.parse_args(argv)
    fake = FakeProviders(
        args.host,
        args.port,
        latency=args.latency,
        error_429_rate=args.error_429_rate,
        error_5xx_rate=args.error_5xx_rate,
        retry_after=args.retry_after,
        seed=args.seed,
        opted_out={n.strip() for n in args.opted_out.split(",") if n.strip()},
    )
    url = fake.start()
    print(f"fake providers listening on {url}", flush=True)
    print(f"  SENDGRID_API_HOST={url}  TWILIO_API_BASE={url}  stats: {url}/_stats", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
