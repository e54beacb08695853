"""Public pages that close the loop: a used confirmation link says "already confirmed"
(nothing to press again), the unsubscribed page links back to the form, every page has a
favicon, and the confirmation text fits one GSM-7 segment."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from outreach.cli.setup import DEMO_AUDIENCE
from outreach.consent import wording
from outreach.rendering.sms import sms_segments
from tests.factories import AUDIENCE_DEFAULTS, make_audience
from tests.helpers import page_text, submit_form
from tests.public.support import FORM, confirm_path, states, subscribe, subscriber


@pytest.fixture
def audience(app):  # noqa: ANN001, ANN201
    return make_audience()


def test_a_used_confirmation_link_says_already_confirmed(client, audience):
    subscribe(client, email="ann@example.org", first_name="Ann", consent_email="y")
    path = confirm_path("ann@example.org")
    first = submit_form(client, path, {})  # the page's button
    assert "You're subscribed" in page_text(first)
    again = client.get(path)
    shown = page_text(again)
    assert again.status_code == 200 and "Already confirmed" in shown
    assert "already subscribed" in shown and 'id="confirm-button"' not in again.get_data(
        as_text=True
    )
    assert states(subscriber("ann@example.org")) == {("migraine-awareness", "email"): "active"}


def test_the_unsubscribed_page_links_back_to_the_form(client, audience):
    subscribe(client, email="ann@example.org", first_name="Ann", consent_email="y")
    submit_form(client, confirm_path("ann@example.org"), {})
    from outreach.sending import compose

    links = compose.personal_links(subscriber("ann@example.org").public_id, audience, "email")
    path = links["unsubscribe_url"].split("://", 1)[1].split("/", 1)[1]
    done = submit_form(client, "/" + path, {})
    html = done.get_data(as_text=True)
    assert "You're unsubscribed" in page_text(done)
    assert f'id="sign-up-again" href="{FORM}"' in html


def test_every_page_names_the_favicon_and_the_old_address_finds_it(client, audience):
    for path in (FORM, "/r/not-a-code", "/admin/login"):
        html = client.get(path).get_data(as_text=True)
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html, path
    answer = client.get("/favicon.ico")
    assert answer.status_code == 301 and answer.headers["Location"].endswith("/static/favicon.svg")
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"


@pytest.mark.parametrize(
    "identity", [AUDIENCE_DEFAULTS, DEMO_AUDIENCE], ids=["test audience", "June demo"]
)
def test_the_confirmation_text_fits_one_gsm7_segment(identity):
    text = wording.sms_confirmation(SimpleNamespace(**identity), "en")
    counted = sms_segments(text)
    assert (counted.encoding, counted.segments) == ("GSM-7", 1), (counted, text)
    assert "YES" in text and "STOP" in text and "HELP" in text


def test_a_bad_link_page_still_wears_the_clinics_brand_and_address(client, audience):
    for path in ("/r/not-a-code", "/confirm/forged-token", "/preferences/forged-token"):
        shown = page_text(client.get(path))
        assert "NeuroMedici English · Español" in shown, path  # the brand bar
        assert "100 Example Avenue, Springfield, IL 62701" in shown, path


def test_the_preferences_picker_offers_the_countrys_common_zones_first_by_name(client, audience):
    subscribe(client, email="ann@example.org", first_name="Ann", consent_email="y")
    from outreach.sending import compose

    ann = subscriber("ann@example.org")
    url = compose.personal_links(ann.public_id, audience, "email")["preferences_url"]
    html = client.get("/" + url.split("://", 1)[1].split("/", 1)[1]).get_data(as_text=True)
    common, everything = html.split('<optgroup label="All time zones">')
    assert '<optgroup label="Common time zones">' in common
    assert '<option value="America/Chicago" >Central time (Chicago)</option>' in common
    assert common.index("Eastern time") < common.index("Pacific time")
    assert "Buenos Aires (America/Argentina)" in everything
    assert 'value="US/Eastern"' not in html and 'value="EST5EDT"' not in html


def test_zone_groups_follow_the_country_of_the_zone_one_has():
    from outreach.audiences import zone_picker

    mexico = zone_picker.zone_groups("America/Mexico_City")
    assert ("America/Mexico_City", "Mexico City (America)") in mexico[0].zones
    assert all(zone_picker.country_of(z) == "MX" for z, _ in mexico[0].zones)
    assert not {z for z, _ in mexico[0].zones} & {z for z, _ in mexico[1].zones}
    us = zone_picker.zone_groups("America/Indiana/Knox")  # a rare US zone stays offered
    assert us[0].zones[0] == ("America/Indiana/Knox", "Knox (America/Indiana)")
    assert zone_picker.zone_groups(None)[0].zones[0][0] == "America/New_York"
    assert zone_picker.zone_groups("UTC")[0].zones[0] == ("UTC", "UTC")
