"""Campaign results: counts by step, channel and state, opt-outs, complaints, sends over time.

Every number is a SQL aggregate computed by the database (GROUP BY over indexed columns),
never a Python loop over rows, so the dashboard stays fast with millions of outbox rows.
The dashboard (``/admin/campaigns/<id>/results``), ``flask outreach stats`` and
``GET /api/v1/campaigns/<id>/stats`` all read :func:`campaign_results`, so they show the
same numbers.

Definitions (also in ``docs/results-privacy-api.md``):

* **Opt-outs attributed to a step.** A withdrawal is a consent-ledger row with action
  ``revoked`` and resulting state ``unsubscribed`` (SMS STOP, one-click or page
  unsubscribe, staff opt-out on the person's request, a SendGrid unsubscribe event) for
  the campaign's audience on the step's channel. It is attributed to the most recent
  message of this campaign sent to that person on that channel before the withdrawal,
  provided that message was sent at most ``OPT_OUT_WINDOW_DAYS`` days earlier. Each
  message counts at most once. Bounces and spam complaints are not opt-outs.
* **Complaint rate.** Distinct messages of the step with a SendGrid ``spamreport``
  delivery event, divided by the step's messages in state ``sent`` or ``delivered``.
* **Requests attributed to a step.** Consultation requests whose person followed a tracked
  link of one of the step's messages, the newest such click within 30 days before the
  request (``consultations/attribution.py``; counted in ``results/requests.py``).
* **Sends / deliveries over time.** Messages by the hour (UTC) of ``sent_at`` and of
  ``delivered_at``; shown by day when the campaign spans more than four days.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Interval, and_, distinct, exists, func, literal, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from outreach import database
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import Campaign, ConsentEvent, DeliveryEvent, Message, Step
from outreach.results.requests import requests_by_step

STATE_ORDER = (
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
#: A withdrawal this long after a send is still attributed to it.
OPT_OUT_WINDOW_DAYS = 7
#: Campaigns spanning more than this are charted by day instead of by hour.
HOURLY_SPAN = timedelta(days=4)
#: The columns of the stats table, in order (the CLI and the dashboard share them).
COLUMNS = ("total", *STATE_ORDER, "opt_outs", "complaints", "complaint_rate", "requests")


# --------------------------------------------------------------------------- data


@dataclass
class StepResult:
    """The numbers of one step (one channel)."""

    step_id: int
    number: int
    channel: str
    title: str
    states: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATE_ORDER, 0))
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    cancelled_by_reason: dict[str, int] = field(default_factory=dict)
    opt_outs: int = 0
    complaints: int = 0
    #: Consultation requests attributed to the step (``results/requests.py``).
    requests: int = 0

    @property
    def total(self) -> int:
        """Outbox rows of the step."""
        return sum(self.states.values())

    @property
    def reached(self) -> int:
        """Messages in state sent or delivered (the complaint-rate denominator)."""
        return self.states["sent"] + self.states["delivered"]

    @property
    def complaint_rate(self) -> float | None:
        """Complaints / (sent + delivered); None for texts or before anything went out."""
        if self.channel != "email" or not self.reached:
            return None
        return self.complaints / self.reached

    def cell(self, column: str) -> str:
        """One column of the stats table as text (identical in the CLI and the dashboard)."""
        if column == "complaint_rate":
            return format_rate(self.complaint_rate)
        if column == "total":
            value = self.total
        elif column in ("opt_outs", "complaints", "requests"):
            value = getattr(self, column)
        else:
            value = self.states[column]
        return f"{value:,}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "step_id": self.step_id,
            "number": self.number,
            "channel": self.channel,
            "title": self.title,
            "total": self.total,
            "states": dict(self.states),
            "skipped_by_reason": dict(sorted(self.skipped_by_reason.items())),
            "cancelled_by_reason": dict(sorted(self.cancelled_by_reason.items())),
            "opt_outs": self.opt_outs,
            "complaints": self.complaints,
            "complaint_rate": self.complaint_rate,
            "requests": self.requests,
        }


@dataclass(frozen=True)
class Bucket:
    """Sends and deliveries in one time bucket (UTC)."""

    start: datetime
    sent: int
    delivered: int


@dataclass
class Series:
    """Sends and deliveries over time."""

    unit: str  # "hour" or "day"
    buckets: list[Bucket]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "unit": self.unit,
            "buckets": [
                {"start": b.start.isoformat(), "sent": b.sent, "delivered": b.delivered}
                for b in self.buckets
            ],
        }


@dataclass
class CampaignResults:
    """Everything the results dashboard shows for one campaign."""

    campaign_id: int
    name: str
    status: str
    paused_reason: str | None
    steps: list[StepResult]
    totals: dict[str, StepResult]
    series: Series
    generated_at: datetime
    opt_out_window_days: int = OPT_OUT_WINDOW_DAYS

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the API's campaign stats)."""
        return {
            "campaign_id": self.campaign_id,
            "name": self.name,
            "status": self.status,
            "paused_reason": self.paused_reason,
            "generated_at": self.generated_at.isoformat(),
            "opt_out_window_days": self.opt_out_window_days,
            "steps": [s.to_dict() for s in self.steps],
            "totals": {channel: t.to_dict() for channel, t in self.totals.items()},
            "series": self.series.to_dict(),
        }


