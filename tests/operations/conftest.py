"""Fixtures for the operators' view: an email + SMS audience with a campaign due now."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask

from outreach.models import Campaign
from tests.factories import make_audience, make_campaign, make_subscriber
from tests.fakes import RecordingChannels
from tests.sending.test_workers import fake, worker_env  # noqa: F401

TOKEN = "metrics-token-for-the-tests-0123456789"


@pytest.fixture
def channels(app: Flask) -> RecordingChannels:
    """Fake email and SMS channels that record what they send."""
    return RecordingChannels().install(app)


@pytest.fixture
def due_campaign(app: Flask, clock) -> Campaign:  # noqa: ANN001
    """Three email and two SMS subscribers; an email and a text step due at 10:00 New York
    on 2027-06-01 (the clock is left at 11:00 New York that day)."""
    clock.set(datetime(2027, 5, 20, tzinfo=UTC))
    audience = make_audience()
    for i in range(3):
        make_subscriber(audience, email=f"p{i}@example.org", channels=("email",))
    for phone in ("+16462014455", "+16462014456"):
        make_subscriber(audience, phone=phone, channels=("sms",))
    campaign = make_campaign(
        audience,
        [
            {"channel": "email", "send_time": "10:00"},
            {"channel": "sms", "send_time": "10:00", "body": "Hello"},
        ],
    )
    clock.set(datetime(2027, 6, 1, 15, 0, tzinfo=UTC))
    return campaign


def bearer(token: str = TOKEN) -> dict[str, str]:
    """The Authorization header for /metrics."""
    return {"Authorization": f"Bearer {token}"}
