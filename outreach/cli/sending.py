"""Sending from a terminal: ``dispatch --once``, ``reconcile``, the ``worker``, campaign
``stats``."""

from __future__ import annotations

import json

import click
from flask import current_app

from outreach.cli.group import find_campaign, outreach_cli
from outreach.consent import confirmations
from outreach.operations import heartbeats, metrics
from outreach.results import languages, opens, reports, stats_text
from outreach.sending import identity, stopping
from outreach.sending import materialise as materialising
from outreach.sending import reconcile as reconciliation
from outreach.sending import run as sending


@outreach_cli.command("dispatch")
@click.option("--once", is_flag=True, required=True, help="Send everything due now, then exit.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def dispatch_command(once: bool, quiet: bool) -> None:
    """Materialise due steps and send everything due now.

    SIGTERM or Ctrl-C finishes and records the batch in flight, leaves the rest queued and
    exits 0; a second signal exits at once."""

    with stopping.on_signals(lambda message: click.echo(message, err=True)), heartbeats.running():
        materialised = materialising.materialise_due()
        total = sending.due_count()
        if quiet or total == 0:
            report = sending.dispatch_once()
        else:
            with click.progressbar(length=total, label="Dispatching", show_pos=True) as bar:
                report = sending.dispatch_once(progress=bar.update)
        stopped = stopping.requested()
        texts = 0 if stopped else confirmations.send_due()
    report.materialised += materialised
    click.echo(
        f"materialised {report.materialised}, sent {report.sent}, skipped {report.skipped}, "
        f"deferred {report.deferred}, retried {report.retried}, failed {report.failed}, "
        f"unknown {report.unknown + report.recovered}"
    )
    for reason in report.paused_steps:
        click.echo(f"paused: {reason}")
    if texts:
        click.echo(f"deferred confirmation texts sent: {texts}")
    if stopped:
        click.echo("stopped by a signal: the rest stays queued for the next run")


@outreach_cli.command("reconcile")
def reconcile_command() -> None:
    """Settle ``unknown`` rows now: ask Twilio's message list about each text, and re-queue
    (once) email SendGrid never reported (workers also do this every minute)."""
    report = reconciliation.reconcile()
    click.echo(report.summary())
    left = reconciliation.unknown_count()
    if left:
        click.echo(f"{left} rows still unknown: see /admin/outbox?state=unknown for why")


@outreach_cli.command("worker")
@click.option("--interval", default=15, show_default=True, help="Seconds between dispatch runs.")
@click.option(
    "--metrics-port",
    type=int,
    default=0,
    help="Serve this worker's counters for Prometheus on this port (no token: keep it private).",
)
@click.option("--metrics-address", default="127.0.0.1", show_default=True)
def worker(interval: int, metrics_port: int, metrics_address: str) -> None:
    """Run the scheduler in the foreground (one of many workers; safe to run N).

    SIGTERM or Ctrl-C stops claiming, waits for the batch in flight to be recorded and
    exits 0 (a deploy restart leaves nothing ``unknown``); a second signal exits at once.
    It keeps a heartbeat row (``/admin/workers``) while it runs, removed when it stops."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from outreach.scheduler import add_jobs

    scheduler = BackgroundScheduler(timezone="UTC")
    add_jobs(current_app._get_current_object(), scheduler)  # noqa: SLF001
    for job in scheduler.get_jobs():
        job.reschedule("interval", seconds=interval)
    if metrics_port:
        metrics.serve_counters(metrics_port, metrics_address)
    with stopping.on_signals(lambda message: click.echo(message, err=True)), heartbeats.running():
        scheduler.start()
        click.echo(f"worker {identity.worker_id()} running; Ctrl-C to stop")
        while not stopping.wait(timeout=1.0):
            heartbeats.beat()  # alive between runs and during long batches (throttled)
        scheduler.shutdown(wait=True)  # the job in flight finishes its batch and returns
    click.echo("worker stopped; nothing left in flight")


@outreach_cli.command("stats")
@click.argument("campaign_ref")
@click.option(
    "--json", "as_json", is_flag=True, help="The numbers as JSON (as the API gives them)."
)
def stats(campaign_ref: str, as_json: bool) -> None:
    """The results dashboard's numbers for a campaign (id or name): per step sent,
    delivered, clicks (per link too), requests, opt-outs, complaints; states, skip reasons."""

    campaign = find_campaign(campaign_ref)
    results = reports.campaign_results(campaign, with_series=as_json)
    by_language = languages.by_language(campaign, results)
    if as_json:
        answer = results.to_dict()
        answer["by_language"] = [r.to_dict() for r in by_language]
        answer["engagement"] = opens.engagement_dicts(campaign)
        click.echo(json.dumps(answer, indent=2))
        return
    for line in stats_text.stats_lines(results):
        click.echo(line)
    for line in languages.stats_lines(by_language):
        click.echo(line)
