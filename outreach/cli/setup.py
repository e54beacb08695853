"""Getting started: staff logins, API tokens, the June demo."""

from __future__ import annotations

import click
from flask import current_app
from sqlalchemy import select

from outreach import resources
from outreach.campaigns import blocks as campaign_blocks
from outreach.campaigns.files import load as campaign_files
from outreach.cli.group import outreach_cli
from outreach.devtools import sample_activity
from outreach.extensions import db
from outreach.models import Audience, Campaign
from outreach.staff import accounts
from outreach.staff import api_tokens as staff_tokens
from outreach.staff import audit as staff_audit

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


@outreach_cli.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", type=click.Choice(["admin", "editor", "viewer"]), default="admin")
@click.option("--reset", is_flag=True, help="If the address has an account, set its password.")
def create_admin(email: str, password: str, role: str, reset: bool) -> None:
    """Create a staff user; for an address that already has an account, offer to reset its
    password instead (its sessions end; its role and second factor stay)."""
    try:
        existing = accounts.by_email(accounts.check_email(email))
    except accounts.StaffError as exc:
        raise click.ClickException(str(exc)) from None
    if existing is not None:
        if not (
            reset or click.confirm(f"{existing.email} already has an account. Reset its password?")
        ):
            raise click.ClickException("nothing changed")
        try:
            accounts.set_password(existing, password)
        except accounts.StaffError as exc:
            raise click.ClickException(str(exc)) from None
        staff_audit.audit(None, "staff.password_reset_cli", "staff", existing.id, existing.email)
        db.session.commit()
        click.echo(f"Password of {existing.email} reset; its other sessions have ended.")
        return
    try:
        user = accounts.create_staff(email, password, role)
    except accounts.StaffError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Created {user.role} {user.email}.")


@outreach_cli.command("create-api-token")
@click.option("--name", required=True, help="What the token is for, e.g. 'clinic CRM'.")
def create_api_token(name: str) -> None:
    """Create a bearer token for the JSON API; it is shown once."""
    row, plain = staff_tokens.create_api_token(name)
    db.session.commit()
    click.echo(
        f"Token {row.prefix}... created for {row.name!r}. Store it now; it is not shown again:"
    )
    click.echo(plain)


@outreach_cli.command("demo")
@click.option(
    "--with-activity",
    is_flag=True,
    help="Also add a labelled sample campaign with sends, clicks, requests and opt-outs "
    "(its own audience, example.org people; nothing is sent). Once only.",
)
def demo(with_activity: bool) -> None:
    """Load the June demo: the migraine-awareness audience, the June campaign, a staff login;
    with ``--with-activity``, sample results to look at."""

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
        campaign = campaign_files.load_path(resources.demo_campaign_file())
        click.echo(
            f"Campaign {campaign.name!r} loaded as a draft with {len(campaign.steps)} steps."
        )
    else:
        click.echo(f"Campaign {existing.name!r} already there.")
    if added := campaign_blocks.add_demo_blocks():
        click.echo(f"{added} saved blocks for the email editor (sign-off, consultation button).")
    db.session.commit()
    if with_activity:
        made = sample_activity.seed(DEMO_AUDIENCE)
        if made.created:
            click.echo(
                f"Sample activity: {sample_activity.SAMPLE_NAME!r} with {made.people} sample "
                f"people, {made.messages} messages, {made.clicks} clicks, {made.scanner_hits} "
                f"scanner hits, {made.requests} requests, {made.opt_outs} opt-outs "
                "(demo data: nothing was sent)."
            )
        else:
            click.echo(f"Sample activity {sample_activity.SAMPLE_NAME!r} already there.")
    from outreach.models import StaffUser

    if db.session.scalar(select(StaffUser).limit(1)) is None:
        import secrets

        password = secrets.token_urlsafe(12)
        accounts.create_staff("admin@outreach.local", password, "admin")
        db.session.commit()
        click.echo("Staff login (shown once): admin@outreach.local / " + password)
        click.echo("Log in at " + current_app.config["OUTREACH_BASE_URL"] + "/admin/login")
    else:
        click.echo(
            "Staff accounts already exist. To get a login: flask outreach create-admin "
            "--email you@clinic.example (on an existing address it offers a password reset)."
        )
