"""Replaying a webhook request, or an event inside a new request, changes nothing."""

from __future__ import annotations

import json
import threading

import pytest

from tests.helpers import post_twilio, sendgrid_headers
from tests.webhooks.conftest import add_message, snapshot

URL = "/webhooks/sendgrid/events"


def _replay(client, send, *, same_answer: bool = True) -> None:  # noqa: ANN001
    """Send once; then twice more and prove the database did not change after the first.

    Twilio gets the same answer each time (a lost first answer must not lose the reply);
    SendGrid's counts say "duplicate" instead.
    """
    first = send()
    assert first.status_code < 300, first.get_data(as_text=True)
    before = snapshot()
    for _ in range(2):
        again = send()
        assert again.status_code == first.status_code
        if same_answer:
            assert again.get_data() == first.get_data()
    assert snapshot() == before


@pytest.mark.parametrize(
    "body", ["STOP", "please stop texting me", "START", "HELP", "See you at the clinic"]
)
def test_inbound_text_replayed(client, clock, ann, sms_step, later_sms_step, body):
    add_message(later_sms_step, ann, state="queued")
    if body == "START":
        post_twilio(client, "/webhooks/twilio/sms",
                    {"MessageSid": "SM" + "0" * 32, "From": ann.phone, "Body": "STOP"})  # fmt: skip
    params = {"MessageSid": "SM" + "1" * 32, "From": ann.phone, "To": "+15550001111", "Body": body}

    def send():  # noqa: ANN202
        clock.advance(seconds=1)  # a replay later on must not touch any timestamp either
        return post_twilio(client, "/webhooks/twilio/sms", params)

    _replay(client, send)


def test_same_message_sid_with_another_body_is_still_a_replay(client, ann):
    first = {"MessageSid": "SM" + "2" * 32, "From": ann.phone, "Body": "hello"}
    post_twilio(client, "/webhooks/twilio/sms", first)
    before = snapshot()
    post_twilio(client, "/webhooks/twilio/sms", {**first, "Body": "STOP"})
    assert snapshot() == before


@pytest.mark.parametrize(
    ("status", "code"),
    [("sent", None), ("delivered", None), ("undelivered", "30003"), ("failed", "21610")],
)
def test_status_callback_replayed(client, clock, ann, sms_step, later_sms_step, status, code):
    message = add_message(sms_step, ann, state="sending")
    add_message(later_sms_step, ann, state="queued")
    params = {"MessageSid": "SM" + "3" * 32, "MessageStatus": status}
    if code:
        params["ErrorCode"] = code

    def send():  # noqa: ANN202
        clock.advance(seconds=1)
        return post_twilio(client, f"/webhooks/twilio/status?mid={message.id}", params)

    _replay(client, send)


def _events(message_id: int, email: str) -> list[dict]:
    base = {"email": email, "timestamp": 1_811_000_000, "message_id": str(message_id)}
    return [
        {**base, "event": "processed", "sg_event_id": "p-1"},
        {**base, "event": "delivered", "sg_event_id": "d-1"},
        {**base, "event": "open", "sg_event_id": "o-1"},
        {**base, "event": "click", "sg_event_id": "c-1", "url": "https://example.org"},
        {**base, "event": "deferred", "sg_event_id": "df-1", "response": "421 later"},
        {**base, "event": "bounce", "sg_event_id": "b-1", "type": "bounce", "reason": "550"},
        {**base, "event": "bounce", "sg_event_id": "bl-1", "type": "blocked", "reason": "550"},
        {**base, "event": "dropped", "sg_event_id": "dr-1", "reason": "Bounced Address"},
        {**base, "event": "spamreport", "sg_event_id": "s-1"},
        {**base, "event": "unsubscribe", "sg_event_id": "u-1"},
        {**base, "event": "group_unsubscribe", "sg_event_id": "g-1", "asm_group_id": 7},
    ]


@pytest.mark.parametrize("index", range(11))
def test_each_sendgrid_event_kind_replayed(client, clock, ann, email_step, index):
    message = add_message(email_step, ann, state="sent", provider_id="xid")
    body = json.dumps([_events(message.id, ann.email)[index]])

    def send():  # noqa: ANN202
        clock.advance(seconds=1)
        return client.post(URL, data=body, headers=sendgrid_headers(body))

    _replay(client, send, same_answer=False)


def test_replayed_events_inside_a_new_batch_are_skipped(client, clock, ann, ben, email_step):
    anns = add_message(email_step, ann, state="sent", provider_id="xid")
    bens = add_message(email_step, ben, state="sent", provider_id="xid")
    events = _events(anns.id, ann.email)
    first = json.dumps(events)
    assert client.post(URL, data=first, headers=sendgrid_headers(first)).status_code == 200
    before = snapshot()
    clock.advance(minutes=5)
    fresh = {"event": "delivered", "sg_event_id": "new-1", "email": ben.email,
             "message_id": str(bens.id), "timestamp": 1_811_000_100}  # fmt: skip
    mixed = json.dumps([*events[::-1], fresh])
    response = client.post(URL, data=mixed, headers=sendgrid_headers(mixed))
    assert response.get_json()["counts"] == {"received": 12, "duplicate": 11, "delivered": 1}
    after = snapshot()
    assert len(after["delivery_events"]) == len(before["delivery_events"]) + 1
    changed = [r for r in after["outbox_messages"] if r not in before["outbox_messages"]]
    assert [r[0] for r in changed] == [bens.id]
    for table in set(after) - {"delivery_events", "outbox_messages"}:
        assert after[table] == before[table], table


def test_concurrent_duplicates_and_repeats_apply_once(app, ann):
    """Twilio retries and a person texting STOP twice, all at the same moment."""
    requests = [("SM" + "7" * 32, "STOP")] * 4 + [(f"SM{n:032x}", "stop") for n in range(4)]
    phone = ann.phone
    results: list[int] = []
    barrier = threading.Barrier(len(requests))

    def send(sid: str, body: str) -> None:
        client = app.test_client()
        barrier.wait(5)
        params = {"MessageSid": sid, "From": phone, "Body": body}
        results.append(post_twilio(client, "/webhooks/twilio/sms", params).status_code)

    threads = [threading.Thread(target=send, args=r) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [200] * len(requests)
    tables = snapshot()
    assert len(tables["inbound_sms"]) == 5
    assert len(tables["suppressions"]) == 1
    revoked = [r for r in tables["consent_events"] if "revoked" in r]
    assert len(revoked) == 2  # one per list, however many STOPs raced
