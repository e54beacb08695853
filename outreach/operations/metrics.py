"""Prometheus metrics for ``GET /metrics`` (prometheus-client).

Two kinds, with different reach:

* **From the database, read at scrape time** (``_Database``): queue depth by state and
  channel (one GROUP BY over the open states), the age of the oldest due row per channel,
  live and stale workers. The same in every process: global.
* **Counted in this process** (``REGISTRY``): sends, provider errors by code, claim-to-send
  latency, webhooks by endpoint and outcome, lease expiries, reconciled rows by outcome.
  Each process counts its own and a restart starts again from zero (``rate()`` copes).
  Under gunicorn each scrape reaches one web process, and sends are counted in the worker
  processes: set ``PROMETHEUS_MULTIPROC_DIR`` (an empty directory, the same for the web and
  the workers of one machine, cleared at boot) and ``/metrics`` adds up every process's
  files (prometheus-client's multiprocess mode). Otherwise a worker can serve its own
  counters (``flask outreach worker --metrics-port``).

Labels are only state, channel, provider error code, webhook endpoint and outcome: never an
address, a name or a message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from outreach.clock import now as clock_now
from outreach.extensions import db
from outreach.models import Message
from outreach.models.outbox import UNSETTLED_STATES
from outreach.operations import health, heartbeats

#: The in-process counters (not prometheus_client's default registry: no process or GC
#: metrics, and nothing of other libraries).
REGISTRY = CollectorRegistry(auto_describe=True)

#: Outbox states that are a queue (waiting, in flight, fate open); the rest is history.
QUEUE_STATES = UNSETTLED_STATES
CHANNELS = health.CHANNELS
_CODE = re.compile(r"[A-Za-z0-9_.-]{1,32}")

SENDS = Counter(
    "outreach_sends",
    "Outbox rows recorded as sent (rate() gives sends per second).",
    ["channel"],
    registry=REGISTRY,
)
PROVIDER_ERRORS = Counter(
    "outreach_provider_errors",
    "Rows a provider did not take (retried, failed or unknown), by its error code.",
    ["channel", "code"],
    registry=REGISTRY,
)
CLAIM_TO_SEND = Histogram(
    "outreach_claim_to_send_seconds",
    "Seconds from a batch's claim to its results being recorded (one per batch).",
    ["channel"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
    registry=REGISTRY,
)
WEBHOOKS = Counter(
    "outreach_webhooks",
    "Provider webhook requests answered, by endpoint and outcome.",
    ["endpoint", "outcome"],
    registry=REGISTRY,
)
LEASE_EXPIRIES = Counter(
    "outreach_lease_expiries",
    "Rows left in sending past their lease, moved to unknown.",
    registry=REGISTRY,
)
RECONCILED = Counter(
    "outreach_reconciled",
    "Unknown rows looked at by reconciliation, by outcome.",
    ["outcome"],
    registry=REGISTRY,
)


def _code(value: str) -> str:
    return value if _CODE.fullmatch(value) else "other"


def batch_recorded(
    channel: str, sent: int, error_codes: Iterable[str], claimed_at: datetime | None
) -> None:
    """A batch's results were written: count its sends and errors, time it since claim."""
    if sent:
        SENDS.labels(channel).inc(sent)
    for code in error_codes:
        PROVIDER_ERRORS.labels(channel, _code(code)).inc()
    if claimed_at is not None:
        CLAIM_TO_SEND.labels(channel).observe(max(0.0, (clock_now() - claimed_at).total_seconds()))


def leases_expired(count: int) -> None:
    """``count`` rows went from ``sending`` to ``unknown`` at the end of their lease."""
    if count:
        LEASE_EXPIRIES.inc(count)


def reconciled(sent: int, requeued: int, waiting: int, errors: int) -> None:
    """One reconciliation pass's outcomes (``ReconcileReport``)."""
    for outcome, count in (
        ("sent", sent),
        ("requeued", requeued),
        ("waiting", waiting),
        ("error", errors),
    ):
        if count:
            RECONCILED.labels(outcome).inc(count)


def webhook_outcome(status: int) -> str:
    """A webhook answer's outcome from its HTTP status."""
    if status < 400:
        return "ok"
    if status == 403:
        return "forbidden"  # no or a wrong signature
    if status == 503:
        return "unavailable"  # the database: the provider retries
    return "rejected" if status < 500 else "error"


def webhook_answered(endpoint: str, status: int) -> None:
    """Count one webhook request (``endpoint`` is the view's name, e.g. ``twilio_sms``)."""
    WEBHOOKS.labels(endpoint, webhook_outcome(status)).inc()


# -- the scrape ---------------------------------------------------------------------------


class _Database:
    """The gauges read from the database at scrape time (needs an app context)."""

    def collect(self) -> Iterator[Metric]:
        at = clock_now()
        depth = GaugeMetricFamily(
            "outreach_queue_messages",
            "Outbox rows waiting or in flight, by state and channel (from the database).",
            labels=["state", "channel"],
        )
        found = dict.fromkeys(((s, c) for s in QUEUE_STATES for c in CHANNELS), 0)
        rows = db.session.execute(
            select(Message.state, Message.channel, func.count(Message.id))
            .where(Message.state.in_(QUEUE_STATES))
            .group_by(Message.state, Message.channel)
        )
        for state, channel, count in rows:
            found[(state, channel)] = count
        for (state, channel), count in sorted(found.items()):
            depth.add_metric([state, channel], count)
        yield depth

        oldest = GaugeMetricFamily(
            "outreach_queue_oldest_due_seconds",
            "Age of the oldest queued row a worker could claim now, by channel (0: none).",
            labels=["channel"],
        )
        for channel, due in health.oldest_due(at).items():
            oldest.add_metric([channel], 0 if due is None else (at - due).total_seconds())
        yield oldest

        workers = GaugeMetricFamily(
            "outreach_workers",
            "Sending workers with a heartbeat row, live or stale.",
            labels=["state"],
        )
        for state, count in heartbeats.counts(at).items():
            workers.add_metric([state], count)
        yield workers


class _Scrape:
    """Several collectors as one, for ``generate_latest``."""

    def __init__(self, *sources: object) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()  # type: ignore[attr-defined]


def exposition(multiproc_dir: str = "") -> tuple[bytes, str]:
    """The text format of every metric and its content type. With ``multiproc_dir`` the
    counters are every process's (multiprocess mode), else this process's."""
    counters: object = REGISTRY
    if multiproc_dir:
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=multiproc_dir)
        counters = merged
    return generate_latest(_Scrape(counters, _Database())), CONTENT_TYPE_LATEST  # type: ignore[arg-type]


def serve_counters(port: int, address: str = "127.0.0.1") -> None:
    """Serve this process's counters over HTTP (a worker, which has no web server); no
    token there, so bind it where only the Prometheus server reaches."""
    start_http_server(port, addr=address, registry=REGISTRY)
