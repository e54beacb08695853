"""A real Chromium: the step editor's checks appear as you type (preflight's words), on a
phone too, and an email's web version reads on a phone.

Set OUTREACH_SCREENSHOTS=1 to refresh docs/screenshots/step-checks.png and web-version.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from flask import Flask

from outreach.extensions import db
from outreach.models import Campaign, Step
from outreach.staff import accounts
from outreach.tracking import view_codes
from tests.admin.support import PASSWORD
from tests.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    require_chromium,
    serve,
    shoot,
    sign_in,
)
from tests.conftest import make_app
from tests.factories import make_audience

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "locale": "en-US", "is_mobile": True}
HTML = (
    "<h1>June is Migraine and Headache Awareness Month</h1><p>Hi {{ first_name }}, stress, poor "
    'sleep and skipped meals are common triggers. <a href="https://clinic.example/diary">Start '
    "your headache diary</a>.</p>"
)


@pytest.fixture
def live_server(database_template: str, tmp_path: Path) -> Iterator[tuple[Flask, str, dict]]:
    require_chromium()
    app = make_app(database_template, tmp_path)
    with app.app_context():
        accounts.create_staff("editor@clinic.example", PASSWORD, "editor")
        campaign = Campaign(
            name="June awareness", audience=make_audience(), anchor_kind="date",
            anchor_date=date(2027, 6, 1),
        )  # fmt: skip
        campaign.steps.append(
            Step(position=0, channel="email", subject="Your headache diary: a quick start",
                 preheader="", html=HTML, body="")
        )  # fmt: skip
        db.session.add(campaign)
        db.session.commit()
        ids = {"campaign": campaign.id, "step": campaign.steps[0].id}
    with serve(app) as base_url:
        with app.app_context():
            ids["view"] = view_codes.view_url(ids["step"], "en")
        yield app, base_url, ids


def test_checks_appear_as_you_type_and_the_web_version_reads_on_a_phone(live_server):
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    _, base_url, ids = live_server
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(**PHONE)
            context.set_default_timeout(10_000)
            page = context.new_page()
            sign_in(page, base_url)

            page.goto(f"{base_url}/admin/steps/{ids['step']}/edit")
            checks = page.locator("#step-checks-list")
            expect(page.locator("#step-checks-none")).to_be_visible()  # the topic passes

            page.fill("#subject", "Your appointment on Monday")
            page.locator("#html").fill(HTML.replace("Start your headache diary", "click here"))
            expect(checks).to_contain_text(
                "health details ('your appointment') must not appear in subject lines"
            )
            expect(checks).to_contain_text("link text 'click here' says nothing on its own")
            expect(page.locator("#step-checks-none")).to_be_hidden()
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, "the editor scrolls sideways on a phone"
            page.locator("#step-checks").scroll_into_view_if_needed()
            shoot(page, "step-checks.png")

            page.fill("#subject", "Your headache diary: a quick start")
            page.locator("#html").fill(HTML)
            expect(page.locator("#step-checks-none")).to_be_visible()

            response = page.goto(ids["view"])
            assert response.status == 200 and response.headers["x-robots-tag"].startswith("noindex")
            expect(page.locator("h1")).to_have_text("June is Migraine and Headache Awareness Month")
            expect(page.locator("#web-version-note")).to_be_visible()
            shoot(page, "web-version.png")
        finally:
            browser.close()
