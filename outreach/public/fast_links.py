"""``GET /r/<code>`` without Flask's request machinery: the busiest public address.

A tracked link's redirect is a code check, one database round trip and a 302. Through
Flask it also opened and saved a cookie session, ran every ``before_request`` /
``after_request`` hook (locale, CSRF, login, limiter) and built a response object: about
as much CPU as the click itself. This WSGI middleware answers the common case itself, with
the same status, body and headers as ``links.tracked_link`` (a test compares them):

* a ``GET`` or ``HEAD`` of ``/r/<code>`` with no cookies (a session to refresh is Flask's);
* whose code names a link (``clicks.follow`` recorded it and returned the address).

Everything else goes to the Flask app unchanged: other paths, requests with cookies, codes
that are not genuine or name no link (Flask renders the friendly 404 page; the code check
is repeated there and stores nothing), and errors (Flask's handler answers and logs them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from html import escape
from typing import Any

from flask import Flask
from werkzeug.urls import iri_to_uri

from outreach.consultations import attribution
from outreach.tracking import clicks

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
PREFIX = "/r/"


#: The tracked link's own headers (``links.tracked_link`` sets them too).
REDIRECT_HEADERS = (("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer"))


class TrackedLinks:
    """WSGI middleware in front of ``app.wsgi_app`` for ``/r/<code>`` (see the module)."""

    def __init__(
        self, app: Flask, wsgi_app: WSGIApp, security_headers: Iterable[tuple[str, str]]
    ) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        own = {name for name, _ in REDIRECT_HEADERS}
        self.security_headers = tuple(h for h in security_headers if h[0] not in own)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):  # noqa: ANN204
        """Answer a tracked link, or pass the request on."""
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "")
        code = path[len(PREFIX) :]
        if (
            not path.startswith(PREFIX)
            or method not in ("GET", "HEAD")
            or not code
            or "/" in code
            or environ.get("HTTP_COOKIE")
        ):
            return self.wsgi_app(environ, start_response)
        with self.app.app_context():
            try:
                url = clicks.follow(code, method, environ.get("HTTP_USER_AGENT", ""))
            except Exception as exc:  # noqa: BLE001 - answered and logged as Flask would
                with self.app.request_context(environ):
                    response = self.app.handle_exception(exc)
                    return response(environ, start_response)
        if url is None:
            return self.wsgi_app(environ, start_response)
        url = attribution.with_code(url, code, self.app.config["OUTREACH_BASE_URL"])
        return self._redirect(url, method, start_response)

    def _redirect(self, url: str, method: str, start_response: Callable[..., Any]) -> list[bytes]:
        """A 302 as Flask's ``redirect`` writes it."""
        location, body = _answer(url)
        headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Location", location),
            *REDIRECT_HEADERS,
            ("Vary", "Cookie"),  # Flask's answer: its session was looked at (Flask-Login)
            *self.security_headers,
        ]
        start_response("302 FOUND", headers)
        return [] if method == "HEAD" else [body]


@lru_cache(maxsize=4096)
def _answer(url: str) -> tuple[str, bytes]:
    """The Location header (IRI quoted) and werkzeug's redirect body for ``url`` (a step has
    a few links: most redirects repeat one)."""
    shown = escape(url)
    body = (
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n"
        "<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the "
        f'target URL: <a href="{shown}">{shown}</a>. If not, click the link.\n'
    ).encode()
    return iri_to_uri(url), body
