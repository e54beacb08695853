"""The results page in a real Chromium: on a 1280 px laptop no column of the outcomes or
states table is cut off (the step label first); on a 390 px phone the tables scroll inside
their own container and the page itself does not; no Content-Security-Policy complaint.

Set OUTREACH_SCREENSHOTS=1 to refresh docs/screenshots/results.png and results-phone.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from bench import results_page
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
from tests.conftest import make_app

pytestmark = pytest.mark.browser

FITS = """(id) => {
  const table = document.getElementById(id);
  return [table.scrollWidth, table.parentElement.clientWidth];
}"""


@pytest.fixture
def live_results(database_template: str, tmp_path: Path) -> Iterator[tuple[Flask, str, int]]:
    """A served app with a clicked campaign (the benchmark's seed at a small size)."""
    require_chromium()
    app = make_app(database_template, tmp_path)
    with app.app_context():
        accounts.create_staff("viewer@clinic.example", PASSWORD, "viewer")
        db.session.commit()
        campaign_id = results_page.seed_results(4_000, 600)
    with serve(app) as base_url:
        yield app, base_url, campaign_id


def test_the_results_tables_fit_a_laptop_and_scroll_on_a_phone(live_results):
    sync_api = pytest.importorskip("playwright.sync_api")
    _, base_url, campaign_id = live_results
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            laptop = browser.new_context(viewport={"width": 1280, "height": 900})
            page = laptop.new_page()
            complaints = csp_violations(page)
            sign_in(page, base_url, "viewer@clinic.example")
            page.goto(f"{base_url}/admin/campaigns/{campaign_id}/results")
            sync_api.expect(page.locator("h2", has_text="Did it work?")).to_be_visible()
            for table_id in ("results", "states-table"):
                width, room = page.evaluate(FITS, table_id)
                assert width <= room, (table_id, width, room)
            first = page.locator("#results thead th").first
            assert first.inner_text().strip() == "Step"
            assert page.locator("#funnel-chart").is_visible()
            assert page.locator("#clicks-chart").is_visible()
            shoot(page, "results.png")

            phone = browser.new_context(
                viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
            )
            small = phone.new_page()
            complaints += csp_violations(small)
            sign_in(small, base_url, "viewer@clinic.example")
            small.goto(f"{base_url}/admin/campaigns/{campaign_id}/results")
            width, room = small.evaluate(FITS, "results")
            assert width > room  # the table scrolls in its own container ...
            page_width = small.evaluate("document.documentElement.scrollWidth")
            assert page_width <= 390, page_width  # ... not the whole page
            shoot(small, "results-phone.png")
            assert complaints == []
        finally:
            browser.close()
