"""Sample activity for the demo (``flask outreach demo --with-activity``): a clearly labelled
copy of the June campaign with sends, deliveries, clicks, scanner hits, consultation
requests and opt-outs, so the results page has something to show.

Everything is marked as sample data: its own audience (``SAMPLE_AUDIENCE``, "sample
activity" in its name), a campaign named "Sample activity: ...", people at
``sample-NN@example.org`` (a domain reserved for examples) with numbers in the fictional
555-01XX range, and "sample activity" in every ledger note. The campaign is ``done`` the
moment it is made, so nothing is ever sent. Outbox rows are written directly (there is no
provider to talk to); deliveries, clicks, scanners, requests and opt-outs go through the
real services (SendGrid events, ``/r/`` clicks, attribution, the request page's submit,
consent revocation). Running it again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import insert, select

from outreach import resources
from outreach.campaigns.files import load as campaign_files
from outreach.clock import now as clock_now
from outreach.consent import ledger as consent_ledger
from outreach.consent import signup, subscriptions
from outreach.consultations import attribution
from outreach.consultations import requests as consultation_requests
from outreach.extensions import db
from outreach.feedback import email_events
from outreach.models import Audience, Campaign, Message, Subscription, TrackedLink
from outreach.sending import compose
from outreach.tracking import clicks, codes

LABEL = "sample activity"
SAMPLE_NAME = "Sample activity: National Migraine and Headache Awareness Month 2027"
DEMO_NAME = "National Migraine and Headache Awareness Month 2027"
#: How many sample people (every one gets every step on the channels they have).
PEOPLE = 24
#: A person's browser, and two link scanners (counted apart, never as people).
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Safari/605.1.15"
SCANNER = "Mimecast URL Protect"


@dataclass(frozen=True)
class SampleSummary:
    """What a run made (all zero when the sample was already there)."""

    created: bool
    people: int = 0
    messages: int = 0
    clicks: int = 0
    scanner_hits: int = 0
    requests: int = 0
    opt_outs: int = 0


def sample_audience(demo: dict[str, object]) -> Audience:
    """The sample's own audience (the demo audience's identity, "sample activity" in its
    name), so the real June campaign never reaches sample people."""
    slug = f"{demo['slug']}-sample"
    audience = db.session.scalar(select(Audience).filter_by(slug=slug))
    if audience is None:
        name = f"{demo['name']} ({LABEL})"
        audience = Audience(**{**demo, "slug": slug, "name": name, "track_opens": True})
        db.session.add(audience)
        db.session.flush()
    return audience


def _people(audience: Audience) -> list[tuple[int, bool, bool]]:
    """Sign up the sample people (confirmed, evidence noted as sample activity); returns
    (subscriber id, has email, has phone)."""
    evidence = consent_ledger.Evidence(source="import", note=f"{LABEL} (demo data)")
    people = []
    for i in range(1, PEOPLE + 1):
        email = f"sample-{i:02d}@example.org"
        phone = f"+1917555{100 + i:04d}" if i % 3 else None  # 555-0101...: fictional
        channels = ("email", "sms") if phone else ("email",)
        person = signup.Signup(
            audience,
            email,
            phone,
            f"Sample{i:02d}",
            audience.default_timezone,
            channels,
            "es" if i % 5 == 0 else "en",
        )
        subscriber, _ = signup.sign_up(person, dict.fromkeys(channels, evidence), confirmed=True)
        people.append((subscriber.id, True, phone is not None))
    return people


def _messages(campaign: Campaign, people: list[tuple[int, bool, bool]]) -> dict[int, list[int]]:
    """Outbox rows of every step, sent over the last six days; {step id: message ids}."""
    now = clock_now()
    steps = sorted(campaign.steps, key=lambda s: s.position)
    rows = []
    for number, step in enumerate(steps):
        sent = now - timedelta(days=len(steps) - number, hours=-1)
        for subscriber_id, _, has_phone in people:
            if step.channel == "sms" and not has_phone:
                continue
            delivered = step.channel == "sms"  # texts: as if Twilio had called back
            rows.append(
                {
                    "campaign_id": campaign.id,
                    "step_id": step.id,
                    "subscriber_id": subscriber_id,
                    "channel": step.channel,
                    "state": "delivered" if delivered else "sent",
                    "due_at": sent,
                    "attempts": 1,
                    "provider_id": f"sample{step.id}x{subscriber_id}",
                    "sent_at": sent,
                    "delivered_at": sent + timedelta(seconds=20) if delivered else None,
                    "created_at": sent,
                    "updated_at": sent,
                }
            )
    db.session.execute(insert(Message), rows)
    by_step: dict[int, list[int]] = {step.id: [] for step in steps}
    for message_id, step_id in db.session.execute(
        select(Message.id, Message.step_id)
        .where(Message.campaign_id == campaign.id)
        .order_by(Message.id)
    ):
        by_step[step_id].append(message_id)
    return by_step


def _deliveries(campaign: Campaign, by_step: dict[int, list[int]]) -> None:
    """SendGrid's events for the emails: delivered (one in twelve deferred), and opens
    (the sample audience tracks them; some messages opened twice)."""
    events = []
    for step in campaign.steps:
        if step.channel != "email":
            continue
        for n, message_id in enumerate(by_step[step.id]):
            kind = "deferred" if n % 12 == 11 else "delivered"
            events.append(
                email_events.EmailEvent(
                    event_id=f"sample-{message_id}-{kind}", kind=kind, message_id=message_id
                )
            )
            events += [
                email_events.EmailEvent(
                    event_id=f"sample-{message_id}-open-{k}", kind="open", message_id=message_id
                )
                for k in range(n % 3 if kind == "delivered" else 0)
            ]
    email_events.handle_sendgrid_events(events)


def _register_links(campaign: Campaign) -> dict[int, dict[str, int]]:
    """Each step's tracked links, registered as the sender does; {step id: {url: number}}."""
    audience = campaign.audience
    for step in campaign.steps:
        if step.channel == "email":
            compose.track_email(step, compose.render_step_email(step, audience, "en"))
        else:
            compose.SmsComposer(step, audience)
    links: dict[int, dict[str, int]] = {}
    for step_id, url, position in db.session.execute(
        select(TrackedLink.step_id, TrackedLink.url, TrackedLink.position).where(
            TrackedLink.step_id.in_([s.id for s in campaign.steps])
        )
    ):
        links.setdefault(step_id, {})[url] = position
    return links


