"""Signal loops: real workers (``flask outreach dispatch --once``), two at a time, each sent
SIGKILL or SIGTERM at a random moment after its first claim and replaced.

The caller has an app context on the benchmark's database; ``bench.faults_reconcile`` counts
what the fake providers received against the outbox.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from bench.common import ROOT, dispatch_command, run_child

#: Workers running at once.
SLOTS = 2
#: Seconds a SIGTERMed worker may take to finish its batch and exit.
STOP_TIMEOUT = 60.0


@dataclass
class LoopResult:
    """What one signal loop did."""

    signals: int = 0  # workers signalled after their first claim
    unclean: int = 0  # SIGTERM: exits other than 0, or not within STOP_TIMEOUT
    stop_seconds: list[float] = field(default_factory=list)  # SIGTERM: signal -> exit
    seconds: float = 0.0


@dataclass
class _Worker:
    process: subprocess.Popen
    signal_at: float = 0.0  # 0: not claimed yet
    signalled_at: float | None = None


def has_claimed(pid: int) -> bool:
    """Whether the worker process ``pid`` has claimed a row yet (its id is in claimed_by)."""
    from outreach.extensions import db

    found = db.session.scalar(
        sa.text("SELECT 1 FROM outbox_messages WHERE claimed_by LIKE :p LIMIT 1"),
        {"p": f"%:{pid}:%"},
    )
    db.session.commit()
    return found is not None


def message_ids(state: str, channel: str | None = None) -> set[int]:
    """Ids of the outbox rows in ``state`` (of one channel, or all)."""
    from outreach.extensions import db

    sql = "SELECT id FROM outbox_messages WHERE state = :s"
    if channel:
        sql += " AND channel = :c"
    ids = set(db.session.scalars(sa.text(sql), {"s": state, "c": channel}))
    db.session.commit()
    return ids


def _queued_left() -> bool:
    from outreach.extensions import db

    found = db.session.scalar(
        sa.text("SELECT 1 FROM outbox_messages WHERE state = 'queued' LIMIT 1")
    )
    db.session.commit()
    return found is not None


def _start(command: Sequence[str], env: dict[str, str]) -> _Worker:
    process = subprocess.Popen(
        list(command),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return _Worker(process)


def signal_loop(
    env: dict[str, str],
    count: int,
    sig: int,
    rng: random.Random,
    *,
    window: float = 0.6,
    limit: float = 900.0,
    command: Sequence[str] | None = None,
) -> LoopResult:
    """Run SLOTS workers; send each ``sig`` within ``window`` s of its first claim and start
    another, until ``count`` were signalled or nothing is queued (or ``limit`` s passed).

    A new worker starts only while fewer than ``count`` are signalled or on their way to it,
    so exactly ``count`` workers are signalled unless the rows run out first.
    """
    command = command or dispatch_command()
    result = LoopResult()
    slots: list[_Worker | None] = [None] * SLOTS
    started = time.monotonic()
    while time.monotonic() - started < limit:
        for index, worker in enumerate(slots):
            unsignalled = sum(1 for w in slots if w is not None and w.signalled_at is None)
            if worker is None:
                if result.signals + unsignalled < count and _queued_left():
                    slots[index] = _start(command, env)
                continue
            now = time.monotonic()
            code = worker.process.poll()
            if code is not None:
                if worker.signalled_at is not None and sig != signal.SIGKILL:
                    result.stop_seconds.append(now - worker.signalled_at)
                    result.unclean += int(code != 0)
                slots[index] = None
            elif worker.signalled_at is not None:
                if now - worker.signalled_at > STOP_TIMEOUT:
                    worker.process.kill()
                    worker.process.wait()
                    result.unclean += 1
                    slots[index] = None
            elif worker.signal_at == 0.0:
                if has_claimed(worker.process.pid):
                    worker.signal_at = now + rng.uniform(0.0, window)
            elif now >= worker.signal_at:
                worker.process.send_signal(sig)
                worker.signalled_at = now
                result.signals += 1
        if all(w is None for w in slots) and (result.signals >= count or not _queued_left()):
            break
        time.sleep(0.01)
    for worker in slots:  # only after ``limit``: stop what is left
        if worker is not None and worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()
            result.unclean += int(sig != signal.SIGKILL)
    result.seconds = time.monotonic() - started
    return result


def finish(env: dict[str, str], lease: float) -> str:
    """After a loop: wait out the leases, then one worker sends what is still queued (big
    batches); returns its summary line (``materialised .., sent .., ...``)."""
    time.sleep(lease + 0.2)
    final = run_child(dispatch_command(), {**env, "OUTREACH_BATCH_SIZE": "1000"})
    if final.returncode != 0:
        raise RuntimeError(f"the final worker failed:\n{final.output[-3000:]}")
    lines = [line for line in final.output.splitlines() if line.startswith("materialised")]
    return lines[-1] if lines else ""


def sent_by(summary: str) -> int:
    """The ``sent N`` of a dispatch summary line."""
    for part in summary.split(","):
        words = part.split()
        if len(words) == 2 and words[0] == "sent":
            return int(words[1])
    return 0
