"""Twilio Programmable Messaging channel: one request per text, concurrent and paced.

Uses the ``twilio`` library (``Client.api.v2010.accounts(sid).messages.create``). The
library's API domain is re-pointed at ``api_base`` (``TWILIO_API_BASE``) by setting
``client.api.base_url``; every Messages URL is built from it. Edge / region settings that
the library would read from the environment are cleared so the URL stays as configured.
Requests go through the library's ``http_client`` hook with a urllib3 transport of ours
(keep-alive pool, no transport retries, no per-request environment lookups, no request
logging), which more than doubles throughput compared with the default requests client.

Result mapping, per message:

* 201: ``SENT`` with the message sid.
* 429 / code 20429, 500, 503 and other 5xx, connection refused / connect timeout: retried
  here with exponential backoff honouring ``Retry-After``; after ``max_retries`` retries:
  ``RETRY``.
* 502 / 504 (a gateway lost or timed out waiting for the answer): ``UNKNOWN``, like a read
  timeout: Twilio may have queued the text, and it has no idempotency key.
* 21610: ``OPTED_OUT`` (never retried); 21211 / 21614: ``INVALID_NUMBER``.
* any other 4xx: ``FAILED`` with the Twilio code and message (401 stops the call).
* read timeout or a connection lost after sending: ``UNKNOWN``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import certifi
import requests
import urllib3
from twilio.base.exceptions import TwilioException
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.util import make_headers

from outreach.channels import twilio_lookup
from outreach.channels.base import Outcome, OutgoingSms, SendResult
from outreach.channels.http import MAYBE_SENT_STATUSES, parse_retry_after, reached_server

log = logging.getLogger(__name__)

OPTED_OUT_CODES = frozenset({21610})
INVALID_NUMBER_CODES = frozenset({21211, 21614})
RATE_LIMIT_CODES = frozenset({20429})
AUTH_CODES = frozenset({20003})


class Pacer:
    """Hands out send slots ``1 / rate`` seconds apart, shared by all threads.

    Slots follow a fixed schedule (each one ``interval`` after the previous), so thread
    wake-up jitter does not slow the long-run rate. A caller that comes at most
    ``catch_up`` seconds after its slot (a GC pause, a slow thread) still gets it, so
    short stalls are made up; after a longer gap (idle) the schedule restarts from now,
    so an idle pacer never banks credit for a burst.
    """

    catch_up: float = 0.1

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until this caller's slot comes."""
        with self._lock:
            now = self._clock()
            slot = self._next
            if slot < now - self.catch_up:
                slot = now
            self._next = slot + self.interval
        delay = slot - now
        if delay > 0:
            self._sleep(delay)


_pacers: dict[tuple[str, str, float], Pacer] = {}
_pacers_lock = threading.Lock()


def pacer_for(account_sid: str, sender: str, mps: float) -> Pacer:
    """The process-wide pacer of one sender, so every channel instance shares it."""
    key = (account_sid, sender, float(mps))
    with _pacers_lock:
        pacer = _pacers.get(key)
        if pacer is None:
            pacer = _pacers[key] = Pacer(mps)
        return pacer


class _HttpClient(HttpClient):
    """Transport for the twilio library (its ``http_client`` hook).

    One urllib3 pool sized for our threads (keep-alive), no transport retries, proxy and
    CA settings read once instead of on every call (requests re-reads os.environ per
    request: a quarter of the client's CPU per text), and each thread's last response
    headers kept because the library's exceptions drop them (``Retry-After``).
    """

    def __init__(self, base_url: str, pool_size: int, timeout: float) -> None:
        super().__init__(log, False, timeout)
        ca_certs = (
            os.environ.get("REQUESTS_CA_BUNDLE")
            or os.environ.get("CURL_CA_BUNDLE")
            or certifi.where()
        )
        options: dict[str, Any] = {
            "num_pools": 4,
            "maxsize": pool_size,
            "block": False,
            "retries": False,
            "timeout": urllib3.Timeout(connect=min(timeout, 10.0), read=timeout),
            "ca_certs": ca_certs,
        }
        proxy = requests.utils.get_environ_proxies(base_url).get(urlsplit(base_url).scheme)
        self._pool: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        )
        self._auth: tuple[tuple[str, str], dict[str, str]] | None = None
        self._local = threading.local()

    def _auth_headers(self, auth: tuple[str, str]) -> dict[str, str]:
        cached = self._auth
        if cached is None or cached[0] != auth:
            cached = self._auth = (auth, make_headers(basic_auth=f"{auth[0]}:{auth[1]}"))
        return cached[1]

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Make one HTTP request; raises urllib3 errors for transport failures."""
        all_headers = dict(headers or {})
        if auth is not None:
            all_headers.update(self._auth_headers(auth))
        if params:
            url = f"{url}?{urlencode(params, doseq=True)}"
        body: str | None = None
        if data is not None and method not in ("GET", "DELETE"):
            if all_headers.get("Content-Type", "").endswith("json"):
                body = json.dumps(data)
            else:
                body = urlencode(data, doseq=True)
        options: dict[str, Any] = {"redirect": allow_redirects}
        if timeout is not None:
            options["timeout"] = timeout
        self._local.headers = None
        response = self._pool.request(method, url, body=body, headers=all_headers, **options)
        self._local.headers = response.headers
        return Response(response.status, response.data.decode("utf-8", "replace"), response.headers)

    def last_headers(self) -> Mapping[str, str]:
        """Headers of this thread's last response (empty when there was none)."""
        return getattr(self._local, "headers", None) or {}

    def close(self) -> None:
        """Close pooled connections."""
        self._pool.clear()


