"""Audiences: create, validate, edit; the public form link; the audit trail."""

from __future__ import annotations

from sqlalchemy import func, select

from outreach.extensions import db
from outreach.models import Audience, AuditLog
from tests.admin.support import post, text
from tests.helpers import BASE_URL

VALID = {
    "name": "Sleep & Headache Clinic News",
    "slug": "sleep-news",
    "channels": ["email", "sms"],
    "double_opt_in": "y",
    "default_timezone": "America/Chicago",
    "organisation_name": "NeuroMedici",
    "postal_address": "100 Example Avenue\nSpringfield, IL 62701",
    "support_email": "care@neuromedici.example",
    "support_phone": "+1 555 010 2000",
    "from_email": "news@neuromedici.example",
    "sms_program_name": "NeuroMedici Sleep",
    "sms_frequency_text": "Up to 2 msgs/month",
    "email_window_start": "09:00",
    "email_window_end": "19:30",
}


def test_create_an_audience_and_get_its_public_form(editor, client, staff_users):
    created = post(editor, "/admin/audiences/new", VALID)
    assert created.status_code == 303
    listing = text(editor.get("/admin/audiences"))
    assert "Sleep & Headache Clinic News" in listing
    assert f"{BASE_URL}/subscribe/sleep-news" in listing
    assert "Double opt-in" in listing

    audience = db.session.scalar(select(Audience).filter_by(slug="sleep-news"))
    assert audience.channel_list == ["email", "sms"]
    assert audience.default_timezone == "America/Chicago"
    assert audience.postal_address == "100 Example Avenue\nSpringfield, IL 62701"
    assert (audience.email_window_start, audience.email_window_end) == ("09:00", "19:30")
    assert not audience.single_opt_in_for_imports

    public = editor.get("/subscribe/sleep-news")
    assert public.status_code == 200 and "NeuroMedici Sleep" in text(public)

    entry = db.session.scalar(select(AuditLog).filter_by(action="audience.create"))
    assert entry.actor_id == staff_users["editor"] and entry.target_id == str(audience.id)


def test_bad_settings_are_explained_and_nothing_is_saved(editor):
    bad = {
        **VALID,
        "slug": "Sleep News!",
        "default_timezone": "Mars/Olympus_Mons",
        "postal_address": "",
        "sms_frequency_text": "",
        "email_window_start": "20:00",
        "email_window_end": "08:00",
    }
    response = post(editor, "/admin/audiences/new", bad)
    assert response.status_code == 400
    page = text(response)
    assert "lower-case letters, digits and single hyphens" in page
    assert "choose a time zone such as America/New_York" in page
    assert "every marketing email shows a postal address (CAN-SPAM)" in page
    assert "texts need a frequency line" in page
    assert "the window must end after it starts" in page
    # what was typed is kept
    assert 'value="Sleep &amp; Headache Clinic News"' in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Audience.id))) == 0


def test_an_email_only_audience_needs_no_sms_details(editor):
    email_only = {**VALID, "channels": ["email"], "sms_frequency_text": "", "support_phone": ""}
    assert post(editor, "/admin/audiences/new", email_only).status_code == 303
    duplicate = post(editor, "/admin/audiences/new", email_only)
    assert duplicate.status_code == 400
    assert "another audience already uses this slug" in text(duplicate)


def test_editing_keeps_the_slug_that_links_depend_on(editor):
    post(editor, "/admin/audiences/new", VALID)
    audience = db.session.scalar(select(Audience).filter_by(slug="sleep-news"))
    form = editor.get(f"/admin/audiences/{audience.id}/edit")
    assert "it never changes" in text(form)
    changed = {
        **VALID,
        "slug": "renamed-slug",
        "name": "Sleep News",
        "double_opt_in": "",
        "single_opt_in_for_imports": "y",
        "default_timezone": "Europe/Dublin",
    }
    changed.pop("double_opt_in")
    response = post(editor, f"/admin/audiences/{audience.id}/edit", changed)
    assert response.status_code == 303
    db.session.expire_all()
    audience = db.session.get(Audience, audience.id)
    assert audience.slug == "sleep-news"
    assert audience.name == "Sleep News"
    assert audience.double_opt_in is False and audience.single_opt_in_for_imports is True
    assert audience.default_timezone == "Europe/Dublin"
    entry = db.session.scalar(select(AuditLog).filter_by(action="audience.update"))
    assert "name" in entry.detail and "default_timezone" in entry.detail
    assert editor.get("/subscribe/sleep-news").status_code == 200


def test_open_tracking_is_off_by_default_and_the_form_turns_it_on(editor):
    post(editor, "/admin/audiences/new", VALID)
    audience = db.session.scalar(select(Audience).filter_by(slug="sleep-news"))
    assert audience.track_opens is False
    form = text(editor.get(f"/admin/audiences/{audience.id}/edit"))
    assert "Count opens" in form and "Apple Mail Privacy Protection" in form
    for value, expected in (("y", True), ("", False)):
        data = {**VALID, "track_opens": value} if value else VALID
        assert post(editor, f"/admin/audiences/{audience.id}/edit", data).status_code == 303
        db.session.expire_all()
        assert db.session.get(Audience, audience.id).track_opens is expected
