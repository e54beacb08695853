"""Double opt-in: signed expiring email links (GET shows, POST confirms), YES/START by text,
and single opt-in for imports with their own evidence."""

from __future__ import annotations

import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from outreach.consent import decisions, tokens
from outreach.consent import ledger as consent_ledger
from outreach.consent import signup as signups
from outreach.extensions import db
from outreach.models import ConsentEvent
from tests.factories import make_audience
from tests.helpers import post_twilio, submit_form
from tests.public.support import (
    FORM,
    SLUG,
    confirm_path,
    counts,
    link,
    mailbox,
    states,
    subscribe,
    subscriber,
)

EMAIL = ("migraine-awareness", "email")
SMS = ("migraine-awareness", "sms")
EIGHT_DAYS = 8 * 86400


@pytest.fixture
def audience(app):  # noqa: ANN001, ANN201
    """The June audience, offering email and texts."""
    return make_audience()


@pytest.fixture
def ann(client, audience):  # noqa: ANN001, ANN201
    """Someone who filled in the form for email and is waiting to confirm."""
    subscribe(client, email="ann@example.org", first_name="Ann", consent_email="y")
    return subscriber("ann@example.org")


def test_get_shows_a_button_and_changes_nothing(client, ann):
    path = confirm_path("ann@example.org")
    before = counts()
    for _ in range(3):  # a link scanner may fetch it several times
        page = client.get(path)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert 'id="confirm-button"' in html and 'method="post"' in html
    client.head(path)
    assert counts() == before
    assert states(ann) == {EMAIL: "pending"}


def test_post_confirms_and_records_it(client, ann, clock):
    path = confirm_path("ann@example.org")
    page = submit_form(client, path, {})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "You're subscribed" in html and "/preferences/" in html
    assert states(ann) == {EMAIL: "active"}
    row = db.session.query(ConsentEvent).order_by(ConsentEvent.id.desc()).first()
    assert (row.action, row.source, row.channel) == ("confirmed", "web_form", "email")
    assert row.form_url.endswith(path) and row.created_at == clock()
    again = submit_form(client, path, {}, page_url=FORM)  # a second press is harmless
    assert again.status_code == 200
    assert "Already confirmed" in client.get(path).get_data(as_text=True)  # nothing to press
    assert len(consent_ledger.ledger_for(ann)) == 2


def test_post_without_csrf_token_changes_nothing(client, ann):
    path = confirm_path("ann@example.org")
    client.get(path)
    before = counts()
    page = client.post(path, data={})
    assert page.status_code == 400
    assert "session expired" in page.get_data(as_text=True)
    assert counts() == before and states(ann) == {EMAIL: "pending"}


def _assert_bad(page, text: str) -> None:  # noqa: ANN001
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert text in html and "Nothing has been changed" in html


def test_expired_link_gets_a_clear_page_and_changes_nothing(client, ann, app):
    path = confirm_path("ann@example.org")
    app.config["OUTREACH_CONFIRM_MAX_AGE"] = -1
    before = counts()
    _assert_bad(client.get(path), "This link has expired")
    _assert_bad(client.post(path, data={}), "This link has expired")
    assert counts() == before and states(ann) == {EMAIL: "pending"}


def test_link_expires_after_the_configured_age(client, ann, monkeypatch):
    path = confirm_path("ann@example.org")
    assert client.get(path).status_code == 200
    later = int(time.time()) + EIGHT_DAYS
    monkeypatch.setattr("itsdangerous.timed.TimestampSigner.get_timestamp", lambda self: later)
    _assert_bad(client.get(path), "This link has expired")
    assert states(ann) == {EMAIL: "pending"}


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
        lambda t: "x" + t,  # payload changed
        lambda t: "not-a-token",
        lambda t: URLSafeTimedSerializer("another-key", salt="outreach.confirm").dumps(
            ["0" * 32, SLUG, "email"]
        ),
    ],
)
def test_forged_link_gets_a_clear_page_and_changes_nothing(client, ann, mangle):
    token = confirm_path("ann@example.org").rsplit("/", 1)[1]
    path = f"/confirm/{mangle(token)}"
    before = counts()
    _assert_bad(client.get(path), "This link is not valid")
    _assert_bad(client.post(path, data={}), "This link is not valid")
    assert counts() == before and states(ann) == {EMAIL: "pending"}


def test_unsubscribe_token_is_not_a_confirmation_token(client, ann):
    token = link(ann, "unsubscribe").rsplit("/", 1)[1]
    _assert_bad(client.get(f"/confirm/{token}"), "This link is not valid")


