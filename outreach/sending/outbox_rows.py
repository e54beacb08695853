"""What both fan-out paths share: the outbox columns a fan-out fills, who is eligible,
the step's lock against deletion, and the per-zone done marks."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, select

from outreach import database
from outreach.campaigns import lifecycle
from outreach.extensions import db
from outreach.models import Campaign, Message, Step, StepZone, Subscriber, Subscription

#: How far ahead rows are created, so claiming can start the moment they are due.
LOOKAHEAD = timedelta(minutes=2)

#: The outbox columns a fan-out's SELECT fills, in order.
COLUMNS = [
    "campaign_id",
    "step_id",
    "subscriber_id",
    "channel",
    "state",
    "due_at",
    "attempts",
    "created_at",
    "updated_at",
]


def insert_stmt(select_stmt):  # noqa: ANN001, ANN201
    """``INSERT ... SELECT ... ON CONFLICT (step, subscriber, channel) DO NOTHING``."""
    return (
        database.insert(Message.__table__)
        .from_select(COLUMNS, select_stmt)
        .on_conflict_do_nothing(index_elements=["step_id", "subscriber_id", "channel"])
        .execution_options(preserve_rowcount=True)
    )


def insert_select(select_stmt) -> int:  # noqa: ANN001
    """Run ``insert_stmt`` in the session; returns rows added."""
    return db.session.execute(insert_stmt(select_stmt)).rowcount or 0


def eligible(campaign: Campaign, step: Step):  # noqa: ANN201
    """Active subscriptions of the campaign's audience on the step's channel."""
    contact = Subscriber.email if step.channel == "email" else Subscriber.phone
    return and_(
        Subscription.audience_id == campaign.audience_id,
        Subscription.channel == step.channel,
        Subscription.state == "active",
        Subscriber.erased_at.is_(None),
        contact.is_not(None),
    )


def hold_step(step: Step) -> bool:
    """Keep the step from being deleted until this transaction ends (FOR KEY SHARE); False
    if it is gone. The outbox has no foreign key to steps: this lock, with the FOR UPDATE
    and second count in ``campaign_editing.delete_step``, is what stops a step being
    deleted while its rows are created."""
    return (
        db.session.scalar(
            select(Step.id).where(Step.id == step.id).with_for_update(read=True, key_share=True)
        )
        is not None
    )


def mark_zone_done(step: Step, tz: str, due: datetime, rows: int, at: datetime) -> None:
    """Record that the step is materialised in ``tz`` (ticks skip the zone from now on
    unless the step takes late joiners)."""
    db.session.execute(
        database.insert_ignore(StepZone.__table__, ["step_id", "timezone"]).values(
            step_id=step.id, timezone=tz, due_at=due, rows=rows, materialised_at=at
        )
    )


def zone_due(campaign: Campaign, step: Step, tz: str, at: datetime) -> datetime | None:
    """When a calendar step is due in zone ``tz`` (an unknown zone name counts as the
    audience's default zone), or None when it is not due by ``at`` plus the look-ahead."""
    try:
        due = lifecycle.step_due_at(campaign, step, tz)
    except ValueError:
        due = lifecycle.step_due_at(campaign, step, campaign.audience.default_timezone)
    if due is None or due > at + LOOKAHEAD:
        return None
    return due
