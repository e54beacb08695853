"""Webhooks never acknowledge what they did not store: with the database unreachable (or a
write lost at commit) every webhook answers 503 with Retry-After, quickly, and the
provider's retry after the outage is applied in full."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.exc import OperationalError

from outreach import create_app
from outreach.extensions import db
from outreach.models import DeliveryEvent, InboundSms
from tests.conftest import PG_URL, _env
from tests.helpers import post_sendgrid, post_twilio
from tests.webhooks.conftest import add_message, counts, subscription_states

STOP = {"MessageSid": "SM" + "5" * 32, "From": "+19175550142", "To": "+15550001111", "Body": "STOP"}


def status(message_id: int) -> tuple[str, dict[str, str]]:
    return (
        f"/webhooks/twilio/status?mid={message_id}",
        {"MessageSid": "SM" + "6" * 32, "MessageStatus": "delivered"},
    )


def events(message_id: int) -> list[dict]:
    return [
        {
            "event": "delivered",
            "sg_event_id": f"outage-{message_id}",
            "timestamp": 1811865600,
            "email": "ann@example.org",
            "message_id": str(message_id),
        }
    ]


@pytest.fixture
def database_down(tmp_path):  # noqa: ANN201
    """A second app whose database cannot be reached (a closed port / a missing folder)."""
    dead = (
        "postgresql+psycopg://postgres@127.0.0.1:1/outreach"
        if PG_URL
        else f"sqlite:///{tmp_path}/missing/folder/outreach.db"
    )
    down = create_app(env=_env(dead, tmp_path))
    yield down.test_client()
    with down.app_context():
        db.engine.dispose()


def retry_later(app) -> None:  # noqa: ANN001
    """The provider's retry arrives after the breaker has closed again (it waits minutes)."""
    time.sleep(app.config["OUTREACH_WEBHOOK_BREAKER_SECONDS"] + 0.05)


class LockNotAvailable(Exception):
    """What psycopg raises for a lock wait that timed out (the server is up)."""

    sqlstate = "55P03"


def answers(response, started: float) -> None:  # noqa: ANN001
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert time.monotonic() - started < 5


def test_every_webhook_answers_503_while_the_database_is_unreachable_and_the_retry_applies(
    app, client, database_down, ann, sms_step, email_step
):
    text_row = add_message(sms_step, ann, state="sent", provider_id="SM" + "6" * 32)
    mail_row = add_message(email_step, ann, state="sent")
    before = counts()

    started = time.monotonic()
    answers(post_twilio(database_down, "/webhooks/twilio/sms", STOP), started)
    answers(post_twilio(database_down, *status(text_row.id)), started)
    answers(post_sendgrid(database_down, events(mail_row.id)), started)
    with app.app_context():
        assert counts() == before  # nothing was stored, so nothing was acknowledged

    # The database is back: SendGrid retries, Twilio's retry (or fallback) arrives.
    assert post_twilio(client, "/webhooks/twilio/sms", STOP).status_code == 200
    assert post_twilio(client, *status(text_row.id)).status_code == 204
    assert post_sendgrid(client, events(mail_row.id)).status_code == 200
    db.session.expire_all()
    assert set(subscription_states(ann, "sms").values()) == {"unsubscribed"}
    assert db.session.get(type(text_row), text_row.id).state == "delivered"
    assert db.session.get(type(mail_row), mail_row.id).state == "delivered"


def test_a_stop_whose_write_is_lost_at_commit_is_not_acknowledged(app, client, ann, monkeypatch):
    app.config["OUTREACH_WEBHOOK_BREAKER_SECONDS"] = 0.1
    real_commit = db.session.commit

    def connection_lost() -> None:
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(db.session, "commit", connection_lost)
    response = post_twilio(client, "/webhooks/twilio/sms", STOP)
    assert response.status_code == 503 and "Message" not in response.get_data(as_text=True)
    monkeypatch.setattr(db.session, "commit", real_commit)
    db.session.rollback()
    assert set(subscription_states(ann, "sms").values()) == {"active"}
    assert db.session.query(InboundSms).count() == 0

    retry_later(app)
    assert post_twilio(client, "/webhooks/twilio/sms", STOP).status_code == 200  # the retry
    assert set(subscription_states(ann, "sms").values()) == {"unsubscribed"}


def test_a_sendgrid_batch_whose_write_is_lost_at_commit_is_retried_in_full(
    app, client, ann, email_step, monkeypatch
):
    app.config["OUTREACH_WEBHOOK_BREAKER_SECONDS"] = 0.1
    row = add_message(email_step, ann, state="sent")
    real_commit = db.session.commit
    monkeypatch.setattr(
        db.session,
        "commit",
        lambda: (_ for _ in ()).throw(OperationalError("COMMIT", {}, Exception("gone"))),
    )
    assert post_sendgrid(client, events(row.id)).status_code == 503
    monkeypatch.setattr(db.session, "commit", real_commit)
    db.session.rollback()
    assert db.session.query(DeliveryEvent).count() == 0

    retry_later(app)
    assert post_sendgrid(client, events(row.id)).status_code == 200
    db.session.expire_all()
    assert db.session.get(type(row), row.id).state == "delivered"


@pytest.mark.skipif(not PG_URL, reason="the breaker guards PostgreSQL connections")
def test_a_lost_connection_answers_503_at_once_for_a_moment_then_tries_again(
    app, client, ann, monkeypatch
):
    app.config["OUTREACH_WEBHOOK_BREAKER_SECONDS"] = 0.6
    real_commit = db.session.commit

    def connection_lost() -> None:
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(db.session, "commit", connection_lost)
    assert post_twilio(client, "/webhooks/twilio/sms", STOP).status_code == 503
    monkeypatch.setattr(db.session, "commit", real_commit)
    db.session.rollback()

    # The database is back, but for a moment every webhook is turned away without trying it.
    started = time.monotonic()
    refused = post_twilio(client, "/webhooks/twilio/sms", STOP)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "30"
    assert time.monotonic() - started < 0.3
    assert db.session.query(InboundSms).count() == 0

    time.sleep(0.65)
    assert post_twilio(client, "/webhooks/twilio/sms", STOP).status_code == 200
    assert set(subscription_states(ann, "sms").values()) == {"unsubscribed"}


def test_a_lock_timeout_does_not_turn_the_next_webhooks_away(app, client, ann, monkeypatch):
    real_commit = db.session.commit

    def lock_timeout() -> None:
        raise OperationalError("COMMIT", {}, LockNotAvailable("lock timeout"))

    monkeypatch.setattr(db.session, "commit", lock_timeout)
    assert post_twilio(client, "/webhooks/twilio/sms", STOP).status_code == 503
    monkeypatch.setattr(db.session, "commit", real_commit)
    db.session.rollback()
    assert post_twilio(client, "/webhooks/twilio/sms", STOP).status_code == 200
    assert set(subscription_states(ann, "sms").values()) == {"unsubscribed"}
