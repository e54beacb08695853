"""Click tracking through the dispatcher and ``/r/<code>``: staff links rewritten at send
time (email HTML and text, SMS), a 302 to the step's own link with the click counted,
friendly 404s for anything else, scanners recorded but not counted, and a switch."""

from __future__ import annotations

import re
import threading

from sqlalchemy import select

from outreach.extensions import db
from outreach.models import Campaign, LinkClick, Message
from outreach.sending import run as sending
from outreach.tracking import codes
from tests.factories import make_campaign, make_subscriber
from tests.helpers import BASE_URL
from tests.sending import test_reconcile as case
from tests.sending.test_reconcile import june_first

fake = case.fake
audience = case.audience

JUNE = "https://clinic.example/june-awareness"
FAQ = "https://clinic.example/faq?topic=triggers&lang=en"
HTML = (
    f'<p>Read <a href="{JUNE}">our June guide</a> and '
    f'<a href="{FAQ.replace("&", "&amp;")}">the FAQ</a>.</p>'
)
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15"
CODE = re.compile(re.escape(BASE_URL) + r"/r/([A-Za-z0-9_-]+)")


def sent_email(fake, audience, clock, people: int = 1, track: bool = True):  # noqa: ANN001, ANN201
    for i in range(people):
        make_subscriber(audience, email=f"p{i}@example.org", phone=f"+1917555{i:04d}")
    campaign = make_campaign(audience, [{"channel": "email", "send_time": "10:00", "html": HTML}])
    campaign.track_links = track
    db.session.commit()
    june_first(clock, fake)
    fake.configure(keep_bodies=True)
    assert sending.dispatch_once().sent == people
    return campaign


def personal_html(fake, index: int = 0) -> str:  # noqa: ANN001
    """The HTML one recipient got, with their substitutions applied."""
    body = fake.email_bodies[0]
    html = next(c["value"] for c in body["content"] if c["type"] == "text/html")
    for tag, value in body["personalizations"][index].get("substitutions", {}).items():
        html = html.replace(tag, value)
    return html


def clicks() -> list[LinkClick]:
    db.session.expire_all()
    return list(db.session.scalars(select(LinkClick).order_by(LinkClick.id)))


def test_staff_links_are_rewritten_and_a_click_redirects_and_counts(
    app, client, clock, fake, audience
):
    sent_email(fake, audience, clock)
    html = personal_html(fake)
    found = CODE.findall(html)
    assert len(found) == 2 and JUNE not in html and "clinic.example/faq" not in html
    assert "/unsubscribe/" in html  # the footer's own links are not tracked

    first = client.get(f"/r/{found[0]}", headers={"User-Agent": BROWSER})
    assert first.status_code == 302 and first.headers["Location"] == JUNE
    second = client.get(f"/r/{found[1]}", headers={"User-Agent": BROWSER})
    assert second.headers["Location"] == FAQ  # the &amp; unescaped

    recorded = clicks()
    assert [c.link_position for c in recorded] == [1, 2]
    assert [c.human for c in recorded] == [False, False]  # both links within 2 s: a scanner
    assert {c.reason for c in recorded} == {"burst"}
    # the message no longer counts as clicked: its only "person" was the scanner
    assert db.session.scalar(select(Message)).clicked_at is None


