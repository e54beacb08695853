"""Helpers the tests share: CSRF-aware form posts and signed provider webhooks."""

from __future__ import annotations

import base64
import html
import json
import re
import time
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from twilio.request_validator import RequestValidator

BASE_URL = "https://outreach.example.org"
TWILIO_TOKEN = "test-twilio-auth-token"

_SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC_KEY = base64.b64encode(
    _SENDGRID_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token embedded in a rendered form."""
    match = CSRF_RE.search(html)
    assert match, "no csrf_token in the page"
    return match.group(1)


#: Every staff user's password in the tests.
PASSWORD = "correct horse battery"


def login(client, email: str, password: str = PASSWORD):  # noqa: ANN001, ANN201
    """Log in through the staff login form; asserts it worked."""
    page = client.get("/admin/login")
    response = client.post(
        "/admin/login",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "email": email,
            "password": password,
        },
    )
    assert response.status_code == 302, response.status_code
    return response


def page_text(response) -> str:  # noqa: ANN001
    """The page as text with tags removed and entities decoded (what a person reads)."""
    body = response.get_data(as_text=True)
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def submit_form(client, url: str, data: dict[str, Any], *, page_url: str | None = None, **kw):  # noqa: ANN001, ANN201
    """GET the page (for its CSRF token and cookie), then POST the form like a browser."""
    page = client.get(page_url or url)
    assert page.status_code == 200, page.status_code
    payload = {"csrf_token": csrf_token(page.get_data(as_text=True)), **data}
    return client.post(url, data=payload, **kw)


def twilio_signature(path: str, params: dict[str, str], token: str = TWILIO_TOKEN) -> str:
    """X-Twilio-Signature for a POST to BASE_URL + path with these form params."""
    return RequestValidator(token).compute_signature(BASE_URL + path, params)


def post_twilio(client, path: str, params: dict[str, str], *, signature: str | None = None):  # noqa: ANN001, ANN201
    """POST a signed Twilio webhook."""
    sig = twilio_signature(path, params) if signature is None else signature
    return client.post(path, data=params, headers={"X-Twilio-Signature": sig})


def sendgrid_headers(body: str, timestamp: str | None = None) -> dict[str, str]:
    """Signed Event Webhook headers for a raw body."""
    stamp = timestamp or str(int(time.time()))
    signature = _SENDGRID_KEY.sign((stamp + body).encode(), ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        "Content-Type": "application/json",
    }


def post_sendgrid(client, events: list[dict]):  # noqa: ANN001, ANN201
    """POST a signed batch of SendGrid events."""
    body = json.dumps(events)
    return client.post("/webhooks/sendgrid/events", data=body, headers=sendgrid_headers(body))
