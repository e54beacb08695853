"""Sending from a terminal: ``dispatch --once``, the ``worker``, campaign ``stats``."""

from __future__ import annotations

import contextlib
import json
import signal

import click
from flask import current_app

from outreach.cli.group import find_campaign, outreach_cli
from outreach.consent import confirmations
from outreach.results import reports
from outreach.sending import identity
from outreach.sending import materialise as materialising
from outreach.sending import run as sending


@outreach_cli.command("dispatch")
@click.option("--once", is_flag=True, required=True, help="Send everything due now, then exit.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def dispatch_command(once: bool, quiet: bool) -> None:
    """Materialise due steps and send everything due now."""

    materialised = materialising.materialise_due()
    total = sending.due_count()
    if quiet or total == 0:
        report = sending.dispatch_once()
    else:
        with click.progressbar(length=total, label="Dispatching", show_pos=True) as bar:
            report = sending.dispatch_once(progress=bar.update)
    report.materialised += materialised
    click.echo(
        f"materialised {report.materialised}, sent {report.sent}, skipped {report.skipped}, "
        f"deferred {report.deferred}, retried {report.retried}, failed {report.failed}, "
        f"unknown {report.unknown + report.recovered}"
    )
    for reason in report.paused_steps:
        click.echo(f"paused: {reason}")
    texts = confirmations.send_due()
    if texts:
        click.echo(f"deferred confirmation texts sent: {texts}")


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
    click.echo(f"worker {identity.worker_id()} running; Ctrl-C to stop")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()


@outreach_cli.command("stats")
@click.argument("campaign_ref")
@click.option(
    "--json", "as_json", is_flag=True, help="The numbers as JSON (as the API gives them)."
)
def stats(campaign_ref: str, as_json: bool) -> None:
    """The results dashboard's numbers for a campaign (id or name): by step and state,
    skip reasons, opt-outs, complaints."""

    campaign = find_campaign(campaign_ref)
    if as_json:
        click.echo(json.dumps(reports.campaign_results(campaign).to_dict(), indent=2))
        return
    for line in reports.stats_lines(campaign):
        click.echo(line)
