"""Status callbacks: forward only, error codes recorded, 21610 and unreachable numbers."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from outreach.consent import decisions, suppression
from outreach.extensions import db
from outreach.models import ConsentEvent, DeliveryEvent, Message, Subscriber
from outreach.sending import batch
from outreach.sending import run as sending
from tests.factories import make_campaign
from tests.helpers import post_twilio
from tests.webhooks.conftest import TimedChannels, add_message, snapshot, subscription_states


def status(client, message: Message | None, sid: str, state: str, **extra: str):  # noqa: ANN001, ANN201
    """POST a signed status callback (to the row's callback URL when given a row)."""
    path = "/webhooks/twilio/status" + (f"?mid={message.id}" if message is not None else "")
    response = post_twilio(client, path, {"MessageSid": sid, "MessageStatus": state, **extra})
    assert response.status_code == 204, response.get_data(as_text=True)
    return response


def row(message: Message) -> Message:
    """The row as stored now."""
    db.session.expire_all()
    return db.session.get(Message, message.id)


def test_status_moves_forward_only(client, clock, ann, sms_step):
    message = add_message(sms_step, ann, state="sending", provider_id=None)
    sid = "SM" + "d" * 32
    status(client, message, sid, "queued")
    assert row(message).state == "sending"
    status(client, message, sid, "sent")
    assert (row(message).state, row(message).provider_id) == ("sent", sid)
    clock.advance(seconds=5)
    status(client, message, sid, "delivered")
    delivered = row(message)
    assert delivered.state == "delivered" and delivered.delivered_at == clock()

    before = snapshot()["outbox_messages"]
    clock.advance(seconds=5)
    status(client, message, sid, "sending")
    status(client, message, sid, "undelivered", ErrorCode="30003")  # late, contradictory
    assert snapshot()["outbox_messages"] == before
    kinds = db.session.scalars(
        select(DeliveryEvent.event_type).where(DeliveryEvent.message_id == message.id)
    ).all()
    assert sorted(kinds) == ["delivered", "queued", "sending", "sent", "undelivered"]


def test_late_sent_after_delivered_changes_nothing(client, clock, ann, sms_step):
    message = add_message(sms_step, ann, state="sent", provider_id="SM" + "e" * 32)
    status(client, message, "SM" + "e" * 32, "delivered")
    before = snapshot()["outbox_messages"]
    clock.advance(minutes=1)
    status(client, message, "SM" + "e" * 32, "sent")
    assert snapshot()["outbox_messages"] == before


def test_error_code_is_recorded(client, ann, sms_step):
    message = add_message(sms_step, ann, state="sent", provider_id="SM" + "f" * 32)
    status(client, message, "SM" + "f" * 32, "undelivered", ErrorCode="30007")
    stored = row(message)
    assert (stored.state, stored.error_code) == ("failed", "30007")
    event = db.session.scalar(select(DeliveryEvent).filter_by(message_id=message.id))
    assert (event.event_type, event.error_code) == ("undelivered", "30007")


def test_callback_without_mid_is_matched_by_provider_id(client, ann, sms_step):
    message = add_message(sms_step, ann, state="sent", provider_id="SM" + "9" * 32)
    status(client, None, "SM" + "9" * 32, "delivered")
    assert row(message).state == "delivered"


def test_callback_reconciles_a_row_of_unknown_fate(client, ann, sms_step):
    """A crash left the row 'unknown'; the callback (via ?mid=) says what happened."""
    message = add_message(sms_step, ann, state="unknown", provider_id=None)
    status(client, message, "SM" + "8" * 32, "delivered")
    stored = row(message)
    assert (stored.state, stored.provider_id) == ("delivered", "SM" + "8" * 32)


def test_mid_of_another_message_is_not_trusted_over_the_provider_id(client, ann, ben, sms_step):
    anns = add_message(sms_step, ann, state="sent", provider_id="SM" + "7" * 32)
    bens = add_message(sms_step, ben, state="sent", provider_id="SM" + "6" * 32)
    status(client, bens, "SM" + "7" * 32, "delivered")  # Ben's callback URL, Ann's message
    assert row(anns).state == "delivered" and row(bens).state == "sent"


def test_unknown_message_is_recorded_only(client, ann):
    before = snapshot()
    status(client, None, "SM" + "5" * 32, "delivered")
    after = snapshot()
    assert len(after["delivery_events"]) == len(before["delivery_events"]) + 1
    assert {k: v for k, v in after.items() if k != "delivery_events"} == {
        k: v for k, v in before.items() if k != "delivery_events"
    }


def test_21610_suppresses_and_revokes_everywhere(client, ann, sms_step, later_sms_step):
    message = add_message(sms_step, ann, state="sent", provider_id="SM" + "4" * 32)
    queued = add_message(later_sms_step, ann, state="queued")
    status(client, message, "SM" + "4" * 32, "failed", ErrorCode="21610")
    assert row(message).state == "failed" and row(message).error_code == "21610"
    assert suppression.is_suppressed("sms", ann.phone)
    assert set(subscription_states(ann, "sms").values()) == {"unsubscribed"}
    assert set(subscription_states(ann, "email").values()) == {"active"}
    ledger = db.session.scalars(
        select(ConsentEvent).filter_by(subscriber_id=ann.id, action="revoked")
    ).all()
    assert len(ledger) == 2
    assert {(e.source, e.provider_ref) for e in ledger} == {("provider_event", "SM" + "4" * 32)}
    assert row(queued).state == "cancelled"


def test_21610_for_an_unknown_message_suppresses_the_number(client, ann):
    status(client, None, "SM" + "3" * 32, "failed", ErrorCode="21610", To=ann.phone)
    assert suppression.is_suppressed("sms", ann.phone)
    assert set(subscription_states(ann, "sms").values()) == {"unsubscribed"}


def _three_steps(audience):  # noqa: ANN001, ANN202
    campaign = make_campaign(
        audience,
        [{"channel": "sms", "day_offset": d, "body": f"Step {d}"} for d in range(5)],
        name="Five texts",
        schedule=False,
    )
    return campaign.steps


def test_repeated_unreachable_errors_mark_the_number(app, client, clock, audience, ann, ben):
    steps = _three_steps(audience)
    codes = ["30003", "30005", "30006"]
    for n, code in enumerate(codes):
        message = add_message(steps[n], ann, state="sent", provider_id=f"SM{n:032d}")
        assert decisions.check_batch([ann.id], "sms", audience.id) == {ann.id: None}
        status(client, message, f"SM{n:032d}", "undelivered", ErrorCode=code)
        # a replay of the same callback does not count twice
        status(client, message, f"SM{n:032d}", "undelivered", ErrorCode=code)
    db.session.expire_all()
    assert db.session.get(Subscriber, ann.id).phone_unreachable
    assert decisions.check_batch([ann.id, ben.id], "sms", audience.id) == {
        ann.id: "unreachable",
        ben.id: None,
    }
    assert not suppression.is_suppressed("sms", ann.phone)  # not an opt-out: just unreachable

    # dispatch skips the number from now on
    channels = TimedChannels().install(app)
    due = datetime(2027, 6, 1, 14, 0, tzinfo=UTC)
    campaign = steps[0].campaign
    campaign.status = "running"
    db.session.commit()
    waiting = add_message(steps[3], ann, state="queued", due_at=due)
    other = add_message(steps[3], ben, state="queued", due_at=due)
    report = batch.Report()
    sending.dispatch_channel("sms", clock(), report)
    assert (row(waiting).state, row(waiting).skip_reason) == ("skipped", "unreachable")
    assert row(other).state == "sent"
    assert [to for _, to in channels.sent] == [ben.phone]


def test_a_delivery_between_failures_resets_the_count(client, audience, ann):
    steps = _three_steps(audience)
    plan = [("undelivered", "30003"), ("undelivered", "30003"), ("delivered", None),
            ("undelivered", "30005"), ("undelivered", "30006")]  # fmt: skip
    for n, (state, code) in enumerate(plan):
        message = add_message(steps[n], ann, state="sent", provider_id=f"SM{n:032d}")
        extra = {"ErrorCode": code} if code else {}
        status(client, message, f"SM{n:032d}", state, **extra)
    db.session.expire_all()
    assert not db.session.get(Subscriber, ann.id).phone_unreachable


def test_start_from_the_handset_makes_it_reachable_again(client, audience, ann):
    steps = _three_steps(audience)
    for n in range(3):
        message = add_message(steps[n], ann, state="sent", provider_id=f"SM{n:032d}")
        status(client, message, f"SM{n:032d}", "failed", ErrorCode="30006")
    assert decisions.check_batch([ann.id], "sms", audience.id) == {ann.id: "unreachable"}
    params = {"MessageSid": "SM" + "c" * 32, "From": ann.phone, "Body": "START"}
    assert post_twilio(client, "/webhooks/twilio/sms", params).status_code == 200
    assert decisions.check_batch([ann.id], "sms", audience.id) == {ann.id: None}
