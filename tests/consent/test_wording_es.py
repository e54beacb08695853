"""The Spanish replies carry what CTIA asks of every reply: the program, the frequency, the
rates notice and how to get help or stop, in Spanish."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach.consent import wording


@dataclass
class Identity:
    name: str = "Migraine Awareness"
    organisation_name: str = "NeuroMedici Clinic"
    sms_program_name: str = "NeuroMedici Migraine Awareness"
    sms_frequency_text: str = "Up to 4 msgs/month in June"
    support_email: str = "care@neuromedici.example"
    support_phone: str = "+1 (555) 010-2000"


def test_spanish_welcome_has_program_frequency_rates_help_and_alto():
    reply = wording.sms_welcome(Identity(), "es")
    assert reply.startswith("NeuroMedici Migraine Awareness:")
    assert "Hasta 4 mensajes al mes en junio." in reply
    assert "Pueden aplicarse tarifas de mensajes y datos." in reply
    assert reply.endswith("Responde AYUDA para ayuda y ALTO para cancelar.")


def test_spanish_help_names_support_and_how_to_stop():
    reply = wording.sms_help(Identity(), "es")
    assert "+1 (555) 010-2000 o care@neuromedici.example" in reply
    assert "Responde ALTO para cancelar." in reply


def test_spanish_stop_reply_is_one_plain_confirmation_naming_inicio():
    reply = wording.sms_stopped(Identity(), "es")
    assert reply == (
        "NeuroMedici Migraine Awareness: cancelaste tu suscripción y no recibirás más "
        "mensajes de texto. Responde INICIO para volver."
    )
    assert wording.sms_stopped(None, "es").startswith("Outreach:")


@pytest.mark.parametrize(
    ("written", "spanish"),
    [
        ("Up to 4 msgs/month", "Hasta 4 mensajes al mes."),
        ("up to 2 messages per week", "Hasta 2 mensajes por semana."),
        ("Up to 1 text a day.", "Hasta 1 mensaje al día."),
        ("Up to 4 msgs/month in June", "Hasta 4 mensajes al mes en junio."),
        ("", "La frecuencia de los mensajes varía."),
        ("Message frequency varies", "La frecuencia de los mensajes varía."),
        ("Weekly tips", "Frecuencia: Weekly tips."),
    ],
)
def test_the_staff_frequency_is_said_in_spanish_when_it_has_the_usual_shape(written, spanish):
    reply = wording.sms_welcome(Identity(sms_frequency_text=written), "es")
    assert spanish in reply


@given(st.sampled_from([None, "en", "fr", ""]))
def test_any_language_other_than_spanish_gets_the_english_reply(language):
    assert wording.sms_stopped(Identity(), language) == wording.sms_stopped(Identity())
    assert wording.sms_help(Identity(), language) == wording.sms_help(Identity())
