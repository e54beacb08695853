"""Campaign copy in the subscriber's language: a step with a Spanish variant goes to
Spanish speakers in Spanish (its own SendGrid request, its own request id) and to everyone
else in English; a step without one goes to everyone in English."""

from __future__ import annotations

from sqlalchemy import select

from outreach.consent import wording
from outreach.extensions import db
from outreach.models import Message, StepVariant, Subscriber
from outreach.sending import reconcile
from outreach.sending import run as sending
from tests.factories import make_campaign, make_subscriber
from tests.helpers import post_sendgrid
from tests.sending import test_reconcile as case
from tests.sending.test_reconcile import event, june_first, rows, run_reconcile

fake = case.fake
audience = case.audience

SPANISH_EMAIL = {
    "subject": "Junio es el mes de la migraña",
    "preheader": "Lo que conviene saber",
    "html": "<p>Hola, {{ first_name }}: consulte a su médico si el dolor cambia.</p>",
}


def people(audience, english: int, spanish: int) -> None:  # noqa: ANN001
    for i in range(english):
        make_subscriber(audience, email=f"en{i}@example.org", phone=f"+1917555{i:04d}")
    for i in range(spanish):
        make_subscriber(
            audience,
            email=f"es{i}@example.org",
            phone=f"+1917556{i:04d}",
            first_name="" if i == 0 else f"Lucía{i}",
            language="es",
        )


def campaign_with_spanish(audience, channel: str):  # noqa: ANN001, ANN201
    fields = (
        {"channel": "email", "send_time": "10:00", "subject": "June is Migraine Month"}
        if channel == "email"
        else {"channel": "sms", "send_time": "10:00", "body": "June is migraine month."}
    )
    campaign = make_campaign(audience, [fields])
    step = campaign.steps[0]
    if channel == "email":
        step.variants.append(StepVariant(language="es", **SPANISH_EMAIL))
    else:
        step.variants.append(StepVariant(language="es", body="Junio es el mes de la migraña."))
    db.session.commit()
    return campaign


def email_of(fake) -> dict[str, tuple[str, dict]]:  # noqa: ANN001
    """Recipient -> (subject, personalization) from the requests SendGrid got."""
    out = {}
    for body in fake.email_bodies:
        for item in body["personalizations"]:
            out[item["to"][0]["email"]] = (body["subject"], body)
    return out


def test_spanish_speakers_get_the_spanish_copy_in_its_own_request(app, clock, fake, audience):
    people(audience, english=2, spanish=2)
    campaign_with_spanish(audience, "email")
    june_first(clock, fake)
    fake.configure(keep_bodies=True)

    assert sending.dispatch_once().sent == 4

    got = email_of(fake)
    assert {got[f"en{i}@example.org"][0] for i in range(2)} == {"June is Migraine Month"}
    assert {got[f"es{i}@example.org"][0] for i in range(2)} == {SPANISH_EMAIL["subject"]}
    spanish_html = next(c["value"] for c in got["es1@example.org"][1]["content"]
                        if c["type"] == "text/html")  # fmt: skip
    assert '<html lang="es"' in spanish_html and "Cancelar suscripción" in spanish_html
    assert len(fake.email_bodies) == 2  # one request per language
    request_ids = {
        item["custom_args"]["request_id"]
        for body in fake.email_bodies
        for item in body["personalizations"]
    }
    english_id = next(r for r in request_ids if not r.endswith("-es"))
    assert request_ids == {english_id, f"{english_id}-es"}
    by_language = {}
    for message in db.session.scalars(select(Message)):
        person = db.session.get(Subscriber, message.subscriber_id)
        by_language.setdefault(person.language, set()).add(message.claim_id)
    assert by_language == {"en": {english_id}, "es": {f"{english_id}-es"}}


def test_a_spanish_first_text_names_the_program_and_says_alto(app, clock, fake, audience):
    people(audience, english=1, spanish=2)
    campaign_with_spanish(audience, "sms")
    june_first(clock, fake)

    assert sending.dispatch_once().sent == 3

    bodies = {m["to"]: m["body"] for m in fake.sent_sms}
    brand = wording.program(audience)
    assert bodies["+19175550000"] == f"{brand}: June is migraine month. Reply STOP to opt out."
    assert bodies["+19175560001"] == (
        f"{brand}: Junio es el mes de la migraña. Responde ALTO para cancelar."
    )


def test_without_a_spanish_variant_everyone_gets_the_english_copy(app, clock, fake, audience):
    people(audience, english=1, spanish=1)
    make_campaign(audience, [{"channel": "email", "send_time": "10:00", "subject": "June news"}])
    june_first(clock, fake)
    fake.configure(keep_bodies=True)
    assert sending.dispatch_once().sent == 2
    assert {subject for subject, _ in email_of(fake).values()} == {"June news"}
    assert len(fake.email_bodies) == 1


def test_a_nameless_spanish_reader_is_greeted_in_spanish(app, clock, fake, audience):
    people(audience, english=0, spanish=1)  # es0 gave no first name
    campaign_with_spanish(audience, "email")
    june_first(clock, fake)
    fake.configure(keep_bodies=True)
    sending.dispatch_once()
    (body,) = fake.email_bodies
    (item,) = body["personalizations"]
    assert "qué tal" in item["substitutions"].values()


def test_an_event_for_the_english_request_settles_only_the_english_rows(
    app, cli, client, clock, fake, audience
):
    people(audience, english=2, spanish=2)
    campaign_with_spanish(audience, "email")
    june_first(clock, fake)
    fake.configure(accepted_error_rate=1.0, keep_bodies=True)  # both taken, answers lost
    assert sending.dispatch_once().unknown == 4
    fake.configure(accepted_error_rate=0.0)
    english = [m for m in rows() if not m.claim_id.endswith("-es")]

    post_sendgrid(client, [event(english[0], "delivered", english[0].claim_id)])

    states = {}
    for message in rows():
        states.setdefault(message.claim_id.endswith("-es"), set()).add(message.state)
    assert states == {False: {"delivered", "sent"}, True: {"unknown"}}

    spanish = [m for m in rows() if m.claim_id.endswith("-es")]
    post_sendgrid(client, [event(spanish[0], "processed", spanish[0].claim_id)])
    assert {m.state for m in rows() if m.claim_id.endswith("-es")} == {"sent"}
    assert reconcile.unknown_count() == 0


def test_reconciliation_finds_a_spanish_text_by_its_spanish_body(app, cli, clock, fake, audience):
    people(audience, english=0, spanish=1)
    campaign_with_spanish(audience, "sms")
    june_first(clock, fake)
    fake.configure(accepted_error_rate=1.0)
    assert sending.dispatch_once().unknown == 1
    fake.configure(accepted_error_rate=0.0)
    assert "1 sent" in run_reconcile(cli)
    (message,) = rows()
    assert message.provider_id == fake.sent_sms[0]["sid"]
