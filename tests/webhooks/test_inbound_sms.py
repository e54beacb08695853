"""Inbound texts: STOP everywhere with evidence, START/YES, HELP, other texts for staff."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from outreach.consent import decisions, suppression, wording
from outreach.extensions import db
from outreach.models import ConsentEvent, InboundSms, Message, Subscription, Suppression
from outreach.staff.accounts import create_staff
from tests.factories import make_subscriber
from tests.helpers import post_twilio, submit_form
from tests.webhooks.conftest import add_message, snapshot, subscription_states

ANN = "+19175550142"
_sids = itertools.count(1)


def _sid() -> str:
    return f"SM{next(_sids):032x}"


def text(client, body: str, sender: str = ANN, **extra: str):  # noqa: ANN001, ANN201
    """POST a signed inbound text; returns (response, MessageSid)."""
    sid = _sid()
    params = {"MessageSid": sid, "From": sender, "To": "+15550001111", "Body": body, **extra}
    return post_twilio(client, "/webhooks/twilio/sms", params), sid


def replies(response) -> list[str]:  # noqa: ANN001
    """The <Message> bodies of a TwiML answer."""
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    root = ET.fromstring(response.get_data(as_text=True))  # noqa: S314 - our own answer
    assert root.tag == "Response"
    return [m.text or "" for m in root.iter("Message")]


@pytest.mark.parametrize(
    "body",
    ["STOP", " stop ", "Stop.", "STOPALL", "opt out", "Stop all", "UNSUBSCRIBE", "quit",
     "please stop texting me", "Remove me from this list!"],
)  # fmt: skip
def test_opt_out_revokes_sms_everywhere_with_evidence(
    client, audience, ann, ben, sms_step, later_sms_step, email_step, body
):
    queued_sms = add_message(later_sms_step, ann, state="queued")
    sent_sms = add_message(sms_step, ann, state="sent", provider_id="SM" + "1" * 32)
    queued_email = add_message(email_step, ann, state="queued")
    bens_sms = add_message(later_sms_step, ben, state="queued")

    response, sid = text(client, body)

    assert replies(response) == [wording.sms_stopped(audience)]
    assert subscription_states(ann, "sms") == {
        "migraine-awareness": "unsubscribed",
        "headache-news": "unsubscribed",
    }
    assert subscription_states(ann, "email") == {
        "migraine-awareness": "active",
        "headache-news": "active",
    }
    revoked = db.session.scalars(
        select(ConsentEvent).filter_by(subscriber_id=ann.id, action="revoked")
    ).all()
    assert len(revoked) == 2 and {e.audience_id for e in revoked} == {
        s.audience_id for s in ann.subscriptions
    }
    assert all(
        e.channel == "sms" and e.source == "sms_keyword" and e.provider_ref == sid for e in revoked
    )
    assert suppression.is_suppressed("sms", ANN)
    assert db.session.get(Message, queued_sms.id).state == "cancelled"
    assert db.session.get(Message, sent_sms.id).state == "sent"
    assert db.session.get(Message, queued_email.id).state == "queued"
    assert db.session.get(Message, bens_sms.id).state == "queued"
    assert decisions.check_batch([ann.id], "sms", audience.id) == {ann.id: "no_consent"}
    assert decisions.check_batch([ben.id], "sms", audience.id) == {ben.id: None}
    stored = db.session.scalar(select(InboundSms).filter_by(message_sid=sid))
    assert stored.intent == "opt_out" and stored.subscriber_id == ann.id


def test_the_confirmation_is_one_text_without_marketing(client, audience, ann):
    (reply,) = replies(text(client, "STOP")[0])
    assert reply == (
        "NeuroMedici Migraine Awareness: you're unsubscribed and will get no more texts. "
        "Reply START to rejoin."
    )


@pytest.mark.parametrize("body", ["STOP", "START", "hello", ""])
def test_twilio_opt_out_type_wins_and_twilio_already_replied(client, audience, ann, body):
    response, sid = text(client, body, OptOutType="STOP")
    assert replies(response) == []  # Twilio Advanced Opt-Out sent its own confirmation
    assert set(subscription_states(ann, "sms").values()) == {"unsubscribed"}
    assert suppression.is_suppressed("sms", ANN)
    ledger = db.session.scalars(select(ConsentEvent).filter_by(provider_ref=sid)).all()
    assert len(ledger) == 2


def test_opt_out_type_start_resubscribes_even_if_the_body_says_otherwise(client, ann):
    text(client, "STOP")
    response, _ = text(client, "whatever", OptOutType="START")
    assert replies(response) == []
    assert set(subscription_states(ann, "sms").values()) == {"active"}


@pytest.mark.parametrize(
    "body",
    [
        "I can't stop the headache",
        "when does the study end?",
        "Thanks, very helpful",
        "Will the clinic be open in June?",
    ],
)
def test_other_texts_are_stored_and_change_nothing_else(client, ann, body):
    before = snapshot()
    response, sid = text(client, body)
    assert replies(response) == []
    after = snapshot()
    assert len(after["inbound_sms"]) == len(before["inbound_sms"]) + 1
    assert {k: v for k, v in after.items() if k != "inbound_sms"} == {
        k: v for k, v in before.items() if k != "inbound_sms"
    }
    row = db.session.scalar(select(InboundSms).filter_by(message_sid=sid))
    assert (row.body, row.intent, row.from_phone, row.subscriber_id) == (body, "other", ANN, ann.id)


@pytest.mark.parametrize("word", ["START", "yes", "Unstop"])
def test_opt_in_resubscribes_after_a_stop(client, audience, ann, word):
    text(client, "STOP")
    response, sid = text(client, word)
    assert replies(response) == [wording.sms_welcome(audience)]
    assert set(subscription_states(ann, "sms").values()) == {"active"}
    assert not suppression.is_suppressed("sms", ANN)
    resubscribed = db.session.scalars(
        select(ConsentEvent).filter_by(provider_ref=sid, action="resubscribed")
    ).all()
    assert len(resubscribed) == 2 and all(e.source == "sms_keyword" for e in resubscribed)
    assert decisions.check_batch([ann.id], "sms", audience.id) == {ann.id: None}


def test_yes_confirms_a_pending_sms_consent(client, audience):
    person = make_subscriber(audience, phone="+12125550143", channels=("sms",), confirmed=False)
    assert subscription_states(person, "sms") == {"migraine-awareness": "pending"}
    response, sid = text(client, "YES", sender="+12125550143")
    assert replies(response) == [wording.sms_welcome(audience)]
    assert subscription_states(person, "sms") == {"migraine-awareness": "active"}
    confirmed = db.session.scalar(select(ConsentEvent).filter_by(provider_ref=sid))
    assert confirmed.action == "confirmed" and confirmed.source == "sms_keyword"


def test_start_from_a_stranger_subscribes_nobody(client, audience):
    response, _ = text(client, "START", sender="+13125550100")
    (reply,) = replies(response)
    assert "subscribed" not in reply and "STOP" in reply  # who we are, not "welcome"
    assert db.session.scalars(select(Subscription)).all() == []


@pytest.mark.parametrize("word", ["HELP", "info", " Help! "])
def test_help_names_the_program_support_and_stop(client, audience, ann, word):
    before = snapshot()
    response, _ = text(client, word)
    (reply,) = replies(response)
    assert audience.sms_program_name in reply
    assert audience.support_phone in reply and audience.support_email in reply
    assert "STOP" in reply
    after = snapshot()
    assert {k: v for k, v in after.items() if k != "inbound_sms"} == {
        k: v for k, v in before.items() if k != "inbound_sms"
    }


def test_stop_from_an_unknown_number_suppresses_it_and_confirms(client, audience):
    response, _ = text(client, "STOP", sender="+13125550199")
    assert replies(response) == [wording.sms_stopped(audience)]
    assert suppression.is_suppressed("sms", "+13125550199")
    assert db.session.scalar(select(Suppression)).reason == "sms_stop"


def test_stop_with_no_audience_at_all_still_confirms(client):
    response, _ = text(client, "STOP", sender="+13125550198")
    (reply,) = replies(response)
    assert "unsubscribed" in reply


def test_staff_see_inbound_texts(app, client, ann):
    text(client, "Is the <b>webinar</b> on Tuesday?")
    assert client.get("/admin/inbound").status_code in (302, 401)  # staff only
    create_staff("staff@example.org", "correct horse battery", role="viewer")
    db.session.commit()
    login = submit_form(
        client, "/admin/login", {"email": "staff@example.org", "password": "correct horse battery"}
    )
    assert login.status_code == 302
    page = client.get("/admin/inbound")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Is the &lt;b&gt;webinar&lt;/b&gt; on Tuesday?" in html
    assert "<b>webinar</b>" not in html
    assert ANN in html and "other" in html


def test_help_handled_by_twilio_gets_no_second_answer(client, ann):
    response, _ = text(client, "HELP", OptOutType="HELP")
    assert replies(response) == []


def test_an_unknown_opt_out_type_is_ignored(client, audience, ann):
    response, _ = text(client, "STOP", OptOutType="SOMETHING")
    assert replies(response) == [wording.sms_stopped(audience)]
    assert set(subscription_states(ann, "sms").values()) == {"unsubscribed"}
