"""Email: recipients per second claimed, rendered, sent and recorded through SendGridChannel.

Ours: a worker process (bench.worker: the real ``dispatch.dispatch_channel``) on
PostgreSQL, sending to the fake SendGrid in its own process. Compared with
(o) the old path: the same worker with ``OUTREACH_FAST_COMPOSE=0`` (each recipient
    composed on its own), measured in the same run,
(a) the naive loop: one ``SendGridAPIClient.send`` per recipient, row updated and committed
    one by one (measured for a few seconds), and
(b) the ceiling: the same request bodies built in advance and posted on one keep-alive
    connection, no database.
A profile of the email path (pyinstrument) is written to bench/results/email_profile.txt.

    python -m bench.emails [--quick] [--rows N]
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import requests
import sqlalchemy as sa

from bench.common import (
    FakeProcess,
    Figure,
    bench_worker,
    cli,
    database,
    make_app,
    make_campaign,
    materialise,
    queued_step,
    report,
    states,
    worker_env,
)
from bench.smtp_relay import LocalRelay
from outreach.rendering import templates
from outreach.sending import compose

RESULTS = Path(__file__).resolve().parent / "results"


def naive_loop(fake_url: str, seconds: float) -> float:
    """One SendGridAPIClient.send per recipient, one UPDATE + COMMIT per row; recipients/s."""
    import sendgrid
    from sendgrid.helpers.mail import CustomArg, Mail, Personalization, To

    from outreach.extensions import db
    from outreach.models import Audience, Message, Step, Subscriber

    client = sendgrid.SendGridAPIClient("SG.bench", host=fake_url)
    done = 0
    started = time.perf_counter()
    rows = db.session.execute(
        sa.select(Message.id, Message.step_id, Subscriber.public_id, Subscriber.email)
        .join(Subscriber, Subscriber.id == Message.subscriber_id)
        .where(Message.state == "queued")
        .order_by(Message.id)
        .limit(50_000)
    ).all()
    step = db.session.get(Step, rows[0][1])
    audience = db.session.get(Audience, step.campaign.audience_id)
    rendered = compose.render_step_email(step, audience)
    for message_id, _, public_id, email in rows:
        links = compose.personal_links(public_id, audience, "email")
        subs = {
            templates.tag("first_name"): "Reader",
            templates.tag("unsubscribe_url"): links["unsubscribe_url"],
            templates.tag("preferences_url"): links["preferences_url"],
        }
        mail = Mail(from_email=audience.from_email, subject=rendered.subject)
        mail.add_content(rendered.text, "text/plain")
        mail.add_content(rendered.html, "text/html")
        person = Personalization()
        person.add_to(To(email))
        for key, value in subs.items():
            person.add_substitution(sendgrid.helpers.mail.Substitution(key, value))
        person.add_custom_arg(CustomArg("message_id", str(message_id)))
        mail.add_personalization(person)
        response = client.send(mail)
        message = db.session.get(Message, message_id)
        message.state = "sent"
        message.provider_id = response.headers.get("X-Message-Id")
        db.session.commit()
        done += 1
        if time.perf_counter() - started > seconds:
            break
    return done / (time.perf_counter() - started)


def ceiling(fake_url: str, bodies: list[bytes], per_body: int, seconds: float) -> float:
    """Pre-built Mail Send bodies posted on one keep-alive connection; recipients/s."""
    session = requests.Session()
    headers = {"Authorization": "Bearer SG.bench", "Content-Type": "application/json"}
    sent = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for body in bodies:
            response = session.post(f"{fake_url}/v3/mail/send", data=body, headers=headers)
            assert response.status_code == 202, response.status_code
            sent += per_body
    rate = sent / (time.perf_counter() - started)
    session.close()
    return rate


def prebuilt_bodies(count: int, per_body: int = 1000) -> list[bytes]:
    """Request bodies shaped exactly like SendGridChannel's (rendered once, outside timing)."""
    from outreach.channels.base import EmailBatch, EmailRecipient
    from outreach.channels.sendgrid import SendGridChannel, _dumps
    from outreach.extensions import db
    from outreach.models import Audience, Step

    step = db.session.scalar(sa.select(Step).limit(1))
    audience = db.session.get(Audience, step.campaign.audience_id)
    rendered = compose.render_step_email(step, audience)
    bodies = []
    for b in range(count):
        recipients = []
        for i in range(per_body):
            url = f"https://outreach.bench.example/unsubscribe/{'x' * 90}{b}-{i}"
            subs = {
                templates.tag("first_name"): "Reader",
                templates.tag("unsubscribe_url"): url,
                templates.tag("preferences_url"): url.replace("unsubscribe", "preferences"),
            }
            recipients.append(
                EmailRecipient(
                    message_id=b * per_body + i + 1,
                    to=f"reader{i}@example.org",
                    substitutions=subs,
                    headers=compose.unsubscribe_headers(url),
                )
            )
        batch = EmailBatch(
            from_email=audience.from_email,
            from_name=audience.organisation_name,
            subject=rendered.subject,
            html=rendered.html,
            text=rendered.text,
            recipients=tuple(recipients),
            categories=("outreach", "campaign-1", "step-1"),
        )
        common = _dumps(SendGridChannel.common_fields(batch))
        items = ",".join(_dumps(SendGridChannel.personalization(r)) for r in recipients)
        bodies.append(('{"personalizations":[' + items + "]," + common[1:]).encode())
    return bodies


