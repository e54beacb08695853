"""Consultation requests: what a person sent from the public "Request a free consultation"
page, with the campaign message that brought them (if any) and the staff's follow-up."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from outreach.extensions import db
from outreach.models.base import BigId, UTCDateTime, utcnow

REQUEST_STATUSES = ("new", "contacted", "booked", "closed")
CONTACT_TIMES = ("any", "morning", "afternoon", "evening")


class ConsultationRequest(db.Model):
    """One request. It is not consent to marketing: nothing is ever sent because of it.

    The attribution columns name the message whose tracked link the person followed
    within the window (last touch), copied with its campaign, step and channel so the
    results need no join through the outbox; all four are empty for a "direct" request.
    The code itself is never stored."""

    __tablename__ = "consultation_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(20))
    contact_time: Mapped[str] = mapped_column(String(10), default="any")
    note: Mapped[str] = mapped_column(String(300), default="")
    language: Mapped[str] = mapped_column(String(5), default="en")
    status: Mapped[str] = mapped_column(String(12), default="new")
    assigned_to: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    # Not foreign keys, like the clicks': the outbox may be pruned, the request stays.
    message_id: Mapped[int | None] = mapped_column(BigId)
    campaign_id: Mapped[int | None] = mapped_column()
    step_id: Mapped[int | None] = mapped_column()
    channel: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_consultation_requests_status", "status", "id"),
        Index("ix_consultation_requests_campaign", "campaign_id", "step_id"),
    )
