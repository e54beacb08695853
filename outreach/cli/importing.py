"""``flask outreach import``: a CSV file into an audience, with a report."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from outreach.audiences.imports import reading as import_reading
from outreach.audiences.imports import run as imports
from outreach.audiences.imports import settings as import_settings
from outreach.cli.group import outreach_cli
from outreach.extensions import db
from outreach.models import Audience


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

    audience = db.session.scalar(select(Audience).filter_by(slug=audience_slug))
    if audience is None:
        raise click.ClickException(f"No audience {audience_slug!r}.")
    try:
        info = import_reading.inspect_csv(file)
        guessed = import_reading.guess_mapping(info.header)
        mapping = import_settings.ColumnMapping(
            email=email_column or guessed.email,
            phone=phone_column or guessed.phone,
            first_name=first_name_column or guessed.first_name,
            timezone=timezone_column or guessed.timezone,
            language=guessed.language,
        )
        chosen = channels or tuple(
            c
            for c, column in (("email", mapping.email), ("sms", mapping.phone))
            if column and c in audience.channel_list
        )
        settings = import_settings.build_settings(
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
    except import_settings.ImportProblem as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"Importing {file.name} into {audience.slug}: "
        + ", ".join(f"{k}={v!r}" for k, v in vars(mapping).items() if v)
    )
    click.echo(
        import_settings.mode_explanation(audience, settings.consent_source, settings.consent_date)
    )
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
            f"Confirmation messages sent: {result.confirmations_sent}; texts waiting for "
            f"the morning where the person lives: {result.confirmations_deferred}; "
            f"not sent: {result.confirmations_not_sent}"
        )
    if result.rejected or result.partial:
        click.echo(f"Rows with problems (and why): {report_path}")
    elif report is None:
        report_path.unlink(missing_ok=True)
