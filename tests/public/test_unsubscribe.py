"""Unsubscribe: RFC 8058 headers on marketing email, one-click POST, the page, the tokens."""

from __future__ import annotations

import json
import re
import time

import pytest
from itsdangerous import URLSafeSerializer

from outreach.consent import ledger as consent_ledger
from outreach.consent import subscriptions
from outreach.extensions import db
from outreach.sending import run as sending
from tests.factories import make_audience, make_campaign, make_subscriber
from tests.helpers import BASE_URL, submit_form
from tests.public.support import SLUG, counts, link, mailbox, states

EMAIL = (SLUG, "email")
SMS = (SLUG, "sms")
TEN_YEARS = 10 * 365 * 86400


@pytest.fixture
def audience(app):  # noqa: ANN001, ANN201
    """The June audience, offering email and texts."""
    return make_audience()


@pytest.fixture
def ann(audience):  # noqa: ANN001, ANN201
    """A confirmed subscriber on both channels."""
    return make_subscriber(audience, email="ann@example.org", phone="+19175550142")


def _one_click(app, path: str):  # noqa: ANN001, ANN202
    """What a mailbox provider sends: a bare POST, no cookie, no CSRF token."""
    fresh = app.test_client(use_cookies=False)
    return fresh.post(
        path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )


def test_marketing_email_carries_one_click_headers_that_work(app, audience, ann, clock):
    make_campaign(
        audience,
        [{"channel": "email", "day_offset": 0, "send_time": "10:00", "include_late_joiners": True}],
    )
    report = sending.dispatch_once()
    assert report.sent == 1
    [email] = mailbox("email")
    headers = email["headers"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    targets = re.findall(r"<([^>]+)>", headers["List-Unsubscribe"])
    https = [t for t in targets if t.startswith("https://")]
    mailto = [t for t in targets if t.startswith("mailto:")]
    assert len(https) == 1 and len(mailto) == 1
    assert https[0].startswith(f"{BASE_URL}/unsubscribe/")
    assert https[0] in email["html"]  # the visible footer link is the same one
    path = https[0].removeprefix(BASE_URL)
    page = _one_click(app, path)
    assert page.status_code == 200
    assert states(ann) == {EMAIL: "unsubscribed", SMS: "active"}
    row = consent_ledger.ledger_for(ann)[-1]
    assert (row.action, row.source, row.channel) == ("revoked", "one_click", "email")
    again = _one_click(app, path)  # mailbox providers retry: still 200, no second row
    assert again.status_code == 200
    assert consent_ledger.ledger_for(ann)[-1].id == row.id


def test_multipart_one_click_also_works(app, ann):
    fresh = app.test_client(use_cookies=False)
    page = fresh.post(link(ann, "unsubscribe"), data={"List-Unsubscribe": "One-Click"})
    assert page.status_code == 200
    assert states(ann)[EMAIL] == "unsubscribed"


def test_get_shows_one_button_and_an_everything_option_and_changes_nothing(client, ann):
    before = counts()
    page = client.get(link(ann, "unsubscribe"))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert len(re.findall(r"<button", html)) == 1
    assert 'name="everything"' in html and "everything" in html.lower()
    assert counts() == before
    assert states(ann) == {EMAIL: "active", SMS: "active"}


def test_button_unsubscribes_this_list_only(client, ann):
    page = submit_form(client, link(ann, "unsubscribe"), {})
    assert page.status_code == 200
    assert "You're unsubscribed" in page.get_data(as_text=True)
    assert states(ann) == {EMAIL: "unsubscribed", SMS: "active"}
    row = consent_ledger.ledger_for(ann)[-1]
    assert (row.action, row.source, row.note) == ("revoked", "preference_page", "unsubscribe page")


def test_everything_option_withdraws_every_list_and_channel(client, audience, ann):
    other = make_audience(slug="headache-tips", name="Headache tips")
    subscriptions.request_consent(
        ann, other, "email", consent_ledger.Evidence(source="import"), confirmed=True
    )
    db.session.commit()
    page = submit_form(client, link(ann, "unsubscribe"), {"everything": "y"})
    assert page.status_code == 200
    assert "any more emails or texts" in page.get_data(as_text=True)
    assert set(states(ann).values()) == {"unsubscribed"}
    assert len(states(ann)) == 3


def test_page_post_without_csrf_changes_nothing(client, ann):
    path = link(ann, "unsubscribe")
    client.get(path)
    before = counts()
    page = client.post(path, data={"everything": "y"})
    assert page.status_code == 400
    assert "session expired" in page.get_data(as_text=True)
    assert counts() == before


def test_sms_link_talks_about_texts(client, ann):
    html = client.get(link(ann, "unsubscribe", channel="sms")).get_data(as_text=True)
    assert "texts" in html
    _one_click(client.application, link(ann, "unsubscribe", channel="sms"))
    assert states(ann) == {EMAIL: "active", SMS: "unsubscribed"}


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        URLSafeSerializer("another-key", salt="outreach.unsubscribe").dumps(
            ["0" * 32, SLUG, "email"]
        ),
    ],
)
def test_forged_token_changes_nothing(app, client, ann, token):
    before = counts()
    assert client.get(f"/unsubscribe/{token}").status_code == 400
    assert _one_click(app, f"/unsubscribe/{token}").status_code == 400
    assert counts() == before


def test_preferences_token_cannot_unsubscribe(app, ann):
    token = link(ann, "preferences").rsplit("/", 1)[1]
    assert _one_click(app, f"/unsubscribe/{token}").status_code == 400
    assert states(ann)[EMAIL] == "active"


def test_tokens_are_signed_and_opaque(ann):
    for purpose in ("unsubscribe", "preferences"):
        token = link(ann, purpose).rsplit("/", 1)[1]
        valid, payload = URLSafeSerializer("x", salt=f"outreach.{purpose}").loads_unsafe(token)
        assert not valid  # a signature is required
        assert payload == [ann.public_id, SLUG, "email"]
        assert ann.id not in payload and str(ann.id) not in payload
        decoded = json.dumps(payload)
        assert ann.email not in decoded and ann.phone not in decoded
        assert ann.email not in token


def test_tokens_never_expire(client, ann, monkeypatch):
    unsubscribe = link(ann, "unsubscribe")
    preferences = link(ann, "preferences")
    confirm = link(ann, "confirm")
    later = int(time.time()) + TEN_YEARS
    monkeypatch.setattr("itsdangerous.timed.TimestampSigner.get_timestamp", lambda self: later)
    assert client.get(confirm).status_code == 400  # the clock really moved for timed tokens
    assert client.get(unsubscribe).status_code == 200
    assert client.get(preferences).status_code == 200
    assert _one_click(client.application, unsubscribe).status_code == 200
    assert states(ann)[EMAIL] == "unsubscribed"