#: A request slower than this went over a real network: use every allowed thread (one
#: sample's CPU time can be inflated by a first call or a GC pause; a batch sent on too few
#: threads would hold its consent lock, and an opt-out waiting on it, for too long).
REMOTE_SECONDS = 0.02


def threads_for_latency(wall_seconds: float, cpu_seconds: float, most: int) -> int:
    """Threads that keep one process busy when a request takes ``wall_seconds`` of which
    ``cpu_seconds`` are ours: their ratio, rounded down (a thread pays for its hand-offs of
    the GIL only when a whole request fits in the wait), between 1 and ``most``; ``most``
    for any remote provider."""
    if most <= 1:
        return 1
    if wall_seconds >= REMOTE_SECONDS:
        return most
    ratio = wall_seconds / max(cpu_seconds, 1e-4)
    return max(1, min(most, int(ratio)))


#: ``messages.create``'s form field for each of our parameters, and its request headers.
_FORM_NAMES = {"to": "To", "status_callback": "StatusCallback", "from_": "From",
               "messaging_service_sid": "MessagingServiceSid", "body": "Body"}  # fmt: skip
_FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}


class TwilioChannel:
    """Sends :class:`OutgoingSms` through Twilio's Messages API."""

    name = "twilio"
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    #: A wait longer than this is not slept here: the message returns RETRY at once.
    max_wait: float = 60.0

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        messaging_service_sid: str | None = None,
        from_number: str | None = None,
        api_base: str = "https://api.twilio.com",
        mps: float = 0,
        concurrency: int = 16,
        max_retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
        direct: bool = True,
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("TwilioChannel needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        if not (messaging_service_sid or from_number):
            raise ValueError(
                "TwilioChannel needs TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER"
            )
        self.account_sid = account_sid
        self.messaging_service_sid = messaging_service_sid
        self.from_number = from_number
        self.api_base = api_base.rstrip("/")
        self.mps = float(mps or 0)
        self.concurrency = max(1, int(concurrency))
        self.max_retries = max_retries
        self._sleep = sleep
        self._http = _HttpClient(self.api_base, pool_size=self.concurrency, timeout=timeout)
        client = Client(account_sid, auth_token, http_client=self._http)
        client.edge = None  # the library reads TWILIO_EDGE / TWILIO_REGION from os.environ
        client.region = None
        client.api.base_url = self.api_base
        self._messages = client.api.v2010.accounts(account_sid).messages
        self._direct = direct
        sender = messaging_service_sid or from_number or ""
        self._pacer = pacer_for(account_sid, sender, self.mps) if self.mps > 0 else None

    def __repr__(self) -> str:
        return f"TwilioChannel(api_base={self.api_base!r}, mps={self.mps})"

    def close(self) -> None:
        """Close pooled connections."""
        self._http.close()

    def send_many(self, messages: list[OutgoingSms]) -> list[SendResult]:
        """Send each message, paced, on as many threads as Twilio's latency calls for (at
        most ``concurrency``); results in input order.

        The first message goes alone and is timed: its wall time over the CPU time it took
        is how many requests can be in flight while one is being built and parsed (Little's
        law). Against Twilio (~150 ms) that is every allowed thread; against a provider that
        answers at once, extra threads would only queue for the GIL.
        """
        if not messages:
            return []
        stop = threading.Event()  # set on an authentication failure
        started, cpu_started = time.perf_counter(), time.thread_time()
        first = self._send_safely(messages[0], stop)
        workers = threads_for_latency(
            time.perf_counter() - started,
            time.thread_time() - cpu_started,
            min(self.concurrency, len(messages) - 1),
        )
        rest = messages[1:]
        if workers <= 1:
            return [first, *(self._send_safely(message, stop) for message in rest)]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="twilio-send") as pool:
            return [first, *pool.map(lambda message: self._send_safely(message, stop), rest)]

    def find_sent(self, to: str, body: str, since: datetime) -> str | None:
        """The SID of the text with this body Twilio created for ``to`` since ``since``, or
        None when its Message list has none (``twilio_lookup``; raises LookupFailed)."""
        return twilio_lookup.find_sent(self._messages, to, body, since, self.messaging_service_sid)

    def send(self, message: OutgoingSms) -> SendResult:
        """Send one message (paced, with retries)."""
        return self._send_safely(message, threading.Event())

    def _send_safely(self, message: OutgoingSms, stop: threading.Event) -> SendResult:
        try:
            return self._send_one(message, stop)
        except Exception as exc:  # never lose the other results of the call
            log.exception("twilio: unexpected error for message %s", message.message_id)
            return SendResult(
                message.message_id,
                Outcome.UNKNOWN,
                error_code="error",
                error_detail=f"unexpected {type(exc).__name__}; the text may have been sent",
            )

    def _params(self, message: OutgoingSms) -> dict[str, str]:
        params = {"to": message.to, "body": message.body}
        if message.status_callback:
            params["status_callback"] = message.status_callback
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            params["from_"] = self.from_number or ""
        return params

    def _create(self, params: dict[str, str]) -> str:
        """``messages.create``'s request (the library's URL, headers, auth and error
        parsing: the same exceptions), without building its ``MessageInstance`` of ~40
        deserialised fields; returns the new message's sid."""
        data = {_FORM_NAMES[name]: value for name, value in params.items()}
        version, uri = self._messages._version, self._messages._uri
        response = version.request("POST", uri, data=data, headers=dict(_FORM_HEADERS))
        return version._parse_create("POST", uri, response)["sid"]

    def _send_one(self, message: OutgoingSms, stop: threading.Event) -> SendResult:
        params = self._params(message)
        attempt = 0
        while True:
            if stop.is_set():
                return SendResult(
                    message.message_id,
                    Outcome.FAILED,
                    error_code="20003",
                    error_detail="not sent: Twilio rejected the credentials",
                )
            if self._pacer is not None:
                self._pacer.wait()
            retry_after: float | None = None
            try:
                sid = self._create(params) if self._direct else self._messages.create(**params).sid
                return SendResult(message.message_id, Outcome.SENT, provider_id=sid)
            except TwilioException as exc:
                status = int(getattr(exc, "status", 0) or 0)
                code = getattr(exc, "code", None)
                detail = str(getattr(exc, "msg", "") or getattr(exc, "detail", "") or "")
                if status in MAYBE_SENT_STATUSES:
                    return SendResult(
                        message.message_id,
                        Outcome.UNKNOWN,
                        error_code=str(status),
                        error_detail=f"Twilio's gateway answered {status}; "
                        "the text may have been accepted",
                    )
                if status == 429 or code in RATE_LIMIT_CODES or status >= 500:
                    retry_after = parse_retry_after(self._http.last_headers())
                    error_code = str(code or status)
                else:
                    return self._permanent(message, status, code, detail, stop)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if reached_server(exc):
                    return SendResult(
                        message.message_id,
                        Outcome.UNKNOWN,
                        error_code="timeout"
                        if isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError)
                        else "connection",
                        error_detail=f"no answer from Twilio ({type(exc).__name__}); "
                        "the text may have been accepted",
                    )
                error_code = "connection"
                detail = f"could not reach Twilio ({type(exc).__name__})"
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            if attempt >= self.max_retries or delay > self.max_wait:
                return SendResult(
                    message.message_id,
                    Outcome.RETRY,
                    error_code=error_code,
                    error_detail=detail,
                    retry_after=delay,
                )
            log.debug(
                "twilio: %s for message %s; retry %d/%d in %.2fs",
                error_code,
                message.message_id,
                attempt + 1,
                self.max_retries,
                delay,
            )
            self._sleep(delay)
            attempt += 1

    def _permanent(
        self,
        message: OutgoingSms,
        status: int,
        code: int | None,
        detail: str,
        stop: threading.Event,
    ) -> SendResult:
        """Map a 4xx answer that retrying will not change."""
        if code in OPTED_OUT_CODES:
            outcome = Outcome.OPTED_OUT
        elif code in INVALID_NUMBER_CODES:
            outcome = Outcome.INVALID_NUMBER
        else:
            outcome = Outcome.FAILED
            if status == 401 or code in AUTH_CODES:
                stop.set()
                detail = f"Twilio rejected the credentials (check TWILIO_AUTH_TOKEN): {detail}"
                log.error("twilio: authentication failed; stopping this call")
        return SendResult(
            message.message_id,
            outcome,
            error_code=str(code or status),
            error_detail=detail or f"Twilio answered {status}",
        )

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter (between half and all of the nominal delay)."""
        nominal = min(self.backoff_cap, self.backoff_base * (2**attempt))
        return nominal * (0.5 + random.random() / 2)
