"""Which links of a step are tracked, and the rewrite that sends them through ``/r/<code>``.

Every ``http(s)`` link staff wrote (an ``<a href>`` in the HTML, a bare URL in the text
part or an SMS body) is numbered within its step, over all its languages in order of first
appearance, and rewritten to ``OUTREACH_BASE_URL/r/[%link_N%]``: a substitution tag each
recipient's code fills in. Links that carry a personal value (a ``[%tag%]``) and the
product's own links (unsubscribe, preferences, confirm, the web version) are left
untouched.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterable
from typing import Any

from flask import current_app
from sqlalchemy import select

from outreach import database
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import TrackedLink
from outreach.rendering import templates
from outreach.tracking.codes import url_hash

#: ``<a ... href="...">`` with an http(s) address (either quote).
_ANCHOR_HREF = re.compile(
    r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"'<>\s]+)\2""", re.IGNORECASE
)
#: A bare address in text; trailing punctuation is not part of it.
_BARE_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""
#: The product's own links to a subscriber's pages are never tracked.
OWN_PATHS = ("/unsubscribe/", "/preferences/", "/confirm/", "/r/", "/view/")


def link_tag(position: int) -> str:
    """The substitution tag a recipient's code for link ``position`` replaces."""
    return templates.tag(f"link_{position}")


def trackable(url: str, base_url: str) -> bool:
    """Whether a rendered address is a staff link to track."""
    if "[%" in url or not url.lower().startswith(("http://", "https://")):
        return False
    if base_url and url.startswith(base_url.rstrip("/")):
        rest = url[len(base_url.rstrip("/")) :]
        return not rest.startswith(OWN_PATHS)
    return True


def _bare(text: str) -> Iterable[tuple[int, int, str]]:
    for match in _BARE_URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        yield match.start(), match.start() + len(url), url


def urls_in_html(html: str) -> list[str]:
    """The ``<a href>`` addresses of an HTML part, unescaped, in order."""
    return [html_lib.unescape(m.group(3)) for m in _ANCHOR_HREF.finditer(html)]


def urls_in_text(text: str) -> list[str]:
    """The bare addresses of a text part or SMS body, in order."""
    return [url for _, _, url in _bare(text)]


def rewrite_html(html: str, positions: dict[str, int], base_url: str) -> str:
    """Each tracked ``<a href>`` pointed at its ``/r/`` tag; everything else unchanged."""

    def swap(match: re.Match[str]) -> str:
        position = positions.get(html_lib.unescape(match.group(3)))
        if position is None:
            return match.group(0)
        quote = match.group(2)
        return f"{match.group(1)}{quote}{tracked_url(base_url, position)}{quote}"

    return _ANCHOR_HREF.sub(swap, html)


def rewrite_text(text: str, positions: dict[str, int], base_url: str) -> str:
    """Each tracked bare address in a text replaced by its ``/r/`` tag."""
    out, last = [], 0
    for start, end, url in _bare(text):
        position = positions.get(url)
        if position is None:
            continue
        out += [text[last:start], tracked_url(base_url, position)]
        last = end
    return "".join(out) + text[last:]


def tracked_url(base_url: str, position: int) -> str:
    """The tracked address of link ``position`` (its code still a tag)."""
    return f"{base_url.rstrip('/')}/r/{link_tag(position)}"


def numbered(urls: Iterable[str], base_url: str) -> list[str]:
    """The step's trackable links, each once, in order of first appearance."""
    seen: dict[str, None] = {}
    for url in urls:
        if trackable(url, base_url):
            seen.setdefault(url, None)
    return list(seen)


def register(step_id: int, urls: list[str]) -> dict[str, int]:
    """Number a step's links (1, 2, ...; a link keeps its number once given); returns
    ``{url: number}`` for every link the table holds for them."""
    if not urls:
        return {}
    hashes = {url_hash(url): url for url in urls}
    known = dict(
        db.session.execute(
            select(TrackedLink.url_hash, TrackedLink.position).where(
                TrackedLink.step_id == step_id, TrackedLink.url_hash.in_(list(hashes))
            )
        ).all()
    )
    missing = [h for h in hashes if h not in known]
    if missing:
        top = db.session.scalar(
            select(db.func.max(TrackedLink.position)).where(TrackedLink.step_id == step_id)
        )
        at = clock_now()
        rows = [
            {"step_id": step_id, "position": (top or 0) + n, "url": hashes[h], "url_hash": h,
             "created_at": at}
            for n, h in enumerate(missing, start=1)
        ]  # fmt: skip
        db.session.execute(database.insert_ignore(TrackedLink.__table__), rows)
        known = dict(
            db.session.execute(
                select(TrackedLink.url_hash, TrackedLink.position).where(
                    TrackedLink.step_id == step_id, TrackedLink.url_hash.in_(list(hashes))
                )
            ).all()
        )
    return {hashes[h]: position for h, position in known.items()}


#: Link addresses remembered per app: a link keeps its number and address for good, so a
#: redirect after the first needs no query for it.
LINK_CACHE_SIZE = 10_000


def link_url(step_id: int, position: int, connection: Any = None) -> str | None:
    """The address of a step's link number (None if the step has no such link); read
    through ``connection`` when given (else the session)."""
    cache: dict[tuple[int, int], str] = current_app.extensions.setdefault(
        "outreach.tracked_link_urls", {}
    )
    url = cache.get((step_id, position))
    if url is None:
        query = select(TrackedLink.url).where(
            TrackedLink.step_id == step_id, TrackedLink.position == position
        )
        url = (connection or db.session).scalar(query)
        if url is not None:
            if len(cache) >= LINK_CACHE_SIZE:
                cache.clear()
            cache[(step_id, position)] = url
    return url
