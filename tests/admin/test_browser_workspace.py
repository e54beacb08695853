"""The workspace in a real Chromium, on a laptop and on a phone: a text reply simulated from
the dev mailbox (YES confirms, then STOP opts out), a campaign duplicated from the list, and
the subscriber list's filters and pages past 50."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from outreach.consent import confirmations
from outreach.extensions import db
from outreach.models import Campaign, Subscription
from outreach.staff import accounts
from tests.admin.support import PASSWORD
from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, serve, shoot, sign_in
from tests.conftest import Clock, make_app
from tests.factories import make_audience, make_campaign, make_subscriber

pytestmark = pytest.mark.browser

LAPTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
SCREENS = pytest.mark.parametrize("screen", [LAPTOP, PHONE], ids=["desktop", "phone"])
KAI = "+19175550177"


@pytest.fixture
def workspace(database_template: str, tmp_path: Path) -> Iterator[tuple[Flask, str]]:
    """A live server: an editor, 55 email subscribers (5 of them also on texts), Kai waiting
    to confirm his texts (the confirmation text is in the dev mailbox), a draft campaign."""
    require_chromium()
    app = make_app(database_template, tmp_path)
    app.extensions["outreach.clock"] = Clock(datetime(2027, 6, 1, 15, 0, tzinfo=UTC))  # 11:00 NY
    with serve(app) as base_url, app.app_context():
        accounts.create_staff("editor@clinic.example", PASSWORD, "editor")
        audience = make_audience()
        for i in range(55):
            phone = f"+1646555{i:04d}" if i < 5 else None
            make_subscriber(audience, email=f"reader{i:02d}@example.org", phone=phone,
                            first_name=f"Reader{i:02d}")  # fmt: skip
        kai = make_subscriber(audience, phone=KAI, first_name="Kai", channels=("sms",),
                              confirmed=False)  # fmt: skip
        sub = db.session.scalar(select(Subscription).filter_by(subscriber_id=kai.id))
        assert confirmations.request_confirmation(sub) == confirmations.SENT
        make_campaign(audience, [{"channel": "email", "subject": "June news"}], schedule=False)
        db.session.commit()
        db.session.remove()
        yield app, base_url


def kai_state(app: Flask) -> str:
    with app.app_context():
        state = db.session.scalar(select(Subscription.state).filter_by(channel="sms").where(
            Subscription.subscriber_id == select(func.max(Subscription.subscriber_id))
            .scalar_subquery()))  # fmt: skip
        db.session.remove()
        return state


@SCREENS
def test_workspace_tasks_in_a_browser(workspace, screen):
    sync_api = pytest.importorskip("playwright.sync_api")
    app, base_url = workspace
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(**screen).new_page()
            sign_in(page, base_url)
            page.wait_for_url(f"{base_url}/admin/**")

            # The inbound simulator: YES then STOP, as Kai.
            page.goto(f"{base_url}/admin/dev/mailbox")
            item = page.locator("details.mail-item", has_text=KAI).first
            item.locator(":scope > summary").click()
            item.locator("details.simulate > summary").click()
            item.get_by_role("button", name="YES").click()
            page.wait_for_selector("text=Handled as an opt-in (YES / START)")
            assert kai_state(app) == "active"
            item = page.locator("details.mail-item", has_text=KAI).first
            item.locator(":scope > summary").click()
            item.locator("details.simulate > summary").click()
            item.get_by_role("button", name="STOP").click()
            page.wait_for_selector("text=Handled as an opt-out (STOP)")
            assert kai_state(app) == "unsubscribed"

            # Duplicate a campaign from the list.
            page.goto(f"{base_url}/admin/campaigns")
            page.get_by_role("button", name="Duplicate June awareness").click()
            page.wait_for_load_state()
            with app.app_context():
                names = sorted(db.session.scalars(select(Campaign.name)))
                db.session.remove()
            assert names == ["Copy of June awareness", "June awareness"]
            page.goto(f"{base_url}/admin/campaigns")
            assert page.get_by_role("link", name="Copy of June awareness").count() == 1

            # Subscribers: 56 people, pages of 50, then a filter.
            page.goto(f"{base_url}/admin/subscribers")
            assert page.locator("table tbody tr").count() == 50
            page.click("#next-page")
            page.wait_for_load_state()
            assert page.locator("table tbody tr").count() == 6
            page.goto(f"{base_url}/admin/subscribers")
            page.locator("#subscriber-search details > summary").click()
            page.select_option("#channel", "sms")
            page.get_by_role("button", name="Apply filters").click()
            page.wait_for_load_state()
            assert page.locator("table tbody tr").count() == 6  # 5 readers and Kai
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

            # Import a small list: the summary counts rows and channels apart.
            listing = Path(app.config["OUTREACH_INSTANCE_DIR"]) / "june-list.csv"
            listing.write_text(
                "email,phone,first_name\nmia@example.org,+16465550901,Mia\n"
                "leo@example.org,,Leo\nnot-an-email,,Bad\n"
            )
            page.goto(f"{base_url}/admin/import")
            page.select_option("#audience_id", label="Migraine & Headache Awareness (email + sms)")
            page.set_input_files("#file", str(listing))
            page.get_by_role("button", name="Upload and map columns").click()
            page.wait_for_selector("#email_column")
            page.select_option("#phone_column", "phone")
            page.check("input[name=channels][value=sms]")
            page.get_by_role("button", name="Start import").click()
            page.wait_for_selector("#import-summary li")
            summary = page.inner_text("#import-summary")
            assert "Read 3 rows: 2 people imported, 1 row rejected" in summary
            assert "Email: 2 waiting for confirmation." in summary
            assert "Text messages: 1 waiting for confirmation." in summary
            if screen is LAPTOP:
                shoot(page, "import-summary.png")
                page.goto(f"{base_url}/admin/dev/mailbox")
                page.locator("details.mail-item").first.locator(":scope > summary").click()
                shoot(page, "mailbox.png")
        finally:
            browser.close()
