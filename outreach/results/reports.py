"""Campaign results: did it work? Per step and channel: sent, delivered, people's clicks
(per link too), consultation requests, opt-outs, complaints; the outbox states behind them.

Every number is a SQL aggregate computed by the database (GROUP BY over indexed columns),
never a Python loop over rows, so the dashboard stays fast with millions of outbox rows.
The dashboard (``/admin/campaigns/<id>/results``), ``flask outreach stats`` and
``GET /api/v1/campaigns/<id>/stats`` all read :func:`campaign_results`, so they show the
same numbers.

Definitions (also in ``docs/results-privacy-api.md``):

* **Sent.** Messages handed to the provider: in state ``sent``, ``delivered``, ``bounced``
  or ``failed`` (queued, skipped, cancelled and unknown rows are not counted).
  **Delivered**: in state ``delivered`` (the provider confirmed it).
* **Clicks.** People's clicks on the step's tracked links (``results/clicks.py``; link
  scanners are recorded but not counted). **Unique clicks**: messages with at least one.
  **Click rate**: unique clicks / delivered.
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
* **Over time** (``results/over_time.py``). Messages by the hour (UTC) of ``sent_at`` and
  of ``delivered_at``, people's clicks by the hour of the click; by day when the activity
  spans more than four days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Interval, and_, distinct, exists, func, literal, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from outreach import database
from outreach.campaigns import naming
from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import Campaign, ConsentEvent, DeliveryEvent, Message
from outreach.results.clicks import LinkResult, clicks_by_step, links_by_step
from outreach.results.over_time import ClickSeries, Series, click_series, series
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
#: States of a message handed to the provider (the "sent" figure).
HANDED_OVER = ("sent", "delivered", "bounced", "failed")
#: A withdrawal this long after a send is still attributed to it.
OPT_OUT_WINDOW_DAYS = 7
#: "Did it work?": the outcome columns, in order (the CLI and the dashboard share them).
OUTCOMES = (
    "sent",
    "delivered",
    "unique_clicks",
    "click_rate",
    "clicks",
    "requests",
    "opt_outs",
    "complaints",
    "complaint_rate",
)
#: The outbox states table's columns, in order.
STATE_COLUMNS = ("total", *STATE_ORDER)
_RATES = ("click_rate", "complaint_rate")
_COUNTS = ("unique_clicks", "clicks", "requests", "opt_outs", "complaints")


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
    #: People's clicks on the step's links, and the messages they came from.
    clicks: int = 0
    unique_clicks: int = 0
    links: list[LinkResult] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Outbox rows of the step."""
        return sum(self.states.values())

    @property
    def sent(self) -> int:
        """Messages handed to the provider (sent, delivered, bounced or failed)."""
        return sum(self.states.get(state, 0) for state in HANDED_OVER)

    @property
    def delivered(self) -> int:
        """Messages the provider confirmed delivered."""
        return self.states["delivered"]

    @property
    def reached(self) -> int:
        """Messages in state sent or delivered (the complaint-rate denominator)."""
        return self.states["sent"] + self.states["delivered"]

    @property
    def click_rate(self) -> float | None:
        """Unique clicks / delivered; None before anything was delivered."""
        return self.unique_clicks / self.delivered if self.delivered else None

    @property
    def complaint_rate(self) -> float | None:
        """Complaints / (sent + delivered); None for texts or before anything went out."""
        if self.channel != "email" or not self.reached:
            return None
        return self.complaints / self.reached

    def cell(self, column: str) -> str:
        """One outcome column (``OUTCOMES``) as text, identical in the CLI and the page."""
        if column in _RATES:
            return format_rate(getattr(self, column))
        if column in ("sent", "delivered", *_COUNTS):
            return f"{getattr(self, column):,}"
        raise KeyError(column)

    def state_cell(self, column: str) -> str:
        """One ``STATE_COLUMNS`` column (the total or a state's count) as text."""
        return f"{self.total if column == 'total' else self.states[column]:,}"

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
            "sent": self.sent,
            "delivered": self.delivered,
            "clicks": self.clicks,
            "unique_clicks": self.unique_clicks,
            "click_rate": self.click_rate,
            "links": [link.to_dict() for link in self.links],
            "opt_outs": self.opt_outs,
            "complaints": self.complaints,
            "complaint_rate": self.complaint_rate,
            "requests": self.requests,
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
    clicks_over_time: ClickSeries = field(default_factory=lambda: ClickSeries("hour", []))
    opt_out_window_days: int = OPT_OUT_WINDOW_DAYS

    def funnel(self, channel: str) -> list[tuple[str, int]]:
        """Sent -> delivered -> clicked -> requested for one channel's steps."""
        total = self.totals.get(channel) or StepResult(0, 0, channel, "")
        return [
            ("sent", total.sent),
            ("delivered", total.delivered),
            ("clicked", total.unique_clicks),
            ("requested", total.requests),
        ]

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
            "clicks_over_time": self.clicks_over_time.to_dict(),
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


def campaign_results(campaign: Campaign, *, with_series: bool = True) -> CampaignResults:
    """The dashboard's numbers for one campaign (a handful of aggregate queries; the two
    time series only ``with_series``)."""
    steps = sorted(campaign.steps, key=lambda s: s.position)
    results = {
        step.id: StepResult(
            step.id, number, step.channel, naming.step_words(step.channel, step.subject, step.body)
        )
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
    for source, attribute in (
        (opt_outs(campaign), "opt_outs"),
        (complaints(campaign), "complaints"),
        (requests_by_step(campaign), "requests"),
    ):
        for step_id, n in source.items():
            if step_id in results:
                setattr(results[step_id], attribute, n)
    for step_id, (clicks, unique) in clicks_by_step(campaign).items():
        if step_id in results:
            results[step_id].clicks, results[step_id].unique_clicks = clicks, unique
    for step_id, links in links_by_step(campaign).items():
        if step_id in results:
            results[step_id].links = links
    return CampaignResults(
        campaign_id=campaign.id,
        name=campaign.name,
        status=campaign.status,
        paused_reason=campaign.paused_reason,
        steps=list(results.values()),
        totals=channel_totals(results.values()),
        series=series(campaign) if with_series else Series("hour", []),
        clicks_over_time=click_series(campaign) if with_series else ClickSeries("hour", []),
        generated_at=clock_now(),
    )


def channel_totals(steps: Iterable[StepResult]) -> dict[str, StepResult]:
    """{channel: the sum of its steps} (the table's "All email" / "All sms" rows)."""
    totals: dict[str, StepResult] = {}
    for result in steps:
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
        for attribute in _COUNTS:
            setattr(total, attribute, getattr(total, attribute) + getattr(result, attribute))
    return totals
