"""Spanish texts through the Twilio webhook: ALTO revokes SMS consent with a ledger row and
a Spanish reply, INICIO re-subscribes, AYUDA is answered in Spanish; one reply each."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from outreach.consent import decisions, suppression, wording
from outreach.extensions import db
from outreach.models import ConsentEvent, InboundSms, Message
from tests.webhooks.conftest import add_message, snapshot, subscription_states
from tests.webhooks.test_inbound_sms import ANN, replies, text


@pytest.mark.parametrize(
    "body", ["ALTO", "alto", "PARAR", "Baja.", "NO MÁS", "ya no me manden mensajes"]
)
def test_spanish_opt_out_revokes_sms_with_evidence_and_a_spanish_reply(
    client, audience, ann, later_sms_step, email_step, body
):
    queued_sms = add_message(later_sms_step, ann, state="queued")
    queued_email = add_message(email_step, ann, state="queued")

    response, sid = text(client, body)

    (reply,) = replies(response)
    assert reply == wording.sms_stopped(audience, "es")
    assert audience.sms_program_name in reply and "INICIO" in reply
    assert "unsubscribed" not in reply  # Spanish, not English
    assert set(subscription_states(ann, "sms").values()) == {"unsubscribed"}
    assert set(subscription_states(ann, "email").values()) == {"active"}
    revoked = db.session.scalars(
        select(ConsentEvent).filter_by(subscriber_id=ann.id, action="revoked")
    ).all()
    assert len(revoked) == 2
    assert all(e.source == "sms_keyword" and e.provider_ref == sid for e in revoked)
    assert all(e.wording == body for e in revoked)  # the person's own words, verbatim
    assert suppression.is_suppressed("sms", ANN)
    assert db.session.get(Message, queued_sms.id).state == "cancelled"
    assert db.session.get(Message, queued_email.id).state == "queued"
    stored = db.session.scalar(select(InboundSms).filter_by(message_sid=sid))
    assert stored.intent == "opt_out"


def test_inicio_after_alto_resubscribes_with_a_spanish_welcome(client, audience, ann):
    text(client, "ALTO")
    response, sid = text(client, "INICIO")
    (reply,) = replies(response)
    assert reply == wording.sms_welcome(audience, "es")
    assert wording.STOP_WORDING_ES in reply and wording.RATES_WORDING_ES in reply
    assert set(subscription_states(ann, "sms").values()) == {"active"}
    assert not suppression.is_suppressed("sms", ANN)
    assert decisions.check_batch([ann.id], "sms", audience.id) == {ann.id: None}
    resubscribed = db.session.scalars(
        select(ConsentEvent).filter_by(provider_ref=sid, action="resubscribed")
    ).all()
    assert len(resubscribed) == 2


def test_si_confirms_like_yes(client, audience, ann):
    text(client, "BAJA")
    response, _ = text(client, "Sí")
    assert replies(response) == [wording.sms_welcome(audience, "es")]
    assert set(subscription_states(ann, "sms").values()) == {"active"}


def test_ayuda_is_answered_in_spanish_and_changes_nothing(client, audience, ann):
    before = snapshot()
    response, _ = text(client, "AYUDA")
    (reply,) = replies(response)
    assert reply == wording.sms_help(audience, "es")
    assert audience.support_phone in reply and "ALTO" in reply
    after = snapshot()
    assert {k: v for k, v in after.items() if k != "inbound_sms"} == {
        k: v for k, v in before.items() if k != "inbound_sms"
    }


def test_english_keywords_still_get_english_replies(client, audience, ann):
    response, _ = text(client, "STOP")
    assert replies(response) == [wording.sms_stopped(audience)]


def test_a_replayed_alto_gets_the_same_single_spanish_reply_and_no_second_ledger_row(
    client, audience, ann
):
    from tests.helpers import post_twilio

    params = {"MessageSid": "SM" + "e" * 32, "From": ANN, "To": "+15550001111", "Body": "ALTO"}
    first = post_twilio(client, "/webhooks/twilio/sms", params)
    again = post_twilio(client, "/webhooks/twilio/sms", params)
    assert replies(first) == replies(again) == [wording.sms_stopped(audience, "es")]
    revoked = db.session.scalars(select(ConsentEvent).filter_by(action="revoked")).all()
    assert len(revoked) == 2  # one per list, from the first delivery only


@pytest.mark.parametrize("body", ["el dolor no para", "alto dolor de cabeza", "para mañana"])
def test_spanish_near_misses_are_stored_for_staff_and_change_nothing(client, ann, body):
    response, sid = text(client, body)
    assert replies(response) == []
    assert set(subscription_states(ann, "sms").values()) == {"active"}
    stored = db.session.scalar(select(InboundSms).filter_by(message_sid=sid))
    assert stored.intent == "other"


def test_alto_handled_by_twilio_advanced_opt_out_gets_no_second_answer(client, ann):
    response, _ = text(client, "ALTO", OptOutType="STOP")
    assert replies(response) == []
    assert set(subscription_states(ann, "sms").values()) == {"unsubscribed"}
