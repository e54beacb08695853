"""A real browser on a phone-sized screen: fill in the form, confirm through the emailed
link, end on the confirmed page. Set OUTREACH_SCREENSHOTS=1 to refresh docs/screenshots/."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from outreach.extensions import db
from tests.conftest import make_app
from tests.factories import make_audience
from tests.public.support import FORM, SLUG, confirm_path, states, subscriber

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "timezone_id": "America/Chicago",
    "locale": "en-US",
}


@pytest.fixture
def live_server(database_template: str, tmp_path: Path) -> Iterator[tuple[Flask, str]]:
    """The app served over real HTTP on 127.0.0.1 (a free port) in a thread."""
    if not CHROMIUM.exists():
        pytest.skip(
            "browser test skipped: Chromium is absent (/usr/bin/chromium); "
            "install it with: apt-get install -y chromium"
        )
    app = make_app(database_template, tmp_path)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base_url = f"http://127.0.0.1:{server.port}"
    app.config["OUTREACH_BASE_URL"] = base_url
    with app.app_context():
        make_audience()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, base_url
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()


def _shoot(page, name: str) -> None:  # noqa: ANN001
    if os.environ.get("OUTREACH_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def test_sign_up_and_confirm_on_a_phone(live_server):
    sync_api = pytest.importorskip("playwright.sync_api")
    app, base_url = live_server
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(**PHONE)
            page = context.new_page()
            page.goto(base_url + FORM)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            assert not page.is_checked("#consent_email") and not page.is_checked("#consent_sms")
            page.fill("#first_name", "Ann")
            page.fill("#email", "ann.reader@example.org")
            page.tap("#consent_email")
            assert page.is_checked("#consent_email")
            assert page.input_value("#timezone") == "America/Chicago"  # filled by the page
            _shoot(page, "subscribe-form.png")
            page.tap("#subscribe-button")
            page.wait_for_selector("#check-inbox")
            assert "press Confirm my subscription" in page.inner_text("#check-inbox")

            with app.app_context():
                ann = subscriber("ann.reader@example.org")
                assert ann.timezone == "America/Chicago"
                assert states(ann) == {(SLUG, "email"): "pending"}
                path = confirm_path("ann.reader@example.org")
                db.session.remove()

            page.goto(base_url + path)
            page.wait_for_selector("#confirm-button")
            with app.app_context():
                assert states(subscriber("ann.reader@example.org"))[(SLUG, "email")] == "pending"
                db.session.remove()
            page.tap("#confirm-button")
            page.wait_for_selector("#confirmed")
            assert page.inner_text("#confirmed") == "You're subscribed"
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            _shoot(page, "confirmed.png")
            with app.app_context():
                assert states(subscriber("ann.reader@example.org")) == {(SLUG, "email"): "active"}
                db.session.remove()
        finally:
            browser.close()
