"""Fuzzing the public forms: arbitrary bodies never cause a 500, and a refused submission
stores nothing."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import make_audience, make_subscriber
from tests.helpers import csrf_token
from tests.public.support import FORM, counts, link, subscribe, subscriber

ALLOWED = {200, 400, 404, 405, 413}
KNOWN_FIELDS = [
    "email",
    "phone",
    "first_name",
    "timezone",
    "consent_email",
    "consent_sms",
    "website",
    "everything",
    "keep",
    "List-Unsubscribe",
    "csrf_token",
]
INTERESTING = [
    "",
    "y",
    "on",
    "false",
    "\x00",
    "ann@example.org",
    "ANN@EXAMPLE.ORG",
    "(917) 555-0142",
    "+44 20 7946 0018",
    "America/New_York",
    "Etc/Unknown",
    "../../etc/passwd",
    "One-Click",
    "migraine-awareness:email",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "\u202e\u0000\ufeff",
    "🙂" * 40,
    "x" * 5_000,
    "é" * 70_000,
    "y" * 600_000,  # beyond the form-memory limit: 413
]
FUZZ = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

names = st.one_of(st.sampled_from(KNOWN_FIELDS), st.text(max_size=30))
values = st.one_of(st.sampled_from(INTERESTING), st.text(max_size=200))
bodies = st.dictionaries(names, st.one_of(values, st.lists(values, max_size=3)), max_size=8)


@pytest.fixture
def ann(app):  # noqa: ANN001, ANN201
    """Ann, waiting to confirm her email, next to someone on texts: every page has work."""
    audience = make_audience()
    make_subscriber(audience, phone="+19175550142", channels=("sms",))
    return make_subscriber(audience, email="ann@example.org", channels=("email",), confirmed=False)


def _post(client, path: str, token: str, body: dict, with_token: bool):  # noqa: ANN001, ANN202
    data = dict(body)
    if with_token:
        data["csrf_token"] = token
    before = counts()
    page = client.post(path, data=data)
    assert page.status_code in ALLOWED, (page.status_code, path)
    if page.status_code >= 400:
        assert counts() == before
    return page


def _token(client, path: str) -> str:  # noqa: ANN001
    return csrf_token(client.get(path).get_data(as_text=True))


@FUZZ
@given(body=bodies, with_token=st.booleans())
def test_subscribe(client, ann, body, with_token):
    _post(client, FORM, _token(client, FORM), body, with_token)


@FUZZ
@given(body=bodies, with_token=st.booleans())
def test_confirm(client, ann, body, with_token):
    path = link(ann, "confirm")  # once confirmed, the page has no form: the session's token
    _post(client, path, _token(client, FORM), body, with_token)


@FUZZ
@given(body=bodies, with_token=st.booleans())
def test_unsubscribe(client, ann, body, with_token):
    path = link(ann, "unsubscribe")
    _post(client, path, _token(client, path), body, with_token)


@FUZZ
@given(body=bodies, with_token=st.booleans())
def test_preferences(client, ann, body, with_token):
    path = link(ann, "preferences")
    _post(client, path, _token(client, path), body, with_token)


@FUZZ
@given(
    route=st.sampled_from(["subscribe", "confirm", "unsubscribe", "preferences"]),
    token=st.one_of(st.text(min_size=1, max_size=300), st.sampled_from(["a.b", "..", "%00"])),
    body=bodies,
)
def test_arbitrary_tokens(client, ann, route, token, body):
    path = f"/{route}/{quote(token, safe='')}"
    before = counts()
    for page in (client.get(path), client.post(path, data=body)):
        assert page.status_code in ALLOWED | {308}, (page.status_code, path, page.location)
    assert counts() == before


def test_a_valid_submission_still_works_after_fuzzing_style_input(client, ann):
    page = subscribe(client, email="new@example.org", first_name="🙂 Zoë", consent_email="y")
    assert page.status_code == 200
    assert subscriber("new@example.org").first_name == "🙂 Zoë"
