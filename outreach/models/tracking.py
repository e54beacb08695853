"""First-party click tracking: each staff link of a step, and each click on it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from outreach.extensions import db
from outreach.models.base import BigId, UTCDateTime, utcnow


class TrackedLink(db.Model):
    """A link staff wrote in a step (any of its languages), numbered within the step.

    A click's code names the message and this number, never the address itself: the
    redirect can only lead to one of the step's own links (no open redirect)."""

    __tablename__ = "tracked_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    url: Mapped[str] = mapped_column(Text)
    #: sha256 of the URL: a short unique key (a URL may be longer than an index entry).
    url_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("step_id", "position"),
        UniqueConstraint("step_id", "url_hash"),
    )


class LinkClick(db.Model):
    """One request for a tracked link. ``human`` is False for link scanners (a HEAD request,
    a known scanner's user agent, every link of a message within a second or two); the
    scanner's kind is kept in ``reason``. No IP address or user agent is stored."""

    __tablename__ = "link_clicks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Not foreign keys, like the outbox's own ids: a click is an append-only record.
    message_id: Mapped[int] = mapped_column(BigId)
    campaign_id: Mapped[int] = mapped_column()
    step_id: Mapped[int] = mapped_column()
    link_position: Mapped[int] = mapped_column()
    human: Mapped[bool] = mapped_column(default=True)
    reason: Mapped[str | None] = mapped_column(String(20))
    clicked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_link_clicks_campaign", "campaign_id", "step_id", "link_position"),
        Index("ix_link_clicks_message", "message_id", "clicked_at"),
        # People's clicks only, covering the results' GROUP BYs (per step, per link, per
        # hour): index-only scans, sorted for count(DISTINCT message_id). results/clicks.py
        Index(
            "ix_link_clicks_human",
            "campaign_id",
            "step_id",
            "link_position",
            "message_id",
            "clicked_at",
            postgresql_where=text("human"),
            sqlite_where=text("human = 1"),
        ),
    )
