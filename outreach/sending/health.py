"""Step health: a step whose error or complaint rate passes its threshold pauses itself."""

from __future__ import annotations

import time

from flask import current_app
from sqlalchemy import func, select

from outreach.campaigns import lifecycle
from outreach.extensions import db
from outreach.models import DeliveryEvent, Message, Step

HEALTH_MIN_VOLUME = 50


MAX_ERROR_RATE = 0.10


MAX_COMPLAINT_RATE = 0.001


COMPLAINT_RATE_FLOOR = 1000


#: A step's health (error and complaint rates) is re-checked after a batch with failures,
#: and otherwise at most this often per worker (the check counts all of the step's rows).
HEALTH_INTERVAL = 10.0


def check_step_health(step_ids: set[int]) -> list[str]:
    """Pause steps whose error or complaint rate passes its threshold; returns reasons."""
    reasons = []
    checked = current_app.extensions.setdefault("outreach.health_checked", {})
    for step_id in sorted(step_ids):  # one lock at a time, in one order: lanes never deadlock
        checked[step_id] = time.monotonic()
        campaign_id = db.session.scalar(select(Step.campaign_id).where(Step.id == step_id))
        counts = dict(
            db.session.execute(
                select(Message.state, func.count(Message.id))
                .where(Message.campaign_id == campaign_id, Message.step_id == step_id)
                .group_by(Message.state)
            ).all()
        )
        done = sum(counts.get(s, 0) for s in ("sent", "delivered", "failed", "bounced", "unknown"))
        failed = counts.get("failed", 0) + counts.get("bounced", 0)
        complaints = db.session.scalar(
            select(func.count(DeliveryEvent.id))
            .join(Message, Message.id == DeliveryEvent.message_id)
            .where(Message.step_id == step_id, DeliveryEvent.event_type == "spamreport")
        )
        # Locked and re-read (FOR NO KEY UPDATE: materialising keeps its KEY SHARE): two lanes
        # or workers that both see the rate pause the step once.
        step = db.session.get(
            Step, step_id, with_for_update={"key_share": True}, populate_existing=True
        )
        if step is None or step.paused_reason:
            db.session.commit()
            continue
        reason = None
        if done >= HEALTH_MIN_VOLUME and failed / done > MAX_ERROR_RATE:
            reason = f"error rate {failed / done:.1%} passed {MAX_ERROR_RATE:.0%}"
        elif complaints and complaints / max(done, COMPLAINT_RATE_FLOOR) > MAX_COMPLAINT_RATE:
            rate = complaints / max(done, 1)
            reason = f"complaint rate {rate:.2%} passed {MAX_COMPLAINT_RATE:.1%}"
        if reason:
            lifecycle.pause_step(step, reason)
            reasons.append(f"step {step_id}: {reason}")
        db.session.commit()
    return reasons


def health_due(step_ids: set[int], had_failures: bool) -> set[int]:
    """Steps to health-check now: all after failures, else those not checked lately."""
    if had_failures:
        return step_ids
    checked = current_app.extensions.get("outreach.health_checked", {})
    horizon = time.monotonic() - HEALTH_INTERVAL
    return {step_id for step_id in step_ids if checked.get(step_id, float("-inf")) < horizon}
