"""The public "Request a free consultation" page: what it asks, what it stores, what it
answers (the same for everybody), in English and Spanish, with CSRF, a honeypot and a
per-IP rate limit."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outreach.models import Audience, Subscriber
from tests.consultations.support import PAGE, send_request, stored
from tests.factories import make_audience, make_subscriber
from tests.helpers import csrf_token, page_text
from tests.public.support import counts
from tests.public.test_rate_limits import limited_app

THANKS = "Thank you, we have your request"


def test_the_page_asks_for_name_contact_time_and_a_short_note_with_a_medical_warning(app, client):
    make_audience()
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    text = page_text(page)
    assert "Request a free consultation" in text
    assert 'name="csrf_token"' in html and 'name="website"' in html  # CSRF + honeypot
    for field in ('name="name"', 'name="email"', 'name="phone"', 'name="note"'):
        assert field in html
    for choice in ("any", "morning", "afternoon", "evening"):
        assert f'value="{choice}"' in html
    assert 'maxlength="300"' in html
    assert "do not include medical details" in text
    box = re.search(r'<input type="checkbox" id="also_emails"[^>]*>', html).group(0)
    assert "checked" not in box  # the emails box is never pre-ticked
    assert 'name="viewport" content="width=device-width' in html  # phone layout


def test_a_request_is_stored_new_and_direct_and_thanked(app, client):
    audience = make_audience()
    answer = send_request(
        client, name="Ann  Lee", email="Ann@Example.org", phone="(212) 555-0100",
        contact_time="evening", note="Weekday evenings\r\nplease.",
    )  # fmt: skip
    assert answer.status_code == 200 and THANKS in page_text(answer)
    (row,) = stored()
    assert (row.audience_id, row.name, row.email, row.phone) == (
        audience.id,
        "Ann Lee",
        "ann@example.org",
        "+12125550100",
    )  # a landline is fine: we call back, we do not text
    assert (row.contact_time, row.note, row.language, row.status) == (
        "evening",
        "Weekday evenings\nplease.",
        "en",
        "new",
    )
    assert (row.message_id, row.campaign_id, row.step_id, row.channel) == (None,) * 4


def test_a_request_never_creates_consent(app, client):
    make_audience()
    before = counts()
    assert send_request(client, name="Ann", email="ann@example.org").status_code == 200
    assert counts() == before  # no subscriber, subscription, ledger row or email


def test_validation_errors_keep_what_was_typed(app, client):
    make_audience()
    answer = send_request(client, name="Ann Lee", note="Call me after 6", contact_time="morning")
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert "Enter an email address or a phone number" in page_text(answer)
    assert 'value="Ann Lee"' in html and ">Call me after 6</textarea>" in html
    assert 'value="morning" checked' in html
    bad = send_request(client, name="Ann", email="ann@@example", phone="12")
    text = page_text(bad)
    assert bad.status_code == 400
    assert "That email address is not valid" in text and "phone number" in text
    assert 'value="ann@@example"' in bad.get_data(as_text=True)
    long_note = "x" * 301
    too_long = send_request(client, name="Ann", email="ann@example.org", note=long_note)
    assert too_long.status_code == 400 and "300 characters or fewer" in page_text(too_long)
    assert long_note in too_long.get_data(as_text=True)
    nameless = send_request(client, email="ann@example.org")
    assert nameless.status_code == 400 and "Enter your name." in page_text(nameless)
    odd_time = send_request(client, name="Ann", email="ann@example.org", contact_time="3am")
    assert odd_time.status_code == 400
    assert stored() == []


def test_the_honeypot_gets_the_same_thanks_and_stores_nothing(app, client):
    make_audience()
    before = counts()
    bot = send_request(client, name="Bot", email="bot@example.org", website="http://spam.example")
    assert bot.status_code == 200 and THANKS in page_text(bot)
    assert stored() == [] and counts() == before


def test_the_same_answer_for_known_and_unknown_people(app, client):
    audience = make_audience()
    make_subscriber(audience, email="known@example.org", phone="+19175550100")
    known = send_request(client, name="Kim", email="known@example.org")
    unknown = send_request(client, name="Kim", email="stranger@example.org")
    assert known.status_code == unknown.status_code == 200
    assert page_text(known) == page_text(unknown)
    assert len(stored()) == 2


def test_a_post_without_a_valid_csrf_token_is_refused_and_stores_nothing(app, client):
    make_audience()
    client.get(PAGE)
    for token in (None, "forged"):
        data = {"name": "Ann", "email": "ann@example.org", "contact_time": "any"}
        if token:
            data["csrf_token"] = token
        answer = client.post(PAGE, data=data)
        assert answer.status_code == 400 and "session expired" in page_text(answer)
        assert 'value="Ann"' in answer.get_data(as_text=True)
    assert stored() == []


def test_an_unknown_audience_is_a_404(app, client):
    assert client.get("/request/no-such-list").status_code == 404


def test_the_page_and_its_answers_in_spanish(app, client):
    make_audience()
    page = client.get(PAGE, headers={"Accept-Language": "es-MX,es;q=0.9"})
    text = page_text(page)
    assert '<html lang="es">' in page.get_data(as_text=True)
    assert "Solicita una consulta gratuita" in text and "no incluyas datos médicos" in text
    assert "Por la mañana" in text
    error = send_request(client, page_url=f"{PAGE}?lang=es", name="Ana", language="es")
    assert "Escribe un correo electrónico o un número de teléfono" in page_text(error)
    done = send_request(
        client, page_url=f"{PAGE}?lang=es", name="Ana", phone="+1 917 555 0142", language="es"
    )
    assert "Gracias, recibimos tu solicitud" in page_text(done)
    (row,) = stored()
    assert row.language == "es"


def test_posts_are_rate_limited_per_ip_with_the_friendly_page(database_template, tmp_path):
    with limited_app(database_template, tmp_path) as app:
        make_audience()
        client = app.test_client()
        token = csrf_token(client.get(PAGE).get_data(as_text=True))
        for _ in range(10):
            assert client.post(PAGE, data={"csrf_token": token}).status_code == 400
        limited = client.post(
            PAGE, data={"csrf_token": token, "name": "Ann", "email": "ann@example.org"}
        )
        assert limited.status_code == 429 and "Slow down a little" in page_text(limited)
        assert stored() == []
        assert client.get(PAGE).status_code == 200  # reading the page is not limited


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=st.text(max_size=120), note=st.text(max_size=320))
def test_any_free_text_is_stored_cleanly_or_shown_again(app, client, name, note):
    if Audience.query.count() == 0:  # one audience for every example of this test
        make_audience()
    before = len(stored())
    answer = send_request(client, name=name, email="ann@example.org", note=note)
    assert answer.status_code in (200, 400)
    rows = stored()
    if answer.status_code == 200:
        row = rows[-1]
        assert len(row.note) <= 300 and "\x00" not in row.note and "\x00" not in row.name
        assert 0 < len(row.name) <= 100
    else:
        assert len(rows) == before
    assert Subscriber.query.count() == 0
