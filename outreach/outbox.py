"""Materialise due steps into outbox rows: set-based SQL, idempotent, safe in N workers.

One ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` per (step, time zone) for calendar
steps (``due_at`` computed per zone in Python, the fan-out done by the database), and one
per step for confirmation-anchored steps. The unique key (step, subscriber, channel) makes
re-running harmless.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, literal, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from outreach import campaigns
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import Campaign, Message, Step, StepZone, Subscriber, Subscription

#: How far ahead rows are created, so claiming can start the moment they are due.
LOOKAHEAD = timedelta(minutes=2)


def _insert(select_stmt) -> int:  # noqa: ANN001
    columns = [
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
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(Message.__table__)
        .from_select(columns, select_stmt)
        .on_conflict_do_nothing(index_elements=["step_id", "subscriber_id", "channel"])
        .execution_options(preserve_rowcount=True)
    )
    return db.session.execute(stmt).rowcount or 0


def _eligible(campaign: Campaign, step: Step):  # noqa: ANN202
    """Active subscriptions of the campaign's audience on the step's channel."""
    contact = Subscriber.email if step.channel == "email" else Subscriber.phone
    return and_(
        Subscription.audience_id == campaign.audience_id,
        Subscription.channel == step.channel,
        Subscription.state == "active",
        Subscriber.erased_at.is_(None),
        contact.is_not(None),
    )


def zones_present(campaign: Campaign, step: Step) -> list[str]:
    """Distinct time zones of the eligible subscribers of a step."""
    return list(
        db.session.scalars(
            select(Subscriber.timezone)
            .join(Subscription, Subscription.subscriber_id == Subscriber.id)
            .where(_eligible(campaign, step))
            .distinct()
        )
    )


def materialise_calendar_step(campaign: Campaign, step: Step, at: datetime) -> int:
    """Create rows for a calendar step in every zone where it is due; returns rows added."""
    done_zones = set(
        db.session.scalars(select(StepZone.timezone).where(StepZone.step_id == step.id))
    )
    added = 0
    for tz in zones_present(campaign, step):
        if tz in done_zones and not step.include_late_joiners:
            continue
        try:
            due = campaigns.step_due_at(campaign, step, tz)
        except ValueError:
            due = campaigns.step_due_at(campaign, step, campaign.audience.default_timezone)
        if due is None or due > at + LOOKAHEAD:
            continue
        conditions = [_eligible(campaign, step), Subscriber.timezone == tz]
        if not step.include_late_joiners:
            conditions.append(Subscription.confirmed_at <= due)
        rows = _insert(
            select(
                literal(campaign.id),
                literal(step.id),
                Subscription.subscriber_id,
                literal(step.channel),
                literal("queued"),
                literal(due, type_=Message.due_at.type),
                literal(0),
                literal(at, type_=Message.created_at.type),
                literal(at, type_=Message.updated_at.type),
            )
            .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
            .where(*conditions)
        )
        added += rows
        if due <= at and tz not in done_zones:
            _mark_zone_done(step, tz, due, rows, at)
    return added


def _mark_zone_done(step: Step, tz: str, due: datetime, rows: int, at: datetime) -> None:
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(
        insert(StepZone.__table__)
        .values(step_id=step.id, timezone=tz, due_at=due, rows=rows, materialised_at=at)
        .on_conflict_do_nothing(index_elements=["step_id", "timezone"])
    )


def _plus_minutes(column, minutes: int):  # noqa: ANN001, ANN202
    if db.session.get_bind().dialect.name == "postgresql":
        return column + text(f"interval '{int(minutes)} minutes'")
    return db.func.strftime("%Y-%m-%d %H:%M:%f", column, f"+{int(minutes)} minutes")


def materialise_confirmation_step(campaign: Campaign, step: Step, at: datetime) -> int:
    """Create rows for a step anchored on each subscriber's confirmation time."""
    due = _plus_minutes(Subscription.confirmed_at, step.after_minutes)
    conditions = [
        _eligible(campaign, step),
        Subscription.confirmed_at.is_not(None),
        Subscription.confirmed_at <= at + LOOKAHEAD - timedelta(minutes=step.after_minutes),
    ]
    if not step.include_late_joiners and campaign.started_at is not None:
        conditions.append(Subscription.confirmed_at >= campaign.started_at)
    return _insert(
        select(
            literal(campaign.id),
            literal(step.id),
            Subscription.subscriber_id,
            literal(step.channel),
            literal("queued"),
            due,
            literal(0),
            literal(at, type_=Message.created_at.type),
            literal(at, type_=Message.updated_at.type),
        )
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .where(*conditions)
    )


def materialise_due(at: datetime | None = None) -> int:
    """Materialise every due step of every running campaign; returns rows added."""
    at = at or clock_now()
    campaigns.start_due(at)
    added = 0
    running = db.session.scalars(select(Campaign).where(Campaign.status == "running")).all()
    for campaign in running:
        for step in campaign.steps:
            if step.paused_reason:
                continue
            if campaign.anchor_kind == "confirmation":
                added += materialise_confirmation_step(campaign, step, at)
            else:
                added += materialise_calendar_step(campaign, step, at)
    db.session.commit()
    return added
