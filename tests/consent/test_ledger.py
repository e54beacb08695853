"""The consent ledger: evidence on every row, append-only, and replayable into the
current subscription states."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select, text

from outreach.consent import ledger as consent_ledger
from outreach.consent import wording
from outreach.consent.ledger import LedgerIsAppendOnly
from outreach.extensions import db
from outreach.models import ConsentEvent, Subscriber, Subscription
from tests.factories import make_audience
from tests.helpers import post_twilio, submit_form
from tests.public.support import FORM, SLUG, confirm_path, link, subscribe, subscriber

BROWSER = {"REMOTE_ADDR": "203.0.113.9", "HTTP_USER_AGENT": "Mozilla/5.0 (Phone) Test/1.0"}


@pytest.fixture
def audience(app):  # noqa: ANN001, ANN201
    """The June audience, offering email and texts."""
    return make_audience()


def test_form_rows_carry_the_evidence(client, audience, clock):
    client.environ_base.update(BROWSER)
    subscribe(
        client, email="ann@example.org", phone="(917) 555-0142", consent_email="y", consent_sms="y"
    )
    ann = subscriber("ann@example.org")
    rows = consent_ledger.ledger_for(ann)
    assert [(r.channel, r.action) for r in rows] == [("email", "requested"), ("sms", "requested")]
    for row in rows:
        assert row.wording == wording.consent_wording(audience, row.channel)
        assert row.form_url == f"http://localhost{FORM}"
        assert row.ip_address == "203.0.113.9"
        assert row.user_agent == "Mozilla/5.0 (Phone) Test/1.0"
        assert row.source == "web_form" and row.actor_id is None
        assert row.audience_id == audience.id and row.resulting_state == "pending"
        assert row.created_at == clock()
    clock.advance(minutes=5)
    submit_form(client, confirm_path("ann@example.org"), {})
    confirmed = consent_ledger.ledger_for(ann)[-1]
    assert (confirmed.action, confirmed.source) == ("confirmed", "web_form")
    assert confirmed.ip_address == "203.0.113.9" and confirmed.created_at == clock()
    assert confirmed.wording == wording.consent_wording(audience, "email")
    assert "/confirm/" in confirmed.form_url


def test_form_rows_cannot_be_changed_or_deleted(client, audience):
    subscribe(client, email="ann@example.org", consent_email="y")
    [row] = consent_ledger.ledger_for(subscriber("ann@example.org"))
    row.wording = "something else"
    with pytest.raises(LedgerIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.get(ConsentEvent, row.id))
    with pytest.raises(LedgerIsAppendOnly):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(Exception, match="append-only"):
        db.session.execute(text("UPDATE consent_events SET wording = 'x'"))
    db.session.rollback()
    assert db.session.get(ConsentEvent, row.id).wording.startswith("Yes, email me")


def test_no_public_code_path_updates_or_deletes_ledger_rows(app, client, audience, clock):
    """Every public action, with each SQL statement watched and the ledger re-read after."""
    statements: list[str] = []

    def watch(conn, cursor, statement, params, context, executemany):  # noqa: ANN001
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", watch)
    snapshots: list[list[tuple]] = []

    def snapshot() -> None:
        db.session.expire_all()
        rows = db.session.execute(select(ConsentEvent.__table__)).all()
        snapshots.append([tuple(r) for r in rows])

    try:
        subscribe(
            client,
            email="ann@example.org",
            phone="(917) 555-0142",
            consent_email="y",
            consent_sms="y",
        )
        snapshot()
        ann = subscriber("ann@example.org")
        steps = [
            lambda: submit_form(client, confirm_path("ann@example.org"), {}),
            lambda: post_twilio(
                client,
                "/webhooks/twilio/sms",
                {"MessageSid": "SM" + "1" * 32, "From": "+19175550142", "Body": "YES"},
            ),
            lambda: submit_form(
                client,
                link(ann, "preferences"),
                {"keep": [f"{SLUG}:sms"], "timezone": "Europe/Lisbon"},
            ),
            lambda: submit_form(
                client, link(ann, "preferences"), {"keep": [f"{SLUG}:sms", f"{SLUG}:email"]}
            ),
            lambda: client.post(link(ann, "unsubscribe"), data={"List-Unsubscribe": "One-Click"}),
            lambda: post_twilio(
                client,
                "/webhooks/twilio/sms",
                {"MessageSid": "SM" + "2" * 32, "From": "+19175550142", "Body": "STOP"},
            ),
            lambda: submit_form(client, link(ann, "unsubscribe"), {"everything": "y"}),
        ]
        for step in steps:
            clock.advance(minutes=1)
            assert step().status_code == 200
            snapshot()
    finally:
        event.remove(db.engine, "before_cursor_execute", watch)
    for earlier, later in itertools.pairwise(snapshots):
        assert later[: len(earlier)] == earlier  # old rows unchanged, new rows appended
        assert len(later) >= len(earlier)
    assert len(snapshots[-1]) > len(snapshots[0])
    touching = re.compile(r"^\s*(UPDATE|DELETE FROM)\s+\"?consent_events", re.IGNORECASE)
    assert not [s for s in statements if touching.match(s)]


# --------------------------------------------------------------------------- replay


@pytest.fixture
def lists(app):  # noqa: ANN001, ANN201
    """Two audiences, so preferences and "everything" span more than one list."""
    return make_audience(), make_audience(slug="headache-tips", name="Headache tips")


_numbers = itertools.count(1000)

SUBSCRIBE = st.tuples(
    st.just("subscribe"),
    st.sampled_from([("email",), ("sms",), ("email", "sms")]),
    st.sampled_from([SLUG, "headache-tips"]),
)
ACTIONS = st.one_of(
    SUBSCRIBE,
    st.tuples(st.just("confirm"), st.sampled_from([SLUG, "headache-tips"])),
    st.tuples(st.just("one_click"), st.sampled_from(["email", "sms"])),
    st.tuples(st.just("unsubscribe_page"), st.booleans()),
    st.tuples(st.just("sms"), st.sampled_from(["STOP", "START", "YES", "stop all", "hello"])),
    st.tuples(
        st.just("preferences"),
        st.sets(st.sampled_from(["email", "sms", "tips"])),
        st.sampled_from(["email", "sms"]),
    ),
)


def _people(email: str, phone: str) -> list[Subscriber]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Subscriber)
            .where((Subscriber.email == email) | (Subscriber.phone == phone))
            .order_by(Subscriber.id)
        )
    )


def _act(client, action: tuple, email: str, phone: str, n: int) -> None:  # noqa: ANN001
    people = _people(email, phone)
    person = people[0] if people else None
    kind = action[0]
    if kind == "subscribe":
        fields = {"email": email, "phone": phone}
        fields.update({f"consent_{c}": "y" for c in action[1]})
        assert submit_form(client, f"/subscribe/{action[2]}", fields).status_code == 200
    elif kind == "sms":
        params = {"MessageSid": f"SM{n:032d}", "From": phone, "Body": action[1]}
        assert post_twilio(client, "/webhooks/twilio/sms", params).status_code == 200
    elif person is None:
        return
    elif kind == "confirm":
        path = link(person, "confirm", slug=action[1])
        page = client.get(path)  # 400: no pending email on that list
        if page.status_code == 200 and 'id="already-confirmed"' not in page.get_data(as_text=True):
            assert submit_form(client, path, {}).status_code == 200
    elif kind == "one_click":
        path = link(person, "unsubscribe", channel=action[1])
        assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    elif kind == "unsubscribe_page":
        data = {"everything": "y"} if action[1] else {}
        assert submit_form(client, link(person, "unsubscribe"), data).status_code == 200
    elif kind == "preferences":
        keep = [f"{SLUG}:{c}" for c in action[1] if c != "tips"]
        keep += ["headache-tips:email"] if "tips" in action[1] else []
        path = link(person, "preferences", channel=action[2])
        assert submit_form(client, path, {"keep": keep}).status_code == 200


@settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(first=SUBSCRIBE, actions=st.lists(ACTIONS, max_size=8))
def test_replaying_the_ledger_gives_the_current_states(lists, client, clock, first, actions):
    """Random sequences of public actions; each example uses a person of its own."""
    actions = [first, *actions]
    n = next(_numbers)
    email, phone = f"person{n}@example.org", f"+1646201{n % 10000:04d}"
    for index, action in enumerate(actions):
        clock.advance(seconds=1)
        _act(client, action, email, phone, n * 100 + index)
    for person in _people(email, phone):
        current = {
            (s.audience_id, s.channel): s.state
            for s in db.session.scalars(select(Subscription).filter_by(subscriber_id=person.id))
        }
        assert consent_ledger.replay(consent_ledger.ledger_for(person)) == current
