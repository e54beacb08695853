"""``flask outreach ...`` (also the ``outreach`` command): operations from a terminal."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, ScriptInfo
from sqlalchemy import select

from config import PROJECT_ROOT
from outreach import consent, dispatch, staff
from outreach.extensions import db
from outreach.models import Audience, Campaign

outreach_cli = AppGroup("outreach", help="Outreach operations.")

DEMO_AUDIENCE = {
    "slug": "migraine-awareness",
    "name": "Migraine & Headache Awareness",
    "channels": "email,sms",
    "double_opt_in": True,
    "default_timezone": "America/New_York",
    "organisation_name": "NeuroMedici",
    "postal_address": "100 Example Avenue, Suite 200, Springfield, IL 62701, USA",
    "support_email": "care@neuromedici.example",
    "support_phone": "+1 (555) 010-2000",
    "from_email": "news@neuromedici.example",
    "sms_program_name": "NeuroMedici Migraine Awareness",
    "sms_frequency_text": "Up to 4 msgs/month in June",
}
DEMO_CAMPAIGN_FILE = PROJECT_ROOT / "templates" / "campaigns" / "june-migraine-awareness.yaml"


def register_cli(app: Flask) -> None:
    """Attach the ``outreach`` command group to an app."""
    from outreach.cli_campaign import campaign_cli

    if "campaign" not in outreach_cli.commands:
        outreach_cli.add_command(campaign_cli)
    app.cli.add_command(outreach_cli)


def main() -> None:
    """Entry point of the installed ``outreach`` command (same as ``flask outreach``)."""
    from wsgi import app  # noqa: F401  (fails with a one-line message on bad config)

    outreach_cli.main(
        args=sys.argv[1:], prog_name="outreach", obj=ScriptInfo(create_app=lambda: app)
    )


@outreach_cli.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", type=click.Choice(["admin", "editor", "viewer"]), default="admin")
def create_admin(email: str, password: str, role: str) -> None:
    """Create a staff user."""
    try:
        user = staff.create_staff(email, password, role)
    except staff.StaffError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Created {user.role} {user.email}.")


@outreach_cli.command("create-api-token")
@click.option("--name", required=True, help="What the token is for, e.g. 'clinic CRM'.")
def create_api_token(name: str) -> None:
    """Create a bearer token for the JSON API; it is shown once."""
    row, plain = staff.create_api_token(name)
    db.session.commit()
    click.echo(
        f"Token {row.prefix}... created for {row.name!r}. Store it now; it is not shown again:"
    )
    click.echo(plain)


@outreach_cli.command("demo")
def demo() -> None:
    """Load the June demo: the migraine-awareness audience, the June campaign, a staff login."""
    from outreach import campaign_files

    audience = db.session.scalar(select(Audience).filter_by(slug=DEMO_AUDIENCE["slug"]))
    if audience is None:
        audience = Audience(**DEMO_AUDIENCE)
        db.session.add(audience)
        db.session.flush()
        click.echo(f"Audience {audience.slug} created; public form at /subscribe/{audience.slug}")
    else:
        click.echo(f"Audience {audience.slug} already there.")
    existing = db.session.scalar(select(Campaign).where(Campaign.audience_id == audience.id))
    if existing is None:
        campaign = campaign_files.load_path(DEMO_CAMPAIGN_FILE)
        click.echo(
            f"Campaign {campaign.name!r} loaded as a draft with {len(campaign.steps)} steps."
        )
    else:
        click.echo(f"Campaign {existing.name!r} already there.")
    db.session.commit()
    from outreach.models import StaffUser

    if db.session.scalar(select(StaffUser).limit(1)) is None:
        import secrets

        password = secrets.token_urlsafe(12)
        staff.create_staff("admin@outreach.local", password, "admin")
        db.session.commit()
        click.echo("Staff login (shown once): admin@outreach.local / " + password)
        click.echo("Log in at " + current_app.config["OUTREACH_BASE_URL"] + "/admin/login")


@outreach_cli.command("dispatch")
@click.option("--once", is_flag=True, required=True, help="Send everything due now, then exit.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def dispatch_command(once: bool, quiet: bool) -> None:
    """Materialise due steps and send everything due now."""
    from outreach import outbox

    materialised = outbox.materialise_due()
    total = dispatch.due_count()
    if quiet or total == 0:
        report = dispatch.dispatch_once()
    else:
        with click.progressbar(length=total, label="Dispatching", show_pos=True) as bar:
            report = dispatch.dispatch_once(progress=bar.update)
    report.materialised += materialised
    click.echo(
        f"materialised {report.materialised}, sent {report.sent}, skipped {report.skipped}, "
        f"deferred {report.deferred}, retried {report.retried}, failed {report.failed}, "
        f"unknown {report.unknown + report.recovered}"
    )
    for reason in report.paused_steps:
        click.echo(f"paused: {reason}")


@outreach_cli.command("worker")
@click.option("--interval", default=15, show_default=True, help="Seconds between dispatch runs.")
def worker(interval: int) -> None:
    """Run the scheduler in the foreground (one of many workers; safe to run N)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    from outreach.scheduler import add_jobs

    scheduler = BlockingScheduler(timezone="UTC")
    add_jobs(current_app._get_current_object(), scheduler)  # noqa: SLF001
    for job in scheduler.get_jobs():
        job.reschedule("interval", seconds=interval)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    click.echo(f"worker {dispatch.WORKER_ID} running; Ctrl-C to stop")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()


