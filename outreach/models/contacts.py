"""Subscribers, audiences (lists) and subscriptions (subscriber x audience x channel)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy import false as sql_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from outreach.extensions import db
from outreach.models.base import UTCDateTime, utcnow

CHANNELS = ("email", "sms")
SUBSCRIPTION_STATES = ("pending", "active", "unsubscribed", "bounced", "complained")


class Audience(db.Model):
    """A list people opt in to, with the sender identity the rules need."""

    __tablename__ = "audiences"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    channels: Mapped[str] = mapped_column(String(20), default="email,sms")
    double_opt_in: Mapped[bool] = mapped_column(default=True)
    single_opt_in_for_imports: Mapped[bool] = mapped_column(default=False)
    default_timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    organisation_name: Mapped[str] = mapped_column(String(200), default="")
    postal_address: Mapped[str] = mapped_column(String(400), default="")
    support_email: Mapped[str] = mapped_column(String(320), default="")
    support_phone: Mapped[str] = mapped_column(String(32), default="")
    from_email: Mapped[str] = mapped_column(String(320), default="")
    sms_program_name: Mapped[str] = mapped_column(String(120), default="")
    sms_frequency_text: Mapped[str] = mapped_column(String(120), default="")
    email_window_start: Mapped[str] = mapped_column(String(5), default="08:00")
    email_window_end: Mapped[str] = mapped_column(String(5), default="21:00")
    #: SendGrid's open pixel in this audience's emails (off unless staff turn it on).
    track_opens: Mapped[bool] = mapped_column(default=False, server_default=sql_false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def channel_list(self) -> list[str]:
        """The channels this audience offers, in a stable order."""
        wanted = {c.strip() for c in self.channels.split(",") if c.strip()}
        return [c for c in CHANNELS if c in wanted]


class Subscriber(db.Model):
    """A person, reachable by a normalised email and/or an E.164 phone number."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(32), unique=True, default=lambda: uuid.uuid4().hex
    )
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    # The language of our pages, emails and texts to this person: ``en`` or ``es``.
    language: Mapped[str] = mapped_column(String(5), default="en", server_default="en")
    phone_invalid: Mapped[bool] = mapped_column(default=False)
    phone_unreachable: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    subscriptions: Mapped[list[Subscription]] = relationship(back_populates="subscriber")

    __table_args__ = (Index("ix_subscribers_timezone", "timezone"),)


class Subscription(db.Model):
    """Consent state of one subscriber for one audience on one channel (a cache of the ledger)."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(20), default="pending")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)

    subscriber: Mapped[Subscriber] = relationship(back_populates="subscriptions")
    audience: Mapped[Audience] = relationship()

    __table_args__ = (
        UniqueConstraint("subscriber_id", "audience_id", "channel"),
        Index("ix_subscriptions_audience_channel_state", "audience_id", "channel", "state"),
    )
