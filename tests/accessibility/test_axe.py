"""axe-core (pinned in .tools by `make axe`) in Debian's Chromium: every public page on a
laptop (1280x900) and a phone (390x844), in English and Spanish, with and without errors,
and the main staff pages have no serious or critical violation. The keyboard reaches the
skip link first, then the subscribe form's fields in the order they are seen; a failed
submit puts its error summary in focus, each error linking to its field.

One server, one browser and one set of data for the whole module (it stays fast). The axe
runs use a context with ``bypass_csp`` (the pages' CSP forbids the injected script); the
keyboard checks run under the real CSP and assert it is never broken.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from outreach.consent import suppression
from outreach.consultations import requests as consultation_requests
from outreach.extensions import db
from outreach.staff import accounts
from outreach.tracking import view_codes
from tests.accessibility.axe import blocking_violations, require_axe
from tests.browser import CHROMIUM, CHROMIUM_ARGS, csp_violations, require_chromium, serve
from tests.browser import sign_in as staff_sign_in
from tests.conftest import make_app
from tests.factories import make_audience, make_campaign, make_subscriber
from tests.helpers import PASSWORD
from tests.public.support import FORM, SLUG, link

pytestmark = pytest.mark.browser

LAPTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "en-US"}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "en-US",
}
VIEWPORTS = {"laptop": LAPTOP, "phone": PHONE}
REQUEST = f"/request/{SLUG}"


@dataclass
class Site:
    """The served app and the addresses of the pages built for the checks."""

    url: str
    paths: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)


def _build(app) -> tuple[dict[str, str], dict[str, int]]:  # noqa: ANN001
    with app.app_context():
        accounts.create_staff("editor@clinic.example", PASSWORD, "editor")
        audience = make_audience()
        active = make_subscriber(audience, email="ann@example.org", phone="+19175550142")
        pending = {
            name: make_subscriber(audience, email=f"bo.{name}@example.org", confirmed=False)
            for name in VIEWPORTS
        }
        leaving = {
            name: make_subscriber(audience, email=f"{name}@example.org") for name in VIEWPORTS
        }
        campaign = make_campaign(
            audience,
            [
                {"channel": "email", "send_time": "10:00", "subject": "June news",
                 "html": "<h1>June</h1><p>Hello {{ first_name }}, <a href='https://clinic.example/'>"
                         "read about triggers</a>.</p>"},
                {"channel": "sms", "send_time": "11:00", "day_offset": 1},
            ],
            schedule=False,
        )  # fmt: skip
        typed = consultation_requests.Typed(name="Cy Reader", email="cy@example.org")
        checked, problems = consultation_requests.check(typed, audience)
        assert not problems, problems
        consultation_requests.submit(audience, checked, language="en", attribution=None)
        suppression.suppress("email", "gone@example.org", "hard_bounce")
        db.session.commit()
        email_step = campaign.steps[0]
        paths = {
            **{f"confirm_pending_{n}": link(s, "confirm") for n, s in pending.items()},
            "confirm_active": link(active, "confirm"),
            "preferences": link(active, "preferences"),
            "view": f"/view/{view_codes.encode(view_codes.app_key(), email_step.id, 'en')}",
            **{f"unsubscribe_{n}": link(s, "unsubscribe") for n, s in leaving.items()},
        }
        ids = {"campaign": campaign.id, "step": email_step.id, "subscriber": active.id}
        db.session.remove()
    return paths, ids


@pytest.fixture(scope="module")
def site(database_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The app on a fresh database with an audience, subscribers, a campaign, a request and
    a suppression, served over real HTTP."""
    require_chromium()
    require_axe()
    app = make_app(database_template, tmp_path_factory.mktemp("axe"))
    paths, ids = _build(app)
    with serve(app) as base_url:
        yield Site(base_url, paths, ids)


