"""Signed, opaque tokens for public links (itsdangerous).

Tokens carry a subscriber's random ``public_id`` and an audience slug, never a raw id.
Confirmation tokens expire; unsubscribe and preference tokens never do.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from outreach.i18n import N_


class TokenError(ValueError):
    """A token that is forged, malformed or expired; ``expired`` tells which."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class LinkToken:
    """What a public link points at."""

    public_id: str
    audience_slug: str
    channel: str = "email"


def _timed(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"outreach.{salt}")


def _plain(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"outreach.{salt}")


def _pack(link: LinkToken) -> list[str]:
    return [link.public_id, link.audience_slug, link.channel]


#: The channels a link can point at.
CHANNELS = ("email", "sms")


def _unpack(value: object) -> LinkToken:
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not all(isinstance(part, str) and 0 < len(part) <= 120 for part in value)
        or value[2] not in CHANNELS
    ):
        raise TokenError(N_("This link is not valid."))
    return LinkToken(*value)


def confirm_token(link: LinkToken) -> str:
    """A double opt-in token; expires after OUTREACH_CONFIRM_MAX_AGE seconds."""
    return _timed("confirm").dumps(_pack(link))


def read_confirm_token(token: str) -> LinkToken:
    """Verify a confirmation token or raise TokenError (``expired`` set when too old)."""
    try:
        value = _timed("confirm").loads(
            token, max_age=current_app.config["OUTREACH_CONFIRM_MAX_AGE"]
        )
    except SignatureExpired:
        raise TokenError(N_("This confirmation link has expired."), expired=True) from None
    except (BadSignature, ValueError, TypeError, UnicodeError):
        raise TokenError(N_("This confirmation link is not valid.")) from None
    return _unpack(value)


def link_token(link: LinkToken, purpose: str) -> str:
    """A never-expiring token for ``unsubscribe`` or ``preferences`` links."""
    return _plain(purpose).dumps(_pack(link))


def read_link_token(token: str, purpose: str) -> LinkToken:
    """Verify an unsubscribe/preferences token or raise TokenError."""
    try:
        value = _plain(purpose).loads(token)
    except (BadSignature, ValueError, TypeError, UnicodeError):
        raise TokenError(N_("This link is not valid.")) from None
    return _unpack(value)


def public_url(path: str) -> str:
    """An absolute URL on the public base (OUTREACH_BASE_URL)."""
    return current_app.config["OUTREACH_BASE_URL"] + path
