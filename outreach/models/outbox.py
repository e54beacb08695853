"""The outbox (one row per step x subscriber x channel), delivery events and inbound texts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from outreach.extensions import db
from outreach.models.base import BigId, UTCDateTime, utcnow

MESSAGE_STATES = (
    "queued",
    "sending",
    "sent",
    "delivered",
    "failed",
    "bounced",
    "skipped",
    "unknown",
    "cancelled",
)
TERMINAL_STATES = ("delivered", "failed", "bounced", "skipped", "cancelled")
#: Rows that may still go out: waiting, in flight, or with a fate not known yet.
UNSETTLED_STATES = ("queued", "sending", "unknown")
#: Rows handed to a provider whose fate is not known yet (the partial index's condition;
#: a query must spell it the same way for SQLite to use the index).
OPEN_CLAIM = "state IN ('sending', 'unknown')"

#: Messages a person clicked / opened (the conditions of two partial indexes).
CLICKED = "clicked_at IS NOT NULL"


OPENED = "opened_at IS NOT NULL"


class Message(db.Model):
    """One message to one subscriber for one step; the unique key makes sends exactly-once."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # campaign_id, step_id and subscriber_id are deliberately not foreign keys. Rows are
    # only ever created by outbox.materialise, from the steps and subscribers it reads in
    # the same statement; a step or campaign with outbox rows is never deleted
    # (campaign_editing.delete_step refuses: the rows are the record of what was sent) and
    # neither is a subscriber (erasure blanks the row, privacy.erase). A foreign key would
    # re-check that for every inserted row, locking the parent rows: about 45% of a
    # million-row fan-out (migration 8231cfab834b).
    campaign_id: Mapped[int] = mapped_column()
    step_id: Mapped[int] = mapped_column()
    subscriber_id: Mapped[int] = mapped_column()
    channel: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(20), default="queued")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # Each claim stamps its rows with a fresh id and time: the rows of one claim and one
    # step went to the provider together (one SendGrid request, which is atomic), and the
    # time bounds the provider look-ups of reconciliation (sending/reconcile.py).
    claim_id: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when reconciliation put an ``unknown`` row back in the queue: it does so once.
    requeued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(default=0)
    provider_id: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_detail: Mapped[str | None] = mapped_column(Text)
    skip_reason: Mapped[str | None] = mapped_column(String(40))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("step_id", "subscriber_id", "channel"),
        Index("ix_outbox_messages_state_due", "state", "due_at"),
        # Only sent rows have a provider id: queued and claimed rows stay out of this index.
        Index(
            "ix_outbox_messages_provider_id",
            "provider_id",
            postgresql_where=text("provider_id IS NOT NULL"),
            sqlite_where=text("provider_id IS NOT NULL"),
        ),
        Index("ix_outbox_messages_subscriber", "subscriber_id", "channel", "sent_at"),
        # Rows of one provider request while their fate is open: a SendGrid event for one
        # of them settles the rest (feedback/email_events.py). Sent rows leave the index.
        Index(
            "ix_outbox_messages_open_claim",
            "claim_id",
            postgresql_where=text(OPEN_CLAIM),
            sqlite_where=text(OPEN_CLAIM),
        ),
        # Covers the results dashboard's GROUP BY (index-only scan): see results/reports.py.
        Index(
            "ix_outbox_messages_campaign_state", "campaign_id", "step_id", "state", "skip_reason"
        ),
        # The results' opened and clicked messages per step (results/opens.py) read only the
        # rows that were opened or clicked, not the whole campaign. A fanned-out row has
        # neither time, so fan-out and sending never write these indexes.
        Index(
            "ix_outbox_messages_clicked",
            "campaign_id",
            "step_id",
            postgresql_where=text(CLICKED),
            sqlite_where=text(CLICKED),
        ),
        Index(
            "ix_outbox_messages_opened",
            "campaign_id",
            "step_id",
            postgresql_where=text(OPENED),
            sqlite_where=text(OPENED),
        ),
    )


class DeliveryEvent(db.Model):
    """A provider's report about a message; unique per provider event id (dedup)."""

    __tablename__ = "delivery_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="SET NULL")
    )
    provider: Mapped[str] = mapped_column(String(20))
    provider_event_id: Mapped[str] = mapped_column(String(160))
    event_type: Mapped[str] = mapped_column(String(30))
    error_code: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("provider", "provider_event_id"),
        Index("ix_delivery_events_message", "message_id"),
        # Complaint counts per step read only spam reports (a small partial index).
        Index(
            "ix_delivery_events_spamreport",
            "message_id",
            postgresql_where=text("event_type = 'spamreport'"),
            sqlite_where=text("event_type = 'spamreport'"),
        ),
    )


class InboundSms(db.Model):
    """A text a subscriber sent us, kept so staff can read replies."""

    __tablename__ = "inbound_sms"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)
    from_phone: Mapped[str] = mapped_column(String(32))
    to_phone: Mapped[str | None] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text, default="")
    intent: Mapped[str] = mapped_column(String(20))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
