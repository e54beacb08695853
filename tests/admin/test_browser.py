"""A real Chromium on a laptop screen: log in, build a campaign, preview it, run preflight,
schedule it; the SMS counter in the page agrees with the server's segment count. The step
editor's Spanish version sits beside the English on a laptop and below it on a phone, with
its own counter; the preview switches language.

Set OUTREACH_SCREENSHOTS=1 to refresh docs/screenshots/ (campaign-editor.png,
step-editor.png, step-editor-spanish.png, preview.png, subscriber-timeline.png).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from outreach.campaigns.preflight import delivery_rules
from outreach.consent import ledger as consent_ledger
from outreach.consent import signup as signups
from outreach.consent import subscriptions, wording
from outreach.extensions import db
from outreach.models import Audience, Campaign, Step
from outreach.rendering import sms as sms_rendering
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
from tests.factories import make_audience

pytestmark = pytest.mark.browser

LAPTOP = {"viewport": {"width": 1366, "height": 900}, "locale": "en-US"}
SEGMENT_SAMPLES = [
    "",
    "a" * 160,
    "a" * 161,
    "a" * 306,
    "a" * 307,
    "{" * 80,
    "{" * 81,
    "Hi 😀",
    "é" * 70 + "€",
    "ü" * 70,
    "ü" * 70 + "ł",
    "😀" * 35,
    "😀" * 36,
    "a" * 152 + "€" + "a" * 10,
    "line one\nline two\r\nwith [brackets] ~ | ^ \\",
    "Curly “quotes” turn a text into UCS-2",
]
LINK_SAMPLES = [
    "Free consultation: https://clinic.example/consult. Reply STOP to opt out.",
    "Two links: http://a.example/x?y=1&z=2, and (https://b.example/path)!",
    "Same link twice https://clinic.example/a https://clinic.example/a",
    "Personal https://clinic.example/[%first_name%] stays as written",
    "No link at all",
]


@pytest.fixture
def live_server(database_template: str, tmp_path: Path) -> Iterator[tuple[Flask, str]]:
    """The app served over real HTTP on 127.0.0.1 (a free port) in a thread."""
    require_chromium()
    app = make_app(database_template, tmp_path)
    with app.app_context():
        accounts.create_staff("editor@clinic.example", PASSWORD, "editor")
        audience = make_audience()
        signup = signups.Signup(
            audience, "ann.reader@example.org", "+19175550142", "Ann", "America/New_York",
            ("email", "sms"),
        )  # fmt: skip
        evidence = {
            channel: consent_ledger.Evidence(
                source="web_form",
                wording=wording.consent_wording(audience, channel),
                form_url=f"https://outreach.example.org/subscribe/{audience.slug}",
                ip_address="203.0.113.7",
                user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)",
            )
            for channel in ("email", "sms")
        }
        person, pending = signups.sign_up(signup, evidence)
        for sub in pending:
            subscriptions.confirm(
                sub,
                consent_ledger.Evidence(
                    source="sms_keyword" if sub.channel == "sms" else "web_form",
                    wording="Replied YES" if sub.channel == "sms" else "Confirmed by link",
                    provider_ref="SM" + "4" * 32 if sub.channel == "sms" else None,
                ),
            )
        db.session.commit()
    with serve(app) as base_url:
        yield app, base_url


def test_build_preview_check_and_schedule_a_campaign(live_server):
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    app, base_url = live_server
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(**LAPTOP)
            context.set_default_timeout(10_000)
            page = context.new_page()

            # log in
            sign_in(page, base_url)
            expect(page.locator("nav.top")).to_contain_text("editor@clinic.example (editor)")

            # new campaign
            page.click("text=New campaign")
            page.fill("#name", "National Migraine and Headache Awareness Month 2027")
            page.select_option("#audience_id", label="Migraine & Headache Awareness")
            page.check("input[name=anchor_kind][value=date]")
            page.fill("#anchor_date", "2027-06-01")
            page.click("button:has-text('Create campaign')")
            expect(page.locator("h1")).to_have_text(
                "National Migraine and Headache Awareness Month 2027"
            )

            # an email step, with a variable inserted from the list
            page.click("a:has-text('Add email')")
            page.check("input[name=writing][value=html]")  # written in HTML ("advanced")
            expect(page.locator("#html")).to_be_visible()
            page.fill("#subject", "June is Migraine & Headache Awareness Month")
            page.fill("#preheader", "Know your triggers")
            page.fill("#html", "<h1>Hello ")
            page.locator("#html").press("End")
            page.click("button[data-insert='{{ first_name }}']")
            page.locator("#html").press("End")
            page.locator("#html").type(
                "</h1><p>Stress, poor sleep and skipped meals are common migraine triggers. "
                "A headache diary helps you spot yours.</p>"
            )
            expect(page.locator("#html")).to_have_value(
                "<h1>Hello {{ first_name }}</h1><p>Stress, poor sleep and skipped meals are "
                "common migraine triggers. A headache diary helps you spot yours.</p>"
            )
            page.click("button:has-text('Add step')")
            expect(page.locator(".notice")).to_contain_text("Step 1 added")

            # a text step: the counter follows the typing
            page.click("a:has-text('Add text')")
            page.fill("#day_offset", "2")
            expect(page.locator("#send-date")).to_contain_text("Jun")
            page.fill("#send_time", "12:30")
            page.fill("#body", "a" * 161)
            expect(page.locator("#sms-counter [data-sms=segments]")).to_have_text("2")
            expect(page.locator("#sms-counter [data-sms=characters]")).to_have_text("161")
            page.fill("#body", "Migraine month 😀")
            expect(page.locator("#sms-counter [data-sms=encoding]")).to_contain_text("UCS-2")
            expect(page.locator("#first-sms-note")).to_contain_text("first text")
            page.fill(
                "#body",
                "June is Migraine & Headache Awareness Month. Keep a headache diary "
                "to spot your triggers.",
            )
            expect(page.locator("#sms-counter [data-sms=encoding]")).to_have_text("GSM-7")
            expect(page.locator("#sms-counter [data-sms=sent-segments]")).to_have_text("1")
            for sample in SEGMENT_SAMPLES:
                in_page = page.evaluate("body => window.smsSegments(body)", sample)
                expected = sms_rendering.sms_segments(sample)
                assert (in_page["encoding"], in_page["characters"], in_page["segments"]) == (
                    expected.encoding,
                    expected.characters,
                    expected.segments,
                ), sample
            # the campaign counts clicks: links are counted as the tracked address
            tracked_base = app.config["OUTREACH_BASE_URL"]
            for sample in LINK_SAMPLES:
                in_page = page.evaluate(
                    "([b, base]) => window.smsWithTrackedLinks(b, base)", [sample, tracked_base]
                )
                with app.app_context():
                    assert in_page == delivery_rules.with_tracked_links(sample, True), sample
            page.fill("#body", LINK_SAMPLES[0])
            with app.app_context():
                as_sent = delivery_rules.with_tracked_links(LINK_SAMPLES[0], True)
            expect(page.locator("#sms-counter [data-sms=characters]")).to_have_text(
                str(len(as_sent))
            )
            page.fill(
                "#body",
                "June is Migraine & Headache Awareness Month. Keep a headache diary "
                "to spot your triggers.",
            )
            shoot(page, "step-editor.png")
            page.click("button:has-text('Add step')")
            expect(page.locator("#sequence > li")).to_have_count(2)
            expect(page.locator("#sequence")).to_contain_text("Thu 03 Jun 2027, 12:30 local time")
            shoot(page, "campaign-editor.png")

            # preview the email as Ann
            page.locator("#sequence > li").first.locator("a:has-text('Preview')").click()
            page.fill("#who", "ann.reader")
            page.click("button:has-text('Show')")
            expect(page.locator("form[role=search]")).to_contain_text(
                "Ann (ann.reader@example.org)"
            )
            frame = page.frame_locator("#email-frame")
            expect(frame.locator("h1")).to_have_text("Hello Ann")
            expect(frame.locator("body")).to_contain_text("100 Example Avenue")
            assert page.locator("#email-frame").get_attribute("sandbox") == ""
            shoot(page, "preview.png")
            page.click("a[aria-current=false]:has-text('2')")
            expect(page.locator("#sms-bubble")).to_have_text(
                "NeuroMedici Migraine Awareness: June is Migraine & Headache Awareness Month. "
                "Keep a headache diary to spot your triggers. Reply STOP to opt out."
            )

            # preflight, then schedule (the warning needs a tick)
            page.click("text=Run preflight")
            expect(page.locator("#preflight-warnings")).to_contain_text(
                "brand/STOP wording will be added automatically"
            )
            page.click("#schedule-button")
            expect(page.locator(".field-error")).to_contain_text("tick the box")
            page.check("#acknowledge")
            page.click("#schedule-button")
            expect(page.locator("#campaign-status")).to_have_text("scheduled")
            expect(page.locator("#live-edit-note")).to_contain_text("not yet sent")

            # the subscriber's consent timeline, after a staff opt-out from texts
            page.click("nav >> text=Subscribers")
            page.fill("#q", "917 555 0142")
            page.click("button:has-text('Search')")
            page.click("a:has-text('Ann')")
            page.locator("#subscriptions li", has_text="text messages").locator(
                "a:has-text('Opt out')"
            ).click()
            page.fill("#note", "Phone call: please stop texting me")
            page.click("button:has-text('Yes, opt them out')")
            expect(page.locator(".notice")).to_contain_text("Texts stopped")
            expect(page.locator("#ledger > li").first).to_contain_text("Revoked")
            expect(page.locator("#ledger > li").first).to_contain_text("by editor@clinic.example")
            expect(page.locator("#ledger")).to_contain_text("IP 203.0.113.7")
            shoot(page, "subscriber-timeline.png")
        finally:
            browser.close()

    with app.app_context():
        campaign = db.session.scalar(select(Campaign))
        assert campaign.status == "scheduled"
        assert [s.channel for s in campaign.steps] == ["email", "sms"]


PHONE = {"viewport": {"width": 390, "height": 844}, "locale": "en-US"}
SPANISH_TEXT = (
    "Junio es el mes de la migraña: un diario del dolor de cabeza te ayuda a ver qué lo "
    "desencadena."
)


def _box(page, selector: str) -> dict:  # noqa: ANN001
    return page.locator(selector).bounding_box()


def test_spanish_version_beside_the_english_with_its_own_counter(live_server):
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    app, base_url = live_server
    with app.app_context():
        audience = db.session.scalar(select(Audience))
        campaign = Campaign(
            name="Bilingual June", audience=audience, anchor_kind="date",
            anchor_date=date(2027, 6, 1),
        )  # fmt: skip
        db.session.add(campaign)
        db.session.commit()
        campaign_id = campaign.id
        brand = wording.program(audience)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(**LAPTOP)
            context.set_default_timeout(10_000)
            page = context.new_page()
            violations = csp_violations(page)
            sign_in(page, base_url)
            expect(page.locator("nav.top")).to_contain_text("editor@clinic.example (editor)")

            # a laptop: English and Spanish side by side, each with its counter
            page.goto(f"{base_url}/admin/campaigns/{campaign_id}/steps/new?channel=sms")
            english, spanish = _box(page, "#copy-en"), _box(page, "#copy-es")
            assert abs(english["y"] - spanish["y"]) < 2 and spanish["x"] > english["x"] + 200
            page.fill("#body", "June is migraine month. Keep a headache diary.")
            page.fill("#es_body", "a" * 161)
            expect(page.locator("#sms-counter-es [data-sms=segments]")).to_have_text("2")
            expect(page.locator("#sms-counter [data-sms=segments]")).to_have_text("1")
            page.fill("#es_body", "Información")  # ó is outside GSM-7
            expect(page.locator("#sms-counter-es [data-sms=encoding]")).to_contain_text("UCS-2")
            expect(page.locator("#sms-counter [data-sms=encoding]")).to_have_text("GSM-7")
            page.fill("#es_body", SPANISH_TEXT)
            expect(page.locator("#sms-counter-es [data-sms=encoding]")).to_have_text("GSM-7")
            sent = wording.with_brand_and_stop(SPANISH_TEXT, brand, "es")
            expect(page.locator("#sms-counter-es [data-sms=sent-segments]")).to_have_text(
                str(sms_rendering.sms_segments(sent).segments)
            )
            for sample in (SPANISH_TEXT, "Para parar responde ALTO", "Hola STOP", ""):
                for language in ("en", "es"):
                    in_page = page.evaluate(
                        "([b, brand, lang]) => window.smsWithBrandAndStop(b, brand, lang)",
                        [sample, brand, language],
                    )
                    assert in_page == wording.with_brand_and_stop(sample, brand, language)
            shoot(page, "step-editor-spanish.png")
            page.click("button:has-text('Add step')")
            expect(page.locator("#sequence > li")).to_have_count(1)

            # the preview switches language; a Spanish first text gets the Spanish STOP line
            page.locator("#sequence > li").first.locator("a:has-text('Preview')").click()
            expect(page.locator("#sms-bubble")).to_contain_text("Reply STOP to opt out.")
            page.click("#preview-languages a:has-text('Español')")
            expect(page.locator("#sms-bubble")).to_have_text(
                f"{brand}: {SPANISH_TEXT} Responde ALTO para cancelar."
            )
            expect(page.locator("#sms-bubble")).to_have_attribute("lang", "es")
            edit_url = page.locator(".page-head a.secondary").get_attribute("href")
            assert edit_url.endswith("/edit")

            # a phone: the Spanish version below the English
            page.set_viewport_size(PHONE["viewport"])
            page.goto(f"{base_url}{edit_url}")
            english, spanish = _box(page, "#copy-en"), _box(page, "#copy-es")
            assert abs(english["x"] - spanish["x"]) < 2
            assert spanish["y"] >= english["y"] + english["height"]
            assert english["width"] <= 390
            expect(page.locator("#es_body")).to_have_value(SPANISH_TEXT)
            expect(page.locator("#sms-counter-es [data-sms=characters]")).to_have_text(
                str(len(SPANISH_TEXT))
            )
            assert violations == []
        finally:
            browser.close()

    with app.app_context():
        step = db.session.scalar(select(Step))
        assert step.variant("es").body == SPANISH_TEXT
