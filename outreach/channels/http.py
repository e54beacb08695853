"""What the two HTTP providers' channels share: did a failed request reach the server,
how long does ``Retry-After`` say to wait, and which answers mean "maybe sent"."""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

import requests
import urllib3

#: Gateway answers: the request may have reached the provider, which may have accepted it.
MAYBE_SENT_STATUSES = frozenset({502, 504})

_NOT_SENT = (
    requests.exceptions.ConnectTimeout,
    requests.exceptions.SSLError,
    requests.exceptions.ProxyError,
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    urllib3.exceptions.NewConnectionError,  # also NameResolutionError
    urllib3.exceptions.ConnectTimeoutError,
    urllib3.exceptions.SSLError,
    urllib3.exceptions.ProxyError,
    urllib3.exceptions.LocationParseError,
    ConnectionRefusedError,
)


def reached_server(exc: BaseException) -> bool:
    """True when the request may have reached the provider before ``exc`` happened.

    Understands requests and urllib3 exceptions: a failure to connect means nothing was
    sent; a read timeout or a connection lost mid-exchange means it may have been.
    """
    if isinstance(exc, requests.exceptions.ConnectionError) and exc.args:
        cause = exc.args[0]
        exc = getattr(cause, "reason", None) or cause  # urllib3 MaxRetryError wraps it
        if not isinstance(exc, BaseException):
            return True
    return not isinstance(exc, _NOT_SENT)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date) or ``X-RateLimit-Reset``."""
    value = headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                return None
    reset = headers.get("X-RateLimit-Reset")
    if reset:
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            return None
    return None
