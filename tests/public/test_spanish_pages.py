"""English and Spanish public pages: the language switch, Accept-Language, the stored
subscriber language, consent wording recorded in the language shown, and the confirmation
email and text in the subscriber's language."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape
from sqlalchemy import select

from outreach.consent import wording
from outreach.extensions import db
from outreach.models import ConsentEvent
from tests.factories import make_audience, make_subscriber
from tests.helpers import submit_form
from tests.public.support import FORM, confirm_path, link, mailbox, states, subscriber

SPANISH = {"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"}


@pytest.fixture
def audience(app):  # noqa: ANN001, ANN201
    """The June audience, offering email and texts."""
    return make_audience()


def html_of(response) -> str:  # noqa: ANN001
    return response.get_data(as_text=True)


def lang_of(html: str) -> str:
    return re.search(r'<html lang="(\w+)"', html).group(1)


def ledger_wordings(person) -> list[str]:  # noqa: ANN001
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(ConsentEvent.wording)
            .where(ConsentEvent.subscriber_id == person.id, ConsentEvent.wording.is_not(None))
            .order_by(ConsentEvent.id)
        )
    )


def test_the_form_follows_accept_language_and_the_switch_overrides_it(client, audience):
    spanish = html_of(client.get(FORM, headers=SPANISH))
    assert lang_of(spanish) == "es"
    assert "¿Cómo podemos comunicarnos contigo?" in spanish and "Suscribirme" in spanish
    sms_box = wording.consent_wording(audience, "sms", "es")
    assert str(escape(sms_box)) in spanish
    assert "Pueden aplicarse tarifas de mensajes y datos." in sms_box
    assert "Responde AYUDA para ayuda y ALTO para cancelar." in sms_box
    assert "El consentimiento no es una condición de compra." in sms_box
    assert f'href="{FORM}?lang=en"' in spanish  # the visible switch back to English

    english = html_of(client.get(f"{FORM}?lang=en", headers=SPANISH))
    assert lang_of(english) == "en" and "How may we contact you?" in english
    assert lang_of(html_of(client.get(f"{FORM}?lang=es"))) == "es"
    assert lang_of(html_of(client.get(FORM))) == "en"  # no preference: English


def test_a_spanish_signup_stores_the_language_and_the_spanish_wording_it_agreed_to(
    client, audience
):
    page = submit_form(
        client,
        f"{FORM}?lang=es",
        {"email": "lucia@example.org", "phone": "(917) 555-0143", "first_name": "Lucía",
         "consent_email": "y", "consent_sms": "y", "language": "es"},
    )  # fmt: skip
    assert page.status_code == 200 and "Ya casi terminas" in html_of(page)
    lucia = subscriber("lucia@example.org")
    assert lucia.language == "es"
    assert set(ledger_wordings(lucia)) == {
        wording.consent_wording(audience, "email", "es"),
        wording.consent_wording(audience, "sms", "es"),
    }

    [email] = mailbox("email")
    assert email["subject"] == f"Confirma tu suscripción a {audience.name}"
    assert "Hola, Lucía: pediste recibir correos" in email["html"]
    assert '<html lang="es"' in email["html"] and "Cancelar suscripción" in email["html"]
    assert "Confirmar mi suscripción" in email["html"]
    assert email["text"].splitlines()[-1].startswith("Cancelar suscripción: http")
    [text] = mailbox("sms")
    assert text["body"] == wording.sms_confirmation(audience, "es")
    assert text["body"].startswith(f"{wording.program(audience)}: responde SÍ para confirmar")


def test_field_errors_are_in_the_page_language(client, audience):
    page = submit_form(
        client, f"{FORM}?lang=es", {"phone": "12", "consent_sms": "y", "language": "es"}
    )
    assert page.status_code == 400
    assert "Ese número de teléfono no es válido." in html_of(page)
    page = submit_form(client, f"{FORM}?lang=es", {"email": "ana@", "consent_email": "y"})
    assert "Esa dirección de correo electrónico no es válida:" in html_of(page)
    page = submit_form(client, f"{FORM}?lang=es", {"email": "ana@example.org"})
    assert "Marca al menos una casilla" in html_of(page)


def test_a_spanish_subscribers_own_links_open_in_spanish_unless_they_switch(client, audience):
    person = make_subscriber(
        audience, email="lucia@example.org", phone="+19175550143", language="es"
    )
    for purpose in ("unsubscribe", "preferences"):
        page = client.get(link(person, purpose))
        assert page.status_code == 200 and lang_of(html_of(page)) == "es", purpose
    english = client.get(link(person, "preferences") + "?lang=en")
    assert lang_of(html_of(english)) == "en" and "Your preferences" in html_of(english)
    assert person.language == "es"  # looking in English changes nothing stored


def test_unsubscribing_in_spanish_records_the_spanish_words_pressed(client, audience):
    person = make_subscriber(audience, email="lucia@example.org", language="es")
    url = link(person, "unsubscribe")
    page = submit_form(client, url, {"everything": "y"})
    assert page.status_code == 200 and "Cancelaste tu suscripción" in html_of(page)
    assert states(person) == {("migraine-awareness", "email"): "unsubscribed"}
    assert ledger_wordings(person)[-1] == (
        "Darme de baja de todo (correos electrónicos y mensajes de texto)"
    )


def test_the_preferences_page_changes_the_language_and_records_the_wording_shown(client, audience):
    person = make_subscriber(audience, email="ann@example.org", phone="+19175550142")
    url = link(person, "preferences")
    page = client.get(url)
    assert lang_of(html_of(page)) == "en" and 'name="language"' in html_of(page)
    keep = re.findall(r'name="keep" value="([^"]+)"', html_of(page))

    saved = submit_form(
        client, url, {"keep": keep[:1], "timezone": "America/New_York", "language": "es"}
    )
    assert saved.status_code == 200
    assert lang_of(html_of(saved)) == "es" and "Guardado." in html_of(saved)
    assert subscriber("ann@example.org").language == "es"
    # The unticked box was read in English: the ledger keeps the English wording.
    assert ledger_wordings(person)[-1] == wording.consent_wording(audience, "sms", "en")

    again = client.get(url)
    assert lang_of(html_of(again)) == "es" and "Tus preferencias" in html_of(again)


def test_confirming_from_the_spanish_email_opens_a_spanish_page(client, audience):
    submit_form(
        client, f"{FORM}?lang=es",
        {"email": "lucia@example.org", "consent_email": "y", "language": "es"},
    )  # fmt: skip
    path = confirm_path("lucia@example.org")
    page = client.get(path)
    assert lang_of(html_of(page)) == "es" and "Confirma tu suscripción" in html_of(page)
    done = submit_form(client, path, {})
    assert "Ya tienes la suscripción" in html_of(done)
    assert states(subscriber("lucia@example.org")) == {("migraine-awareness", "email"): "active"}


def test_error_and_bad_link_pages_speak_spanish(client, audience):
    missing = client.get("/subscribe/no-such-list", headers=SPANISH)
    assert missing.status_code == 404
    assert lang_of(html_of(missing)) == "es" and "Página no encontrada" in html_of(missing)
    bad = client.get("/unsubscribe/not-a-token", headers=SPANISH)
    assert bad.status_code == 400 and "Este enlace no es válido." in html_of(bad)


def test_staff_pages_stay_in_english(client, audience):
    page = client.get("/admin/login", headers=SPANISH)
    assert lang_of(html_of(page)) == "en"