@outreach_cli.command("export-consent")
@click.argument("who")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json")
def export_consent(who: str, fmt: str) -> None:
    """Print one subscriber's consent ledger (WHO: email or phone)."""
    from outreach import evidence
    from outreach.contacts import InvalidContact, normalise_email, normalise_phone

    try:
        key = normalise_email(who) if "@" in who else normalise_phone(who)
    except InvalidContact as exc:
        raise click.ClickException(str(exc)) from None
    subscriber = (
        consent.find_subscriber(email=key) if "@" in who else consent.find_subscriber(phone=key)
    )
    if subscriber is None:
        raise click.ClickException("No subscriber with that email or phone.")
    if fmt == "json":
        click.echo(json.dumps(evidence.ledger_json(subscriber), indent=2))
    else:
        click.echo(evidence.ledger_csv(subscriber), nl=False)


@outreach_cli.command("stats")
@click.argument("campaign_ref")
@click.option(
    "--json", "as_json", is_flag=True, help="The numbers as JSON (as the API gives them)."
)
def stats(campaign_ref: str, as_json: bool) -> None:
    """The results dashboard's numbers for a campaign (id or name): by step and state,
    skip reasons, opt-outs, complaints."""
    from outreach import reports

    campaign = _find_campaign(campaign_ref)
    if as_json:
        click.echo(json.dumps(reports.campaign_results(campaign).to_dict(), indent=2))
        return
    for line in reports.stats_lines(campaign):
        click.echo(line)


@outreach_cli.group("privacy")
def privacy_cli() -> None:
    """Privacy requests: export or erase one subscriber's data."""


def _privacy_subject(who: str):  # noqa: ANN202
    from outreach import privacy
    from outreach.contacts import InvalidContact

    try:
        subscriber = privacy.find(who)
    except InvalidContact as exc:
        raise click.ClickException(str(exc)) from None
    if subscriber is None:
        raise click.ClickException("No subscriber with that email, phone or id.")
    return subscriber


@privacy_cli.command("export")
@click.argument("who")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (default: print).",
)
def privacy_export(who: str, output: Path | None) -> None:
    """Everything held on one subscriber as JSON (WHO: email, phone or subscriber id)."""
    from outreach import privacy

    document = privacy.export(_privacy_subject(who))
    db.session.commit()
    text = json.dumps(document, indent=2)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        output.chmod(0o600)
        click.echo(f"Written to {output}.", err=True)


