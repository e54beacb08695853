"""A step's Spanish version in the staff workspace: the editor (side by side, its own SMS
counter, saved as the step's ``es`` variant, audited, removed when emptied), the preview's
language switch and test sends in either language."""

from __future__ import annotations

import html
import re

from sqlalchemy import func, select

from outreach.consent import wording
from outreach.devtools import mailbox as console_mailbox
from outreach.extensions import db
from outreach.models import AuditLog, Step, StepVariant
from tests.admin.support import post, text
from tests.admin.test_campaigns import EMAIL, SMS, _add, _new_campaign
from tests.factories import make_audience, make_campaign, make_subscriber

SPANISH_EMAIL = {
    "es_subject": "Junio es el mes de la migraña",
    "es_preheader": "Lo que desencadena una migraña",
    "es_html": "<h1>¡Hola, {{ first_name }}!</h1><p>El estrés y la falta de sueño son "
    "desencadenantes comunes. Consulta a tu médico.</p>",
}
SPANISH_SMS = {
    "es_body": "Mes de la migraña: un diario del dolor de cabeza te ayuda a ver qué lo desencadena."
}


def _variant() -> StepVariant | None:
    db.session.expire_all()
    return db.session.scalar(select(StepVariant))


def _actions() -> list[str]:
    return list(db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


def _scripts(body: str) -> list[str]:
    """Every <script> tag of a page (the CSP allows no inline script)."""
    return re.findall(r"<script\b[^>]*>", body)


# --------------------------------------------------------------------------- editor


def test_the_editor_shows_a_spanish_version_beside_the_english(editor):
    audience = make_audience()
    campaign_id = _new_campaign(editor, audience)
    email_page = editor.get(f"/admin/campaigns/{campaign_id}/steps/new?channel=email")
    body = email_page.get_data(as_text=True)
    assert '<div class="languages" id="step-copy">' in body
    assert 'id="copy-en"' in body and '<fieldset class="copy" lang="es" id="copy-es">' in body
    for name in ("es_subject", "es_preheader", "es_html", "es_text"):
        assert f'name="{name}"' in body
    assert "Spanish version (optional)" in text(email_page)

    sms_page = editor.get(f"/admin/campaigns/{campaign_id}/steps/new?channel=sms")
    body = sms_page.get_data(as_text=True)
    assert 'id="sms-counter"' in body and 'id="sms-counter-es"' in body
    spanish = re.search(r"<textarea id=\"es_body\"[^>]*>", body).group(0)
    assert "data-sms-body" in spanish and 'data-counter="sms-counter-es"' in spanish
    assert 'data-language="es"' in spanish and 'data-first="yes"' in spanish
    assert wording.STOP_SHORT_ES in text(sms_page)  # the first text's Spanish STOP wording
    assert all(" src=" in tag for tag in _scripts(body)), _scripts(body)

    css = editor.get("/static/outreach.css").get_data(as_text=True)
    assert ".languages{display:grid" in css
    assert "@media (min-width:1000px){.languages{grid-template-columns:repeat(2" in css
    counter = editor.get("/static/sms-counter.js").get_data(as_text=True)
    assert "Responde ALTO para cancelar." in counter and "data-counter" in counter


def test_an_email_step_saves_its_spanish_version_and_audits_it(editor):
    audience = make_audience()
    campaign_id = _new_campaign(editor, audience)
    added = _add(editor, campaign_id, "email", {**EMAIL, **SPANISH_EMAIL, "es_text": ""})
    assert added.status_code == 303, text(added)
    step = db.session.scalar(select(Step))
    variant = _variant()
    assert (variant.step_id, variant.language) == (step.id, "es")
    assert variant.subject == SPANISH_EMAIL["es_subject"]
    assert variant.preheader == SPANISH_EMAIL["es_preheader"]
    assert variant.html == SPANISH_EMAIL["es_html"] and variant.text is None
    assert variant.body == ""
    assert _actions() == ["campaign.create", "step.create", "step.variant.save"]

    page = editor.get(f"/admin/steps/{step.id}/edit").get_data(as_text=True)
    assert f'value="{SPANISH_EMAIL["es_subject"]}"' in page
    assert html.escape(SPANISH_EMAIL["es_html"], quote=False) in page
    assert "saving with them empty removes it" in page

    same = post(editor, f"/admin/steps/{step.id}/edit", {**EMAIL, **SPANISH_EMAIL})
    assert same.status_code == 303
    assert _actions()[-1] == "step.update"  # nothing changed in Spanish: no variant row

    changed = {**EMAIL, **SPANISH_EMAIL, "es_subject": "Migraña: lo que conviene saber"}
    assert post(editor, f"/admin/steps/{step.id}/edit", changed).status_code == 303
    assert _variant().subject == "Migraña: lo que conviene saber"
    assert _actions()[-2:] == ["step.update", "step.variant.save"]

    emptied = {**EMAIL, "es_subject": " ", "es_preheader": "", "es_html": "", "es_text": ""}
    assert post(editor, f"/admin/steps/{step.id}/edit", emptied).status_code == 303
    assert _variant() is None
    assert _actions()[-2:] == ["step.update", "step.variant.delete"]
    detail = db.session.scalar(
        select(AuditLog.detail).filter_by(action="step.variant.delete", target_id=str(step.id))
    )
    assert detail == f"es, campaign {campaign_id}"


def test_a_started_spanish_version_needs_its_parts_and_valid_templates(editor):
    audience = make_audience()
    campaign_id = _new_campaign(editor, audience)
    half = _add(editor, campaign_id, "email", {**EMAIL, "es_preheader": "Solo esto"})
    assert half.status_code == 400
    page = text(half)
    assert "the Spanish version needs a subject too (or leave every Spanish field empty)" in page
    assert "the Spanish version needs a body too" in page
    assert 'value="Solo esto"' in half.get_data(as_text=True)  # what was typed stays

    typo = _add(editor, campaign_id, "sms", {**SMS, "es_body": "Hola {{ frist_name }}"})
    assert typo.status_code == 400
    assert "unknown variable 'frist_name'; did you mean 'first_name'?" in text(typo)
    assert 'id="es_body-error"' in typo.get_data(as_text=True)
    long = _add(editor, campaign_id, "email", {**EMAIL, **SPANISH_EMAIL, "es_subject": "a" * 301})
    assert long.status_code == 400 and "at most 300 characters" in text(long)
    assert db.session.scalar(select(func.count(Step.id))) == 0
    assert db.session.scalar(select(func.count(StepVariant.id))) == 0


def test_a_text_step_saves_only_its_spanish_body(editor):
    audience = make_audience()
    campaign_id = _new_campaign(editor, audience)
    form = {**SMS, **SPANISH_SMS, "es_subject": "ignored", "es_html": "<p>ignored</p>"}
    assert _add(editor, campaign_id, "sms", form).status_code == 303
    variant = _variant()
    assert variant.body == SPANISH_SMS["es_body"]
    assert (variant.subject, variant.html, variant.text) == ("", "", None)
    step = db.session.scalar(select(Step))
    page = editor.get(f"/admin/steps/{step.id}/edit").get_data(as_text=True)
    assert html.escape(SPANISH_SMS["es_body"], quote=False) in page
    # only email fields in Spanish: no Spanish version for a text
    cleared = {**SMS, "es_body": "", "es_subject": "x"}
    assert post(editor, f"/admin/steps/{step.id}/edit", cleared).status_code == 303
    assert _variant() is None


# --------------------------------------------------------------------------- preview


def _bilingual(audience):  # noqa: ANN001, ANN202
    campaign = make_campaign(
        audience,
        [
            {"channel": "email", "subject": "Hi {{ first_name }}", "html": EMAIL["html"]},
            {"channel": "sms", "body": SMS["body"]},
            {"channel": "email", "subject": "English only", "html": "<p>Hello</p>"},
        ],
        schedule=False,
    )
    email_step, sms_step, _ = campaign.steps
    email_step.variants.append(
        StepVariant(
            language="es",
            subject="Hola, {{ first_name }}",
            preheader="Lo que conviene saber",
            html=SPANISH_EMAIL["es_html"],
        )
    )
    sms_step.variants.append(StepVariant(language="es", body=SPANISH_SMS["es_body"]))
    db.session.commit()
    return campaign


def _frame(response) -> str:  # noqa: ANN001
    body = response.get_data(as_text=True)
    found = re.search(
        r'<iframe class="preview" id="email-frame" sandbox="" [^>]*srcdoc="([^"]*)"', body
    )
    return html.unescape(found.group(1))


def test_preview_switches_between_english_and_spanish(editor):
    audience = make_audience()
    make_subscriber(audience, email="ann@example.org", phone="+19175550142")
    make_subscriber(audience, email="lucia@example.org", first_name="Lucía", language="es")
    campaign = _bilingual(audience)
    email_step, sms_step, english_only = campaign.steps

    english = editor.get(f"/admin/steps/{email_step.id}/preview?who=ann@")
    assert "Copy: English Español" in text(english)
    assert 'aria-current="true">English</a>' in english.get_data(as_text=True)
    assert "Subject: Hi Ann" in text(english) and "Hello Ann" in _frame(english)

    spanish = editor.get(f"/admin/steps/{email_step.id}/preview?who=ann@&lang=es")
    page = text(spanish)
    assert "Subject: Hola, Ann" in page and "Preheader: Lo que conviene saber" in page
    frame = _frame(spanish)
    assert "¡Hola, Ann!" in frame and '<html lang="es"' in frame
    assert "Cancelar suscripción" in frame and "100 Example Avenue" in frame
    assert "[%" not in frame
    assert 'lang="es" aria-current="true">Español</a>' in spanish.get_data(as_text=True)
    # the switch keeps who is shown; the step links keep the language
    assert f"/admin/steps/{sms_step.id}/preview?who=ann@&amp;lang=es" in spanish.get_data(
        as_text=True
    )

    # a Spanish reader is shown in Spanish unless English is asked for
    lucia = editor.get(f"/admin/steps/{email_step.id}/preview?who=lucia@")
    assert "Subject: Hola, Lucía" in text(lucia)
    assert "Subject: Hi Lucía" in text(
        editor.get(f"/admin/steps/{email_step.id}/preview?who=lucia@&lang=en")
    )
    nothing = text(editor.get(f"/admin/steps/{english_only.id}/preview?who=lucia@&lang=es"))
    assert "Subject: English only" in nothing and "Copy: English" not in nothing
    assert "This step has no Spanish version" in nothing
    assert "This subscriber reads Spanish, but this step has no Spanish version" in nothing

    bubble = text(editor.get(f"/admin/steps/{sms_step.id}/preview?lang=es"))
    assert (
        f"NeuroMedici Migraine Awareness: {SPANISH_SMS['es_body']} {wording.STOP_SHORT_ES}"
        in bubble
    )
    assert "brand/STOP wording added for the first text" in bubble
    assert "Reply STOP" not in bubble.split("Send a test")[0].split("Copy:")[1]
    junk = text(editor.get(f"/admin/steps/{sms_step.id}/preview?lang=fr"))
    assert "Reply STOP to opt out." in junk  # an unknown language shows the English copy


def test_test_sends_go_out_in_the_language_shown(editor, staff_users):
    audience = make_audience()
    make_subscriber(audience, email="ann@example.org", phone="+19175550142")
    campaign = _bilingual(audience)
    email_step, sms_step, _ = campaign.steps
    page = editor.get(f"/admin/steps/{email_step.id}/preview?lang=es").get_data(as_text=True)
    assert '<input type="hidden" name="lang" value="es">' in page

    sent = post(
        editor,
        f"/admin/steps/{email_step.id}/test-send",
        {"to": "viewer@clinic.example", "who": "ann@example.org", "lang": "es"},
    )
    assert sent.status_code == 303 and "lang=es" in sent.headers["Location"]
    assert "Test sent to viewer@clinic.example (Spanish copy)." in text(
        editor.get(sent.headers["Location"])
    )
    post(editor, f"/admin/steps/{sms_step.id}/test-send", {"to": "(646) 201-4455", "lang": "es"})
    post(editor, f"/admin/steps/{sms_step.id}/test-send", {"to": "(646) 201-4455", "lang": "en"})

    english_sms, spanish_sms, email = console_mailbox.recent_messages(limit=10)
    assert email["subject"] == "[Test] Hola, Ann"
    assert "¡Hola, Ann!" in email["html"] and "Cancelar suscripción" in email["html"]
    assert spanish_sms["body"] == (
        f"[Test] NeuroMedici Migraine Awareness: {SPANISH_SMS['es_body']} {wording.STOP_SHORT_ES}"
    )
    assert english_sms["body"].endswith("Reply STOP to opt out.")
    details = db.session.scalars(
        select(AuditLog.detail).filter_by(action="step.test_send").order_by(AuditLog.id)
    ).all()
    assert details == [
        "email to staff viewer@clinic.example, Spanish copy",
        "sms to the phone ending 4455, Spanish copy",
        "sms to the phone ending 4455",
    ]
