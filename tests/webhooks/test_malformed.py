"""Malformed webhook bodies get a 4xx (never a 500) and change nothing.

Signed bodies are used wherever the point is to reach the parser: an unsigned request
stops at the signature check (403) before anything is read.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from tests import helpers
from tests.helpers import post_twilio, sendgrid_headers, twilio_signature
from tests.webhooks.conftest import add_message, snapshot

SMS = "/webhooks/twilio/sms"
STATUS = "/webhooks/twilio/status"
EVENTS = "/webhooks/sendgrid/events"

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Any text, including controls, NULs and astral characters (no lone surrogates: forms
#: are UTF-8 on the wire).
texts = st.text(st.characters(codec="utf-8"), max_size=80)
twilio_keys = st.sampled_from(
    ["MessageSid", "SmsSid", "From", "To", "Body", "OptOutType", "MessageStatus", "SmsStatus",
     "ErrorCode", "AccountSid", "NumMedia"]
)  # fmt: skip
sids = texts | st.from_regex(r"SM[0-9a-f]{32}", fullmatch=True)
phones = texts | st.just("+19175550142") | st.from_regex(r"\+1[2-9][0-9]{9}", fullmatch=True)
statuses = texts | st.sampled_from(["queued", "sent", "delivered", "undelivered", "failed", "read"])
codes = texts | st.sampled_from(["", "21610", "30003", "30005", "30006", "30007"])
forms = st.lists(st.tuples(st.one_of(twilio_keys, texts), texts), max_size=8)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
#: Values of the wrong type for each field the service reads.
wrong_types = {
    "event": st.none()
    | st.integers()
    | st.lists(texts, max_size=2)
    | st.dictionaries(texts, st.none()),
    "sg_event_id": st.integers() | st.booleans() | st.lists(texts, max_size=2) | st.floats(),
    "email": st.integers()
    | st.booleans()
    | st.lists(texts, max_size=2)
    | st.dictionaries(texts, texts),
    "timestamp": texts | st.booleans() | st.lists(st.integers(), max_size=2),
    "message_id": st.floats() | st.booleans() | st.lists(st.integers(), max_size=2),
    "sg_message_id": st.integers() | st.booleans() | st.dictionaries(texts, texts),
    "type": st.integers() | st.booleans() | st.lists(texts, max_size=2),
    "reason": st.booleans() | st.lists(texts, max_size=2) | st.dictionaries(texts, texts),
    "status": st.booleans() | st.lists(texts, max_size=2),
}


def _good_event(n: int = 0, message_id: int | None = None) -> dict:
    event = {"event": "delivered", "sg_event_id": f"good-{n}", "email": "ann@example.org",
             "timestamp": 1_811_000_000, "sg_message_id": "xid.filter.1"}  # fmt: skip
    if message_id is not None:
        event["message_id"] = str(message_id)
    return event


def _refused(response, *codes: int) -> None:  # noqa: ANN001
    assert response.status_code in codes, (response.status_code, response.get_data()[:300])


@pytest.fixture
def world(app, ann, email_step, sms_step):  # noqa: ANN001, ANN201
    """Rows a stray request could touch: Ann's sent email and text."""
    add_message(email_step, ann, state="sent", provider_id="xid")
    add_message(sms_step, ann, state="sent", provider_id="SM" + "1" * 32)
    return ann


# --------------------------------------------------------------------------- Twilio


@FUZZ
@given(fields=forms)
def test_unsigned_random_forms_are_403(client, world, fields):
    before = snapshot()
    for path in (SMS, STATUS):
        _refused(client.post(path, data=MultiDict(fields)), 403)
    assert snapshot() == before


@FUZZ
@given(fields=forms)
def test_signed_random_forms_never_500(client, world, fields):
    data = MultiDict(fields)
    for path, ok in ((SMS, 200), (STATUS, 204)):
        before = snapshot()
        signature = twilio_signature(path, data)
        response = client.post(path, data=data, headers={"X-Twilio-Signature": signature})
        _refused(response, ok, 400)
        if response.status_code == 400:
            assert snapshot() == before


@FUZZ
@given(
    sid=sids,
    sender=phones,
    body=st.text(st.characters(codec="utf-8"), max_size=3000) | st.sampled_from(["STOP", "YES"]),
    opt_out=texts | st.sampled_from(["STOP", "START", "HELP", ""]),
    to=phones,
)
def test_signed_inbound_with_odd_values_never_500(client, world, sid, sender, body, opt_out, to):
    before = snapshot()
    params = {"MessageSid": sid, "From": sender, "To": to, "Body": body, "OptOutType": opt_out}
    response = post_twilio(client, SMS, params)
    _refused(response, 200, 400)
    if response.status_code == 400:
        assert snapshot() == before


