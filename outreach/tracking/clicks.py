"""Following a tracked link: the code checked, the click recorded (link scanners apart), the
address of the step's own link returned. Nothing personal is stored with a click.

A click is one short transaction on a connection of its own (no ORM session: a redirect
is on the reader's critical path). Two clicks on one message are judged one after the
other, so a scanner's burst is seen however close its requests arrive: on PostgreSQL the
message's advisory lock serialises them (never a table lock) and the whole transaction is
one call of the ``record_click()`` function (``clicks_pg``); SQLite takes its single writer
lock instead (Core statements below).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, func, insert, select, update

from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.feedback.writes import begin_write
from outreach.models import LinkClick, Message
from outreach.tracking import clicks_pg, codes, links

#: User agents of mail security scanners and link checkers (they "click" every link).
SCANNER_AGENTS = re.compile(
    r"bot\b|crawler|spider|scanner|barracuda|mimecast|proofpoint|safelinks|symantec|"
    r"forcepoint|trend ?micro|sophos|fortinet|ironport|zscaler|messagelabs|"
    r"python-requests|python-urllib|curl/|wget/|go-http-client|libwww|okhttp|headlesschrome",
    re.IGNORECASE,
)
#: Clicks on two different links of one message this close together are a scanner's.
BURST = timedelta(seconds=2)

_MESSAGE = (
    select(Message.campaign_id, Message.step_id, Message.clicked_at)
    .where(Message.id == bindparam("m_id"))
    .with_for_update(key_share=True)
)
#: Every click on another link of the message within BURST becomes a scanner's.
_MARK_BURST = (
    update(LinkClick)
    .where(
        LinkClick.message_id == bindparam("m_id"),
        LinkClick.clicked_at >= bindparam("since"),
        LinkClick.link_position != bindparam("link"),
    )
    .values(human=False, reason=func.coalesce(LinkClick.reason, "burst"))
)
_FIRST_CLICK = (
    update(Message)
    .where(Message.id == bindparam("m_id"), Message.clicked_at.is_(None))
    .values(clicked_at=bindparam("click_at"))
)
#: After a burst: the message's first remaining human click (None if there is none).
_RECOUNT = (
    update(Message)
    .where(Message.id == bindparam("m_id"))
    .values(
        clicked_at=select(func.min(LinkClick.clicked_at))
        .where(LinkClick.message_id == bindparam("m_id"), LinkClick.human.is_(True))
        .scalar_subquery()
    )
)


def classify(method: str, user_agent: str) -> str | None:
    """Why a request is not a person's click (``head``, ``scanner``), or None."""
    if method.upper() == "HEAD":
        return "head"
    if not user_agent.strip() or SCANNER_AGENTS.search(user_agent):
        return "scanner"
    return None


def follow(code: str, method: str = "GET", user_agent: str = "") -> str | None:
    """Record a request for a tracked link; returns the address to redirect to, or None for
    a code that is not genuine or names no link of its message's step; commits."""
    decoded = codes.decode(codes.app_key(), code)
    if decoded is None:
        return None
    message_id, position = decoded
    reason = classify(method, user_agent)
    at = clock_now()
    if db.engine.dialect.name == "postgresql":
        return clicks_pg.record(message_id, position, reason, at, at - BURST)
    with db.engine.connect() as connection:
        begin_write(connection=connection)
        url = _record(connection, message_id, position, reason, at)
        connection.commit()
    return url


def _record(
    connection: Connection, message_id: int, position: int, reason: str | None, at: datetime
) -> str | None:
    """Store one click (SQLite: under the writer lock); returns the link's address or
    None. PostgreSQL: ``clicks_pg.record``, the same in one round trip."""
    row = connection.execute(_MESSAGE, {"m_id": message_id}).first()
    if row is None:
        return None
    url = links.link_url(row.step_id, position, connection)
    if url is None:
        return None
    if reason is None:
        marked = connection.execute(
            _MARK_BURST, {"m_id": message_id, "since": at - BURST, "link": position}
        )
        if marked.rowcount:
            reason = "burst"
    connection.execute(
        insert(LinkClick),
        {
            "message_id": message_id,
            "campaign_id": row.campaign_id,
            "step_id": row.step_id,
            "link_position": position,
            "human": reason is None,
            "reason": reason,
            "clicked_at": at,
        },
    )
    if reason is None and row.clicked_at is None:
        connection.execute(_FIRST_CLICK, {"m_id": message_id, "click_at": at})
    elif reason == "burst" and row.clicked_at is not None:
        connection.execute(_RECOUNT, {"m_id": message_id})
    return url
