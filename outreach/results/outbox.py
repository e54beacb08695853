"""The outbox as staff read it: rows by state with their reconciliation history, and a
campaign's ``unknown`` and re-queued rows counted by reason (results page)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, literal, select

from outreach.campaigns import naming
from outreach.extensions import db
from outreach.feedback.writes import HISTORY_PROVIDER
from outreach.models import Campaign, DeliveryEvent, Message, Step, Subscriber

PAGE_SIZE = 50
#: History kinds that put a row back in the queue (by reconciliation or by hand).
REQUEUE_KINDS = ("requeued", "requeued_by_hand")
#: History kinds that settled a row as sent.
SENT_KINDS = ("reconciled_sent", "marked_sent")
LISTED_STATES = ("unknown", "sending", "queued", "sent", "delivered", "failed", "bounced")
#: How the results page names a settled row's move (its detail may carry a SID or a note).
KIND_LABELS = {
    "reconciled_sent": "found at the provider by reconciliation",
    "marked_sent": "marked sent by staff",
    "requeued_by_hand": "re-queued by staff",
}


@dataclass
class HistoryEntry:
    """One line of a row's history: a provider report or a reconciliation move."""

    at: datetime
    provider: str
    kind: str
    detail: str


@dataclass
class OutboxRow:
    """One outbox row with names, not ids, for the staff page."""

    id: int
    state: str
    channel: str
    campaign_id: int
    campaign: str
    step_number: int
    step_title: str
    subscriber: str
    claimed_at: datetime | None
    requeued_at: datetime | None
    reason: str
    history: list[HistoryEntry] = field(default_factory=list)


@dataclass
class OutboxPage:
    """One page of the listing."""

    rows: list[OutboxRow]
    total: int
    page: int
    pages: int


def history(message_ids: list[int]) -> dict[int, list[HistoryEntry]]:
    """Provider reports and reconciliation moves per row, oldest first."""
    if not message_ids:
        return {}
    out: dict[int, list[HistoryEntry]] = defaultdict(list)
    for event in db.session.scalars(
        select(DeliveryEvent)
        .where(DeliveryEvent.message_id.in_(message_ids))
        .order_by(DeliveryEvent.id)
    ):
        out[event.message_id].append(
            HistoryEntry(event.created_at, event.provider, event.event_type, event.detail or "")
        )
    return out


def listing(
    state: str = "unknown",
    campaign_id: int | None = None,
    channel: str | None = None,
    page: int = 1,
) -> OutboxPage:
    """Rows in one state (optionally one campaign and channel), newest claim first."""
    where = [Message.state == state]
    if campaign_id is not None:
        where.append(Message.campaign_id == campaign_id)
    if channel in ("email", "sms"):
        where.append(Message.channel == channel)
    total = db.session.scalar(select(func.count(Message.id)).where(*where)) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    messages = list(
        db.session.scalars(
            select(Message)
            .where(*where)
            .order_by(Message.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    )
    steps = {
        s.id: s
        for s in db.session.scalars(select(Step).where(Step.id.in_({m.step_id for m in messages})))
    }
    campaigns = dict(
        db.session.execute(
            select(Campaign.id, Campaign.name).where(
                Campaign.id.in_({m.campaign_id for m in messages})
            )
        ).all()
    )
    people = dict(
        db.session.execute(
            select(Subscriber.id, Subscriber.public_id).where(
                Subscriber.id.in_({m.subscriber_id for m in messages})
            )
        ).all()
    )
    notes = history([m.id for m in messages])
    rows = []
    for m in messages:
        step = steps.get(m.step_id)
        rows.append(
            OutboxRow(
                id=m.id,
                state=m.state,
                channel=m.channel,
                campaign_id=m.campaign_id,
                campaign=campaigns.get(m.campaign_id, f"campaign {m.campaign_id}"),
                step_number=(step.position + 1) if step else 0,
                step_title=naming.step_words(step.channel, step.subject, step.body) if step else "",
                subscriber=people.get(m.subscriber_id, ""),
                claimed_at=m.claimed_at,
                requeued_at=m.requeued_at,
                reason=m.error_detail or "",
                history=notes.get(m.id, []),
            )
        )
    return OutboxPage(rows, total, page, pages)


@dataclass
class ReasonCount:
    """Rows of one step counted under one reason."""

    step_number: int
    channel: str
    reason: str
    count: int


@dataclass
class Reconciliation:
    """A campaign's open and settled ``unknown`` rows, for the results page."""

    unknown: list[ReasonCount]
    requeued: list[ReasonCount]
    settled_sent: list[ReasonCount]

    @property
    def unknown_total(self) -> int:
        """Rows still unknown."""
        return sum(r.count for r in self.unknown)

    @property
    def requeued_total(self) -> int:
        """Rows put back in the queue (each at most once by reconciliation)."""
        return sum(r.count for r in self.requeued)

    def to_dict(self) -> dict[str, object]:
        """For the JSON results."""
        return {
            "unknown": self.unknown_total,
            "requeued": self.requeued_total,
            "settled_sent": sum(r.count for r in self.settled_sent),
            "reasons": {
                name: [r.__dict__ for r in rows]
                for name, rows in (
                    ("unknown", self.unknown),
                    ("requeued", self.requeued),
                    ("settled_sent", self.settled_sent),
                )
            },
        }


def reconciliation(campaign: Campaign) -> Reconciliation:
    """Unknown rows by step and reason; re-queued and settled rows by step and reason."""
    numbers = {s.id: (s.position + 1, s.channel) for s in campaign.steps}
    unknown = [
        ReasonCount(*numbers.get(step_id, (0, "")), reason or "no reason recorded", n)
        for step_id, reason, n in db.session.execute(
            select(Message.step_id, Message.error_detail, func.count())
            .where(Message.campaign_id == campaign.id, Message.state == "unknown")
            .group_by(Message.step_id, Message.error_detail)
        )
    ]
    # Reconciliation's re-queue reasons are fixed sentences; other moves are named by kind.
    reason = case((DeliveryEvent.event_type == "requeued", DeliveryEvent.detail), else_=literal(""))
    moves = db.session.execute(
        select(Message.step_id, DeliveryEvent.event_type, reason, func.count())
        .join(Message, Message.id == DeliveryEvent.message_id)
        .where(
            DeliveryEvent.provider == HISTORY_PROVIDER,
            DeliveryEvent.event_type.in_(REQUEUE_KINDS + SENT_KINDS),
            Message.campaign_id == campaign.id,
        )
        .group_by(Message.step_id, DeliveryEvent.event_type, reason)
    ).all()
    requeued, settled = [], []
    for step_id, kind, detail, n in moves:
        label = detail or KIND_LABELS.get(kind, kind)
        entry = ReasonCount(*numbers.get(step_id, (0, "")), label, n)
        (requeued if kind in REQUEUE_KINDS else settled).append(entry)
    key = lambda r: (r.step_number, r.reason)  # noqa: E731
    return Reconciliation(
        sorted(unknown, key=key), sorted(requeued, key=key), sorted(settled, key=key)
    )
