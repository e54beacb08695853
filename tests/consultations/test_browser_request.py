"""A real browser on a phone-sized screen fills in the consultation request page (no
sideways scrolling, the medical-details warning in view, the time choice by tap) and gets
the thank-you page; the request is stored. OUTREACH_SCREENSHOTS=1 refreshes
docs/screenshots/request-form.png."""

from __future__ import annotations

import pytest

from outreach.extensions import db
from tests.browser import CHROMIUM, CHROMIUM_ARGS, shoot
from tests.consultations.support import PAGE, stored
from tests.public.test_browser_signup import PHONE, live_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def test_request_a_consultation_on_a_phone(live_server):  # noqa: F811
    sync_api = pytest.importorskip("playwright.sync_api")
    app, base_url = live_server
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(**PHONE).new_page()
            page.goto(base_url + PAGE)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            assert page.is_visible("#note-warning")
            assert not page.is_checked("#also_emails")
            page.fill("#name", "Ann Lee")
            page.fill("#phone", "(917) 555-0142")
            page.tap("label[for=time-evening]")
            page.fill("#note", "After 6 pm please")
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            shoot(page, "request-form.png")
            page.fill("#phone", "")
            page.tap("#request-button")  # no way to reach her: the page says so, keeps the rest
            page.wait_for_selector("#contact-error")
            assert page.input_value("#note") == "After 6 pm please"
            assert page.is_checked("#time-evening")
            page.fill("#phone", "(917) 555-0142")
            page.tap("#request-button")
            page.wait_for_selector("#request-received")
            assert "Thank you, we have your request" in page.inner_text("#request-received")
        finally:
            browser.close()
    with app.app_context():
        (row,) = stored()
        assert (row.name, row.phone, row.contact_time, row.note) == (
            "Ann Lee",
            "+19175550142",
            "evening",
            "After 6 pm please",
        )
        db.session.remove()