def _engagement(campaign: Campaign, by_step: dict[int, list[int]], summary: dict[str, int]) -> None:
    """Clicks (people and scanners) on the tracked links, requests from the request page,
    attributed to the click's message, as the page does it."""
    audience = campaign.audience
    key = codes.app_key()
    registered = _register_links(campaign)
    db.session.commit()  # a click is its own transaction on its own connection
    for step_id, urls in registered.items():
        request_link = next((p for u, p in urls.items() if "/request/" in u), None)
        for n, message_id in enumerate(by_step.get(step_id, [])):
            for position in urls.values():
                code = codes.encode(key, message_id, position)
                if n % 4 == 0:  # a mail filter checks every link first
                    clicks.follow(code, "GET", SCANNER)
                    summary["scanner_hits"] += 1
                if n % 9 == 1:
                    clicks.follow(code, "HEAD", BROWSER)
                    summary["scanner_hits"] += 1
            if request_link is None or n % 3 != 1:
                continue
            code = codes.encode(key, message_id, request_link)
            clicks.follow(code, "GET", BROWSER)
            summary["clicks"] += 1
            if n % 2:
                continue
            checked, problems = consultation_requests.check(
                consultation_requests.Typed(
                    name=f"Sample Person {n:02d}",
                    email=f"sample-request-{step_id}-{n:02d}@example.org",
                    contact_time="any",
                    note=f"{LABEL.capitalize()}: demo data, not a real person.",
                ),
                audience,
            )
            assert checked is not None, problems
            consultation_requests.submit(
                audience,
                checked,
                language="en",
                attribution=attribution.attribute([code], clock_now()),
            )
            summary["requests"] += 1


def _opt_outs(audience: Audience, people: list[tuple[int, bool, bool]]) -> int:
    """A few people withdraw (one email unsubscribe, two texts' STOP, as evidence says)."""
    chosen = [(people[1][0], "email"), (people[3][0], "sms"), (people[7][0], "sms")]
    done = 0
    for subscriber_id, channel in chosen:
        sub = db.session.scalar(
            select(Subscription).filter_by(
                subscriber_id=subscriber_id, audience_id=audience.id, channel=channel
            )
        )
        evidence = consent_ledger.Evidence(source="admin", note=f"{LABEL} (demo data)")
        if sub is not None and subscriptions.revoke(sub, evidence):
            done += 1
    return done


def seed(demo_audience: dict[str, object]) -> SampleSummary:
    """Make the sample campaign and its activity once; commits. Refuses nothing: a second
    run finds the campaign and returns ``created=False``."""
    if db.session.scalar(select(Campaign.id).filter_by(name=SAMPLE_NAME)) is not None:
        return SampleSummary(created=False)
    audience = sample_audience(demo_audience)
    text = resources.demo_campaign_file().read_text(encoding="utf-8")
    text = text.replace(f"name: {DEMO_NAME}", f"name: '{SAMPLE_NAME}'", 1)
    text = text.replace(f"audience: {demo_audience['slug']}", f"audience: {audience.slug}", 1)
    campaign = campaign_files.load(text)
    now = clock_now()
    campaign.status, campaign.started_at, campaign.finished_at = "done", now, now
    people = _people(audience)
    by_step = _messages(campaign, people)
    db.session.commit()
    _deliveries(campaign, by_step)
    summary = {"clicks": 0, "scanner_hits": 0, "requests": 0}
    _engagement(campaign, by_step, summary)
    opt_outs = _opt_outs(audience, people)
    db.session.commit()
    current_app.logger.info("demo sample activity created for campaign %s", campaign.id)
    return SampleSummary(
        created=True,
        people=len(people),
        messages=sum(len(ids) for ids in by_step.values()),
        opt_outs=opt_outs,
        **summary,
    )
