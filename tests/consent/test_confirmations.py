"""Double opt-in confirmations have one sender, and a confirmation text outside the legal
hours where the person lives is deferred to their next window, never dropped.

Through the public form, the preferences page, the API and the CLI; the imports path is
tested in tests/admin/test_import.py."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from outreach.consent import wording
from outreach.extensions import db
from outreach.models import PendingConfirmation
from tests.factories import make_audience
from tests.helpers import post_twilio, submit_form
from tests.public.support import link, mailbox, states, subscribe, subscriber

NIGHT_IN_NEW_YORK = datetime(2027, 6, 1, 2, 30)  # 22:30 in New York (UTC-4)
MORNING_IN_NEW_YORK = datetime(2027, 6, 1, 12, 0)  # 08:00 in New York


@pytest.fixture
def audience(app):  # noqa: ANN001, ANN201
    return make_audience()


def _texts_to(phone: str) -> list[dict]:
    return [m for m in mailbox("sms") if m["to"] == phone]


def _text_in(client, phone: str, body: str):  # noqa: ANN001, ANN202
    """A signed inbound text from ``phone``."""
    params = {"From": phone, "To": "+15550006666", "Body": body, "MessageSid": f"SM{phone}{body}"}
    return post_twilio(client, "/webhooks/twilio/sms", params)


def _pending_rows() -> list[tuple[str, datetime]]:
    db.session.expire_all()
    rows = db.session.execute(select(PendingConfirmation.state, PendingConfirmation.due_at))
    return [tuple(row) for row in rows]


def test_a_night_sign_up_on_the_form_gets_its_text_at_eight_in_the_morning(
    client, audience, clock, cli
):
    clock.set(NIGHT_IN_NEW_YORK)
    page = subscribe(
        client,
        phone="(917) 555-0142",
        timezone="America/New_York",
        consent_sms="y",
        consent_email="y",
        email="night@example.org",
    )
    assert page.status_code == 200
    assert _texts_to("+19175550142") == []  # not at 22:30 where the person lives
    assert [m["to"] for m in mailbox("email")] == ["night@example.org"]  # email: at once
    assert [(state, due.replace(tzinfo=None)) for state, due in _pending_rows()] == [
        ("queued", MORNING_IN_NEW_YORK)
    ]

    clock.set(datetime(2027, 6, 1, 11, 59))
    cli.invoke(args=["outreach", "dispatch", "--once"])
    assert _texts_to("+19175550142") == []

    clock.set(MORNING_IN_NEW_YORK)
    result = cli.invoke(args=["outreach", "dispatch", "--once"])
    assert "deferred confirmation texts sent: 1" in result.output
    texts = _texts_to("+19175550142")
    assert [t["body"] for t in texts] == [wording.sms_confirmation(audience)]
    cli.invoke(args=["outreach", "dispatch", "--once"])
    assert len(_texts_to("+19175550142")) == 1  # once, never twice
    assert [state for state, _ in _pending_rows()] == ["sent"]


def test_a_stop_before_the_morning_cancels_the_deferred_text(client, audience, clock, cli):
    clock.set(NIGHT_IN_NEW_YORK)
    subscribe(client, phone="(917) 555-0143", timezone="America/New_York", consent_sms="y")
    response = _text_in(client, "+19175550143", "STOP")
    assert response.status_code == 200
    clock.set(MORNING_IN_NEW_YORK)
    cli.invoke(args=["outreach", "dispatch", "--once"])
    assert [t["body"] for t in _texts_to("+19175550143")] == []
    assert [state for state, _ in _pending_rows()] == ["cancelled"]


def test_a_day_sign_up_is_texted_at_once(client, audience, clock):
    clock.set(datetime(2027, 6, 1, 16, 0))  # noon in New York
    subscribe(client, phone="(917) 555-0144", timezone="America/New_York", consent_sms="y")
    assert len(_texts_to("+19175550144")) == 1
    assert _pending_rows() == []


def test_florida_numbers_wait_for_florida_hours_whatever_zone_they_chose(client, audience, clock):
    clock.set(datetime(2027, 6, 2, 0, 30))  # 20:30 in Miami: inside 21:00, outside Florida's 20:00
    subscribe(client, phone="(305) 555-0100", timezone="America/Chicago", consent_sms="y")
    assert _texts_to("+13055550100") == []
    assert [state for state, _ in _pending_rows()] == ["queued"]


def test_the_api_reports_outside_hours_and_the_text_follows_in_the_morning(
    app, client, audience, clock, cli
):
    from outreach.staff import api_tokens

    _, token = api_tokens.create_api_token("crm")
    db.session.commit()
    clock.set(NIGHT_IN_NEW_YORK)
    response = client.post(
        "/api/v1/subscribers",
        json={"audience": audience.slug, "phone": "+19175550145", "timezone": "America/New_York"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["confirmations"] == {"sms": "outside_hours"}
    clock.set(MORNING_IN_NEW_YORK)
    cli.invoke(args=["outreach", "dispatch", "--once"])
    assert len(_texts_to("+19175550145")) == 1


def test_re_ticking_texts_on_the_preferences_page_at_night_defers_the_text(
    client, audience, clock, cli
):
    clock.set(datetime(2027, 6, 1, 16, 0))
    subscribe(client, phone="(917) 555-0146", timezone="America/New_York", consent_sms="y")
    person = subscriber(phone="+19175550146")
    _text_in(client, "+19175550146", "YES")
    _text_in(client, "+19175550146", "STOP")
    assert states(person) == {(audience.slug, "sms"): "unsubscribed"}
    before = len(_texts_to("+19175550146"))
    clock.set(NIGHT_IN_NEW_YORK.replace(day=2))
    page = submit_form(client, link(person, "preferences", "sms"), {"keep": f"{audience.slug}:sms"})
    assert page.status_code == 200
    assert len(_texts_to("+19175550146")) == before  # nothing at 22:30
    clock.set(MORNING_IN_NEW_YORK.replace(day=2))
    cli.invoke(args=["outreach", "dispatch", "--once"])
    assert _texts_to("+19175550146")[0]["body"] == wording.sms_confirmation(audience)