def test_a_scanner_burst_arriving_all_at_once_is_still_seen(app, clock, fake, audience):
    """Requests for every link of one message at the same moment, on parallel connections:
    each click is judged after the one before it (the message's lock), so none of them
    is counted as a person's."""
    sent_email(fake, audience, clock)
    found = CODE.findall(personal_html(fake))
    db.session.remove()
    barrier = threading.Barrier(len(found) * 3)
    answers: list[int] = []

    def follow(code: str) -> None:
        with app.test_client() as own:
            barrier.wait(timeout=10)
            answers.append(own.get(f"/r/{code}", headers={"User-Agent": BROWSER}).status_code)

    threads = [threading.Thread(target=follow, args=(c,)) for c in found * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == [302] * len(threads)
    recorded = clicks()
    assert len(recorded) == len(threads)
    assert not any(c.human for c in recorded[1:])  # at most the very first, then re-marked
    assert not any(c.human for c in recorded)
    assert db.session.scalar(select(Message)).clicked_at is None


def test_a_person_clicking_one_link_is_counted_once_per_click(app, client, clock, fake, audience):
    sent_email(fake, audience, clock)
    code = CODE.findall(personal_html(fake))[0]
    for _ in range(2):
        assert client.get(f"/r/{code}", headers={"User-Agent": BROWSER}).status_code == 302
        clock.advance(minutes=5)
    assert [(c.human, c.reason) for c in clicks()] == [(True, None), (True, None)]
    message = db.session.scalar(select(Message))
    assert message.clicked_at is not None


def test_scanners_and_head_requests_are_recorded_but_not_counted(
    app, client, clock, fake, audience
):
    sent_email(fake, audience, clock)
    code = CODE.findall(personal_html(fake))[0]
    assert client.head(f"/r/{code}", headers={"User-Agent": BROWSER}).status_code == 302
    clock.advance(minutes=1)
    scanner = "Mozilla/5.0 (compatible; Barracuda Sentinel URL Scanner)"
    assert client.get(f"/r/{code}", headers={"User-Agent": scanner}).status_code == 302
    assert [(c.human, c.reason) for c in clicks()] == [(False, "head"), (False, "scanner")]
    assert db.session.scalar(select(Message)).clicked_at is None


def test_tampered_unknown_and_foreign_codes_get_a_friendly_404(app, client, clock, fake, audience):
    sent_email(fake, audience, clock)
    code = CODE.findall(personal_html(fake))[0]
    tampered = code[:3] + ("A" if code[3] != "A" else "B") + code[4:]
    message = db.session.scalar(select(Message))
    no_such_link = codes.encode(codes.derive_key(app.config["SECRET_KEY"]), message.id, 9)
    for bad in (tampered, "nonsense", no_such_link, "x" * 300):
        page = client.get(f"/r/{bad}")
        assert page.status_code == 404, bad
        assert "Location" not in page.headers
        assert "This link is not valid." in page.get_data(as_text=True)
    assert clicks() == []


def test_codes_carry_no_personal_data(app, clock, fake, audience):
    sent_email(fake, audience, clock, people=3)
    key = codes.derive_key(app.config["SECRET_KEY"])
    ids = {m.id for m in db.session.scalars(select(Message))}
    for index in range(3):
        html = personal_html(fake, index)
        for code in CODE.findall(html):
            message_id, position = codes.decode(key, code)
            assert message_id in ids and position in (1, 2)
            for secret in (f"p{index}", "example.org", "June", "917555"):
                assert secret.lower() not in code.lower()


def test_with_tracking_off_links_go_out_untouched(app, clock, fake, audience):
    sent_email(fake, audience, clock, track=False)
    html = personal_html(fake)
    assert f'href="{JUNE}"' in html and "/r/" not in html


def test_a_text_message_link_is_rewritten_to_a_short_code(app, client, clock, fake, audience):
    make_subscriber(audience, phone="+19175550100", email="t@example.org")
    make_campaign(
        audience,
        [{"channel": "sms", "send_time": "10:00",
          "body": f"June is Migraine Awareness Month. Learn more: {JUNE}"}],
    )  # fmt: skip
    june_first(clock, fake)
    assert sending.dispatch_once().sent == 1
    (text,) = fake.sent_sms
    (code,) = CODE.findall(text["body"])
    assert JUNE not in text["body"] and len(code) <= 16
    assert len(f"{BASE_URL}/r/{code}") - len(JUNE) < 30
    answer = client.get(f"/r/{code}", headers={"User-Agent": BROWSER})
    assert answer.headers["Location"] == JUNE


def test_the_campaign_switch_defaults_on(app, audience):
    campaign = make_campaign(audience, [{"channel": "email"}], schedule=False)
    assert db.session.get(Campaign, campaign.id).track_links is True
