"""X-Twilio-Signature: checked against OUTREACH_BASE_URL + path (+ query); 403 changes nothing."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from outreach.extensions import db
from outreach.models import Message
from tests.helpers import BASE_URL, TWILIO_TOKEN, post_twilio, twilio_signature
from tests.webhooks.conftest import add_message, counts, snapshot

STOP = {"MessageSid": "SM" + "a" * 32, "From": "+19175550142", "To": "+15550000000", "Body": "STOP"}


def _sig(url: str, params: dict[str, str], token: str = TWILIO_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


@pytest.mark.parametrize(
    "signature",
    [
        None,  # header missing
        "",
        "not-a-signature",
        _sig(BASE_URL + "/webhooks/twilio/sms", STOP, token="some-other-auth-token"),
        _sig(BASE_URL + "/webhooks/twilio/status", STOP),  # signed for another path
        _sig("https://evil.example.org/webhooks/twilio/sms", STOP),  # another host
        _sig("http://localhost/webhooks/twilio/sms", STOP),  # the URL as received, not the base
        _sig(BASE_URL + "/webhooks/twilio/sms", {**STOP, "Body": "hello"}),  # body changed
        _sig(BASE_URL + "/webhooks/twilio/sms?x=1", STOP),  # signed with a query string
    ],
)
def test_inbound_without_a_valid_signature_is_403_and_changes_nothing(client, ann, signature):
    before = snapshot()
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    response = client.post("/webhooks/twilio/sms", data=STOP, headers=headers)
    assert response.status_code == 403
    assert snapshot() == before


def test_a_valid_signature_is_accepted_behind_a_proxy(client, ann):
    """The test client talks to http://localhost; the signature is over the public URL."""
    before = counts()
    response = post_twilio(client, "/webhooks/twilio/sms", STOP)
    assert response.status_code == 200
    assert counts()["inbound_sms"] == before["inbound_sms"] + 1


def test_an_appended_field_value_breaks_the_signature(client, ann):
    signature = twilio_signature("/webhooks/twilio/sms", {**STOP, "Body": "hello"})
    data = MultiDict(list({**STOP, "Body": "hello"}.items()) + [("Body", "STOP")])
    before = snapshot()
    response = client.post(
        "/webhooks/twilio/sms", data=data, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 403
    assert snapshot() == before


def test_status_callback_signature_covers_the_query_string(client, ann, sms_step):
    message = add_message(sms_step, ann, provider_id="SM" + "b" * 32)
    params = {"MessageSid": "SM" + "b" * 32, "MessageStatus": "delivered"}
    other = add_message(sms_step.campaign.steps[2], ann, provider_id="SM" + "c" * 32)
    good = f"/webhooks/twilio/status?mid={message.id}"
    before = snapshot()
    for path, signed_for in [
        (good, "/webhooks/twilio/status"),  # query string left out of the signature
        (good, f"/webhooks/twilio/status?mid={other.id}"),  # another row's callback URL
        ("/webhooks/twilio/status", good),  # query string dropped on the way
        (good, f"/webhooks/twilio/sms?mid={message.id}"),  # another path
    ]:
        sig = twilio_signature(signed_for, params)
        response = client.post(path, data=params, headers={"X-Twilio-Signature": sig})
        assert response.status_code == 403, (path, signed_for)
    response = client.post(good, data=params)  # no header at all
    assert response.status_code == 403
    assert snapshot() == before

    assert post_twilio(client, good, params).status_code == 204
    assert snapshot() != before
    assert db.session.get(Message, message.id).state == "delivered"


def test_no_auth_token_configured_refuses_everything(app, client, ann):
    app.config["TWILIO_AUTH_TOKEN"] = ""
    before = snapshot()
    assert post_twilio(client, "/webhooks/twilio/sms", STOP).status_code == 403
    assert snapshot() == before