def format_rate(rate: float | None) -> str:
    """A rate as a percentage with two decimals, or "-" when there is none."""
    return "-" if rate is None else f"{rate:.2%}"


# --------------------------------------------------------------------------- SQL helpers


def _dialect() -> str:
    return database.dialect()


def _days_before(column: ColumnElement, days: int) -> ColumnElement:
    """``column - days`` in the database's own datetime arithmetic."""
    if _dialect() == "postgresql":
        return column - literal(timedelta(days=days), Interval())
    return func.strftime("%Y-%m-%d %H:%M:%f", column, f"-{days} days")


def _hour(column: ColumnElement) -> ColumnElement:
    """The hour a datetime falls in (UTC)."""
    if _dialect() == "postgresql":
        return func.date_trunc("hour", column)
    return func.strftime("%Y-%m-%d %H:00:00", column)


def _as_utc(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --------------------------------------------------------------------------- aggregates


def step_counts(campaign: Campaign) -> dict[int, dict[str, int]]:
    """{step_id: {state: count}} for one campaign (the campaign page's live counts)."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATE_ORDER, 0))
    for step_id, state, _, n in state_reason_counts(campaign):
        counts[step_id][state] = counts[step_id].get(state, 0) + n
    return counts


def state_reason_counts(campaign: Campaign) -> list[tuple[int, str, str | None, int]]:
    """(step_id, state, skip_reason, count) rows: one GROUP BY, an index-only scan.

    The channel is the step's (a step has one channel), so it is not grouped on.
    """
    return [
        (step_id, state, reason, n)
        for step_id, state, reason, n in db.session.execute(
            select(Message.step_id, Message.state, Message.skip_reason, func.count())
            .where(Message.campaign_id == campaign.id)
            .group_by(Message.step_id, Message.state, Message.skip_reason)
        )
    ]


def complaints(campaign: Campaign) -> dict[int, int]:
    """{step_id: messages with a spam complaint}."""
    rows = db.session.execute(
        select(Message.step_id, func.count(distinct(DeliveryEvent.message_id)))
        .join(Message, Message.id == DeliveryEvent.message_id)
        .where(Message.campaign_id == campaign.id, DeliveryEvent.event_type == "spamreport")
        .group_by(Message.step_id)
    )
    return {step_id: n for step_id, n in rows}


def opt_outs(campaign: Campaign, days: int = OPT_OUT_WINDOW_DAYS) -> dict[int, int]:
    """{step_id: opt-outs attributed to the step} (see the module docstring), one statement.

    Driven by the (few) withdrawals of the campaign's audience, each matched to messages
    through the (subscriber_id, channel, sent_at) index.
    """
    sent = aliased(Message)
    later = aliased(Message)
    withdrawal = ConsentEvent
    stmt = (
        select(sent.step_id, func.count(distinct(sent.id)))
        .select_from(withdrawal)
        .join(
            sent,
            and_(
                sent.subscriber_id == withdrawal.subscriber_id,
                sent.channel == withdrawal.channel,
                sent.sent_at <= withdrawal.created_at,
                sent.sent_at > _days_before(withdrawal.created_at, days),
            ),
        )
        .where(
            withdrawal.audience_id == campaign.audience_id,
            withdrawal.action == "revoked",
            withdrawal.resulting_state == "unsubscribed",
            sent.campaign_id == campaign.id,
            ~exists().where(
                later.subscriber_id == sent.subscriber_id,
                later.channel == sent.channel,
                later.campaign_id == sent.campaign_id,
                later.sent_at > sent.sent_at,
                later.sent_at <= withdrawal.created_at,
            ),
        )
        .group_by(sent.step_id)
    )
    return {step_id: n for step_id, n in db.session.execute(stmt)}


def series(campaign: Campaign) -> Series:
    """Sends and deliveries per hour (per day for campaigns longer than four days).

    One scan: grouped by (hour sent, hour delivered), which are few pairs since a message
    is delivered soon after it is sent; the two histograms are summed from those pairs.
    """
    per_hour: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    sent_hour = _hour(Message.sent_at).label("sent_hour")
    delivered_hour = _hour(Message.delivered_at).label("delivered_hour")
    rows = db.session.execute(
        select(sent_hour, delivered_hour, func.count())
        .where(
            Message.campaign_id == campaign.id,
            or_(Message.sent_at.is_not(None), Message.delivered_at.is_not(None)),
        )
        .group_by(sent_hour, delivered_hour)
    )
    for sent_start, delivered_start, n in rows:
        if sent_start is not None:
            per_hour[_as_utc(sent_start)][0] += n
        if delivered_start is not None:
            per_hour[_as_utc(delivered_start)][1] += n
    if not per_hour:
        return Series("hour", [])
    first, last = min(per_hour), max(per_hour)
    unit = "hour" if last - first <= HOURLY_SPAN else "day"
    buckets: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=1)
    for start, (sent_n, delivered_n) in per_hour.items():
        key = start if unit == "hour" else start.replace(hour=0)
        buckets[key][0] += sent_n
        buckets[key][1] += delivered_n
    # Fill the gaps so the chart's time axis is even.
    cursor = first if unit == "hour" else first.replace(hour=0)
    end = max(buckets)
    filled = []
    while cursor <= end:
        sent_n, delivered_n = buckets.get(cursor, (0, 0))
        filled.append(Bucket(cursor, sent_n, delivered_n))
        cursor += step
    return Series(unit, filled)


def _title(step: Step) -> str:
    text = step.subject if step.channel == "email" else step.body
    text = " ".join((text or "").split())
    return text if len(text) <= 60 else text[:57] + "..."


def campaign_results(campaign: Campaign, *, with_series: bool = True) -> CampaignResults:
    """The dashboard's numbers for one campaign (four or five aggregate queries)."""
    steps = sorted(campaign.steps, key=lambda s: s.position)
    results = {
        step.id: StepResult(step.id, number, step.channel, _title(step))
        for number, step in enumerate(steps, start=1)
    }
    for step_id, state, reason, n in state_reason_counts(campaign):
        result = results.get(step_id)
        if result is None:  # pragma: no cover - steps cascade to their rows
            continue
        result.states[state] = result.states.get(state, 0) + n
        if state == "skipped":
            key = reason or "unspecified"
            result.skipped_by_reason[key] = result.skipped_by_reason.get(key, 0) + n
        elif state == "cancelled":
            key = reason or "unspecified"
            result.cancelled_by_reason[key] = result.cancelled_by_reason.get(key, 0) + n
    for step_id, n in opt_outs(campaign).items():
        if step_id in results:
            results[step_id].opt_outs = n
    for step_id, n in complaints(campaign).items():
        if step_id in results:
            results[step_id].complaints = n
    for step_id, n in requests_by_step(campaign).items():
        if step_id in results:
            results[step_id].requests = n
    totals: dict[str, StepResult] = {}
    for result in results.values():
        total = totals.setdefault(
            result.channel, StepResult(0, 0, result.channel, f"all {result.channel} steps")
        )
        for state, n in result.states.items():
            total.states[state] = total.states.get(state, 0) + n
        for source, target in (
            (result.skipped_by_reason, total.skipped_by_reason),
            (result.cancelled_by_reason, total.cancelled_by_reason),
        ):
            for reason, n in source.items():
                target[reason] = target.get(reason, 0) + n
        total.opt_outs += result.opt_outs
        total.complaints += result.complaints
        total.requests += result.requests
    return CampaignResults(
        campaign_id=campaign.id,
        name=campaign.name,
        status=campaign.status,
        paused_reason=campaign.paused_reason,
        steps=list(results.values()),
        totals=totals,
        series=series(campaign) if with_series else Series("hour", []),
        generated_at=clock_now(),
    )


# --------------------------------------------------------------------------- text


def stats_lines(campaign: Campaign) -> list[str]:
    """The dashboard's table as text (``flask outreach stats``): same rows, same numbers."""
    results = campaign_results(campaign, with_series=False)
    header = ["step", "channel", *COLUMNS]
    rows = [header]
    for step in results.steps:
        rows.append([str(step.number), step.channel, *(step.cell(c) for c in COLUMNS)])
    for channel, total in results.totals.items():
        rows.append(["all", channel, *(total.cell(c) for c in COLUMNS)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        f"{results.name} [{results.status}]"
        + (f" paused: {results.paused_reason}" if results.paused_reason else ""),
        f"opt-outs: withdrawals within {results.opt_out_window_days} days of a send; "
        "complaint rate: spam reports / (sent + delivered); requests: consultation requests "
        "attributed to the step (last tracked click within 30 days)",
    ]
    lines += ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    for step in results.steps:
        for label, reasons in (
            ("skipped", step.skipped_by_reason),
            ("cancelled", step.cancelled_by_reason),
        ):
            if reasons:
                detail = ", ".join(f"{k} {v:,}" for k, v in sorted(reasons.items()))
                lines.append(f"step {step.number} {label}: {detail}")
    return lines
