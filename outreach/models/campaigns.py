"""Campaigns and their sequence steps."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy import true as sql_true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from outreach.extensions import db
from outreach.models.base import UTCDateTime, utcnow
from outreach.models.contacts import Audience

CAMPAIGN_STATES = ("draft", "scheduled", "running", "paused", "done", "cancelled")
ANCHORS = ("date", "confirmation")
#: Every status a campaign passes through (campaigns/lifecycle.py moves it).
CAMPAIGN_STATUSES = ("draft", "scheduled", "running", "paused", "done", "cancelled")


class Campaign(db.Model):
    """A sequence of steps sent to one audience."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id"))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    anchor_kind: Mapped[str] = mapped_column(String(20), default="date")
    anchor_date: Mapped[date | None] = mapped_column(Date)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    # First-party click tracking of the steps' links (staff may turn it off per campaign).
    track_links: Mapped[bool] = mapped_column(default=True, server_default=sql_true())
    # Hidden from the campaign list (results kept); drafts and closed campaigns only.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    audience: Mapped[Audience] = relationship()
    steps: Mapped[list[Step]] = relationship(
        back_populates="campaign", order_by="Step.position", cascade="all, delete-orphan"
    )


class Step(db.Model):
    """One message of a sequence: when (offset + local time, or delay) and what."""

    __tablename__ = "steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    channel: Mapped[str] = mapped_column(String(10))
    day_offset: Mapped[int] = mapped_column(default=0)
    send_time: Mapped[str] = mapped_column(String(5), default="10:00")
    after_minutes: Mapped[int] = mapped_column(default=0)
    include_late_joiners: Mapped[bool] = mapped_column(default=False)
    subject: Mapped[str] = mapped_column(String(300), default="")
    preheader: Mapped[str] = mapped_column(String(300), default="")
    html: Mapped[str] = mapped_column(Text, default="")
    #: The Markdown staff wrote, when the step is written in Markdown (``html`` is then
    #: what it renders to); None for a step written in HTML ("advanced").
    markdown: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")
    paused_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    campaign: Mapped[Campaign] = relationship(back_populates="steps")
    variants: Mapped[list[StepVariant]] = relationship(
        back_populates="step", cascade="all, delete-orphan", lazy="selectin"
    )

    __table_args__ = (UniqueConstraint("campaign_id", "position"),)

    def variant(self, language: str | None) -> StepVariant | None:
        """The step's copy in another language, if staff wrote one."""
        return next((v for v in self.variants if v.language == language), None)


class StepVariant(db.Model):
    """A step's copy in another language (``es``): subscribers whose language it is get it;
    everyone else gets the step's own (default-language) copy."""

    __tablename__ = "step_variants"

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str] = mapped_column(String(300), default="")
    preheader: Mapped[str] = mapped_column(String(300), default="")
    html: Mapped[str] = mapped_column(Text, default="")
    markdown: Mapped[str | None] = mapped_column(Text)  # as on its step
    text: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")

    step: Mapped[Step] = relationship(back_populates="variants")

    __table_args__ = (UniqueConstraint("step_id", "language"),)


class StepZone(db.Model):
    """Marks a calendar step as materialised for one time zone (so ticks skip it cheaply)."""

    __tablename__ = "step_zones"

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id", ondelete="CASCADE"))
    timezone: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rows: Mapped[int] = mapped_column(default=0)
    materialised_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("step_id", "timezone"),)


class SavedBlock(db.Model):
    """A piece of Markdown staff keep for reuse (the clinic's sign-off, the "talk to your
    clinician" line, the consultation button) and insert into any email step."""

    __tablename__ = "saved_blocks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    markdown: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
