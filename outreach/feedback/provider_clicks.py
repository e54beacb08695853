"""SendGrid's own click events next to our first-party ``/r/`` clicks: a click is counted
once, by whichever tracking the message was sent with.

Our link rewriting is the default, and then the request turns SendGrid's click tracking
off (``sending/compose.py: email_batch``). A SendGrid ``click`` still counts nothing when

* its URL is one of our ``/r/`` links (the redirect records the click itself, and tells a
  person from a link scanner, which SendGrid does not), or
* the message's campaign tracks links itself, or its step has first-party tracked links
  (the click, if a person's, is already ours).

Only the remaining SendGrid clicks (campaigns with our tracking off, an audience with
SendGrid tracking on) set the message's ``clicked_at``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import exists, or_, select

from outreach.extensions import db
from outreach.feedback.writes import CHUNK
from outreach.models import Campaign, Message, TrackedLink


def is_first_party_link(url: str | None) -> bool:
    """True for an address of our own click redirect (``<OUTREACH_BASE_URL>/r/<code>``)."""
    if not url:
        return False
    base = urlsplit(current_app.config.get("OUTREACH_BASE_URL", ""))
    link = urlsplit(url.strip())
    prefix = base.path.rstrip("/") + "/r/"
    same_host = not base.netloc or link.netloc.lower() == base.netloc.lower()
    return same_host and link.path.startswith(prefix)


def first_party_clicks(click_urls: dict[int, list[str | None]]) -> set[int]:
    """The message ids whose SendGrid clicks must not count (see the module docstring)."""
    ignored = {mid for mid, urls in click_urls.items() if any(is_first_party_link(u) for u in urls)}
    rest = sorted(set(click_urls) - ignored)
    tracked = exists().where(TrackedLink.step_id == Message.step_id)
    for start in range(0, len(rest), CHUNK):
        ignored.update(
            db.session.scalars(
                select(Message.id)
                .join(Campaign, Campaign.id == Message.campaign_id)
                .where(
                    Message.id.in_(rest[start : start + CHUNK]),
                    or_(Campaign.track_links.is_(True), tracked),
                )
            )
        )
    return ignored
