"""Preflight over a step's Spanish copy: the same rules as the English copy, with Spanish
health terms, sources, clinician line and promises, the Spanish STOP wording on the first
text; and a warning when Spanish-speaking subscribers would get a step in English."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.campaigns.preflight.findings import has_errors
from outreach.extensions import db
from outreach.models import StepVariant
from tests.campaigns.test_preflight import BRAND, check, email, make, sms
from tests.factories import make_audience, make_campaign, make_subscriber

SPANISH_EMAIL = {
    "subject": "Junio es el mes de la migraña",
    "preheader": "",
    "html": "<p>Hola, {{ first_name }}: junio es el mes de concientización.</p>",
    "text": None,
    "body": "",
}
SPANISH_SMS = {"subject": "", "preheader": "", "html": "", "text": None}


def with_spanish(campaign, index: int = 0, **fields: object):  # noqa: ANN001, ANN201
    step = campaign.steps[index]
    base = SPANISH_EMAIL if step.channel == "email" else {**SPANISH_SMS, "body": ""}
    step.variants = [StepVariant(language="es", **{**base, **fields})]
    return campaign


def spanish(findings):  # noqa: ANN001, ANN201
    return [f for f in findings if f.message.startswith("Spanish version: ")]


def test_a_clean_spanish_version_adds_no_findings():
    campaign = with_spanish(make(email(), sms()))
    campaign = with_spanish(
        campaign, 1, body=f"{BRAND}: junio es el mes de la migraña. Responde ALTO para cancelar."
    )
    assert check(campaign) == []


def test_the_spanish_first_text_must_say_alto_or_is_warned_it_will_be_added():
    campaign = with_spanish(make(sms()), body=f"{BRAND}: junio es el mes de la migraña.")
    (finding,) = spanish(check(campaign))
    assert finding.level == "warning" and finding.field == "es.body"
    assert '"Responde ALTO para cancelar."' in finding.message


def test_a_spanish_text_too_long_with_its_stop_wording_is_an_error():
    long_body = f"{BRAND}: " + "La migraña es más que un dolor de cabeza. " * 8
    found = spanish(check(with_spanish(make(sms()), body=long_body)))
    assert has_errors(found) and any("segments" in f.message for f in found)


def test_health_details_in_a_spanish_subject_block_scheduling():
    campaign = with_spanish(make(email()), subject="Su diagnóstico de migraña")
    (finding,) = [f for f in spanish(check(campaign)) if f.field == "es.subject"]
    assert finding.level == "error" and "'su diagnóstico'" in finding.message


def test_a_spanish_version_needs_its_own_subject_and_body():
    found = spanish(check(with_spanish(make(email()), subject="", html="")))
    assert {f.field for f in found if f.level == "error"} == {"es.subject", "es.html"}


def test_spanish_copy_rules_sources_clinician_and_promises():
    html = "<p>El 12 % de las personas tiene migraña. Un tratamiento nuevo garantiza alivio.</p>"
    messages = " | ".join(f.message for f in spanish(check(with_spanish(make(email()), html=html))))
    assert "a statistic without a named source" in messages
    assert "'consulte a su médico'" in messages
    assert "promise of results" in messages
    sourced = (
        "<p>Según un estudio, el 12 % de las personas tiene migraña. Consulte a su médico.</p>"
    )
    assert spanish(check(with_spanish(make(email()), html=sourced))) == []


def test_template_mistakes_in_the_spanish_copy_are_errors():
    found = spanish(check(with_spanish(make(email()), html="<p>Hola {{ nombre_inventado }}</p>")))
    assert has_errors(found) and found[0].field == "es.html"


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=400))
def test_any_spanish_text_gets_findings_never_a_crash(body):
    campaign = with_spanish(make(sms()), body=body)
    for finding in check(campaign):
        assert finding.level in ("error", "warning") and finding.message


def test_spanish_speakers_without_a_spanish_version_are_warned_about(app):
    audience = make_audience()
    make_subscriber(audience, email="lucia@example.org", language="es")
    make_subscriber(audience, email="ann@example.org")
    campaign = make_campaign(audience, [{"channel": "email"}, {"channel": "sms"}], schedule=False)
    warnings = [f for f in check(campaign) if f.field == "es"]
    assert [(f.step, f.level) for f in warnings] == [(1, "warning")]  # nobody reads texts in es
    assert "1 Spanish-speaking subscriber will get this step in English" in warnings[0].message

    campaign.steps[0].variants.append(StepVariant(language="es", **SPANISH_EMAIL))
    db.session.commit()
    assert [f for f in check(campaign) if f.field == "es"] == []
