"""The opt-in form: wording, validation, time zones, CSRF, honeypot, no enumeration."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape

from outreach.consent import wording
from outreach.extensions import db
from outreach.models import ConsentEvent
from tests.factories import make_audience, make_subscriber
from tests.helpers import csrf_token
from tests.public.support import FORM, counts, mailbox, states, subscribe, subscriber


@pytest.fixture
def audience(app):  # noqa: ANN001, ANN201
    """The June audience, offering email and texts."""
    return make_audience()


def test_form_is_mobile_friendly_with_one_unticked_box_per_channel(client, audience):
    page = client.get(FORM)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html
    for channel in ("email", "sms"):
        assert str(escape(wording.consent_wording(audience, channel))) in html
        box = re.search(rf'<input type="checkbox" id="consent_{channel}"[^>]*>', html).group(0)
        assert "checked" not in box
    assert 'type="email"' in html and 'type="tel"' in html and 'inputmode="tel"' in html
    assert 'name="timezone"' in html and 'src="/static/timezone.js"' in html  # no inline JS
    assert 'name="csrf_token"' in html


def test_form_offers_only_the_audience_channels(client, app):
    make_audience(slug="email-only", channels="email")
    html = client.get("/subscribe/email-only").get_data(as_text=True)
    assert 'id="consent_email"' in html and 'id="consent_sms"' not in html
    assert 'id="phone"' not in html


def test_unknown_audience_is_404(client, audience):
    assert client.get("/subscribe/no-such-list").status_code == 404
    assert client.get("/subscribe/%00").status_code == 404


def test_email_signup_is_stored_pending_and_sends_a_confirmation(client, audience):
    page = subscribe(client, email=" Ann.Reader@Example.ORG ", first_name="Ann", consent_email="y")
    assert page.status_code == 200
    assert "please confirm" in page.get_data(as_text=True).lower()
    ann = subscriber("ann.reader@example.org")
    assert ann.first_name == "Ann" and ann.phone is None
    assert states(ann) == {("migraine-awareness", "email"): "pending"}
    [email] = mailbox("email")
    assert email["to"] == "ann.reader@example.org"
    assert "/confirm/" in email["html"]
    assert mailbox("sms") == []


def test_phone_typed_without_its_box_is_not_stored(client, audience):
    subscribe(client, email="ann@example.org", phone="(917) 555-0142", consent_email="y")
    ann = subscriber("ann@example.org")
    assert ann.phone is None
    assert mailbox("sms") == []


def test_sms_signup_sends_the_ctia_confirmation_text(client, audience):
    page = subscribe(client, phone="(917) 555-0142", consent_sms="y")
    assert page.status_code == 200
    person = subscriber(phone="+19175550142")
    assert states(person) == {("migraine-awareness", "sms"): "pending"}
    [text] = mailbox("sms")
    assert text["to"] == "+19175550142"
    body = text["body"]
    assert "NeuroMedici Migraine Awareness" in body  # program name
    assert "Up to 4 msgs/month" in body  # frequency
    assert "Msg & data rates may apply" in body
    assert "Reply HELP for help, STOP to opt out" in body
    assert "YES" in body
    assert mailbox("email") == []


INVALID = [
    ({"email": "not-an-email", "consent_email": "y"}, "email", "not valid"),
    ({"email": "ann@localhost", "consent_email": "y"}, "email", "not valid"),
    ({"phone": "+44 20 7946 0018", "consent_sms": "y"}, "phone", "landline"),
    ({"phone": "12345", "consent_sms": "y"}, "phone", "not valid"),
    ({"phone": "+1 800 555 0100", "consent_sms": "y"}, "phone", "cannot receive text"),
    ({"phone": "call me maybe", "consent_sms": "y"}, "phone", "Use only digits"),
    ({"phone": "9" * 40, "consent_sms": "y"}, "phone", "32"),
    ({"email": "ann@example.org"}, "consent", "Tick at least one box"),
    ({"consent_email": "y"}, "email", "Enter your email address"),
    ({"email": "ann@example.org", "consent_sms": "y"}, "phone", "Enter your mobile number"),
    (
        {"email": "ann@example.org", "first_name": "A" * 101, "consent_email": "y"},
        "first_name",
        "100",
    ),
    # A bad phone is reported even when only email is ticked: the person typed it.
    ({"email": "ann@example.org", "phone": "12345", "consent_email": "y"}, "phone", "not valid"),
]


@pytest.mark.parametrize(("data", "field", "message"), INVALID)
def test_invalid_input_shows_the_form_again_and_stores_nothing(
    client, audience, data, field, message
):
    before = counts()
    page = subscribe(client, **data)
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    assert error, f"no error shown for {field}"
    assert message in error.group(1)
    assert 'id="subscribe-form"' in html and 'name="csrf_token"' in html
    for name, value in data.items():  # what the person typed is kept
        if name.startswith("consent_"):
            box = re.search(rf'<input type="checkbox" id="{name}"[^>]*>', html).group(0)
            assert "checked" in box
        elif len(value) < 40:
            assert f'value="{escape(value)}"' in html
    assert counts() == before


def test_browser_time_zone_wins(client, audience):
    subscribe(
        client,
        email="ann@example.org",
        phone="(917) 555-0142",
        timezone="America/Denver",
        consent_email="y",
        consent_sms="y",
    )
    assert subscriber("ann@example.org").timezone == "America/Denver"


@pytest.mark.parametrize("browser_tz", ["", "Mars/Olympus_Mons", "x" * 100, "UTC", "Etc/GMT+5"])
def test_time_zone_from_the_phone_without_a_usable_browser_zone(client, audience, browser_tz):
    subscribe(client, phone="(206) 201-4455", timezone=browser_tz, consent_sms="y")
    assert subscriber(phone="+12062014455").timezone == "America/Los_Angeles"


def test_time_zone_falls_back_to_the_audience_default(client, app):
    make_audience(default_timezone="America/Chicago")
    subscribe(client, email="ann@example.org", consent_email="y")
    assert subscriber("ann@example.org").timezone == "America/Chicago"


def test_post_without_csrf_token_is_400_and_stores_nothing(client, audience):
    client.get(FORM)  # a session exists, but the token is missing
    before = counts()
    page = client.post(FORM, data={"email": "ann@example.org", "consent_email": "y"})
    assert page.status_code == 400
    assert "session expired" in page.get_data(as_text=True)
    bad = client.post(
        FORM, data={"email": "ann@example.org", "consent_email": "y", "csrf_token": "forged"}
    )
    assert bad.status_code == 400
    assert counts() == before


def test_honeypot_gets_the_same_thank_you_and_stores_nothing(client, audience):
    genuine = subscribe(client, email="ann@example.org", consent_email="y")
    before = counts()
    bot = subscribe(client, email="bot@example.org", consent_email="y", website="http://spam")
    assert bot.status_code == 200
    assert bot.get_data() == genuine.get_data()
    assert counts() == before


def test_existing_address_changes_nothing_visible_and_creates_no_duplicate(client, audience):
    make_subscriber(audience, email="known@example.org", phone="+19175550142")
    db.session.expire_all()
    before = counts()
    data = {"email": "known@example.org", "phone": "(917) 555-0142"}
    existing = subscribe(client, **data, consent_email="y", consent_sms="y")
    assert counts() == before  # already active: no row, no message, no ledger entry
    new = subscribe(
        client, email="new@example.org", phone="(917) 555-0199", consent_email="y", consent_sms="y"
    )
    assert existing.status_code == new.status_code == 200
    assert existing.get_data() == new.get_data()


def test_pending_address_resubmitted_gets_a_fresh_link_but_no_duplicate(client, audience):
    first = subscribe(client, email="ann@example.org", consent_email="y")
    second = subscribe(client, email="ANN@example.org", consent_email="y")
    assert first.get_data() == second.get_data()
    after = counts()
    assert after["subscribers"] == 1 and after["subscriptions"] == 1
    assert len(mailbox("email")) == 2
    actions = [e.action for e in db.session.query(ConsentEvent).order_by(ConsentEvent.id)]
    assert actions == ["requested", "requested"]


def test_someone_elses_phone_is_not_attached(client, audience):
    make_subscriber(audience, phone="+19175550142", channels=("sms",))
    subscribe(
        client, email="eve@example.org", phone="(917) 555-0142", consent_email="y", consent_sms="y"
    )
    eve = subscriber("eve@example.org")
    assert eve.phone is None
    assert states(eve) == {("migraine-awareness", "email"): "pending"}


def test_form_page_token_is_reused_for_the_post(client, audience):
    token = csrf_token(client.get(FORM).get_data(as_text=True))
    page = client.post(
        FORM, data={"csrf_token": token, "email": "a@example.org", "consent_email": "y"}
    )
    assert page.status_code == 200


def test_someone_elses_email_is_not_attached_to_a_new_phone(client, audience):
    make_subscriber(audience, email="victim@example.org", channels=("email",))
    subscribe(
        client,
        email="victim@example.org",
        phone="(917) 555-0142",
        consent_email="y",
        consent_sms="y",
    )
    victim = subscriber("victim@example.org")
    assert victim.phone is None
    assert states(victim) == {("migraine-awareness", "email"): "active"}
    other = subscriber(phone="+19175550142")
    assert other.email is None
    assert states(other) == {("migraine-awareness", "sms"): "pending"}
