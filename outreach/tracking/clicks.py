"""Following a tracked link: the code checked, the click recorded (link scanners apart), the
address of the step's own link returned. Nothing personal is stored with a click."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import insert, select, update

from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.feedback.writes import begin_write
from outreach.models import LinkClick, Message
from outreach.tracking import codes, links

#: User agents of mail security scanners and link checkers (they "click" every link).
SCANNER_AGENTS = re.compile(
    r"bot\b|crawler|spider|scanner|barracuda|mimecast|proofpoint|safelinks|symantec|"
    r"forcepoint|trend ?micro|sophos|fortinet|ironport|zscaler|messagelabs|"
    r"python-requests|python-urllib|curl/|wget/|go-http-client|libwww|okhttp|headlesschrome",
    re.IGNORECASE,
)
#: Clicks on two different links of one message this close together are a scanner's.
BURST = timedelta(seconds=2)


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
    row = db.session.execute(
        select(Message.campaign_id, Message.step_id).where(Message.id == message_id)
    ).first()
    if row is None:
        return None
    url = links.link_url(row.step_id, position)
    if url is None:
        return None
    at = clock_now()
    reason = classify(method, user_agent)
    begin_write()
    if reason is None and _other_links_just_clicked(message_id, position, at):
        reason = "burst"
    db.session.execute(
        insert(LinkClick).values(
            message_id=message_id,
            campaign_id=row.campaign_id,
            step_id=row.step_id,
            link_position=position,
            human=reason is None,
            reason=reason,
            clicked_at=at,
        )
    )
    if reason is None:
        db.session.execute(
            update(Message)
            .where(Message.id == message_id, Message.clicked_at.is_(None))
            .values(clicked_at=at)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return url


def _other_links_just_clicked(message_id: int, position: int, at) -> bool:  # noqa: ANN001
    """A click on another link of the same message within ``BURST``: both are a scanner's
    (the earlier ones are re-marked)."""
    recent = list(
        db.session.scalars(
            select(LinkClick.id).where(
                LinkClick.message_id == message_id,
                LinkClick.clicked_at >= at - BURST,
                LinkClick.link_position != position,
            )
        )
    )
    if not recent:
        return False
    db.session.execute(
        update(LinkClick)
        .where(LinkClick.id.in_(recent), LinkClick.human.is_(True))
        .values(human=False, reason="burst")
        .execution_options(synchronize_session=False)
    )
    return True
