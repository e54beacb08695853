"""``flask outreach campaign ...``: a whole campaign as one YAML file (validate, load, export)."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from outreach.campaigns.files import check as campaign_check
from outreach.campaigns.files import export as campaign_export
from outreach.campaigns.files import load as campaign_files
from outreach.campaigns.files import parse as campaign_parse
from outreach.campaigns.files import problems as file_problems
from outreach.campaigns.lifecycle import LifecycleError
from outreach.extensions import db
from outreach.models import Campaign

campaign_cli = AppGroup("campaign", help="Campaign files: validate, load and export YAML.")

_FILE = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)


def _where(path: Path, problem: file_problems.Problem) -> str:
    return (
        f"{path}:{problem.line}: {problem.message}"
        if problem.line
        else f"{path}: {problem.message}"
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        click.echo(f"{path}: not UTF-8 text ({exc.reason})", err=True)
        raise SystemExit(1) from None


@campaign_cli.command("validate")
@click.argument("file", type=_FILE)
def validate_command(file: Path) -> None:
    """Check FILE without writing anything; exit 1 if it has errors (warnings alone: 0)."""
    text = _read(file)
    problems = campaign_check.validate(text)
    for problem in problems:
        click.echo(_where(file, problem))
    if any(not p.is_warning for p in problems):
        errors = sum(1 for p in problems if not p.is_warning)
        click.echo(f"{errors} error(s)", err=True)
        raise SystemExit(1)
    steps = len(campaign_parse.parse(text)["steps"])
    warned = len(problems)
    click.echo(f"ok: {steps} steps" + (f", {warned} warning(s)" if warned else ""))


@campaign_cli.command("load")
@click.argument("file", type=_FILE)
@click.option("--schedule", is_flag=True, help="Schedule it too (only if preflight passes).")
def load_command(file: Path, schedule: bool) -> None:
    """Create or replace the draft campaign described by FILE (and commit)."""
    text = _read(file)
    warnings = [p for p in campaign_check.validate(text) if p.is_warning]
    try:
        existed = _find(text)
        campaign = campaign_files.load(text, schedule=schedule)
    except file_problems.CampaignFileError as exc:
        db.session.rollback()
        for problem in exc.problems:
            click.echo(_where(file, problem), err=True)
        click.echo("nothing was changed", err=True)
        raise SystemExit(1) from None
    except LifecycleError as exc:
        db.session.rollback()
        click.echo(f"{file}: {exc}; nothing was changed", err=True)
        raise SystemExit(1) from None
    db.session.commit()
    verb = "updated" if existed else "created"
    click.echo(
        f"Campaign {campaign.name!r} (id {campaign.id}) {verb} with "
        f"{len(campaign.steps)} steps; status: {campaign.status}."
    )
    for problem in warnings:
        click.echo(_where(file, problem))


def _find(text: str) -> bool:
    """Whether a campaign with the file's name exists already (False if it does not parse)."""
    try:
        name = campaign_parse.parse(text)["name"]
    except file_problems.CampaignFileError:
        return False
    return db.session.scalar(select(Campaign.id).where(Campaign.name == name)) is not None


@campaign_cli.command("export")
@click.argument("campaign_ref", metavar="CAMPAIGN")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file."
)
def export_command(campaign_ref: str, output: Path | None) -> None:
    """Write CAMPAIGN (id or name) as one YAML file, to stdout or -o FILE."""
    campaign = None
    if campaign_ref.isdigit():
        campaign = db.session.get(Campaign, int(campaign_ref))
    if campaign is None:
        campaign = db.session.scalar(select(Campaign).where(Campaign.name == campaign_ref))
    if campaign is None:
        raise click.ClickException(f"No campaign {campaign_ref!r} (give its id or exact name).")
    text = campaign_export.export(campaign)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {output} ({len(campaign.steps)} steps).", err=True)
