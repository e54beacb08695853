"""A real Chromium: first sign-in with two-factor required enrols an authenticator (QR
code, manual key, first code, recovery codes), then signs in again with a code made from
the key, as a phone would; the pages raise no Content-Security-Policy violation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest
from flask import Flask

from outreach.extensions import db
from outreach.staff import accounts
from tests.admin.support import PASSWORD
from tests.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    csp_violations,
    require_chromium,
    serve,
    shoot,
    sign_in,
)
from tests.conftest import Clock, make_app

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(database_template: str, tmp_path: Path) -> Iterator[tuple[Flask, Clock, str]]:
    """The app with OUTREACH_REQUIRE_2FA on, one staff account, a settable clock."""
    require_chromium()
    app = make_app(database_template, tmp_path, OUTREACH_REQUIRE_2FA=True)
    clock = Clock(datetime(2027, 6, 1, 15, 0, tzinfo=UTC))
    app.extensions["outreach.clock"] = clock
    with app.app_context():
        accounts.create_staff("editor@clinic.example", PASSWORD, "editor")
        db.session.commit()
    with serve(app) as base_url:
        yield app, clock, base_url


def test_enrol_then_sign_in_with_a_generated_code(live_server):
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    app, clock, base_url = live_server
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 900})
            context.set_default_timeout(10_000)
            page = context.new_page()
            violations = csp_violations(page)

            sign_in(page, base_url)
            # first sign-in: enrolment is required before anything else
            expect(page.locator("h1")).to_have_text("Set up two-factor sign-in")
            assert page.evaluate("document.getElementById('totp-qr').naturalWidth") > 0
            shoot(page, "two-factor-enrolment.png")
            secret = page.locator("#totp-key").inner_text().replace(" ", "")
            page.fill("#code", pyotp.TOTP(secret).at(clock()))
            page.click("button:has-text('Turn on two-factor sign-in')")
            expect(page.locator("#recovery-codes li")).to_have_count(10)
            page.click("text=I have saved them")
            expect(page.locator("nav.top")).to_contain_text("editor@clinic.example (editor)")

            page.click("button:has-text('Log out')")
            page.fill("#email", "editor@clinic.example")
            page.fill("#password", PASSWORD)
            page.click("button:has-text('Log in')")
            expect(page.locator("h1")).to_have_text("Enter your code")
            clock.advance(seconds=30)  # the next code on the phone
            page.fill("#code", pyotp.TOTP(secret).at(clock()))
            page.click("button:has-text('Sign in')")
            expect(page.locator("nav.top")).to_contain_text("editor@clinic.example (editor)")
            expect(page.locator("h1")).to_have_text("Campaigns")
            assert violations == []
        finally:
            browser.close()
