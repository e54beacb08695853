"""SIGKILL, then reconciliation; SIGTERM restarts. The scenarios behind the kill-test
figures of ``bench.faults`` (and, at tiny sizes, tests/bench).

* :func:`kill_and_reconcile`: an email step, then a text step, each sent by two workers that
  are SIGKILLed at random moments after their first claim; then SendGrid's Event Webhook
  events for every accepted email are signed and posted to the app (the fake's record of
  accepted requests, ``custom_args`` included), ``flask outreach reconcile`` runs with a
  short horizon and SMS listing delay (the fake Twilio lists what it received), and a worker
  sends what was re-queued. Counted at the fake: duplicates, lost, ``unknown`` left.
* :func:`sigterm_restarts`: the same loops with SIGTERM (a deploy restart): every worker
  finishes its batch and exits 0; nothing ``unknown``, nothing sent twice.

The caller has an app context on the database at ``url`` (the benchmark's own database, or
the test suite's).
"""

from __future__ import annotations

import json
import random
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from bench.common import FakeClient, queued_step, run_child, worker_env
from bench.faults_kill import LoopResult, finish, message_ids, sent_by, signal_loop

#: Events per signed webhook request (SendGrid posts batches of up to a few thousand).
EVENT_BATCH = 1000
#: Reconciliation passes at most (each looks at 2,000 rows per channel).
MAX_PASSES = 5
#: Seconds for the horizon and the SMS listing delay during the reconciliation phase.
SHORT = "1"

#: Posts one signed batch of events (the raw JSON body) to the app; returns the status.
PostEvents = Callable[[bytes], int]
CHANNELS = ("email", "sms")


@dataclass
class Tally:
    """The outbox counted against what the fake providers received."""

    rows: int
    states: dict[str, int]
    duplicates: dict[str, int]  # rows the fake received more than once, per channel
    lost: int  # never received, and not queued / sending to go out
    pending: int  # queued or sending
    unknown: int
    phantom: int  # recorded sent (or later) but never received

    def clean(self) -> bool:
        """The targets: nothing duplicated, lost, pending or unknown."""
        return not (sum(self.duplicates.values()) or self.lost or self.pending or self.unknown)


@dataclass
class KillRun:
    """One SIGKILL + reconciliation run."""

    kills: dict[str, int] = field(default_factory=dict)
    finished: dict[str, int] = field(default_factory=dict)  # sent by the worker after kills
    unknown_before: dict[str, int] = field(default_factory=dict)  # before reconciliation
    accepted_unknown: dict[str, int] = field(default_factory=dict)  # re-sent blindly: dups
    found_by_workers: int = 0  # texts the workers' own passes found in Twilio's list meanwhile
    unrecorded: int = 0  # accepted, but recorded queued (would be sent again)
    allowed: int = 0  # one batch per kill
    events: int = 0
    event_errors: int = 0
    event_seconds: float = 0.0
    passes: list[str] = field(default_factory=list)  # the reconcile CLI's summaries
    reconcile_seconds: float = 0.0  # wall time of the passes, CLI start-up included
    pass_seconds: float = 0.0  # the passes' own time (as they report it)
    requeued: int = 0
    resent: int = 0  # sent by the worker after reconciliation
    tally: Tally | None = None

    def passed(self) -> bool:
        """Every target: the tally is clean, each kill left at most one batch unknown."""
        return (
            self.tally is not None
            and self.tally.clean()
            and not self.unrecorded
            and not self.event_errors
            and sum(self.unknown_before.values()) <= self.allowed
            and self.finished.get("email", 0) > 0  # later mail: SendGrid reports past the kills
        )


@dataclass
class TermRun:
    """One SIGTERM restart run."""

    restarts: dict[str, int] = field(default_factory=dict)
    loops: list[LoopResult] = field(default_factory=list)
    left_sending: int = 0  # rows still ``sending`` right after the stopped workers exited
    tally: Tally | None = None

    def passed(self) -> bool:
        """Every worker exited 0 with its batch recorded; nothing unknown, lost or doubled."""
        return (
            self.tally is not None
            and self.tally.clean()
            and not self.left_sending
            and not any(loop.unclean for loop in self.loops)
        )


def tally(fake: FakeClient) -> Tally:
    """Count every outbox row against the fake's records (by outbox id)."""
    from outreach.extensions import db

    rows = db.session.execute(sa.text("SELECT id, channel, state FROM outbox_messages")).all()
    db.session.commit()
    received = {"email": Counter(fake.email_ids()), "sms": Counter(fake.sms_ids())}
    states = Counter(row.state for row in rows)
    lost = phantom = 0
    for row in rows:
        got = received[row.channel][row.id]
        lost += int(not got and row.state not in ("queued", "sending"))
        phantom += int(not got and row.state in ("sent", "delivered"))
    return Tally(
        rows=len(rows),
        states=dict(states),
        duplicates={c: sum(1 for n in received[c].values() if n > 1) for c in CHANNELS},
        lost=lost,
        pending=states["queued"] + states["sending"],
        unknown=states["unknown"],
        phantom=phantom,
    )


def post_events(fake: FakeClient, post: PostEvents) -> tuple[int, int, float]:
    """Post the events SendGrid would send for every accepted email, signed, in batches;
    returns (events, failed requests, seconds)."""
    events = fake.email_events()
    started = time.perf_counter()
    errors = 0
    for begin in range(0, len(events), EVENT_BATCH):
        body = json.dumps(events[begin : begin + EVENT_BATCH]).encode()
        errors += int(post(body) not in (200, 204))
    return len(events), errors, time.perf_counter() - started


