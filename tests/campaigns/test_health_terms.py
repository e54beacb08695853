"""The shipped health terms (health_terms.yaml) and the BAA settings: what counts as a
health detail about the reader, what was reviewed as a false positive, and how the
agreement per channel turns blocks into warnings, in preflight and on the schedule gate."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.campaigns.preflight import health_rules
from outreach.campaigns.preflight.health_rules import Agreements, health_hits
from tests.campaigns.test_preflight import AUDIENCE, BRAND, check, email, make, only, sms
from tests.sending import test_reconcile as case

fake = case.fake
audience = case.audience


@pytest.mark.parametrize(
    "phrase",
    [
        "Your migraine treatment plan",
        "Your appointment on Monday",
        "Reminder: your next infusion",
        "Your new prescription is ready",
        "You were diagnosed with chronic migraine",
        "Your lab results are in",
        "As a patient of our clinic",
        "Your symptoms this week",
        "Su próxima cita es el lunes",
        "Tu tratamiento de migraña",
        "Nuestros pacientes",
        "Resultados de laboratorio",
    ],
)
def test_details_about_the_reader_are_hits(phrase):
    assert health_hits(phrase, ("en", "es"))


@pytest.mark.parametrize(
    "phrase",
    [
        "Your headache diary: a quick start",
        "June is National Migraine and Headache Awareness Month",
        "Migraine awareness month starts today",
        "Your migraine awareness month guide",
        "Ketamine infusions: what the research says",
        "How migraine is diagnosed",
        "Be patient with yourself",
        "Know the symptoms of migraine",
        "Plan a visit to our awareness walk",
        "Una receta de agua de limón",
        "Sea paciente",
        "Junio es el mes de la migraña",
        "Tu diario de migraña",
    ],
)
def test_the_campaigns_topic_is_not_a_detail_about_the_reader(phrase):
    assert health_hits(phrase, ("en", "es")) == []


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_scanned_without_a_crash(value):
    for hit in health_hits(value, ("en", "es")):
        assert hit == hit.lower() and hit.strip()


def test_the_terms_are_data_shipped_with_the_package():
    loaded = health_rules.terms()
    assert {"en", "es"} <= set(loaded.patterns) and loaded.allowed
    assert all(p.flags & 2 for patterns in loaded.patterns.values() for p in patterns)


def test_without_an_agreement_every_provider_field_blocks():
    campaign = make(
        email(subject="Your appointment", preheader="your infusion"),
        sms(body=f"{BRAND}: your lab results are in. STOP"),
    )
    found = only(check(campaign), "error")
    assert [(f.step, f.field) for f in found] == [(1, "subject"), (1, "preheader"), (2, "body")]
    assert "OUTREACH_EMAIL_BAA=1" in found[0].message
    assert "OUTREACH_SMS_BAA=1" in found[2].message


def test_the_sender_name_and_program_name_are_what_the_providers_keep():
    campaign = make(
        email(), sms(), audience={"organisation_name": "Headache Patients Network",
                                  "sms_program_name": "Your Treatment Texts"}
    )  # fmt: skip
    found = {(f.level, f.step, f.field) for f in check(campaign)}
    assert ("error", None, "sender") in found
    assert ("error", None, "sms_program_name") in found


def test_the_categories_compose_sends_carry_ids_only():
    found = health_rules.rule_provider_metadata(make(email()), list(make(email()).steps))
    assert found == []


def test_with_an_agreement_the_same_findings_are_warnings():
    campaign = make(email(subject="Your appointment"), sms(body=f"{BRAND}: your meds. STOP"))
    signed = Agreements(email=True, sms=False)
    steps = list(campaign.steps)
    email_found = health_rules.rule_health_details(1, steps[0], campaign.audience, signed=signed)
    sms_found = health_rules.rule_health_details(2, steps[1], campaign.audience, signed=signed)
    assert [f.level for f in email_found] == ["warning"]
    assert "OUTREACH_EMAIL_BAA says you have a BAA" in email_found[0].message
    assert [f.level for f in sms_found] == ["error"]


@pytest.mark.parametrize(
    ("setting", "level"), [({}, "error"), ({"OUTREACH_EMAIL_BAA": True}, "warning")]
)
def test_the_setting_is_read_from_the_app(app, setting, level):
    app.config.update(setting)
    campaign = make(email(subject="Your appointment"), audience=dict(AUDIENCE))
    assert [f.level for f in check(campaign)] == [level]


# --------------------------------------------------------------------------- what is sent


def test_what_the_providers_get_besides_the_copy_holds_no_names_or_health_details(
    app, clock, fake, audience
):
    from outreach.extensions import db
    from outreach.sending import run as sending
    from tests.factories import make_campaign, make_subscriber
    from tests.sending.test_reconcile import june_first

    make_subscriber(audience, email="ann@example.org", phone="+19175550001")
    campaign = make_campaign(
        audience,
        [{"channel": "email", "send_time": "10:00", "subject": "June facts"},
         {"channel": "sms", "send_time": "10:00", "body": "Migraine month facts."}],
        name="Migraine patients June",
    )  # fmt: skip
    db.session.commit()
    june_first(clock, fake)
    fake.configure(keep_bodies=True)
    assert sending.dispatch_once().sent == 2
    (body,) = fake.email_bodies
    email_step, sms_step = campaign.steps
    assert body["categories"] == ["outreach", f"campaign-{campaign.id}", f"step-{email_step.id}"]
    (personalization,) = body["personalizations"]
    assert set(personalization["custom_args"]) <= {"message_id", "request_id"}
    stored = [body["subject"], body["from"].get("name", ""), *body["categories"],
              *personalization["custom_args"].values()]  # fmt: skip
    assert "Migraine patients June" not in " ".join(stored)  # the campaign name never goes out
    assert all(health_hits(value, ("en", "es")) == [] for value in stored)
    (text_message,) = fake.sent_sms
    assert health_hits(text_message["body"], ("en", "es")) == []
