"""Attribution through the real pipeline: a campaign's email and text link to the request
page, the dispatcher sends them, a person follows ``/r/<code>`` (302 to the request page
with ``?via=<code>``), and the request is credited to that message's step and channel:
last touch within 30 days, otherwise "direct". Only the message id is stored."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from outreach.consultations import attribution
from outreach.extensions import db
from outreach.models import Message
from outreach.sending import run as sending
from tests.consultations.support import PAGE, send_request, stored
from tests.factories import make_campaign, make_subscriber
from tests.helpers import BASE_URL
from tests.sending import test_reconcile as case
from tests.sending.test_reconcile import june_first
from tests.tracking.test_click_tracking import BROWSER, CODE, personal_html

fake = case.fake
audience = case.audience

REQUEST_URL = f"{BASE_URL}{PAGE}"
ARTICLE = "https://clinic.example/june-awareness"
HEADERS = {"User-Agent": BROWSER}


def sent_email_and_text(fake, audience, clock):  # noqa: ANN001, ANN201
    """One person; a June 1 email (an article link, then the request page) and a text."""
    make_subscriber(audience, email="ann@example.org", phone="+19175550100")
    html = f'<p><a href="{ARTICLE}">Read</a> or <a href="{REQUEST_URL}?src=june">book</a>.</p>'
    campaign = make_campaign(
        audience,
        [
            {"channel": "email", "send_time": "10:00", "html": html},
            {"channel": "sms", "send_time": "10:00",
             "body": f"NeuroMedici: a free consultation? {REQUEST_URL}"},
        ],
    )  # fmt: skip
    june_first(clock, fake)
    fake.configure(keep_bodies=True)
    assert sending.dispatch_once().sent == 2
    email_codes = CODE.findall(personal_html(fake))
    (sms_code,) = CODE.findall(fake.sent_sms[0]["body"])
    return campaign, email_codes, sms_code


def follow(client, code: str) -> str:  # noqa: ANN001
    """Follow a tracked link like a phone's browser; returns the redirect target."""
    answer = client.get(f"/r/{code}", headers=HEADERS)
    assert answer.status_code == 302
    return answer.headers["Location"]


def step_of(campaign, channel: str):  # noqa: ANN001, ANN201
    return next(s for s in campaign.steps if s.channel == channel)


def test_a_click_on_the_email_then_a_request_is_credited_to_that_step(
    app, client, clock, fake, audience
):
    campaign, (article_code, request_code), _ = sent_email_and_text(fake, audience, clock)
    assert follow(client, article_code) == ARTICLE  # other links are left as they are
    clock.advance(minutes=3)
    target = follow(client, request_code)
    parts = urlsplit(target)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == REQUEST_URL
    assert parse_qs(parts.query) == {"src": ["june"], "via": [request_code]}  # nothing personal
    clock.advance(minutes=5)
    path = f"{parts.path}?{parts.query}"
    assert send_request(client, page_url=path, headers=HEADERS, name="Ann", phone="9175550100")
    (row,) = stored()
    message = db.session.scalar(select(Message).where(Message.channel == "email"))
    assert (row.message_id, row.campaign_id, row.step_id, row.channel) == (
        message.id,
        campaign.id,
        step_of(campaign, "email").id,
        "email",
    )
    assert request_code not in repr(row.__dict__)  # only the message id is kept


def test_a_text_click_is_credited_to_the_text_step(app, client, clock, fake, audience):
    campaign, _, sms_code = sent_email_and_text(fake, audience, clock)
    target = urlsplit(follow(client, sms_code))
    send_request(client, page_url=f"{target.path}?{target.query}", name="Ann", email="a@b.org")
    (row,) = stored()
    assert (row.step_id, row.channel) == (step_of(campaign, "sms").id, "sms")


