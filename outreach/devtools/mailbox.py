"""The dev mailbox: what the console channels recorded, for the staff page (newest first,
searchable, a page at a time)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app

from outreach.rendering.sms import sms_segments
from outreach.staff.local_time import format_local

#: Messages per page, and how far back the page reads (the console keeps every file).
PER_PAGE = 20
SCANNED = 5_000
_SEARCHED = ("subject", "to", "from", "body", "text")
_HEAD = re.compile(r"<head[^>]*>", re.IGNORECASE)
#: Links in an email open in a new tab (the preview frame itself runs no script).
_NEW_TAB = '<base target="_blank">'


@dataclass
class MailboxPage:
    """One page of the dev mailbox."""

    items: list[dict[str, Any]]
    page: int
    pages: int
    total: int
    query: str
    zone_name: str = field(default="UTC")


def recent_messages(limit: int = 200) -> list[dict]:
    """What the console channels recorded, newest first."""
    from outreach.channels.console import read_mailbox

    return read_mailbox(current_app.config["OUTREACH_DEV_MAILBOX"], limit=limit)


def matches(item: dict[str, Any], query: str) -> bool:
    """Whether a recorded message contains every word of ``query`` (any case) in its
    subject, recipient, sender or text."""
    haystack = " ".join(str(item.get(key) or "") for key in _SEARCHED).casefold()
    return all(word in haystack for word in query.casefold().split())


def find(query: str, page: int, zone: ZoneInfo, per_page: int = PER_PAGE) -> MailboxPage:
    """The ``page``-th page (from 1) of recorded messages matching ``query``, prepared
    for display in ``zone``."""
    from outreach.channels.console import count_mailbox, read_mailbox

    folder = current_app.config["OUTREACH_DEV_MAILBOX"]
    query = query.strip()
    if query:  # a search reads the newest SCANNED messages; a plain page reads only its own
        found = [m for m in recent_messages(SCANNED) if matches(m, query)]
        total = len(found)
    else:
        total = count_mailbox(folder)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    start = (page - 1) * per_page
    if query:
        shown = found[start : start + per_page]
    else:
        shown = read_mailbox(folder, limit=per_page, skip=start)
    return MailboxPage(
        items=[prepare(item, zone) for item in shown],
        page=page,
        pages=pages,
        total=total,
        query=query,
        zone_name=str(zone),
    )


def prepare(item: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """A recorded message with what the page shows: local time, a one-line title, the
    email's HTML for the preview frame (links open in a new tab), a text's segments."""
    shown = dict(item)
    shown["local_time"] = format_local(item.get("created_at"), zone)
    if item.get("kind") == "sms":
        body = str(item.get("body") or "")
        shown["segments"] = sms_segments(body)
        shown["title"] = body if len(body) <= 70 else body[:69] + "…"
    else:
        shown["title"] = item.get("subject") or "(no subject)"
        shown["preview_html"] = open_links_in_new_tab(str(item.get("html") or ""))
    return shown


def open_links_in_new_tab(html: str) -> str:
    """``html`` with a ``<base target="_blank">`` in its head (added at the start if it
    has none)."""
    match = _HEAD.search(html)
    if match is None:
        return _NEW_TAB + html
    return html[: match.end()] + _NEW_TAB + html[match.end() :]