def reconcile_command() -> list[str]:
    """``flask --app wsgi outreach reconcile``."""
    return [sys.executable, "-m", "flask", "--app", "wsgi", "outreach", "reconcile"]


def reconcile_passes(env: dict[str, str], run: KillRun) -> None:
    """Run ``flask outreach reconcile`` until nothing is unknown or a pass settles nothing."""
    from outreach.extensions import db

    env = {
        **env,
        "OUTREACH_RECONCILE_HORIZON_SECONDS": SHORT,
        "OUTREACH_RECONCILE_SMS_DELAY_SECONDS": SHORT,
    }
    time.sleep(float(SHORT) + 0.1)  # the last kill's claims are older than the horizon
    for _ in range(MAX_PASSES):
        done = run_child(reconcile_command(), env)
        run.reconcile_seconds += done.seconds
        if done.returncode != 0:
            raise RuntimeError(f"flask outreach reconcile failed:\n{done.output[-3000:]}")
        summary = next(line for line in done.output.splitlines() if line.startswith("reconciled"))
        run.passes.append(summary)
        own = re.search(r"\(([\d.]+) s\)", summary)
        run.pass_seconds += float(own.group(1)) if own else 0.0
        counts = {what: int(n) for n, what in re.findall(r"(\d+) (sent|re-queued)", summary)}
        run.requeued += counts.get("re-queued", 0)
        left = db.session.scalar(
            sa.text("SELECT count(*) FROM outbox_messages WHERE state = 'unknown'")
        )
        db.session.commit()
        if not left or not sum(counts.values()):
            return


def _accepted(fake: FakeClient) -> dict[str, set[int]]:
    return {"email": set(fake.email_ids()), "sms": set(fake.sms_ids())}


def kill_and_reconcile(
    url: str,
    fake: FakeClient,
    post: PostEvents,
    *,
    kills: int,
    email_rows: int,
    sms_rows: int,
    batch: int,
    lease: float = 2,
    seed_value: int = 8,
) -> KillRun:
    """SIGKILL ``kills`` workers (half during an email step, half during a text step),
    reconcile, send what was re-queued, and count (see the module docstring)."""
    from outreach.extensions import db

    rng = random.Random(seed_value)
    env = worker_env(
        url,
        fake.url,
        OUTREACH_BATCH_SIZE=str(batch),
        OUTREACH_LEASE_SECONDS=str(int(lease)),
        OUTREACH_SMS_MPS="0",
    )
    run = KillRun(allowed=kills * batch)
    per_channel = {"email": kills - kills // 2, "sms": kills // 2}
    sizes = {"email": email_rows, "sms": sms_rows}
    start = 0
    for channel in CHANNELS:
        queued_step(
            sizes[channel], channel, slug=f"kill-{channel}", name=f"Kill {channel}", start=start
        )
        start += sizes[channel]
        db.session.remove()
        loop = signal_loop(env, per_channel[channel], signal.SIGKILL, rng)
        run.kills[channel] = loop.signals
        run.finished[channel] = sent_by(finish(env, lease))
    accepted = _accepted(fake)
    for channel in CHANNELS:
        unknown = message_ids("unknown", channel)
        run.unknown_before[channel] = len(unknown)
        run.accepted_unknown[channel] = len(unknown & accepted[channel])
        run.unrecorded += len(accepted[channel] & message_ids("queued", channel))
    run.found_by_workers = db.session.scalar(
        sa.text(
            "SELECT count(DISTINCT d.message_id) FROM delivery_events d JOIN outbox_messages m "
            "ON m.id = d.message_id WHERE d.provider = 'outreach' "
            "AND d.event_type = 'reconciled_sent' AND m.channel = 'sms'"
        )
    )
    db.session.commit()
    run.events, run.event_errors, run.event_seconds = post_events(fake, post)
    reconcile_passes(env, run)
    time.sleep(0.2)
    run.resent = sent_by(finish(env, 0.0))
    run.tally = tally(fake)
    return run


def sigterm_restarts(
    url: str,
    fake: FakeClient,
    *,
    restarts: int,
    email_rows: int,
    sms_rows: int,
    batch: int,
    lease: float = 2,
    seed_value: int = 9,
) -> TermRun:
    """SIGTERM ``restarts`` workers mid-send (half on email, half on texts), then send the
    rest; every stopped worker must have recorded its batch (nothing left ``sending``)."""
    from outreach.extensions import db

    rng = random.Random(seed_value)
    env = worker_env(
        url,
        fake.url,
        OUTREACH_BATCH_SIZE=str(batch),
        OUTREACH_LEASE_SECONDS=str(int(lease)),
        OUTREACH_SMS_MPS="0",
    )
    run = TermRun()
    per_channel = {"email": restarts - restarts // 2, "sms": restarts // 2}
    sizes = {"email": email_rows, "sms": sms_rows}
    start = 0
    for channel in CHANNELS:
        queued_step(
            sizes[channel], channel, slug=f"term-{channel}", name=f"Term {channel}", start=start
        )
        start += sizes[channel]
        db.session.remove()
        loop = signal_loop(env, per_channel[channel], signal.SIGTERM, rng)
        run.loops.append(loop)
        run.restarts[channel] = loop.signals
        run.left_sending += len(message_ids("sending"))
        finish(env, lease)
    run.tally = tally(fake)
    return run
