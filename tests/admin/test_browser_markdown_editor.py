"""The Markdown editor in a real Chromium, on a laptop and on a phone: the toolbar writes
Markdown, a saved block goes in at the cursor, the live preview shows the email as the
sender renders it (beside the form on a laptop, below it on a phone), and the step saves in
Markdown; switching to HTML starts from what the Markdown makes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from outreach.campaigns import blocks
from outreach.extensions import db
from outreach.models import Campaign, Step
from outreach.staff import accounts
from tests.admin.support import PASSWORD
from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, serve, shoot, sign_in
from tests.conftest import Clock, make_app
from tests.factories import make_audience, make_campaign

pytestmark = pytest.mark.browser

LAPTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
SCREENS = pytest.mark.parametrize("screen", [LAPTOP, PHONE], ids=["desktop", "phone"])


@pytest.fixture
def editor_site(database_template: str, tmp_path: Path) -> Iterator[tuple[Flask, str, int]]:
    """A live server with an editor, the demo's saved blocks and a draft campaign."""
    require_chromium()
    app = make_app(database_template, tmp_path)
    app.extensions["outreach.clock"] = Clock(datetime(2027, 5, 20, 15, 0, tzinfo=UTC))
    with serve(app) as base_url, app.app_context():
        accounts.create_staff("editor@clinic.example", PASSWORD, "editor")
        audience = make_audience()
        blocks.add_demo_blocks()
        campaign = make_campaign(audience, [{"channel": "sms", "body": "June facts."}],
                                 schedule=False)  # fmt: skip
        db.session.commit()
        campaign_id = campaign.id
        db.session.remove()
        yield app, base_url, campaign_id


def preview_text(page) -> str:  # noqa: ANN001
    return page.frame_locator("#live-frame").locator("body").inner_text()


def wait_for_preview(page, text: str) -> None:  # noqa: ANN001
    page.frame_locator("#live-frame").locator(f"text={text}").first.wait_for(timeout=10_000)


@SCREENS
def test_write_an_email_in_markdown_with_the_live_preview(editor_site, screen):
    sync_api = pytest.importorskip("playwright.sync_api")
    app, base_url, campaign_id = editor_site
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(**screen).new_page()
            sign_in(page, base_url)
            page.wait_for_url(f"{base_url}/admin/**")
            page.goto(f"{base_url}/admin/campaigns/{campaign_id}/steps/new?channel=email")
            assert page.is_checked("input[name=writing][value=markdown]")
            assert not page.is_visible("#html")

            page.fill("#subject", "June is Migraine and Headache Awareness Month")
            body = page.locator("#markdown")
            body.fill("Hi {{ first_name }}, stress and sleep are common triggers.\n\n")
            body.press("End")
            page.evaluate("el => el.selectionStart = el.selectionEnd = el.value.length",
                          body.element_handle())  # fmt: skip
            page.click("[data-toolbar-for=markdown] [data-md=heading]")
            page.keyboard.type("Migraine month")
            page.evaluate("el => el.selectionStart = el.selectionEnd = el.value.length",
                          body.element_handle())  # fmt: skip
            page.keyboard.type("\n\n")
            page.select_option("#markdown-block", label="Consultation button")
            written = body.input_value()
            assert "## Migraine month" in written
            assert '[Request a free consultation]({{ request_url }} "button")' in written

            wait_for_preview(page, "Migraine month")
            shown = preview_text(page)
            assert "Hi Alex, stress and sleep are common triggers." in shown
            assert "Request a free consultation" in shown
            frame = page.locator("#live-frame").bounding_box()
            form = page.locator("#step-form").bounding_box()
            if screen is LAPTOP:
                assert frame["x"] > form["x"] + form["width"] - 1  # beside the form
                page.evaluate("document.getElementById('writing-mode').scrollIntoView()")
                shoot(page, "editor.png", full_page=False)
            else:
                assert frame["y"] > form["y"]  # below it on a phone
                assert page.evaluate(
                    "document.documentElement.scrollWidth <= window.innerWidth + 1"
                )

            # HTML ("advanced") starts from what the Markdown makes.
            page.check("input[name=writing][value=html]")
            sync_api.expect(page.locator("#html")).to_have_value(re.compile("<h2>"))
            assert not page.is_visible("#markdown")
            assert 'class="button"' in page.input_value("#html")
            page.check("input[name=writing][value=markdown]")
            page.get_by_role("button", name="Add step").click()
            page.wait_for_url(f"{base_url}/admin/campaigns/{campaign_id}*")
            with app.app_context():
                step = db.session.scalar(select(Step).join(Campaign).where(Step.channel == "email"))
                assert step.markdown == written
                assert "<h2>Migraine month</h2>" in step.html
                db.session.remove()
        finally:
            browser.close()