@pytest.fixture(scope="module")
def browser(site: Site):  # noqa: ANN201
    """One Chromium for the module."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Audit:
    """Visits pages in one context and collects every blocking axe violation."""

    def __init__(self, page, base_url: str) -> None:  # noqa: ANN001
        self.page = page
        self.base_url = base_url
        self.found: list[str] = []
        self.visited: list[str] = []

    def check(self, what: str) -> None:
        """Run axe on the page as it is now."""
        self.page.wait_for_load_state("load")
        assert self.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
            f"{what}: wider than the screen"
        )
        self.visited.append(what)
        self.found.extend(f"{what}: {line}" for line in blocking_violations(self.page))

    def visit(self, what: str, path: str) -> None:
        """Open a page and check it."""
        self.page.goto(self.base_url + path)
        self.check(what)

    def submit(self, what: str, button: str) -> None:
        """Press a form's button and check the page that comes back."""
        with self.page.expect_navigation():
            self.page.click(button)
        self.check(what)


def _public_pages(audit: Audit, site: Site, viewport: str) -> None:
    page = audit.page
    paths = site.paths
    audit.visit("subscribe form", FORM)
    audit.submit("subscribe form with errors", "#subscribe-button")
    page.fill("#email", "not an address")
    page.check("#consent_sms")
    audit.submit("subscribe form with field errors", "#subscribe-button")
    page.fill("#email", f"new.{viewport}@example.org")
    page.fill("#phone", "")
    page.uncheck("#consent_sms")
    page.check("#consent_email")
    audit.submit("check your inbox", "#subscribe-button")
    audit.visit("subscribe form (Spanish)", FORM + "?lang=es")
    audit.submit("subscribe form with errors (Spanish)", "#subscribe-button")
    audit.visit("confirm", paths[f"confirm_pending_{viewport}"])
    audit.submit("confirmed", "#confirm-button")
    audit.visit("confirm (already confirmed: nothing to press)", paths["confirm_active"])
    audit.visit("unsubscribe", paths[f"unsubscribe_{viewport}"])
    audit.submit("unsubscribed", "#unsubscribe-button")
    audit.visit("preferences", paths["preferences"])
    audit.submit("preferences saved", "#save-button")
    audit.visit("preferences (Spanish)", paths["preferences"] + "?lang=es")
    audit.visit("bad link", "/confirm/not-a-real-token")
    audit.visit("unknown tracked link", "/r/nonsense")
    audit.visit("web version", paths["view"])
    audit.visit("unknown web version", "/view/nonsense")
    audit.visit("unknown audience", "/subscribe/no-such-list")
    audit.visit("consultation request", REQUEST)
    page.fill("#note", "x")
    audit.submit("consultation request with errors", "#request-button")
    page.fill("#name", "Dee Reader")
    page.fill("#email", f"dee.{viewport}@example.org")
    audit.submit("consultation request received", "#request-button")
    audit.visit("consultation request (Spanish)", REQUEST + "?lang=es")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_public_pages_have_no_serious_or_critical_violations(site, browser, viewport):
    context = browser.new_context(**VIEWPORTS[viewport], bypass_csp=True)
    context.set_default_timeout(10_000)
    try:
        audit = Audit(context.new_page(), site.url)
        _public_pages(audit, site, viewport)
    finally:
        context.close()
    assert len(audit.visited) == 23
    assert audit.found == [], "\n".join(audit.found)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_staff_pages_have_no_serious_or_critical_violations(site, browser, viewport):
    context = browser.new_context(**VIEWPORTS[viewport], bypass_csp=True)
    context.set_default_timeout(10_000)
    campaign, step = site.ids["campaign"], site.ids["step"]
    try:
        audit = Audit(context.new_page(), site.url)
        audit.visit("sign-in", "/admin/login")
        staff_sign_in(audit.page, site.url)
        audit.page.wait_for_selector("nav.top .who")
        for what, path in (
            ("dashboard", "/admin/"),
            ("campaigns", "/admin/campaigns"),
            ("new campaign", "/admin/campaigns/new"),
            ("campaign", f"/admin/campaigns/{campaign}"),
            ("step editor", f"/admin/steps/{step}/edit"),
            ("new text step", f"/admin/campaigns/{campaign}/steps/new?channel=sms"),
            ("new email step", f"/admin/campaigns/{campaign}/steps/new?channel=email"),
            ("saved blocks", "/admin/blocks"),
            ("preview", f"/admin/steps/{step}/preview"),
            ("preflight", f"/admin/campaigns/{campaign}/preflight"),
            ("results", f"/admin/campaigns/{campaign}/results"),
            ("subscribers", "/admin/subscribers"),
            ("subscriber", f"/admin/subscribers/{site.ids['subscriber']}"),
            ("audiences", "/admin/audiences"),
            ("requests inbox", "/admin/requests"),
            ("dev mailbox", "/admin/dev/mailbox"),
            ("suppressions", "/admin/suppressions"),
            ("replies", "/admin/inbound"),
            ("outbox", "/admin/outbox"),
            ("import", "/admin/import"),
            ("account", "/admin/account"),
        ):
            audit.visit(what, path)
        audit.page.goto(f"{site.url}/admin/campaigns/{campaign}/edit")
        audit.page.fill("#name", "")
        audit.submit("campaign form with errors", "form.card button[type=submit]")
        assert audit.page.locator("#error-summary a[href='#name']").count() == 1
        audit.page.goto(f"{site.url}/admin/audiences/new")
        audit.submit("audience form with errors", "form.card button[type=submit]")
        assert audit.page.evaluate("document.activeElement.id") == "error-summary"
    finally:
        context.close()
    assert audit.found == [], "\n".join(audit.found)