@privacy_cli.command("erase")
@click.argument("who")
@click.option("--note", default="", help="Request reference (no personal data), e.g. a ticket.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def privacy_erase(who: str, note: str, yes: bool) -> None:
    """Erase one subscriber (WHO: email, phone or subscriber id), keeping a hashed suppression
    so the address or number is never contacted again; the consent ledger is kept."""
    from outreach import privacy

    subscriber = _privacy_subject(who)
    if not yes:
        click.confirm(f"Erase subscriber {subscriber.public_id}? This cannot be undone", abort=True)
    try:
        report = privacy.erase(subscriber, note=note)
    except privacy.PrivacyError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Erased subscriber {report.subscriber_id}: {report.summary()}.")


def _find_campaign(ref: str) -> Campaign:
    campaign = (
        db.session.get(Campaign, int(ref))
        if ref.isdigit()
        else db.session.scalar(select(Campaign).filter_by(name=ref))
    )
    if campaign is None:
        raise click.ClickException(f"No campaign {ref!r}.")
    return campaign


def wait_for_database(seconds: float = 30.0) -> None:
    """Block until the database answers (used by workers starting with the database)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            db.session.execute(select(1))
            return
        except Exception:  # noqa: BLE001
            db.session.rollback()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@outreach_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--audience", "audience_slug", required=True, help="Slug of the audience.")
@click.option("--email-column", help="Column with email addresses (default: guessed).")
@click.option("--phone-column", help="Column with mobile numbers (default: guessed).")
@click.option("--first-name-column", help="Column with first names (default: guessed).")
@click.option("--timezone-column", help="Column with IANA time zones (default: guessed).")
@click.option(
    "--channel",
    "channels",
    multiple=True,
    type=click.Choice(["email", "sms"]),
    help="Channel(s) to import consent for (default: those with a column).",
)
@click.option("--consent-source", help="Where consent was given, e.g. 'clinic intake form'.")
@click.option("--consent-date", help="When consent was given, YYYY-MM-DD.")
@click.option("--region", default="US", show_default=True, help="Country for local numbers.")
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write rejected rows (default: FILE.rejected.csv when there are any).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def import_command(
    file: Path,
    audience_slug: str,
    email_column: str | None,
    phone_column: str | None,
    first_name_column: str | None,
    timezone_column: str | None,
    channels: tuple[str, ...],
    consent_source: str | None,
    consent_date: str | None,
    region: str,
    report: Path | None,
    quiet: bool,
) -> None:
    """Import subscribers from a CSV file (one streaming pass).

    With --consent-source and --consent-date (and an audience that allows single opt-in
    for imports) rows come in subscribed; otherwise they come in pending and each person
    gets a confirmation message. Suppressed and unsubscribed people are never re-subscribed.
    """
    from outreach import imports

    audience = db.session.scalar(select(Audience).filter_by(slug=audience_slug))
    if audience is None:
        raise click.ClickException(f"No audience {audience_slug!r}.")
    try:
        info = imports.inspect_csv(file)
        guessed = imports.guess_mapping(info.header)
        mapping = imports.ColumnMapping(
            email=email_column or guessed.email,
            phone=phone_column or guessed.phone,
            first_name=first_name_column or guessed.first_name,
            timezone=timezone_column or guessed.timezone,
        )
        chosen = channels or tuple(
            c
            for c, column in (("email", mapping.email), ("sms", mapping.phone))
            if column and c in audience.channel_list
        )
        settings = imports.build_settings(
            audience,
            info,
            mapping,
            chosen,
            consent_source=consent_source,
            consent_date=consent_date,
            actor_id=None,
            filename=file.name,
            region=region,
        )
    except imports.ImportProblem as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"Importing {file.name} into {audience.slug}: "
        + ", ".join(f"{k}={v!r}" for k, v in vars(mapping).items() if v)
    )
    click.echo(imports.mode_explanation(audience, settings.consent_source, settings.consent_date))
    report_path = report or file.with_name(file.name + ".rejected.csv")
    with report_path.open("w", newline="", encoding="utf-8") as out:
        if quiet:
            result = imports.run_import(file, settings, report=out)
        else:
            with click.progressbar(
                length=file.stat().st_size, label="Importing", show_percent=True
            ) as bar:
                done = [0]

                def advance(progress: imports.ImportResult) -> None:
                    bar.update(progress.bytes_read - done[0])
                    done[0] = progress.bytes_read

                result = imports.run_import(file, settings, report=out, progress=advance)
                bar.update(result.bytes_total - done[0])
    click.echo(
        f"{result.rows} rows: {result.active} subscribed, {result.pending} pending confirmation, "
        f"{result.already} already subscribed, {result.rejected} rejected, "
        f"{result.partial} partly imported"
    )
    if result.pending:
        click.echo(
            f"Confirmation messages sent: {result.confirmations_sent}, "
            f"not sent: {result.confirmations_not_sent}"
        )
    if result.rejected or result.partial:
        click.echo(f"Rows with problems (and why): {report_path}")
    elif report is None:
        report_path.unlink(missing_ok=True)
