"""The dev inbound-text simulator: staff answer a text as the subscriber from the dev
mailbox (YES confirms a pending text subscription, STOP opts out at once, anything else is
stored as a reply) through the webhook's handler; refused with a real SMS provider."""

from __future__ import annotations

from sqlalchemy import select

from outreach.consent import confirmations, wording
from outreach.extensions import db
from outreach.models import InboundSms, Subscription
from tests.admin.support import post, text
from tests.factories import make_audience, make_subscriber

PHONE = "+19175550142"


def sms_state(subscriber_id: int) -> str:
    db.session.expire_all()
    return db.session.scalar(
        select(Subscription.state).filter_by(subscriber_id=subscriber_id, channel="sms")
    )


def reply(client, body: str, phone: str = PHONE):  # noqa: ANN001, ANN201
    return post(
        client, "/admin/dev/mailbox/reply", {"from": phone, "body": body}, follow_redirects=True
    )


def test_yes_then_stop_from_the_dev_mailbox(editor, clock):
    audience = make_audience()
    ann = make_subscriber(audience, phone=PHONE, channels=("sms",), confirmed=False)
    sub = db.session.scalar(select(Subscription).filter_by(subscriber_id=ann.id))
    assert confirmations.request_confirmation(sub) == confirmations.SENT
    db.session.commit()
    mailbox = editor.get("/admin/dev/mailbox").get_data(as_text=True)
    assert f"Reply as {PHONE}" in mailbox and 'value="YES"' in mailbox

    confirmed = text(reply(editor, "YES"))
    assert "Handled as an opt-in (YES / START)" in confirmed
    assert wording.sms_welcome(audience) in confirmed
    assert sms_state(ann.id) == "active"

    stopped = text(reply(editor, "stop please"))
    assert "Handled as an opt-out (STOP)" in stopped
    assert sms_state(ann.id) == "unsubscribed"
    assert "(simulated)" in stopped and "stop please" in stopped
    assert wording.sms_stopped(audience) in stopped  # our one confirmation text


def test_other_texts_are_stored_as_replies(editor):
    audience = make_audience()
    make_subscriber(audience, phone=PHONE, channels=("sms",))
    page = text(reply(editor, "¿a qué hora abren?"))
    assert "an ordinary message" in page
    assert db.session.scalar(select(InboundSms.body)) == "¿a qué hora abren?"


def test_bad_input_is_explained(editor):
    assert "not a phone number" in text(reply(editor, "YES", phone="call me"))
    assert "type what the subscriber texts" in text(reply(editor, "   "))
    assert db.session.query(InboundSms).count() == 0


def test_refused_when_texts_really_go_out(editor, app):
    app.config["OUTREACH_SMS_CHANNEL"] = "twilio"
    assert (
        post(editor, "/admin/dev/mailbox/reply", {"from": PHONE, "body": "STOP"}).status_code == 404
    )
    assert "Reply as" not in text(editor.get("/admin/dev/mailbox"))
    app.config["OUTREACH_SMS_CHANNEL"] = "console"
    app.config["OUTREACH_ENV"] = "production"
    assert (
        post(editor, "/admin/dev/mailbox/reply", {"from": PHONE, "body": "STOP"}).status_code == 404
    )