def smtp_send(audience_id: int, env: dict[str, str], rows: int) -> dict:
    """The same step to the first ``rows`` subscribers through SmtpChannel and a local
    aiosmtpd relay (OUTREACH_EMAIL_CHANNEL=smtp); the worker's figures plus the relay's."""
    from outreach.extensions import db

    make_campaign(audience_id, "email", name="Email SMTP")
    materialise()
    last = db.session.scalar(
        sa.text(
            "SELECT id FROM outbox_messages WHERE state = 'queued' ORDER BY id "
            f"LIMIT 1 OFFSET {rows - 1}"
        )
    )
    db.session.execute(
        sa.text(
            "UPDATE outbox_messages SET state = 'cancelled' WHERE state = 'queued' AND id > :last"
        ),
        {"last": last},
    )
    db.session.commit()
    db.session.remove()
    with LocalRelay() as relay:
        result = bench_worker(
            {**env, "OUTREACH_EMAIL_CHANNEL": "smtp", "OUTREACH_SMTP_URL": relay.url}, "email"
        )
        received, duplicates, connections = relay.handler.counts()
    counted = states()
    assert counted.get("sent") == rows and received == rows and not duplicates, (
        counted,
        received,
        duplicates,
    )
    result.update(relay_messages=received, relay_duplicates=duplicates, connections=connections)
    db.session.execute(sa.text("DELETE FROM outbox_messages"))
    db.session.commit()
    return result


