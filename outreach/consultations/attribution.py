"""Which campaign message brought a consultation request: last touch within 30 days.

How the code travels (no personal value in any URL):

1. A tracked link whose address is this product's own request page
   (``OUTREACH_BASE_URL/request/<slug>``) is redirected by ``/r/<code>`` to that page with
   ``?via=<code>`` appended (:func:`with_code`). The code is the opaque one already in the
   email or text (message id + link number + HMAC): no email, phone or name.
2. The request page puts a genuine code in a hidden form field and in a first-party cookie
   (``outreach_via``, path ``/request/``, HttpOnly, SameSite=Lax, 30-day max-age), so a
   person who comes back later without the link is still attributed. A newer code replaces
   the cookie: the last touch wins.
3. On the POST, each candidate code (the form's, the cookie's) is checked again (HMAC) and
   the request goes to the message whose most recent click through ``/r/`` is the newest
   and no more than :data:`WINDOW` old (:func:`attribute`). A forged, tampered or unknown
   code, a code never clicked, or a click older than the window: "direct". Only the
   message id (and its campaign, step, channel) is stored, never the code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import func, select

from outreach.extensions import db
from outreach.models import LinkClick, Message
from outreach.tracking import codes

#: A click this recent attributes a request to its message.
WINDOW = timedelta(days=30)
#: The query parameter and the cookie that carry a code to the request page.
VIA = "via"
COOKIE = "outreach_via"
COOKIE_PATH = "/request/"
#: The request page's path under OUTREACH_BASE_URL.
REQUEST_PATH = "/request/"


@dataclass(frozen=True)
class Attribution:
    """The message a request is credited to, with its campaign, step and channel."""

    message_id: int
    campaign_id: int
    step_id: int
    channel: str


def is_request_page(url: str, base_url: str) -> bool:
    """Is ``url`` this product's own consultation request page?"""
    base = base_url.rstrip("/")
    return bool(base) and url.startswith(base + REQUEST_PATH)


def with_code(url: str, code: str, base_url: str) -> str:
    """The redirect target of a tracked link: the request page gets ``?via=<code>`` (an
    older ``via`` replaced); any other address is returned unchanged."""
    if not is_request_page(url, base_url):
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != VIA]
    query.append((VIA, code))
    return urlunsplit(parts._replace(query=urlencode(query)))


def genuine(code: str | None) -> str | None:
    """``code`` if it is one of ours (the HMAC checks), else None: nothing else is ever
    echoed into a page or a cookie."""
    if not code or codes.decode(codes.app_key(), code) is None:
        return None
    return code


def attribute(candidates: Iterable[str | None], at: datetime) -> Attribution | None:
    """The message, among the genuine codes given, whose latest click is the newest within
    :data:`WINDOW` before ``at``; None for a direct request. One query."""
    key = codes.app_key()
    ids = set()
    for code in candidates:
        decoded = codes.decode(key, code) if code else None
        if decoded is not None:
            ids.add(decoded[0])
    if not ids:
        return None
    touched = func.max(LinkClick.clicked_at).label("touched")
    row = db.session.execute(
        select(Message.id, Message.campaign_id, Message.step_id, Message.channel, touched)
        .join(LinkClick, LinkClick.message_id == Message.id)
        .where(
            Message.id.in_(sorted(ids)),
            LinkClick.clicked_at >= at - WINDOW,
            LinkClick.clicked_at <= at,
        )
        .group_by(Message.id, Message.campaign_id, Message.step_id, Message.channel)
        .order_by(touched.desc(), Message.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return Attribution(row.id, row.campaign_id, row.step_id, row.channel)
