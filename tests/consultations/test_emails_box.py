"""The separate, unticked "Also send me ... emails" box: unticked, a request changes no
consent at all; ticked, the email address gets the subscribe form's double opt-in (pending,
a confirmation email) with the same wording and ledger evidence."""

from __future__ import annotations

from sqlalchemy import select

from outreach.consent import wording
from outreach.extensions import db
from outreach.models import ConsentEvent, Subscription
from tests.consultations.support import PAGE, send_request, stored
from tests.factories import make_audience, make_subscriber
from tests.helpers import page_text
from tests.public.support import confirm_path, counts, mailbox, states, subscriber

AGENT = "Mozilla/5.0 (Linux; Android 14) Mobile"


def test_unticked_the_request_subscribes_nobody(app, client):
    make_audience()
    before = counts()
    send_request(client, name="Ann", email="ann@example.org", phone="+19175550100")
    after = counts()
    assert after == before and len(stored()) == 1


def test_ticked_the_email_goes_pending_with_the_forms_wording_and_evidence(app, client):
    audience = make_audience()
    answer = send_request(
        client, headers={"User-Agent": AGENT}, name="Ann Lee", email="ann@example.org",
        phone="+19175550100", also_emails="y",
    )  # fmt: skip
    assert answer.status_code == 200 and "Confirm my subscription" in page_text(answer)
    person = subscriber(email="ann@example.org")
    assert states(person) == {(audience.slug, "email"): "pending"}  # no text consent
    assert person.phone is None and person.first_name == "Ann"
    (event,) = db.session.scalars(select(ConsentEvent).filter_by(subscriber_id=person.id))
    assert (event.action, event.channel, event.source, event.resulting_state) == (
        "requested",
        "email",
        "web_form",
        "pending",
    )
    assert event.wording == wording.consent_wording(audience, "email", "en")
    assert event.form_url.endswith(PAGE)  # the page's own address, nothing appended
    assert event.ip_address and event.user_agent == AGENT
    assert "consultation request form" in event.note
    assert confirm_path("ann@example.org").startswith("/confirm/")
    page = client.get(PAGE).get_data(as_text=True)
    assert wording.consent_wording(audience, "email", "en") in page.replace("&amp;", "&")


def test_ticked_in_spanish_the_ledger_keeps_the_spanish_wording(app, client):
    audience = make_audience()
    send_request(
        client, page_url=f"{PAGE}?lang=es", name="Ana", email="ana@example.org",
        also_emails="y", language="es",
    )  # fmt: skip
    person = subscriber(email="ana@example.org")
    (event,) = db.session.scalars(select(ConsentEvent).filter_by(subscriber_id=person.id))
    assert event.wording == wording.consent_wording(audience, "email", "es")
    assert person.language == "es"


def test_ticked_without_an_email_asks_for_one_and_stores_nothing(app, client):
    make_audience()
    before = counts()
    answer = send_request(client, name="Ann", phone="+19175550100", also_emails="y")
    assert answer.status_code == 400
    assert "Enter your email address to get emails." in page_text(answer)
    assert counts() == before and stored() == []


def test_a_known_subscriber_ticking_the_box_sees_the_same_answer(app, client):
    audience = make_audience()
    make_subscriber(audience, email="known@example.org")
    known = send_request(client, name="Kim", email="known@example.org", also_emails="y")
    new = send_request(client, name="Kim", email="new@example.org", also_emails="y")
    assert page_text(known) == page_text(new)
    db.session.expire_all()
    emails = {
        s.subscriber.email: s.state
        for s in db.session.scalars(select(Subscription).filter_by(channel="email"))
    }
    assert emails == {"known@example.org": "active", "new@example.org": "pending"}
    assert [m["to"] for m in mailbox("email")] == ["new@example.org"]


def test_an_audience_without_email_shows_no_box(app, client):
    make_audience(channels="sms")
    html = client.get(PAGE).get_data(as_text=True)
    assert 'name="also_emails"' not in html
