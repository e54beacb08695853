"""Reconciliation: after a lost answer or a crash every ``unknown`` row ends ``sent`` once
(the provider has it) or is re-sent once (it never got there), with a reason staff read.

Driven through the dispatcher, ``flask outreach reconcile`` and the webhooks, against the
local fake Twilio / SendGrid (which answers the Message list like Twilio).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from outreach.channels import twilio_lookup
from outreach.extensions import db
from outreach.models import DeliveryEvent, Message, Subscriber
from outreach.sending import reconcile
from outreach.sending import run as sending
from tests.factories import make_audience, make_campaign, make_subscriber
from tests.fakes.providers import FakeProviders
from tests.helpers import post_sendgrid, post_twilio

SERVICE_SID = "MG" + "a" * 32


@pytest.fixture
def fake(app, clock):
    with FakeProviders() as providers:
        app.config.update(
            OUTREACH_SMS_CHANNEL="twilio",
            TWILIO_ACCOUNT_SID="AC" + "b" * 32,
            TWILIO_AUTH_TOKEN=app.config.get("TWILIO_AUTH_TOKEN") or "token",
            TWILIO_MESSAGING_SERVICE_SID=SERVICE_SID,
            TWILIO_FROM_NUMBER="",
            TWILIO_API_BASE=providers.base_url,
            OUTREACH_EMAIL_CHANNEL="sendgrid",
            SENDGRID_API_KEY="SG.test",
            SENDGRID_API_HOST=providers.base_url,
        )
        app.extensions.pop("outreach.channels", None)
        yield providers
        app.extensions.pop("outreach.channels", None)


@pytest.fixture
def audience(app, clock):
    clock.set(datetime(2027, 5, 20, tzinfo=UTC))  # people sign up before June
    return make_audience()


def june_first(clock, fake: FakeProviders) -> None:  # noqa: ANN001
    """11:00 in New York on June 1st, for us and for the fake providers."""
    clock.set(datetime(2027, 6, 1, 15, 0, tzinfo=UTC))
    fake.configure(clock_offset=clock().timestamp() - time.time())


def people(audience, count: int, start: int = 0) -> list[Subscriber]:  # noqa: ANN001
    return [
        make_subscriber(
            audience,
            email=f"person{i}@example.org",
            phone=f"+1917555{i:04d}",
            first_name=f"P{i}",
        )
        for i in range(start, start + count)
    ]


def sms_campaign(audience):  # noqa: ANN001, ANN201
    return make_campaign(
        audience,
        [
            {
                "channel": "sms",
                "send_time": "10:00",
                "body": "Hi {{ first_name }}: June is Migraine and Headache Awareness Month.",
            }
        ],
    )


def email_campaign(audience):  # noqa: ANN001, ANN201
    return make_campaign(
        audience,
        [{"channel": "email", "send_time": "10:00", "include_late_joiners": True}],
    )


def answers_lost(fake: FakeProviders) -> None:
    """Dispatch while every provider answer is lost after the provider took the message."""
    fake.configure(accepted_error_rate=1.0)
    sending.dispatch_once()
    fake.configure(accepted_error_rate=0.0)


def rows() -> list[Message]:
    db.session.expire_all()
    return list(db.session.scalars(select(Message).order_by(Message.id)))


def history(message: Message) -> list[str]:
    return list(
        db.session.scalars(
            select(DeliveryEvent.event_type)
            .where(DeliveryEvent.message_id == message.id, DeliveryEvent.provider == "outreach")
            .order_by(DeliveryEvent.id)
        )
    )


def run_reconcile(cli) -> str:  # noqa: ANN001
    result = cli.invoke(args=["outreach", "reconcile"])
    assert result.exit_code == 0, result.output
    return result.output


# -- texts ---------------------------------------------------------------------------------


def test_a_text_twilio_took_but_whose_answer_was_lost_becomes_sent_with_its_sid(
    app, clock, cli, fake, audience
):
    people(audience, 3)
    sms_campaign(audience)
    june_first(clock, fake)
    fake.configure(accepted_error_rate=1.0)  # accepted, then a gateway 504
    assert sending.dispatch_once().unknown == 3
    assert {m.state for m in rows()} == {"unknown"}
    fake.configure(accepted_error_rate=0.0)

    output = run_reconcile(cli)

    assert "3 sent, 0 re-queued" in output
    sids = {m["to"]: m["sid"] for m in fake.sent_sms}
    for message in rows():
        phone = db.session.get(Subscriber, message.subscriber_id).phone
        assert (message.state, message.provider_id) == ("sent", sids[phone])
        assert message.error_detail == f"reconciled: Twilio lists this text ({sids[phone]})"
        assert history(message) == ["reconciled_sent"]
    assert fake.stats()["sms"] == 3  # nothing sent again


def test_a_text_twilio_never_took_is_requeued_once_after_the_listing_delay(
    app, cli, clock, fake, audience
):
    people(audience, 2)
    sms_campaign(audience)
    june_first(clock, fake)
    fake.fail_next(2, status=504, api="sms")  # a gateway error before Twilio took them
    assert sending.dispatch_once().unknown == 2

    clock.advance(minutes=2)  # Twilio's list may lag: absent is not yet proof
    assert "2 waiting" in run_reconcile(cli)
    assert {m.error_detail for m in rows()} == {reconcile.SMS_WAITING}

    clock.advance(minutes=10)
    assert "2 re-queued" in run_reconcile(cli)
    for message in rows():
        assert message.state == "queued" and message.requeued_at == clock()
        assert message.error_detail == reconcile.SMS_ABSENT
        assert history(message) == ["requeued"]

    assert sending.dispatch_once().sent == 2
    assert fake.stats()["sms"] == 2 and fake.stats()["duplicate_sms"] == 0


def test_a_campaign_waits_for_its_unknown_rows_before_it_is_done(app, cli, clock, fake, audience):
    people(audience, 2)
    campaign = sms_campaign(audience)
    june_first(clock, fake)
    fake.fail_next(2, status=504, api="sms")
    assert sending.dispatch_once().unknown == 2

    clock.set(datetime(2027, 6, 2, 16, 0, tzinfo=UTC))  # the step is past due everywhere
    fake.configure(clock_offset=clock().timestamp() - time.time())
    sending.dispatch_once()
    db.session.refresh(campaign)
    assert campaign.status == "running"  # two texts may still have to go out

    assert "2 re-queued" in run_reconcile(cli)
    assert sending.dispatch_once().sent == 2
    assert fake.stats()["sms"] == 2 and fake.stats()["duplicate_sms"] == 0
    sending.dispatch_once()
    db.session.refresh(campaign)
    assert campaign.status == "done"


def test_a_row_is_requeued_at_most_once(app, cli, clock, fake, audience):
    people(audience, 1)
    sms_campaign(audience)
    june_first(clock, fake)
    fake.fail_next(1, status=504, api="sms")
    sending.dispatch_once()
    clock.advance(minutes=15)
    run_reconcile(cli)
    fake.fail_next(1, status=504, api="sms")  # the re-send is lost too
    sending.dispatch_once()
    clock.advance(minutes=15)
    output = run_reconcile(cli)
    (message,) = rows()
    assert message.state == "unknown" and message.error_detail == reconcile.AGAIN
    assert history(message) == ["requeued"]
    assert "1 rows still unknown" in output
    assert fake.stats()["sms"] == 0


def test_twilio_errors_during_reconciliation_leave_rows_for_the_next_pass(
    app, cli, clock, fake, audience
):
    people(audience, 2)
    sms_campaign(audience)
    june_first(clock, fake)
    answers_lost(fake)
    clock.advance(minutes=20)
    fake.fail_next(2, status=500, api="sms_list")

    output = run_reconcile(cli)

    assert "0 sent, 0 re-queued, 2 waiting, 2 provider errors" in output
    assert {m.state for m in rows()} == {"unknown"}  # not re-queued: Twilio did not answer
    assert "Twilio answered 500" in rows()[0].error_detail
    assert "2 sent" in run_reconcile(cli)  # Twilio is back
    assert fake.stats()["sms"] == 2


def test_the_text_is_found_on_a_later_page_of_the_list(
    app, clock, cli, fake, audience, monkeypatch
):
    (ann,) = people(audience, 1)
    sms_campaign(audience)
    june_first(clock, fake)
    answers_lost(fake)
    channel = app.extensions["outreach.channels"][1]
    from outreach.channels.base import OutgoingSms

    channel.send_many([OutgoingSms(0, ann.phone, f"Other text {n}") for n in range(5)])
    monkeypatch.setattr(twilio_lookup, "PAGE_SIZE", 2)  # newest first: ours is on page 3

    assert "1 sent" in run_reconcile(cli)
    (message,) = rows()
    assert message.provider_id == fake.sent_sms[0]["sid"]


def test_a_callback_that_lands_while_the_row_is_reconciled_wins(app, clock, cli, fake, audience):
    people(audience, 1)
    sms_campaign(audience)
    june_first(clock, fake)
    answers_lost(fake)
    (message,) = rows()
    channel = app.extensions["outreach.channels"][1]
    original = channel.find_sent
    delivered = threading.Event()

    def find_then_callback(to: str, body: str, since: datetime) -> str | None:
        sid = original(to, body, since)
        with app.app_context(), app.test_client() as client:
            response = post_twilio(
                client,
                f"/webhooks/twilio/status?mid={message.id}",
                {"MessageSid": sid, "MessageStatus": "delivered"},
            )
        assert response.status_code == 204
        delivered.set()
        return sid

    channel.find_sent = find_then_callback
    output = run_reconcile(cli)
    assert delivered.is_set()
    (after,) = rows()
    assert after.state == "delivered"  # the callback's news is kept, not moved back
    assert history(after) == []
    assert "0 sent" in output


# -- email ---------------------------------------------------------------------------------


def request_ids(fake: FakeProviders) -> list[str]:
    return [
        p["custom_args"]["request_id"]
        for body in fake.email_bodies
        for p in body["personalizations"]
    ]


def event(message: Message, kind: str, request_id: str, n: int = 0) -> dict:
    return {
        "event": kind,
        "sg_event_id": f"evt-{message.id}-{kind}-{n}",
        "email": "someone@example.org",
        "timestamp": int(datetime(2027, 6, 1, 15, 1, tzinfo=UTC).timestamp()),
        "message_id": str(message.id),
        "request_id": request_id,
    }


def test_one_event_settles_every_message_of_its_request(app, clock, client, fake, audience):
    people(audience, 3)
    email_campaign(audience)
    june_first(clock, fake)
    fake.configure(accepted_error_rate=1.0, keep_bodies=True)  # accepted, answer lost
    assert sending.dispatch_once().unknown == 3
    (request_id,) = set(request_ids(fake))
    assert all(m.claim_id == request_id for m in rows())
    assert "@" not in request_id and request_id.split(".")[1] == str(rows()[0].step_id)

    first = rows()[0]
    response = post_sendgrid(client, [event(first, "delivered", request_id)])
    assert response.status_code in (200, 204)

    states = {m.id: m.state for m in rows()}
    assert states[first.id] == "delivered"
    others = [m for m in rows() if m.id != first.id]
    assert {m.state for m in others} == {"sent"}
    assert {m.error_detail for m in others} == {
        "accepted: SendGrid reported another message of the same request"
    }
    assert all(history(m) == ["reconciled_sent"] for m in others)


def test_email_sendgrid_never_took_is_requeued_once_sendgrid_reports_later_mail(
    app, cli, client, clock, fake, audience
):
    people(audience, 2)
    email_campaign(audience)
    june_first(clock, fake)
    fake.configure(keep_bodies=True)
    fake.fail_next(1, status=504, api="email")  # lost before SendGrid took it
    assert sending.dispatch_once().unknown == 2
    lost = rows()

    clock.advance(minutes=1)  # a later request, which SendGrid does report on
    people(audience, 1, start=10)
    assert sending.dispatch_once().sent == 1
    later = [m for m in rows() if m.state == "sent"][0]
    post_sendgrid(client, [event(later, "processed", later.claim_id)])

    clock.advance(minutes=10)
    assert "2 waiting" in run_reconcile(cli)  # inside the horizon: events may still come
    clock.advance(minutes=25)
    assert "2 re-queued" in run_reconcile(cli)
    for message in lost:
        again = db.session.get(Message, message.id)
        assert again.state == "queued" and again.error_detail == reconcile.EMAIL_ABSENT

    assert sending.dispatch_once().sent == 2
    assert fake.stats()["emails"] == 3 and fake.stats()["duplicate_emails"] == 0


def test_without_any_sendgrid_news_nothing_is_requeued_and_the_row_says_why(
    app, cli, clock, fake, audience
):
    people(audience, 2)
    email_campaign(audience)
    june_first(clock, fake)
    fake.fail_next(1, status=504, api="email")
    sending.dispatch_once()
    clock.advance(hours=2)

    output = run_reconcile(cli)

    assert "0 re-queued, 2 waiting" in output
    assert {(m.state, m.error_detail) for m in rows()} == {("unknown", reconcile.EMAIL_NO_NEWS)}
    assert fake.stats()["emails"] == 0


def test_a_batch_split_into_several_requests_numbers_each_request(
    app, clock, fake, audience, monkeypatch
):
    from outreach.channels.sendgrid import SendGridChannel

    people(audience, 5)
    email_campaign(audience)
    june_first(clock, fake)
    fake.configure(keep_bodies=True)
    monkeypatch.setattr(SendGridChannel, "max_personalizations", 2)
    assert sending.dispatch_once().sent == 5
    ids = request_ids(fake)
    base = rows()[0].claim_id
    assert ids == [f"{base}/1"] * 2 + [f"{base}/2"] * 2 + [f"{base}/3"]


def test_the_worker_reconciles_at_most_once_a_minute(app, clock, fake, audience):
    people(audience, 1)
    sms_campaign(audience)
    june_first(clock, fake)
    answers_lost(fake)
    app.extensions.pop("outreach.reconciled_at", None)
    sending.dispatch_once()  # the next tick asks Twilio
    assert rows()[0].state == "sent"
    assert reconcile.due() is False  # it just ran
