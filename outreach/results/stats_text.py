"""The results page as plain text (``flask outreach stats``): the same tables, the same
numbers, the same cells (``StepResult.cell`` and ``state_cell``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from outreach.results.reports import OUTCOMES, STATE_COLUMNS, CampaignResults, StepResult


def _table(
    results: CampaignResults, columns: Sequence[str], cell: Callable[[StepResult, str], str]
) -> list[str]:
    header = ["step", "channel", *columns]
    rows = [header]
    for step in results.steps:
        rows.append([str(step.number), step.channel, *(cell(step, c) for c in columns)])
    for channel, total in results.totals.items():
        rows.append(["all", channel, *(cell(total, c) for c in columns)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]


def stats_lines(results: CampaignResults) -> list[str]:
    """The outcomes table, each step's links, the outbox states table, skip reasons."""
    lines = [
        f"{results.name} [{results.status}]"
        + (f" paused: {results.paused_reason}" if results.paused_reason else ""),
        "sent: handed to the provider (sent, delivered, bounced or failed); clicks: people's "
        "clicks on tracked links (scanners not counted); unique clicks: messages clicked; "
        "click rate: unique clicks / delivered; requests: consultation requests attributed "
        "to the step (last tracked click within 30 days); opt-outs: withdrawals within "
        f"{results.opt_out_window_days} days of a send; complaint rate: spam reports / "
        "(sent + delivered)",
        "",
        "outcomes:",
        *_table(results, OUTCOMES, StepResult.cell),
    ]
    links = [
        f"step {step.number} link {link.position}: {link.clicks:,} clicks, "
        f"{link.unique_clicks:,} unique  {link.url}"
        for step in results.steps
        for link in step.links
    ]
    if links:
        lines += ["", "links:", *links]
    lines += ["", "outbox states:", *_table(results, STATE_COLUMNS, StepResult.state_cell)]
    for step in results.steps:
        for label, reasons in (
            ("skipped", step.skipped_by_reason),
            ("cancelled", step.cancelled_by_reason),
        ):
            if reasons:
                detail = ", ".join(f"{k} {v:,}" for k, v in sorted(reasons.items()))
                lines.append(f"step {step.number} {label}: {detail}")
    return lines
