"""The web version of a campaign email through the dispatcher and ``/view/<code>``: every
email carries "View in your browser" (Spanish: "Ver en el navegador") to a code naming the
step and language only; the page shows the step with placeholder values, no subscriber data
and no personal links, is never indexed, and links straight to the step's own addresses."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outreach.extensions import db
from outreach.models import StepVariant
from outreach.sending import run as sending
from outreach.tracking import view_codes
from tests.factories import make_campaign, make_subscriber
from tests.helpers import BASE_URL
from tests.sending import test_reconcile as case
from tests.sending.test_reconcile import june_first
from tests.tracking.test_click_tracking import JUNE, personal_html

fake = case.fake
audience = case.audience

VIEW = re.compile(re.escape(BASE_URL) + r"/view/([A-Za-z0-9_-]+)")
HTML = (
    f'<h1>June facts</h1><p>Hi {{{{ first_name }}}}, read <a href="{JUNE}">our June guide</a>.</p>'
)


def send(fake, audience, clock, *, spanish: bool = False, track: bool = True):  # noqa: ANN001, ANN201
    make_subscriber(audience, email="ann.private@example.org", first_name="Annabel")
    make_subscriber(audience, email="bo@example.org", first_name="Bo")
    if spanish:
        make_subscriber(audience, email="lucia@example.org", first_name="Lucía", language="es")
    campaign = make_campaign(
        audience, [{"channel": "email", "send_time": "10:00", "subject": "June news", "html": HTML}]
    )
    campaign.track_links = track
    if spanish:
        campaign.steps[0].variants.append(
            StepVariant(
                language="es", subject="Noticias de junio", preheader="",
                html="<p>Hola, {{ first_name }}: consulta a tu médico.</p>",
            )
        )  # fmt: skip
    db.session.commit()
    june_first(clock, fake)
    fake.configure(keep_bodies=True)
    assert sending.dispatch_once().sent == (3 if spanish else 2)
    return campaign


def text_part(body: dict) -> str:
    return next(c["value"] for c in body["content"] if c["type"] == "text/plain")


def test_every_email_links_its_web_version_by_a_code_without_personal_data(
    app, clock, fake, audience
):
    campaign = send(fake, audience, clock)
    body = fake.email_bodies[0]
    html = next(c["value"] for c in body["content"] if c["type"] == "text/html")
    (code,) = set(VIEW.findall(html))  # one code, the same for both recipients
    assert ">View in your browser</a>" in html
    assert text_part(body).startswith(f"View in your browser: {BASE_URL}/view/{code}")
    assert "[%" not in code and len(code) < 20
    step_id, language = view_codes.decode(view_codes.app_key(), code)
    assert (step_id, language) == (campaign.steps[0].id, "en")
    assert f"/r/{code}" not in html  # never click-tracked


def test_the_web_version_shows_placeholders_and_no_one_s_data(app, client, clock, fake, audience):
    send(fake, audience, clock)
    code = VIEW.findall(personal_html(fake))[0]
    page = client.get(f"/view/{code}")
    assert page.status_code == 200
    assert page.headers["X-Robots-Tag"].startswith("noindex")
    html = page.get_data(as_text=True)
    assert "June facts" in html and "Hi there," in html
    for private in ("Annabel", "ann.private@example.org", "Bo,", "/unsubscribe/", "/preferences/"):
        assert private not in html
    assert 'id="web-version-note"' in html and "use the links at the end of the email" in html
    assert f'href="{JUNE}"' in html and "/r/" not in html  # straight to the original link
    assert "View in your browser" not in html  # the page does not link to itself


def test_spanish_readers_get_ver_en_el_navegador_and_a_spanish_page(
    app, client, clock, fake, audience
):
    send(fake, audience, clock, spanish=True)
    spanish = next(b for b in fake.email_bodies if b["subject"] == "Noticias de junio")
    html = next(c["value"] for c in spanish["content"] if c["type"] == "text/html")
    assert ">Ver en el navegador</a>" in html
    assert text_part(spanish).startswith("Ver en el navegador: ")
    code = VIEW.findall(html)[0]
    page = client.get(f"/view/{code}").get_data(as_text=True)
    assert '<html lang="es"' in page and "Hola, qué tal" in page and "Lucía" not in page
    assert "la versión web de un correo" in page


def test_bad_codes_get_a_friendly_404_that_is_not_indexed(app, client, clock, fake, audience):
    campaign = send(fake, audience, clock)
    code = VIEW.findall(personal_html(fake))[0]
    tampered = code[:2] + ("A" if code[2] != "A" else "B") + code[3:]
    key = view_codes.app_key()
    sms_step = make_campaign(audience, [{"channel": "sms"}], name="Texts", schedule=False).steps[0]
    for bad in (tampered, "nonsense", "x" * 300, view_codes.encode(key, 10**6, "en"),
                view_codes.encode(key, sms_step.id, "en")):  # fmt: skip
        page = client.get(f"/view/{bad}")
        assert page.status_code == 404, bad
        assert page.headers["X-Robots-Tag"] == "noindex"
        assert "This link is not valid" in page.get_data(as_text=True)
    assert campaign.steps[0].id  # the genuine one still works
    assert client.get(f"/view/{code}").status_code == 200


def test_a_link_code_is_never_a_view_code(app):
    from outreach.tracking import codes

    link = codes.encode(codes.app_key(), 1, 1)
    assert view_codes.decode(view_codes.app_key(), link) is None


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=60))
def test_any_code_decodes_to_a_step_or_nothing(app, code):
    decoded = view_codes.decode(view_codes.app_key(), code)
    assert decoded is None or decoded[1] in ("en", "es")


@given(st.integers(min_value=1, max_value=2**40), st.sampled_from(["en", "es"]))
@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_codes_round_trip(app, step_id, language):
    key = view_codes.app_key()
    assert view_codes.decode(key, view_codes.encode(key, step_id, language)) == (step_id, language)
