"""The batch composer (``sending.fast_compose``) sends the very bytes the per-recipient path
sends: same subject, HTML and text parts, substitutions (first name, signed unsubscribe and
preference links, tracked link codes), headers and custom args, for generated steps and
subscribers; and what it sends still works (the links open the person's pages, the codes
name their message)."""

from __future__ import annotations

import json
import secrets
from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outreach.channels.base import personalize
from outreach.channels.sendgrid import SendGridChannel
from outreach.consent import tokens
from outreach.extensions import db
from outreach.models import Campaign, Step, StepVariant
from outreach.sending import compose, fast_compose
from outreach.sending.batch import Claimed, Recipient
from outreach.tracking import codes as link_codes
from tests.factories import make_audience


class _Accepted:
    status_code = 202
    headers = {"X-Message-Id": "sg-1"}


class CapturingChannel(SendGridChannel):
    """SendGridChannel whose requests are kept instead of posted."""

    def __init__(self) -> None:
        super().__init__("SG.test", api_host="http://sendgrid.invalid")
        self.bodies: list[bytes] = []

    def _post(self, body: bytes, count: int) -> _Accepted:  # type: ignore[override]
        self.bodies.append(body)
        return _Accepted()


names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)  # quotes, backslashes, accents, emoji, controls
links = st.sampled_from(
    [
        "https://example.org/a",
        "https://example.org/b?x=1&y=2",
        "http://example.com/path#frag",
        "https://outreach.example/request/x",
    ]
)


@st.composite
def steps(draw: st.DrawFn) -> dict:
    chosen = draw(st.lists(links, max_size=3))
    anchors = "".join(f'<a href="{url}">Read {n}</a> ' for n, url in enumerate(chosen))
    extra = draw(st.sampled_from(["", "{{ first_name }}, ", "Dear {{ first_name }}! "]))
    return {
        "subject": draw(st.sampled_from(["June news", "Hi {{ first_name }}", "Ünïcode ✓"])),
        "html": f"<p>{extra}{draw(names).replace('{', '')}</p><p>{anchors}</p>",
        "text": draw(st.sampled_from([None, "Plain {{ first_name }} https://example.org/t"])),
        "track_links": draw(st.booleans()),
        "spanish": draw(st.booleans()),
    }


people = st.lists(
    st.tuples(
        names,
        st.sampled_from(["en", "es", "fr"]),
        st.sampled_from(["a@example.org", 'o"dd\\@example.org', "ñ@exämple.org", ""]),
        # random ids, and ids itsdangerous compresses (its "." payloads)
        st.one_of(st.builds(secrets.token_urlsafe, st.just(16)), st.text("ab", min_size=1)),
    ),
    min_size=1,
    max_size=6,
)


def _step(audience, fields: dict) -> Step:  # noqa: ANN001
    campaign = Campaign(name="Fuzz", audience=audience, track_links=fields["track_links"])
    step = Step(position=0, channel="email", subject=fields["subject"], html=fields["html"],
                text=fields["text"], preheader="Soon", body="")  # fmt: skip
    campaign.steps.append(step)
    if fields["spanish"]:
        step.variants.append(
            StepVariant(language="es", subject="Hola", preheader="", html=fields["html"] + "!")
        )
    db.session.add(campaign)
    db.session.flush()
    return step


def _claimed(step: Step, persons: list[tuple[str, str, str, str]]) -> list[Claimed]:
    return [
        Claimed(
            message_id=1000 + n,
            step_id=step.id,
            campaign_id=step.campaign_id,
            channel="email",
            attempts=1,
            recipient=Recipient(
                id=n + 1,
                public_id=public_id,
                email=email or None,
                phone=None,
                first_name=first,
                timezone="UTC",
                language=language,
            ),
            request_id="abc123.7",
            claimed_at=datetime(2027, 6, 1),
        )
        for n, (first, language, email, public_id) in enumerate(persons)
    ]


def _bodies(call, step, audience, claimed) -> list[bytes]:  # noqa: ANN001
    channel = CapturingChannel()
    results = call(step, audience, claimed, channel, None)()
    assert sorted(r.message_id for r in results) == sorted(c.message_id for c in claimed)
    return channel.bodies


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fields=steps(), persons=people)
def test_the_batch_composer_sends_the_same_bytes_as_the_per_recipient_path(
    app, fields, persons
) -> None:
    audience = _audience()
    step = _step(audience, fields)
    claimed = _claimed(step, persons)

    old = _bodies(compose.provider_call, step, audience, claimed)
    new = _bodies(fast_compose.provider_call, step, audience, claimed)

    assert new == old
    db.session.rollback()


def _audience():  # noqa: ANN202
    from outreach.models import Audience

    return db.session.query(Audience).filter_by(slug="fuzz-list").first() or make_audience(
        slug="fuzz-list"
    )


def test_what_the_batch_composer_sends_opens_the_person_s_pages(app) -> None:
    audience = _audience()
    fields = {"subject": "Hi {{ first_name }}", "html": '<a href="https://example.org/a">A</a>',
              "text": None, "track_links": True, "spanish": False}  # fmt: skip
    step = _step(audience, fields)
    claimed = _claimed(step, [('Zoë "Z"', "en", "z@example.org", secrets.token_urlsafe(16))])
    channel = CapturingChannel()
    fast_compose.provider_call(step, audience, claimed, channel, None)()

    body = json.loads(channel.bodies[0])
    person = body["personalizations"][0]
    subs = person["substitutions"]
    html = personalize(next(c["value"] for c in body["content"] if c["type"] == "text/html"), subs)
    assert personalize(body["subject"], subs) == 'Hi Zoë "Z"'
    unsubscribe = subs["[%unsubscribe_url%]"].rsplit("/", 1)[-1]
    preferences = subs["[%preferences_url%]"].rsplit("/", 1)[-1]
    assert tokens.read_link_token(unsubscribe, "unsubscribe").public_id == (
        claimed[0].recipient.public_id
    )
    assert tokens.read_link_token(preferences, "preferences").audience_slug == "fuzz-list"
    assert f"unsubscribe-{unsubscribe}>" in person["headers"]["List-Unsubscribe"]
    code = subs["[%link_1%]"]
    assert f"/r/{code}" in html
    assert link_codes.decode(link_codes.app_key(), code) == (claimed[0].message_id, 1)
    assert person["custom_args"] == {"message_id": "1000", "request_id": "abc123.7"}


def test_other_channels_and_the_switch_use_the_per_recipient_path(app) -> None:
    assert fast_compose.enabled(CapturingChannel())
    app.config["OUTREACH_FAST_COMPOSE"] = False
    assert not fast_compose.enabled(CapturingChannel())
    app.config["OUTREACH_FAST_COMPOSE"] = True
    assert not fast_compose.enabled(object())  # SMTP, console: they read EmailRecipient
