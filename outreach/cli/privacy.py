"""Consent evidence and privacy requests (export, erasure) from a terminal."""

from __future__ import annotations

import json
from pathlib import Path

import click

from outreach.cli.group import outreach_cli
from outreach.consent import evidence, privacy
from outreach.consent import signup as signups
from outreach.extensions import db


@outreach_cli.command("export-consent")
@click.argument("who")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json")
def export_consent(who: str, fmt: str) -> None:
    """Print one subscriber's consent ledger (WHO: email or phone)."""
    from outreach.audiences.contacts import InvalidContact, normalise_email, normalise_phone

    try:
        key = normalise_email(who) if "@" in who else normalise_phone(who)
    except InvalidContact as exc:
        raise click.ClickException(str(exc)) from None
    subscriber = (
        signups.find_subscriber(email=key) if "@" in who else signups.find_subscriber(phone=key)
    )
    if subscriber is None:
        raise click.ClickException("No subscriber with that email or phone.")
    if fmt == "json":
        click.echo(json.dumps(evidence.ledger_json(subscriber), indent=2))
    else:
        click.echo(evidence.ledger_csv(subscriber), nl=False)


@outreach_cli.group("privacy")
def privacy_cli() -> None:
    """Privacy requests: export or erase one subscriber's data."""


def _privacy_subject(who: str):  # noqa: ANN202
    from outreach.audiences.contacts import InvalidContact

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

    subscriber = _privacy_subject(who)
    if not yes:
        click.confirm(f"Erase subscriber {subscriber.public_id}? This cannot be undone", abort=True)
    try:
        report = privacy.erase(subscriber, note=note)
    except privacy.PrivacyError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Erased subscriber {report.subscriber_id}: {report.summary()}.")