def test_old_link_after_unsubscribing_does_not_resubscribe(client, ann):
    path = confirm_path("ann@example.org")
    client.post(link(ann, "unsubscribe"), data={"List-Unsubscribe": "One-Click"})
    assert states(ann) == {EMAIL: "unsubscribed"}
    before = counts()
    _assert_bad(client.post(path, data={}), "no longer valid")
    assert counts() == before and states(ann) == {EMAIL: "unsubscribed"}


@pytest.mark.parametrize("word", ["YES", "start", " Yes! "])
def test_sms_stays_pending_until_yes_or_start(client, audience, word):
    subscribe(client, phone="(917) 555-0142", consent_sms="y")
    person = subscriber(phone="+19175550142")
    [text] = mailbox("sms")
    assert "reply YES" in text["body"]
    chat = post_twilio(
        client,
        "/webhooks/twilio/sms",
        {"MessageSid": "SM" + "3" * 32, "From": "+19175550142", "Body": "what is this"},
    )
    assert chat.status_code == 200
    assert states(person) == {SMS: "pending"}
    reply = post_twilio(
        client,
        "/webhooks/twilio/sms",
        {"MessageSid": "SM" + "4" * 32, "From": "+19175550142", "Body": word},
    )
    assert reply.status_code == 200
    assert states(person) == {SMS: "active"}
    row = consent_ledger.ledger_for(person)[-1]
    assert (row.action, row.source, row.provider_ref) == (
        "confirmed",
        "sms_keyword",
        "SM" + "4" * 32,
    )


def test_unsigned_yes_changes_nothing(client, audience):
    subscribe(client, phone="(917) 555-0142", consent_sms="y")
    person = subscriber(phone="+19175550142")
    params = {"MessageSid": "SM" + "5" * 32, "From": "+19175550142", "Body": "YES"}
    refused = post_twilio(client, "/webhooks/twilio/sms", params, signature="forged")
    assert refused.status_code in (401, 403)
    assert states(person) == {SMS: "pending"}


def test_email_link_does_not_confirm_texts(client, audience):
    subscribe(
        client, email="ann@example.org", phone="(917) 555-0142", consent_email="y", consent_sms="y"
    )
    ann = subscriber("ann@example.org")
    submit_form(client, confirm_path("ann@example.org"), {})
    assert states(ann) == {EMAIL: "active", SMS: "pending"}
    assert client.get(link(ann, "confirm", channel="sms")).status_code == 400


def _signup(audience, email: str) -> signups.Signup:  # noqa: ANN001
    return signups.Signup(audience, email, None, "Ann", "America/New_York", ("email",))


def test_single_opt_in_for_imports_with_their_own_evidence(app):
    audience = make_audience(slug="clinic-import", single_opt_in_for_imports=True)
    evidence = consent_ledger.Evidence(
        source="import", wording="Paper form signed at the clinic", note="batch 7"
    )
    person, waiting = signups.sign_up(
        _signup(audience, "paper@example.org"),
        {"email": evidence},
        confirmed=audience.single_opt_in_for_imports,
    )
    db.session.commit()
    assert waiting == []
    assert states(person) == {("clinic-import", "email"): "active"}
    rows = consent_ledger.ledger_for(person)
    assert [(r.action, r.source, r.wording) for r in rows] == [
        ("requested", "import", "Paper form signed at the clinic"),
        ("confirmed", "import", "Paper form signed at the clinic"),
    ]
    assert decisions.may_contact(person, "email", audience)


def test_double_opt_in_audience_keeps_imports_pending(app):
    audience = make_audience(slug="strict")
    assert audience.single_opt_in_for_imports is False
    person, waiting = signups.sign_up(
        _signup(audience, "paper@example.org"),
        {"email": consent_ledger.Evidence(source="import")},
        confirmed=audience.single_opt_in_for_imports,
    )
    db.session.commit()
    assert [s.state for s in waiting] == ["pending"]
    assert not decisions.may_contact(person, "email", audience)


def test_confirmation_token_carries_no_database_id(client, ann):
    token = confirm_path("ann@example.org").rsplit("/", 1)[1]
    _, payload = URLSafeTimedSerializer("x", salt="outreach.confirm").loads_unsafe(token)
    assert payload == [ann.public_id, SLUG, "email"]
    assert ann.id not in payload and str(ann.id) not in payload
    assert tokens.read_confirm_token(token).public_id == ann.public_id
