"""A real browser on a phone-sized screen: fill in the form, confirm through the emailed
link, end on the confirmed page. Set OUTREACH_SCREENSHOTS=1 to refresh docs/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from outreach.extensions import db
from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, serve, shoot
from tests.conftest import make_app
from tests.factories import make_audience
from tests.public.support import FORM, SLUG, confirm_path, states, subscriber

pytestmark = pytest.mark.browser

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
    require_chromium()
    app = make_app(database_template, tmp_path)
    with app.app_context():
        make_audience()
    with serve(app) as base_url:
        yield app, base_url


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
            shoot(page, "subscribe-form.png")
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
            shoot(page, "confirmed.png")
            with app.app_context():
                assert states(subscriber("ann.reader@example.org")) == {(SLUG, "email"): "active"}
                db.session.remove()
        finally:
            browser.close()


def test_a_spanish_visitor_signs_up_confirms_and_manages_preferences_in_spanish(live_server):
    sync_api = pytest.importorskip("playwright.sync_api")
    app, base_url = live_server
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(**{**PHONE, "locale": "es-MX"})
            page = context.new_page()
            page.goto(base_url + FORM)  # the browser asks for Spanish (Accept-Language)
            assert page.get_attribute("html", "lang") == "es"
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            assert "¿Cómo podemos comunicarnos contigo?" in page.inner_text("form")
            page.fill("#first_name", "Lucía")
            page.fill("#email", "lucia@example.org")
            page.tap("#consent_email")
            shoot(page, "subscribe-form-es.png")
            page.tap("#subscribe-button")
            page.wait_for_selector("#check-inbox")
            assert "Confirmar mi suscripción" in page.inner_text("#check-inbox")

            with app.app_context():
                lucia = subscriber("lucia@example.org")
                assert lucia.language == "es"
                path = confirm_path("lucia@example.org")  # from the Spanish email
                db.session.remove()

            page.goto(base_url + path)
            page.wait_for_selector("#confirm-button")
            assert page.inner_text("#confirm-button") == "Confirmar mi suscripción"
            page.tap("#confirm-button")
            page.wait_for_selector("#confirmed")
            assert page.inner_text("#confirmed") == "Ya tienes la suscripción"
            page.tap("#preferences-link")
            page.wait_for_selector("#save-button")
            assert page.get_attribute("html", "lang") == "es"
            assert page.inner_text("h1") == "Tus preferencias"
            assert page.input_value("#language") == "es"
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            with app.app_context():
                assert states(subscriber("lucia@example.org")) == {(SLUG, "email"): "active"}
                db.session.remove()
        finally:
            browser.close()
