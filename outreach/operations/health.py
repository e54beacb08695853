"""The deep health check (``GET /healthz?deep=1``): how far behind the queue is and which
workers went silent. Cheap look-ups only: one indexed row per channel, the heartbeat rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from outreach.clock import now as clock_now
from outreach.database import in_values
from outreach.extensions import db
from outreach.models import Campaign, Message, Step
from outreach.operations import heartbeats

CHANNELS = ("email", "sms")


def _runnable_steps() -> list[int]:
    """Steps a worker would claim from: their campaign runs and they are not paused."""
    return list(
        db.session.scalars(
            select(Step.id)
            .join(Campaign, Campaign.id == Step.campaign_id)
            .where(Campaign.status == "running", Step.paused_reason.is_(None))
        )
    )


def oldest_due(at: datetime | None = None) -> dict[str, datetime | None]:
    """Per channel, the due time of the oldest queued row a worker could claim now (None
    when nothing is due). Rows of paused steps or campaigns wait on staff, not workers, so
    they do not count; rows deferred to a window have their later due time."""
    at = at or clock_now()
    steps = _runnable_steps()
    found: dict[str, datetime | None] = dict.fromkeys(CHANNELS)
    if not steps:
        return found
    for channel in CHANNELS:
        # The same shape as the claim's statement: the (state, due_at) index, first row.
        found[channel] = db.session.scalar(
            select(Message.due_at)
            .where(
                Message.state == "queued",
                Message.due_at <= at,
                Message.channel == channel,
                in_values(Message.step_id, steps),
            )
            .order_by(Message.due_at)
            .limit(1)
        )
    return found


def _age(due: datetime | None, at: datetime) -> float | None:
    return None if due is None else round(max(0.0, (at - due).total_seconds()), 1)


def deep_report(at: datetime | None = None) -> dict[str, Any]:
    """The queue's oldest due row (overall and per channel) and the stale workers."""
    at = at or clock_now()
    due = oldest_due(at)
    oldest = min((d for d in due.values() if d is not None), default=None)
    listed = heartbeats.workers(at)
    stale = sorted((w for w in listed if w.stale), key=lambda w: w.last_beat_at)
    return {
        "queue": {
            "oldest_due_at": oldest.isoformat() if oldest else None,
            "oldest_due_age_seconds": _age(oldest, at),
            "channels": {
                channel: {
                    "oldest_due_at": when.isoformat() if when else None,
                    "oldest_due_age_seconds": _age(when, at),
                }
                for channel, when in due.items()
            },
        },
        "workers": {
            "count": len(listed),
            "stale_after_seconds": heartbeats.stale_after().total_seconds(),
            "stale_count": len(stale),
            "stale": [worker.to_dict() for worker in stale],
        },
    }
