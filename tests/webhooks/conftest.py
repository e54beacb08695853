"""Fixtures for the webhook tests: an audience, people, outbox rows, table snapshots."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select

from outreach.channels.base import EmailBatch, Outcome, OutgoingSms, SendResult
from outreach.extensions import db
from outreach.models import (
    Audience,
    Campaign,
    ConsentEvent,
    DeliveryEvent,
    InboundSms,
    Message,
    Step,
    Subscriber,
    Subscription,
    Suppression,
)
from tests.factories import make_audience, make_campaign, make_subscriber


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table, ordered by primary key (fresh from the database)."""
    db.session.expire_all()
    tables: dict[str, list[tuple]] = {}
    for table in db.metadata.sorted_tables:
        order = list(table.primary_key.columns)
        tables[table.name] = [tuple(r) for r in db.session.execute(select(table).order_by(*order))]
    db.session.rollback()
    return tables


def counts() -> dict[str, int]:
    """Row counts of the tables a webhook can change."""
    models = (InboundSms, ConsentEvent, Suppression, DeliveryEvent, Message, Subscription)
    return {m.__tablename__: db.session.scalar(select(func.count()).select_from(m)) for m in models}


def subscription_states(subscriber: Subscriber, channel: str) -> dict[str, str]:
    """Audience slug -> state of one person's subscriptions on a channel."""
    rows = db.session.execute(
        select(Audience.slug, Subscription.state)
        .join(Audience, Audience.id == Subscription.audience_id)
        .where(Subscription.subscriber_id == subscriber.id, Subscription.channel == channel)
    )
    return dict(rows.all())


def add_message(
    step: Step,
    subscriber: Subscriber,
    *,
    state: str = "sent",
    provider_id: str | None = None,
    due_at: datetime | None = None,
) -> Message:
    """An outbox row for a step and a person (committed)."""
    message = Message(
        campaign_id=step.campaign_id,
        step_id=step.id,
        subscriber_id=subscriber.id,
        channel=step.channel,
        state=state,
        due_at=due_at or datetime(2027, 6, 1, 14, 0, tzinfo=UTC),
        provider_id=provider_id,
    )
    db.session.add(message)
    db.session.commit()
    return message


def bulk_email_messages(step: Step, count: int, provider_id: str) -> list[tuple[int, str]]:
    """``count`` subscribers with one sent email row each, all under one X-Message-Id."""
    at = datetime(2027, 6, 1, 14, 0, tzinfo=UTC)
    emails = [f"bulk{i:05d}@example.org" for i in range(count)]
    db.session.execute(
        insert(Subscriber),
        [
            {"public_id": f"bulk{i:028d}", "email": e, "created_at": at}
            for i, e in enumerate(emails)
        ],
    )
    ids = dict(
        db.session.execute(
            select(Subscriber.email, Subscriber.id).where(Subscriber.email.in_(emails))
        ).all()
    )
    db.session.execute(
        insert(Message),
        [
            {
                "campaign_id": step.campaign_id,
                "step_id": step.id,
                "subscriber_id": ids[e],
                "channel": "email",
                "state": "sent",
                "due_at": at,
                "provider_id": provider_id,
                "sent_at": at,
                "created_at": at,
                "updated_at": at,
            }
            for e in emails
        ],
    )
    db.session.commit()
    rows = db.session.execute(
        select(Message.id, Subscriber.email)
        .join(Subscriber, Subscriber.id == Message.subscriber_id)
        .where(Message.step_id == step.id, Subscriber.email.in_(emails))
        .order_by(Message.id)
    )
    return [(mid, email) for mid, email in rows]


class TimedChannels:
    """Fake email + SMS channels that note (monotonic time, to) as each send starts."""

    name = "timed"

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.sent: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        self.started = threading.Event()

    def _note(self, to: str) -> None:
        with self.lock:
            self.sent.append((time.monotonic(), to))
        self.started.set()

    def send_batch(self, batch: EmailBatch) -> list[SendResult]:
        """Record each email."""
        results = []
        for r in batch.recipients:
            self._note(r.to)
            results.append(SendResult(r.message_id, Outcome.SENT, f"x{r.message_id}"))
        return results

    def send_many(self, messages: list[OutgoingSms]) -> list[SendResult]:
        """Record each text, taking ``delay`` seconds per message."""
        results = []
        for m in messages:
            self._note(m.to)
            if self.delay:
                time.sleep(self.delay)
            results.append(SendResult(m.message_id, Outcome.SENT, f"SM{m.message_id:032x}"))
        return results

    def install(self, app) -> TimedChannels:  # noqa: ANN001
        """Make this the app's email and SMS channel."""
        app.extensions["outreach.channels"] = (self, self)
        return self


@pytest.fixture
def audience(app) -> Audience:
    """The migraine audience (full sender identity)."""
    return make_audience()


@pytest.fixture
def second_audience(app) -> Audience:
    """A second list the same people can be on."""
    return make_audience(slug="headache-news", name="Headache News", sms_program_name="")


@pytest.fixture
def ann(audience: Audience, second_audience: Audience) -> Subscriber:
    """Ann: email and SMS, confirmed on both lists."""
    person = make_subscriber(audience, email="ann@example.org", phone="+19175550142")
    make_subscriber(second_audience, email="ann@example.org", phone="+19175550142")
    return person


@pytest.fixture
def ben(audience: Audience) -> Subscriber:
    """Ben: email and SMS on the first list only."""
    return make_subscriber(audience, email="ben@example.org", phone="+16462014455")


@pytest.fixture
def campaign(audience: Audience) -> Campaign:
    """A draft campaign with an email step (position 0) and two SMS steps."""
    return make_campaign(
        audience,
        [
            {"channel": "email", "send_time": "10:00"},
            {"channel": "sms", "send_time": "10:00", "body": "June is awareness month."},
            {"channel": "sms", "day_offset": 2, "send_time": "10:00", "body": "Know triggers."},
        ],
        schedule=False,
    )


@pytest.fixture
def email_step(campaign: Campaign) -> Step:
    """The campaign's email step."""
    return campaign.steps[0]


@pytest.fixture
def sms_step(campaign: Campaign) -> Step:
    """The campaign's first SMS step."""
    return campaign.steps[1]


@pytest.fixture
def later_sms_step(campaign: Campaign) -> Step:
    """The campaign's second SMS step."""
    return campaign.steps[2]