def test_the_cookie_attributes_a_later_visit_and_the_last_touch_wins(
    app, client, clock, fake, audience
):
    campaign, (_, request_code), sms_code = sent_email_and_text(fake, audience, clock)
    follow(client, request_code)
    page = client.get(f"{PAGE}?via={request_code}")
    cookie = page.headers["Set-Cookie"]
    assert f"{attribution.COOKIE}={request_code}" in cookie
    assert "Max-Age=2592000" in cookie and "HttpOnly" in cookie and "Path=/request/" in cookie
    clock.advance(days=10)
    send_request(client, name="Ann", email="ann@example.org")  # no code in the URL this time
    clock.advance(days=2)
    follow(client, sms_code)
    client.get(f"{PAGE}?via={sms_code}")  # the text's link: the newest touch
    clock.advance(hours=1)
    send_request(client, name="Ann", email="ann@example.org")
    first, second = stored()
    assert first.channel == "email" and first.step_id == step_of(campaign, "email").id
    assert second.channel == "sms" and second.step_id == step_of(campaign, "sms").id


def test_a_click_older_than_30_days_is_direct(app, client, clock, fake, audience):
    _, (_, request_code), _ = sent_email_and_text(fake, audience, clock)
    target = urlsplit(follow(client, request_code))
    page_url = f"{target.path}?{target.query}"
    clock.advance(days=30, minutes=1)
    send_request(client, page_url=page_url, name="Ann", email="ann@example.org")
    (row,) = stored()
    assert (row.message_id, row.campaign_id, row.step_id, row.channel) == (None,) * 4


def test_a_click_just_inside_the_window_still_counts(app, client, clock, fake, audience):
    _, (_, request_code), _ = sent_email_and_text(fake, audience, clock)
    target = urlsplit(follow(client, request_code))
    clock.advance(days=29, hours=23)
    send_request(client, page_url=f"{target.path}?{target.query}", name="Ann", email="a@b.org")
    assert stored()[0].channel == "email"


def test_no_code_is_direct(app, client, clock, fake, audience):
    sent_email_and_text(fake, audience, clock)
    send_request(client, name="Ann", email="ann@example.org")
    assert stored()[0].message_id is None


def test_a_tampered_or_unclicked_code_is_direct_and_never_echoed(
    app, client, clock, fake, audience
):
    _, (_, request_code), sms_code = sent_email_and_text(fake, audience, clock)
    tampered = request_code[:4] + ("A" if request_code[4] != "A" else "B") + request_code[5:]
    page = client.get(f"{PAGE}?via={tampered}")
    assert tampered not in page.get_data(as_text=True)
    assert not any(attribution.COOKIE in c for c in page.headers.getlist("Set-Cookie"))
    send_request(client, page_url=f"{PAGE}?via={tampered}", name="Ann", email="a@b.org")
    # a forged form field or cookie is checked again on the POST
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get(PAGE).get_data(True))
    client.set_cookie(attribution.COOKIE, tampered, path="/request/")
    client.post(PAGE, data={"csrf_token": token.group(1), "name": "Ann", "email": "a@b.org",
                            "contact_time": "any", "via": "garbage"})  # fmt: skip
    # a genuine code that was never clicked (typed in by hand) is no touch either
    client.delete_cookie(attribution.COOKIE, path="/request/")
    send_request(client, page_url=f"{PAGE}?via={sms_code}", name="Ann", email="a@b.org")
    rows = stored()
    assert len(rows) == 3 and all(row.message_id is None for row in rows)


def test_only_links_to_our_own_request_page_carry_the_code(app):
    base = app.config["OUTREACH_BASE_URL"]
    assert attribution.with_code(f"{base}/request/x", "CODE", base) == f"{base}/request/x?via=CODE"
    assert (
        attribution.with_code(f"{base}/request/x?via=old#top", "NEW", base)
        == f"{base}/request/x?via=NEW#top"
    )
    others = ("https://clinic.example/request/x", f"{base}/subscribe/x", f"{base}.evil/request/x")
    for other in others:
        assert attribution.with_code(other, "CODE", base) == other
    assert timedelta(days=30) == attribution.WINDOW
