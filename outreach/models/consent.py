"""The append-only consent ledger and the suppression list."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from outreach.extensions import db
from outreach.models.base import BigId, UTCDateTime, utcnow

CONSENT_ACTIONS = (
    "requested", "confirmed", "revoked", "resubscribed", "suppressed", "unsuppressed",
)  # fmt: skip
CONSENT_SOURCES = (
    "web_form",
    "sms_keyword",
    "one_click",
    "preference_page",
    "import",
    "api",
    "admin",
    "provider_event",
)


class ConsentEvent(db.Model):
    """One consent change with its evidence. Rows are never updated or deleted."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"))
    audience_id: Mapped[int | None] = mapped_column(ForeignKey("audiences.id"))
    channel: Mapped[str] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))
    resulting_state: Mapped[str] = mapped_column(String(20))
    wording: Mapped[str | None] = mapped_column(Text)
    form_url: Mapped[str | None] = mapped_column(String(500))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    provider_ref: Mapped[str | None] = mapped_column(String(128))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_consent_events_subscriber", "subscriber_id", "id"),
        # Withdrawals by audience and time (opt-outs attributed to steps: results/reports.py).
        Index(
            "ix_consent_events_revoked",
            "audience_id",
            "created_at",
            postgresql_where=text("action = 'revoked'"),
            sqlite_where=text("action = 'revoked'"),
        ),
    )


class Suppression(db.Model):
    """An address that must never be contacted on a channel. Keyed by a hash so erasure keeps it."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    address_hash: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("channel", "address_hash"),)


CONFIRMATION_STATES = ("queued", "sending", "sent", "cancelled", "failed")


class PendingConfirmation(db.Model):
    """A double opt-in text that could not go out at sign-up (outside the legal hours where
    the person lives): deferred to the next window, never dropped. One per subscription."""

    __tablename__ = "pending_confirmations"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), unique=True)
    state: Mapped[str] = mapped_column(String(12), default="queued")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_pending_confirmations_due", "state", "due_at"),)
