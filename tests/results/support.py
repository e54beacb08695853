"""Helpers shared by tests/results and tests/api: isolated clients, staff logins, seed data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from outreach.extensions import db
from outreach.models import DeliveryEvent, Message
from outreach.sending import materialise as materialising
from outreach.staff import accounts
from tests.helpers import PASSWORD as PASSWORD  # re-exported for tests/results, tests/api
from tests.helpers import csrf_token
from tests.helpers import login as login
from tests.helpers import page_text as page_text


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, like production."""

    def open(self, *args: Any, **kwargs: Any):  # noqa: ANN201
        with self.application.app_context():
            return super().open(*args, **kwargs)


def isolated_client(app: Flask) -> FlaskClient:
    """A client with its own cookie jar and one app context (and session) per request."""
    app.test_client_class = IsolatedClient
    return app.test_client()


def make_staff(monkeypatch: Any) -> dict[str, int]:
    """One staff user per role, {role: id}, with a cheap password hash."""
    monkeypatch.setattr(accounts, "HASH_METHOD", "pbkdf2:sha256:1000")
    ids = {
        role: accounts.create_staff(f"{role}@clinic.example", PASSWORD, role).id
        for role in ("admin", "editor", "viewer")
    }
    db.session.commit()
    return ids


def post_form(client: FlaskClient, url: str, data: dict[str, Any], page_url: str | None = None):  # noqa: ANN201
    """POST a staff form with the CSRF token of the page it is on."""
    page = client.get(page_url or url)
    assert page.status_code in (200, 400), page.status_code
    return client.post(url, data={"csrf_token": csrf_token(page.get_data(as_text=True)), **data})


@contextmanager
def quiet_session() -> Iterator[None]:
    """End the test's read transaction before and after (SQLite: never block a request)."""
    db.session.rollback()
    try:
        yield
    finally:
        db.session.rollback()


def set_states(
    step_id: int, states: dict[str, int], at: Any, skip_reasons: dict[str, str] | None = None
) -> None:
    """Move the step's queued rows into states, in id order: {state: how many}.

    Sent-like rows get sent_at (and delivered rows delivered_at five minutes later).
    """
    ids = list(
        db.session.scalars(
            db.select(Message.id).where(Message.step_id == step_id).order_by(Message.id)
        )
    )
    position = 0
    for state, n in states.items():
        chunk = ids[position : position + n]
        position += n
        values: dict[str, Any] = {"state": state}
        if state in ("sent", "delivered", "bounced", "failed", "unknown"):
            values["sent_at"] = at
        if state == "delivered":
            values["delivered_at"] = at + timedelta(minutes=5)
        if state in ("skipped", "cancelled"):
            values["skip_reason"] = (skip_reasons or {}).get(state, "no_consent")
        db.session.execute(update(Message).where(Message.id.in_(chunk)).values(**values))
    db.session.commit()


def add_spam_report(message_id: int, event_id: str) -> None:
    """A SendGrid spamreport delivery event for one message."""
    db.session.add(
        DeliveryEvent(
            message_id=message_id,
            provider="sendgrid",
            provider_event_id=event_id,
            event_type="spamreport",
        )
    )
    db.session.commit()


def seed_campaign(clock: Any, people: int = 4, steps: list[dict] | None = None) -> tuple[Any, list]:
    """An audience, ``people`` confirmed a week before June 1, a running campaign (email step
    then SMS step by default), its outbox rows materialised (all queued)."""
    from tests.factories import make_audience, make_campaign, make_subscriber

    now = clock.current
    audience = make_audience(single_opt_in_for_imports=True)
    clock.set(now - timedelta(days=7))
    persons = [
        make_subscriber(audience, email=f"p{n}@example.org", phone=f"+1917555{n:04d}")
        for n in range(people)
    ]
    clock.set(now)
    campaign = make_campaign(audience, steps or [{"channel": "email"}, {"channel": "sms"}])
    materialising.materialise_due(now + timedelta(days=1))
    db.session.commit()
    return campaign, persons
