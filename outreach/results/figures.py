"""The results page's charts, drawn from its numbers (``results/charts.py`` draws): the
funnel (sent -> delivered -> clicked -> requested, one bar per channel), sends and
deliveries over time, people's clicks over time. Each returns SVG markup, or None when
there is nothing to draw (the page then says so)."""

from __future__ import annotations

from datetime import datetime

from markupsafe import Markup

from outreach.results.charts import BarSeries, bar_chart
from outreach.results.over_time import ClickSeries, Series
from outreach.results.reports import CampaignResults

COLOURS = {"email": "#2563eb", "sms": "#9333ea", "sent": "#2563eb", "delivered": "#16a34a"}
CLICK_COLOUR = "#c2410c"
STAGES = ("sent", "delivered", "clicked", "requested")


def time_label(start: datetime, unit: str) -> str:
    """A bucket's label: "01 Jun 10:00" by the hour, "01 Jun" by the day (UTC)."""
    return start.strftime("%d %b %H:00" if unit == "hour" else "%d %b")


def _svg(markup: str) -> Markup:
    return Markup(markup)  # noqa: S704 - charts.py escapes every text it interpolates


def funnel_svg(results: CampaignResults) -> Markup | None:
    """One group of bars per stage, one bar per channel; None before anything was sent."""
    channels = list(results.totals)
    funnels = {channel: dict(results.funnel(channel)) for channel in channels}
    if not any(funnels[c]["sent"] for c in channels):
        return None
    words = "; ".join(
        f"{channel}: " + ", ".join(f"{funnels[channel][s]:,} {s}" for s in STAGES)
        for channel in channels
    )
    return _svg(
        bar_chart(
            "funnel-chart",
            "Funnel: sent, delivered, clicked, requested",
            f"Messages at each stage, by channel. {words}.",
            [stage.capitalize() for stage in STAGES],
            [
                BarSeries(
                    channel,
                    channel,
                    COLOURS.get(channel, "#6b7280"),
                    [funnels[channel][s] for s in STAGES],
                )
                for channel in channels
            ],
            x_title="stage (clicked: messages with a click; requested: attributed requests)",
            y_title="messages",
            value_labels=True,
        )
    )


def sends_svg(series: Series) -> Markup | None:
    """Sends and deliveries per hour or day; None before anything was sent."""
    if not series.buckets:
        return None
    buckets, unit = series.buckets, series.unit
    first, last = time_label(buckets[0].start, unit), time_label(buckets[-1].start, unit)
    sent = sum(b.sent for b in buckets)
    delivered = sum(b.delivered for b in buckets)
    return _svg(
        bar_chart(
            "chart",
            f"Sends and deliveries per {unit} (UTC), {first} to {last}: {sent:,} sent, "
            f"{delivered:,} delivered",
            f"Bars per {unit}: messages sent (blue) and delivered (green).",
            [time_label(b.start, unit) for b in buckets],
            [
                BarSeries("sent", "sent", COLOURS["sent"], [b.sent for b in buckets]),
                BarSeries(
                    "delivered", "delivered", COLOURS["delivered"], [b.delivered for b in buckets]
                ),
            ],
            x_title=f"{unit} (UTC)",
            y_title="messages",
        )
    )


def clicks_svg(clicks: ClickSeries) -> Markup | None:
    """People's clicks per hour or day; None before the first click."""
    if not clicks.buckets:
        return None
    buckets, unit = clicks.buckets, clicks.unit
    first, last = time_label(buckets[0].start, unit), time_label(buckets[-1].start, unit)
    total = sum(b.clicks for b in buckets)
    return _svg(
        bar_chart(
            "clicks-chart",
            f"Clicks per {unit} (UTC), {first} to {last}: {total:,} clicks",
            f"Bars per {unit}: people's clicks on the campaign's tracked links (link "
            "scanners not counted).",
            [time_label(b.start, unit) for b in buckets],
            [BarSeries("clicks", "clicks", CLICK_COLOUR, [b.clicks for b in buckets])],
            x_title=f"{unit} (UTC)",
            y_title="clicks",
        )
    )