def run(
    quick: bool = False, rows: int = 100_000, profile_rows: int = 20_000, smtp_rows: int = 20_000
) -> list[Figure]:
    """Seed, send with our worker (SendGrid, then SMTP), then the naive loop and the
    ceiling; returns figures."""
    if quick:
        rows, profile_rows, smtp_rows = 2_000, 0, 500
    RESULTS.mkdir(exist_ok=True)
    with FakeProcess() as fake, database("postgresql", "outreach_bench_email") as url:
        app = make_app(url)
        with app.app_context():
            from outreach.extensions import db

            audience_id, added, seconds = queued_step(rows, "email", name="Email A")
            print(f"  email: materialised {added:,} rows in {seconds:.2f}s")
            db.session.remove()
            env = worker_env(url, fake.url)
            ours = bench_worker(env, "email")
            print(f"  email: ours {json.dumps(ours)}")
            counted = states()
            stats = fake.stats()
            assert counted == {"sent": rows}, counted
            assert stats["emails"] == rows and stats["duplicate_emails"] == 0, stats

            # The old path in the same run: each recipient composed on its own
            # (OUTREACH_FAST_COMPOSE=0: dictionaries, an EmailRecipient, json.dumps).
            db.session.execute(sa.text("DELETE FROM outbox_messages"))
            db.session.commit()
            make_campaign(audience_id, "email", name="Email old path")
            materialise()
            db.session.remove()
            old_path = bench_worker({**env, "OUTREACH_FAST_COMPOSE": "0"}, "email")
            print(f"  email: old path {json.dumps(old_path)}")
            assert states() == {"sent": rows}

            # The same send with one lane (OUTREACH_EMAIL_CONCURRENCY=1), for the analysis.
            db.session.execute(sa.text("DELETE FROM outbox_messages"))
            db.session.commit()
            make_campaign(audience_id, "email", name="Email one lane")
            materialise()
            db.session.remove()
            one_lane = bench_worker({**env, "OUTREACH_EMAIL_CONCURRENCY": "1"}, "email")
            print(f"  email: one lane {json.dumps(one_lane)}")
            db.session.execute(sa.text("DELETE FROM outbox_messages"))
            db.session.commit()

            smtp = smtp_send(audience_id, env, smtp_rows)
            print(f"  email: smtp {json.dumps(smtp)}")

            profile_note = ""
            if profile_rows:
                make_campaign(audience_id, "email", name="Email profile")
                materialise()
                db.session.execute(
                    sa.text(
                        "UPDATE outbox_messages SET state = 'cancelled' WHERE id IN ("
                        "SELECT id FROM outbox_messages WHERE state = 'queued' "
                        f"ORDER BY id OFFSET {profile_rows})"
                    )
                )
                db.session.commit()
                db.session.remove()
                path = RESULTS / "email_profile.txt"
                # One lane: pyinstrument follows one thread, and one lane's profile reads
                # as the path of a batch.
                one = {**env, "OUTREACH_EMAIL_CONCURRENCY": "1"}
                profiled = bench_worker(one, "email", profile=str(path))
                profile_note = f"; profile of {profiled['sent']:,} sends: {path.name}"
                db.session.execute(sa.text("DELETE FROM outbox_messages"))
                db.session.commit()

            make_campaign(audience_id, "email", name="Email naive")
            materialise()
            naive = naive_loop(fake.url, 2.0 if quick else 5.0)
            bodies = prebuilt_bodies(2 if quick else 10)
            top = ceiling(fake.url, bodies, 1000, 2.0 if quick else 5.0)
            db.session.remove()
    rate = ours["rate"]
    return [
        Figure(
            name="email recipients/s (claim+render+send+record)",
            ours=rate,
            unit="/s",
            target=">= 50,000 /s",
            passed=rate >= 50_000,
            baseline=old_path["rate"],
            baseline_note="old path: per-recipient compose (OUTREACH_FAST_COMPOSE=0)",
            note=(
                f"worker CPU {ours['cpu_us_per_sent']:,.0f} us per recipient (old path "
                f"{old_path['cpu_us_per_sent']:,.0f} us); "
                f"naive loop (1 send per recipient) {naive:,.0f}/s; "
                f"{rows:,} recipients in {ours['seconds']:.1f}s with "
                f"{env.get('OUTREACH_EMAIL_CONCURRENCY', '2')} lanes (one lane: "
                f"{one_lane['rate']:,.0f}/s), peak RSS {ours['wait4_maxrss_mb']:.0f} MB"
                f"{profile_note}"
            ),
        ),
        Figure(
            name="email recipients/s through SMTP (a local relay)",
            ours=smtp["rate"],
            unit="/s",
            target="report",
            passed=None,
            baseline=rate,
            baseline_note="the SendGrid path above",
            note=(
                f"{smtp['sent']:,} recipients in {smtp['seconds']:.1f}s, one SMTP transaction "
                f"each over {smtp['connections']:,} connections (one per batch); relay got "
                f"{smtp['relay_messages']:,}, duplicates {smtp['relay_duplicates']}"
            ),
        ),
        Figure(
            name="email: our rate / ceiling",
            ours=rate / top,
            unit="",
            target="report",
            passed=None,
            baseline=top,
            baseline_note="ceiling /s: pre-built bodies, keep-alive, no DB",
            note=f"{rate / naive:,.0f}x the naive loop",
        ),
    ]


def main() -> None:
    """Command line entry point."""
    parser = cli(__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    report("Email", run(args.quick, args.rows), args.json)


if __name__ == "__main__":
    main()
