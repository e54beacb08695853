"""From the dev mailbox to a consultation request, in a real Chromium: staff open the
June email the console channel recorded, click its "Request a free consultation" link
(a tracked /r/<code> link, opened in a new tab as an inbox would), fill in the request page
and send it; the click is counted and the request is credited to that email's step."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from outreach.extensions import db
from outreach.models import LinkClick, Message
from outreach.sending import run as sending
from outreach.staff import accounts
from tests.admin.support import PASSWORD
from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, serve, sign_in
from tests.conftest import Clock, make_app
from tests.consultations.support import PAGE, stored
from tests.factories import make_audience, make_campaign, make_subscriber

pytestmark = pytest.mark.browser

#: A person's browser: headless Chromium's own agent ("HeadlessChrome") is, rightly, taken
#: for a link scanner.
DESKTOP_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
PHONE_AGENT = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36"
)
LAPTOP = {"viewport": {"width": 1280, "height": 900}, "user_agent": DESKTOP_AGENT}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "user_agent": PHONE_AGENT,
}


@pytest.fixture
def june_email(database_template: str, tmp_path: Path) -> Iterator[tuple[Flask, str]]:
    """A live server whose console mailbox holds the June email sent to Ann (she signed up
    in May; it is 11:00 in New York on June 1st by the app's clock)."""
    require_chromium()
    app = make_app(database_template, tmp_path)
    clock = app.extensions["outreach.clock"] = Clock(datetime(2027, 5, 20, tzinfo=UTC))
    with serve(app) as base_url, app.app_context():
        accounts.create_staff("editor@clinic.example", PASSWORD, "editor")
        audience = make_audience()
        make_subscriber(audience, email="ann.reader@example.org", first_name="Ann")
        html = (
            "<h1>June is Migraine &amp; Headache Awareness Month</h1>"
            "<p>Keep a headache diary for two weeks and bring it to your next visit.</p>"
            f'<p><a href="{base_url}{PAGE}">Request a free consultation</a></p>'
        )
        make_campaign(
            audience,
            [{"channel": "email", "send_time": "10:00", "subject": "Your June note",
              "html": html}],
        )  # fmt: skip
        clock.set(datetime(2027, 6, 1, 15, 0, tzinfo=UTC))
        assert sending.dispatch_once().sent == 1
        db.session.remove()
        yield app, base_url


@pytest.mark.parametrize("screen", [LAPTOP, PHONE], ids=["desktop", "phone"])
def test_click_the_request_link_in_the_dev_mailbox_then_send_a_request(june_email, screen):
    sync_api = pytest.importorskip("playwright.sync_api")
    app, base_url = june_email
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(**screen)
            page = context.new_page()
            sign_in(page, base_url)
            page.wait_for_url(f"{base_url}/admin/**")
            page.goto(f"{base_url}/admin/dev/mailbox")
            item = page.locator("details.mail-item").first
            assert "Your June note" in item.locator(":scope > summary").inner_text()
            assert item.get_attribute("open") is None  # listed collapsed
            item.locator(":scope > summary").click()
            link = page.frame_locator("iframe.preview").get_by_role(
                "link", name="Request a free consultation"
            )
            assert "/r/" in link.get_attribute("href")  # a tracked link, not the page itself
            with context.expect_page() as opened:
                link.click()
            request_page = opened.value
            request_page.wait_for_load_state()
            assert request_page.url.startswith(f"{base_url}{PAGE}?via=")
            request_page.fill("#name", "Ann Reader")
            request_page.fill("#email", "ann.reader@example.org")
            request_page.click("#request-button")
            request_page.wait_for_selector("#request-received")
        finally:
            browser.close()
    with app.app_context():
        (row,) = stored()
        email = db.session.scalar(select(Message).where(Message.channel == "email"))
        assert (row.message_id, row.step_id, row.channel) == (email.id, email.step_id, "email")
        click = db.session.scalar(select(LinkClick))
        assert click.human and click.message_id == email.id
        assert email.clicked_at is not None
        db.session.remove()