def _focused(page) -> str:  # noqa: ANN001
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return e.id || (e.textContent || '').trim() || e.tagName; }"
    )


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_keyboard_meets_the_skip_link_then_the_fields_in_visual_order(site, browser, viewport):
    context = browser.new_context(**VIEWPORTS[viewport])
    try:
        page = context.new_page()
        complaints = csp_violations(page)
        page.goto(site.url + FORM)
        page.keyboard.press("Tab")
        assert _focused(page) == "Skip to content"
        skip = page.locator("a.skip-link")
        assert skip.is_visible() and skip.bounding_box()["height"] > 10  # shown on focus
        page.keyboard.press("Enter")
        order = []
        for _ in range(6):
            page.keyboard.press("Tab")
            order.append(_focused(page))
        assert order == [
            "first_name", "email", "phone", "consent_email", "consent_sms", "subscribe-button",
        ]  # fmt: skip
        tops = [page.locator(f"#{name}").bounding_box()["y"] for name in order]
        assert tops == sorted(tops)  # the order they are seen in, top to bottom
        assert complaints == []
    finally:
        context.close()


def test_a_failed_submit_focuses_an_error_summary_linking_to_each_field(site, browser):
    context = browser.new_context(**PHONE)
    try:
        page = context.new_page()
        complaints = csp_violations(page)
        page.goto(site.url + FORM)
        page.fill("#email", "not an address")
        page.check("#consent_sms")
        with page.expect_navigation():
            page.click("#subscribe-button")
        summary = page.locator("#error-summary")
        page.wait_for_function(
            "document.activeElement && document.activeElement.id === 'error-summary'"
        )
        assert summary.get_attribute("role") == "alert"
        targets = summary.locator("a").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        )
        assert targets == ["#email", "#phone"]
        for name in ("email", "phone"):
            field_ = page.locator(f"#{name}")
            assert field_.get_attribute("aria-invalid") == "true"
            message = page.locator(f"#{field_.get_attribute('aria-describedby')}")
            assert message.inner_text() == summary.locator(f"a[href='#{name}']").inner_text()
        summary.locator("a[href='#phone']").click()
        assert _focused(page) == "phone"
        page.goto(site.url + FORM)
        with page.expect_navigation():
            page.click("#subscribe-button")
        assert summary.locator("a").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        ) == ["#consent_email"]
        assert page.get_attribute("#consent_email", "aria-describedby") == "consent-error"
        assert complaints == []
    finally:
        context.close()


def test_axe_is_skipped_with_a_clear_message_without_the_tools(monkeypatch, tmp_path: Path):
    from tests.accessibility import axe

    monkeypatch.setattr(axe, "AXE_JS", tmp_path / "axe.min.js")
    with pytest.raises(pytest.skip.Exception, match="make axe"):
        axe.require_axe()
