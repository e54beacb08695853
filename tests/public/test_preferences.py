"""The preferences page: channels, audiences and time zone; every consent change ledgered."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape

from outreach.consent import ledger as consent_ledger
from outreach.consent import subscriptions, wording
from outreach.extensions import db
from tests.factories import make_audience, make_subscriber
from tests.helpers import post_twilio, submit_form
from tests.public.support import SLUG, confirm_path, counts, link, mailbox, states, subscriber

EMAIL = (SLUG, "email")
SMS = (SLUG, "sms")
TIPS = ("headache-tips", "email")


@pytest.fixture
def audience(app):  # noqa: ANN001, ANN201
    """The June audience, offering email and texts."""
    return make_audience()


@pytest.fixture
def ann(audience):  # noqa: ANN001, ANN201
    """Confirmed on email and texts for June, and on email for a second list."""
    person = make_subscriber(audience, email="ann@example.org", phone="+19175550142")
    tips = make_audience(slug="headache-tips", name="Headache tips")
    subscriptions.request_consent(
        person, tips, "email", consent_ledger.Evidence(source="import"), confirmed=True
    )
    db.session.commit()
    return person


def _boxes(html: str) -> dict[str, bool]:
    found = {}
    for tag in re.findall(r'<input type="checkbox"[^>]*name="keep"[^>]*>', html):
        value = re.search(r'value="([^"]+)"', tag).group(1)
        found[value] = " checked" in tag
    return found


def _save(client, ann, keep: list[str], timezone: str = "America/New_York", **kw):  # noqa: ANN001, ANN202
    return submit_form(client, link(ann, "preferences", **kw), {"keep": keep, "timezone": timezone})


def test_page_lists_every_list_and_channel_with_no_database_ids(client, ann, audience):
    page = client.get(link(ann, "preferences"))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert _boxes(html) == {
        f"{SLUG}:email": True,
        f"{SLUG}:sms": True,
        "headache-tips:email": True,
    }
    assert str(escape(wording.consent_wording(audience, "sms"))) in html
    assert '<option value="America/New_York" selected>' in html
    assert "ann@example.org" not in html and "a***@example.org" in html


def test_unticking_revokes_with_evidence(client, ann, clock):
    client.environ_base.update(REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="Phone/1.0")
    page = _save(client, ann, [f"{SLUG}:email"])
    assert page.status_code == 200 and 'id="saved"' in page.get_data(as_text=True)
    assert states(ann) == {EMAIL: "active", SMS: "unsubscribed", TIPS: "unsubscribed"}
    rows = [r for r in consent_ledger.ledger_for(ann) if r.source == "preference_page"]
    assert sorted((r.channel, r.action) for r in rows) == [("email", "revoked"), ("sms", "revoked")]
    for row in rows:
        assert row.ip_address == "198.51.100.7" and row.user_agent == "Phone/1.0"
        assert "/preferences/" in row.form_url and row.created_at == clock()
        assert row.wording and row.actor_id is None


def test_ticking_again_resubscribes_email_at_once_and_texts_after_yes(client, ann):
    _save(client, ann, [])
    assert set(states(ann).values()) == {"unsubscribed"}
    texts_before = len(mailbox("sms"))
    page = _save(client, ann, [f"{SLUG}:email", f"{SLUG}:sms"])
    assert "reply YES" in page.get_data(as_text=True)
    assert states(ann) == {EMAIL: "active", SMS: "pending", TIPS: "unsubscribed"}
    assert len(mailbox("sms")) == texts_before + 1
    assert "Msg & data rates may apply" in mailbox("sms")[0]["body"]
    actions = [(r.channel, r.action, r.source) for r in consent_ledger.ledger_for(ann)[-2:]]
    assert actions == [
        ("email", "resubscribed", "preference_page"),
        ("sms", "requested", "preference_page"),
    ]
    post_twilio(
        client,
        "/webhooks/twilio/sms",
        {"MessageSid": "SM" + "6" * 32, "From": "+19175550142", "Body": "YES"},
    )
    assert states(ann)[SMS] == "active"


def test_email_link_from_a_text_needs_the_email_confirmation(client, ann):
    _save(client, ann, [f"{SLUG}:sms", "headache-tips:email"], channel="sms")
    assert states(ann)[EMAIL] == "unsubscribed"
    _save(client, ann, [f"{SLUG}:email", f"{SLUG}:sms", "headache-tips:email"], channel="sms")
    assert states(ann)[EMAIL] == "pending"
    submit_form(client, confirm_path("ann@example.org"), {})
    assert states(ann)[EMAIL] == "active"


def test_time_zone_is_editable(client, ann):
    page = _save(
        client,
        ann,
        [f"{SLUG}:email", f"{SLUG}:sms", "headache-tips:email"],
        timezone="Europe/Lisbon",
    )
    assert page.status_code == 200
    assert subscriber("ann@example.org").timezone == "Europe/Lisbon"
    assert '<option value="Europe/Lisbon" selected>' in page.get_data(as_text=True)
    assert set(states(ann).values()) == {"active"}


def test_invalid_time_zone_changes_nothing(client, ann):
    before = counts()
    page = _save(client, ann, [], timezone="Mars/Olympus_Mons")
    assert page.status_code == 400
    assert "Choose a time zone" in page.get_data(as_text=True)
    assert counts() == before
    assert subscriber("ann@example.org").timezone == "America/New_York"
    assert set(states(ann).values()) == {"active"}


def test_post_without_csrf_changes_nothing(client, ann):
    path = link(ann, "preferences")
    client.get(path)
    before = counts()
    page = client.post(path, data={"timezone": "Europe/Lisbon"})
    assert page.status_code == 400
    assert counts() == before
    assert subscriber("ann@example.org").timezone == "America/New_York"


def test_bounced_subscription_cannot_be_ticked_back(client, ann):
    subscriptions.opt_out_everywhere(
        ann, "email", consent_ledger.Evidence(source="provider_event"), state="bounced"
    )
    db.session.commit()
    html = client.get(link(ann, "preferences")).get_data(as_text=True)
    tag = re.search(rf'<input type="checkbox"[^>]*value="{SLUG}:email"[^>]*>', html).group(0)
    assert "disabled" in tag
    _save(client, ann, [f"{SLUG}:email", f"{SLUG}:sms", "headache-tips:email"])
    assert states(ann)[EMAIL] == "bounced"


def test_forged_preferences_token_is_refused(client, ann):
    token = link(ann, "preferences").rsplit("/", 1)[1]
    assert client.get(f"/preferences/{token[:-3]}xyz").status_code == 400
    unsubscribe = link(ann, "unsubscribe").rsplit("/", 1)[1]
    assert client.get(f"/preferences/{unsubscribe}").status_code == 400