@FUZZ
@given(
    sid=sids, status=statuses, code=codes, mid=texts | st.sampled_from(["1", "2", "0"]), to=phones
)
def test_signed_status_with_odd_values_never_500(client, world, sid, status, code, mid, to):
    path = f"{STATUS}?mid={quote(mid)}"
    before = snapshot()
    params = {"MessageSid": sid, "MessageStatus": status, "ErrorCode": code, "To": to}
    response = post_twilio(client, path, params)
    _refused(response, 204, 400)
    if response.status_code == 400:
        assert snapshot() == before


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", json.dumps({"MessageSid": "SM" + "2" * 32, "From": "+19175550142",
                                         "Body": "STOP"})),
        ("text/plain", "MessageSid=SM22&From=%2B19175550142&Body=STOP"),
        ("application/xml", "<xml/>"),
        ("application/octet-stream", "\x00\xff\xfe"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("path", [SMS, STATUS])
def test_wrong_content_types_are_refused(client, world, content_type, body, path):
    before = snapshot()
    unsigned = client.post(path, data=body, content_type=content_type)
    _refused(unsigned, 403)
    signed = client.post(
        path,
        data=body,
        content_type=content_type,
        headers={"X-Twilio-Signature": twilio_signature(path, {})},
    )
    _refused(signed, 400)
    assert snapshot() == before


@pytest.mark.parametrize("path", [SMS, STATUS, EVENTS])
def test_bodies_over_the_size_limit_are_413(app, client, world, path):
    before = snapshot()
    limit = app.config["MAX_CONTENT_LENGTH"]
    huge = b"Body=" + b"x" * limit
    headers = {"X-Twilio-Signature": "x", "Content-Type": "application/x-www-form-urlencoded"}
    if path == EVENTS:
        headers = {**sendgrid_headers("[]"), "Content-Type": "application/json"}
    _refused(client.post(path, data=huge, headers=headers), 413)
    assert snapshot() == before


def test_a_huge_text_under_the_size_limit_is_stored_cut_short(client, world):
    params = {"MessageSid": "SM" + "5" * 32, "From": "+19175550142", "Body": "x" * 600_000}
    _refused(post_twilio(client, SMS, params), 200)
    assert snapshot()["inbound_sms"][-1][4] == "x" * 1600


# --------------------------------------------------------------------------- SendGrid


def _post_signed(client, body: bytes | str):  # noqa: ANN001, ANN201
    """POST a body (any bytes) with a valid Signed Event Webhook signature."""
    raw = body.encode() if isinstance(body, str) else body
    stamp = "1811000000"
    signature = helpers._SENDGRID_KEY.sign(stamp.encode() + raw, ec.ECDSA(hashes.SHA256()))
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        "Content-Type": "application/json",
    }
    return client.post(EVENTS, data=raw, headers=headers)


@FUZZ
@given(body=st.binary(max_size=300))
def test_signed_random_bytes_never_500(client, world, body):
    before = snapshot()
    response = _post_signed(client, body)
    _refused(response, 200, 400)
    if response.status_code == 400:
        assert snapshot() == before


@FUZZ
@given(value=json_values.filter(lambda v: not isinstance(v, list)))
def test_signed_json_that_is_not_a_list_is_400(client, world, value):
    before = snapshot()
    _refused(_post_signed(client, json.dumps(value)), 400)
    assert snapshot() == before


@FUZZ
@given(
    field=st.sampled_from(sorted(wrong_types)),
    data=st.data(),
    position=st.integers(0, 3),
)
def test_an_event_with_a_wrongly_typed_field_refuses_the_batch(
    client, world, field, data, position
):
    bad = {**_good_event(99, 1), field: data.draw(wrong_types[field])}
    events = [_good_event(n, 1) for n in range(3)]
    events.insert(position, bad)
    before = snapshot()
    _refused(_post_signed(client, json.dumps(events)), 400)
    assert snapshot() == before


@FUZZ
@given(
    events=st.lists(
        st.fixed_dictionaries(
            {},
            optional={name: json_values for name in [*wrong_types, "attempt", "url"]},
        ),
        max_size=5,
    )
)
def test_signed_arbitrary_events_never_500(client, world, events):
    before = snapshot()
    response = _post_signed(client, json.dumps(events))
    _refused(response, 200, 400)
    if response.status_code == 400:
        assert snapshot() == before


@FUZZ
@given(cut=st.integers(1, 200))
def test_truncated_json_is_400(client, world, cut):
    body = json.dumps([_good_event(n, 1) for n in range(3)])
    cut = min(cut, len(body) - 1)
    before = snapshot()
    _refused(_post_signed(client, body[:-cut]), 400)
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,  # deeper than the JSON parser's recursion limit
        '[{"event": "delivered", "sg_event_id": "\\ud800"}]',  # a lone surrogate
        '[{"event": "delivered", "sg_event_id": "x", "message_id": ' + "9" * 5000 + "}]",
        "[" + ",".join(['{"event": "open"}'] * 3) + "]",  # no sg_event_id
        '[{"event": "", "sg_event_id": "x"}]',
        "\ufeff[]",  # a byte-order mark
        "",
        "null",
    ],
)
def test_pathological_json_is_400(client, world, body):
    before = snapshot()
    _refused(_post_signed(client, body), 400)
    assert snapshot() == before


def test_wrong_content_type_still_needs_a_signature_and_json(client, world):
    body = "event=delivered&sg_event_id=x"
    before = snapshot()
    _refused(client.post(EVENTS, data=body, content_type="application/x-www-form-urlencoded"), 403)
    headers = {**sendgrid_headers(body), "Content-Type": "application/x-www-form-urlencoded"}
    _refused(client.post(EVENTS, data=body, headers=headers), 400)
    assert snapshot() == before


def test_nul_bytes_and_controls_in_fields_are_harmless(client, world):
    event = {**_good_event(7, None), "sg_event_id": "nul\u0000id", "reason": "a\u0000b\u0007",
             "email": "ann@example.org\u0000", "event": "bounce", "type": "bounce"}  # fmt: skip
    response = _post_signed(client, json.dumps([event]))
    _refused(response, 200)
