"""Shared pieces of the benchmarks: figures, databases, seeding, the fake providers, workers.

Nothing here is timed: seeding uses the fastest path each database has (PostgreSQL COPY,
SQLite executemany on the raw connection) so the benchmarks measure the product, not setup.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import requests
import sqlalchemy as sa

from outreach.campaigns import lifecycle
from outreach.sending import materialise as materialising

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BASE_URL = "https://outreach.bench.example"
TWILIO_SID = "AC" + "b" * 32
TWILIO_TOKEN = "bench-twilio-auth-token"
SECRET_KEY = "bench-secret-key-not-for-production"

#: Where fan-out subscribers live (share of the list), like a US clinic's audience.
US_ZONES: tuple[tuple[str, float], ...] = (
    ("America/New_York", 0.47),
    ("America/Chicago", 0.28),
    ("America/Denver", 0.06),
    ("America/Phoenix", 0.02),
    ("America/Los_Angeles", 0.14),
    ("America/Anchorage", 0.01),
    ("Pacific/Honolulu", 0.02),
)

EMAIL_HTML = """
<h1>June is Migraine &amp; Headache Awareness Month</h1>
<p>Hi {{ first_name }},</p>
<p>Migraine is more than a bad headache. It is a neurological condition that affects
about one in seven people worldwide, and many of them never get a diagnosis.</p>
<p>This month we share one short note a week: how to keep a headache diary, which
triggers are worth tracking (sleep, meals, screens, weather), and when a headache is a
reason to call your clinician the same day.</p>
<ul><li>Keep a simple diary for two weeks.</li><li>Note sleep, meals and stress.</li>
<li>Bring it to your next appointment.</li></ul>
<p>Talk to your clinician before changing any treatment.</p>
<p><a href="https://clinic.example/migraine">Read the full article</a></p>
"""
SMS_BODY = (
    "Hi {{ first_name }}, June is Migraine & Headache Awareness Month. "
    "Keep a 2-week headache diary and bring it to your next visit."
)


# --------------------------------------------------------------------------- figures


@dataclass
class Figure:
    """One measured figure with the baseline it is compared with and its target."""

    name: str
    ours: float | None
    unit: str
    target: str
    passed: bool | None
    baseline: float | None = None
    baseline_note: str = ""
    note: str = ""

    def cells(self) -> list[str]:
        """Table cells: figure, ours, baseline, target, pass/fail."""
        verdict = {True: "PASS", False: "FAIL", None: "-"}[self.passed]
        base = _fmt(self.baseline, self.unit) if self.baseline is not None else "-"
        if self.baseline_note:
            base = (
                f"{base} ({self.baseline_note})"
                if self.baseline is not None
                else self.baseline_note
            )
        return [self.name, _fmt(self.ours, self.unit), base, self.target, verdict]


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100 or float(value).is_integer():
        text = f"{value:,.0f}"
    elif abs(value) >= 1:
        text = f"{value:,.2f}"
    else:
        text = f"{value:.3f}"
    return f"{text} {unit}".strip()


def table(figures: Sequence[Figure]) -> str:
    """A plain-text (and Markdown) table of figures."""
    header = ["figure", "ours", "baseline", "target", "pass/fail"]
    rows = [header] + [f.cells() for f in figures]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def machine() -> str:
    """One line describing this machine and PostgreSQL."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GB RAM"
    pg = ""
    with contextlib.suppress(Exception):
        engine = sa.create_engine(_psycopg(PG_ADMIN_URL))
        with engine.connect() as conn:
            pg = ", PostgreSQL " + conn.execute(sa.text("SHOW server_version")).scalar().split()[0]
        engine.dispose()
    return (
        f"{os.cpu_count()} CPU ({cpu}){memory}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}{pg}"
    )


def now_stamp() -> str:
    """The current UTC time for reports."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0.99: p99) of ``values`` by nearest rank; 0 for no values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def report(title: str, figures: Sequence[Figure], json_path: str | None) -> None:
    """Print a benchmark's figures, and write them as JSON for run_all."""
    print(f"\n{title} — {now_stamp()} — {machine()}")
    print(table(figures))
    for figure in figures:
        if figure.note:
            print(f"  * {figure.name}: {figure.note}")
    if json_path:
        Path(json_path).write_text(json.dumps([asdict(f) for f in figures], indent=2))


def cli(description: str) -> argparse.ArgumentParser:
    """The arguments every benchmark takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    return parser


def quiet_logs() -> None:
    """Keep benchmark output readable (the app logs at INFO)."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("outreach").setLevel(logging.WARNING)


# --------------------------------------------------------------------------- databases


def _psycopg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextlib.contextmanager
def database(kind: str, name: str, keep: bool = False) -> Iterator[str]:
    """A fresh, migrated database: ``kind`` is "postgresql" or "sqlite"; yields its URL."""
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        url = f"sqlite:///{folder / 'bench.db'}"
        try:
            migrate(url)
            yield url
        finally:
            if not keep:
                shutil.rmtree(folder, ignore_errors=True)
        return
    admin = sa.create_engine(_psycopg(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(_psycopg(PG_ADMIN_URL)).set(database=name)
    url_text = url.render_as_string(hide_password=False).replace("+psycopg", "")
    try:
        migrate(url_text)
        yield url_text
    finally:
        admin.dispose()  # a fresh connection: the server may have been restarted meanwhile
        if not keep:
            with contextlib.suppress(Exception), admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def checkpoint() -> None:
    """Flush the server's dirty pages now (CHECKPOINT), so the writes of a benchmark's
    set-up are not flushed during its measurement (as pgbench-style harnesses do)."""
    admin = sa.create_engine(_psycopg(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("CHECKPOINT"))
    finally:
        admin.dispose()


def app_env(database_url: str, **extra: str) -> dict[str, str]:
    """Environment for the app and its worker processes (production settings)."""
    instance = Path(tempfile.gettempdir()) / "outreach-bench-instance"
    env = {
        "OUTREACH_ENV": "production",
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url,
        "OUTREACH_INSTANCE_DIR": str(instance),
        "OUTREACH_BASE_URL": BASE_URL,
        "OUTREACH_RATELIMIT": "0",
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_MESSAGING_SERVICE_SID": "MG" + "c" * 32,
        "SENDGRID_API_KEY": "SG.bench",
    }
    env.update(extra)
    return env


def make_app(database_url: str, **extra: str):  # noqa: ANN201
    """An app on ``database_url`` (the caller pushes a context)."""
    from outreach import create_app

    app = create_app(env=app_env(database_url, **extra))
    quiet_logs()
    return app


def migrate(database_url: str) -> None:
    """Apply the migrations to a database."""
    from flask_migrate import upgrade

    app = make_app(database_url)
    with app.app_context():
        upgrade()
        from outreach.extensions import db

        db.engine.dispose()
    quiet_logs()


def worker_env(database_url: str, fake_url: str, **extra: str) -> dict[str, str]:
    """Environment for a worker process that sends through the fake providers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OUTREACH_", "SENDGRID_"))}
    env.update(
        app_env(
            database_url,
            OUTREACH_EMAIL_CHANNEL="sendgrid",
            OUTREACH_SMS_CHANNEL="twilio",
            SENDGRID_API_HOST=fake_url,
            TWILIO_API_BASE=fake_url,
        )
    )
    env.update(extra)
    return env


# --------------------------------------------------------------------------- seeding


def noon_zone(at: datetime | None = None) -> str:
    """A fixed-offset zone where it is about noon now, so send windows are open."""
    hour = (at or datetime.now(UTC)).hour
    offset = 12 - hour
    if offset > 14:
        offset -= 24
    if offset < -12:
        offset += 24
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # POSIX signs are inverted


def make_audience(slug: str = "bench") -> int:
    """An audience with a complete sender identity and an all-day email window."""
    from outreach.extensions import db
    from outreach.models import Audience

    audience = Audience(
        slug=slug,
        name=f"Migraine Awareness ({slug})",
        organisation_name="NeuroMedici",
        postal_address="100 Example Avenue, Springfield, IL 62701",
        support_email="care@neuromedici.example",
        support_phone="+1 555 010 2000",
        from_email="news@neuromedici.example",
        sms_program_name="NeuroMedici Migraine Awareness",
        sms_frequency_text="Up to 4 msgs/month",
        email_window_start="00:00",
        email_window_end="23:59",
    )
    db.session.add(audience)
    db.session.commit()
    return audience.id


def phone(i: int) -> str:
    """A distinct New York mobile number for subscriber ``i`` (no stricter state window)."""
    return f"+1646{2_000_000 + i:07d}"


def _zone_of(i: int, count: int, zones: Sequence[tuple[str, float]]) -> str:
    edge = 0.0
    for name, share in zones:
        edge += share
        if i < edge * count:
            return name
    return zones[-1][0]


def seed(
    count: int,
    audience_ids: Sequence[int],
    *,
    channels: Sequence[str] = ("email",),
    zones: Sequence[tuple[str, float]] | None = None,
    start: int = 0,
) -> None:
    """Bulk-insert ``count`` confirmed subscribers (ids ``start+1 ..``) in the audiences.

    COPY on PostgreSQL, executemany on SQLite; not through the ORM (seeding is not timed).
    """
    from outreach.extensions import db

    zones = zones or ((noon_zone(), 1.0),)
    confirmed = (datetime.now(UTC) - timedelta(days=7)).replace(tzinfo=None)
    people = []
    subs = []
    for n in range(count):
        i = start + n + 1
        people.append(
            (
                i,
                f"{i:032x}",
                f"reader{i}@example.org" if "email" in channels else None,
                phone(i) if "sms" in channels else None,
                f"Reader{i % 997}",
                _zone_of(n, count, zones),
                False,
                False,
                confirmed,
            )
        )
        for audience_id in audience_ids:
            for channel in channels:
                subs.append((i, audience_id, channel, "active", confirmed, confirmed, confirmed))
    people_cols = (
        "id, public_id, email, phone, first_name, timezone, phone_invalid, "
        "phone_unreachable, created_at"
    )
    subs_cols = "subscriber_id, audience_id, channel, state, requested_at, confirmed_at, updated_at"
    connection = db.session.connection()
    raw = connection.connection.dbapi_connection
    if connection.dialect.name == "postgresql":
        with raw.cursor() as cursor:
            _copy(cursor, f"COPY subscribers ({people_cols}) FROM STDIN", people)
            _copy(cursor, f"COPY subscriptions ({subs_cols}) FROM STDIN", subs)
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('subscribers', 'id'), "
                "(SELECT max(id) FROM subscribers))"
            )
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE subscribers"))
            conn.execute(sa.text("VACUUM ANALYZE subscriptions"))
        return
    cursor = raw.cursor()
    marks = ", ".join("?" * 9)
    cursor.executemany(
        f"INSERT INTO subscribers ({people_cols}) VALUES ({marks})",
        [(*p[:8], p[8].isoformat(sep=" ")) for p in people],
    )
    stamp = confirmed.isoformat(sep=" ")
    cursor.executemany(
        f"INSERT INTO subscriptions ({subs_cols}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(*s[:4], stamp, stamp, stamp) for s in subs],
    )
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()


def _copy(cursor: Any, statement: str, rows: list[tuple]) -> None:
    """COPY rows in text format, written in large chunks."""

    def cell(value: object) -> str:
        if value is None:
            return "\\N"
        if isinstance(value, bool):
            return "t" if value else "f"
        if isinstance(value, datetime):
            return value.isoformat(sep=" ")
        return str(value)

    with cursor.copy(statement) as copy:
        for begin in range(0, len(rows), 50_000):
            chunk = rows[begin : begin + 50_000]
            copy.write("".join("\t".join(map(cell, row)) + "\n" for row in chunk))


def make_campaign(
    audience_id: int,
    channel: str,
    *,
    zone: str | None = None,
    name: str = "June awareness",
    send_time: str = "00:00",
) -> tuple[int, int]:
    """A running one-step campaign due now (its local day is today in ``zone``)."""
    from zoneinfo import ZoneInfo

    from outreach.extensions import db
    from outreach.models import Audience, Campaign, Step

    zone = zone or noon_zone()
    today = datetime.now(UTC).astimezone(ZoneInfo(zone)).date()
    audience = db.session.get(Audience, audience_id)
    campaign = Campaign(name=name, audience=audience, anchor_kind="date", anchor_date=today)
    campaign.steps.append(
        Step(
            position=0,
            channel=channel,
            send_time=send_time,
            subject="{{ first_name }}, June is Migraine & Headache Awareness Month",
            preheader="One short note a week, all June.",
            html=EMAIL_HTML,
            body=SMS_BODY,
        )
    )
    db.session.add(campaign)
    db.session.flush()
    start_campaign(campaign)
    db.session.commit()
    return campaign.id, campaign.steps[0].id


def start_campaign(campaign: Any) -> None:
    """Start a campaign as if staff had scheduled it after preflight. Set-up only: the
    benchmarks' steps are built to load the engine (a text at any hour, bare copy), not to
    pass preflight, which ``lifecycle.schedule`` applies to every real scheduling."""
    from outreach.clock import now as clock_now

    campaign.status = "scheduled"
    campaign.updated_at = clock_now()
    lifecycle.start_due(clock_now())


def queued_step(
    rows: int,
    channel: str,
    *,
    slug: str = "bench",
    name: str = "June awareness",
    start: int = 0,
) -> tuple[int, int, float]:
    """A new audience of ``rows`` subscribers on ``channel``, a running one-step campaign
    for it, materialised: returns (audience id, rows queued, seconds materialising)."""
    audience_id = make_audience(slug)
    seed(rows, [audience_id], channels=(channel,), start=start)
    make_campaign(audience_id, channel, name=name)
    added, seconds = materialise()
    return audience_id, added, seconds


def materialise(at: datetime | None = None) -> tuple[int, float]:
    """Materialise everything due; returns (rows, seconds)."""

    started = time.perf_counter()
    rows = materialising.materialise_due(at)
    return rows, time.perf_counter() - started


def states() -> dict[str, int]:
    """Outbox rows by state."""
    from outreach.extensions import db
    from outreach.models import Message

    db.session.expire_all()
    rows = db.session.execute(
        sa.select(Message.state, sa.func.count(Message.id)).group_by(Message.state)
    ).all()
    db.session.commit()
    return dict(rows)


# --------------------------------------------------------------------------- fake providers


class FakeClient:
    """The fake providers' own endpoints (``/_stats``, ``/_email_ids``, ...) at ``url``."""

    def __init__(self, url: str = "") -> None:
        self.url = url
        self._session = requests.Session()

    def stats(self) -> dict[str, int]:
        """The fake's counters (duplicates included)."""
        return self._session.get(f"{self.url}/_stats", timeout=30).json()

    def timeline(self) -> dict[str, list]:
        """Arrival times of accepted requests."""
        return self._session.get(f"{self.url}/_timeline", timeout=30).json()

    def email_ids(self) -> list[int]:
        """Every accepted email message id, in arrival order."""
        return self._session.get(f"{self.url}/_email_ids", timeout=60).json()

    def sms_ids(self) -> list[int]:
        """The outbox id of every accepted text (its StatusCallback ``mid``), in order."""
        return self._session.get(f"{self.url}/_sms_ids", timeout=60).json()

    def email_events(self, kinds: Sequence[str] = ("processed", "delivered")) -> list[dict]:
        """The Event Webhook events SendGrid would post for every accepted email."""
        params = {"kinds": ",".join(kinds)}
        return self._session.get(f"{self.url}/_email_events", params=params, timeout=120).json()

    def configure(self, **changes: Any) -> None:
        """Change the fake's behaviour."""
        response = self._session.post(f"{self.url}/_configure", json=changes, timeout=30)
        response.raise_for_status()

    def reset(self) -> None:
        """Forget records and scripted failures."""
        self._session.post(f"{self.url}/_reset", timeout=30).raise_for_status()

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()


class FakeProcess(FakeClient):
    """``python -m tests.fakes.providers`` in its own process (its own core)."""

    def __init__(self, **behaviour: Any) -> None:
        super().__init__()
        self.behaviour = behaviour
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> FakeProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.providers", "--port", "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = self.process.stdout.readline() if self.process.stdout else ""
        if "listening on" not in line:
            raise RuntimeError(f"fake providers did not start: {line!r}")
        self.url = line.rsplit(" ", 1)[-1].strip()
        if self.behaviour:
            self.configure(**self.behaviour)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        self.close()


# --------------------------------------------------------------------------- workers


@dataclass
class Finished:
    """A finished child process: exit code, its own peak RSS, its output, wall time."""

    returncode: int
    maxrss_mb: float  # VmHWM: the child's own peak (wait4's ru_maxrss is not, see below)
    output: str
    seconds: float
    rss_samples: list[tuple[float, float]]  # (seconds since start, RSS MB), every 0.5 s

    def steady_rss_mb(self) -> float:
        """Median RSS over the run (the peak can be a moment's spike)."""
        values = sorted(mb for _, mb in self.rss_samples) or [self.maxrss_mb]
        return values[len(values) // 2]


def _hwm_mb(pid: int | str) -> float | None:
    """Peak RSS (VmHWM) of a live process in MB; None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def run_child(argv: Sequence[str], env: dict[str, str], timeout: float = 1800) -> Finished:
    """Run a child to completion, sampling its RSS and its peak RSS (VmHWM) as it runs.

    Not ``ru_maxrss`` from wait4: on Linux, exec carries the parent's high-water mark at
    fork into the child's ``ru_maxrss``, so a child of a parent that just seeded a million
    rows would "peak" at the parent's size. VmHWM belongs to the child's own memory map; it
    only grows, so the last sample (every 20 ms) is the peak.
    """
    started = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as out:
        process = subprocess.Popen(
            list(argv), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True
        )
        deadline = started + timeout
        samples: list[tuple[float, float]] = []
        next_sample = started
        peak = 0.0
        while True:
            hwm = _hwm_mb(process.pid)
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, hwm or 0.0)
            if time.perf_counter() >= next_sample:
                with contextlib.suppress(psutil.Error):
                    rss = psutil.Process(process.pid).memory_info().rss / 2**20
                    samples.append((round(time.perf_counter() - started, 1), round(rss, 1)))
                next_sample += 0.5
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.02)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read()
    return Finished(
        process.returncode,
        peak or usage.ru_maxrss / 1024,
        output,
        time.perf_counter() - started,
        samples,
    )


def dispatch_command() -> list[str]:
    """The real worker: ``flask --app wsgi outreach dispatch --once --quiet``."""
    return [
        sys.executable,
        "-m",
        "flask",
        "--app",
        "wsgi",
        "outreach",
        "dispatch",
        "--once",
        "--quiet",
    ]


def self_maxrss_mb() -> float:
    """This process's own peak RSS in MB (VmHWM; see run_child)."""
    return _hwm_mb("self") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def terminate(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop a child we started and reap it."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bench_worker(
    env: dict[str, str], channel: str, profile: str | None = None, clock_offset: float = 0.0
) -> dict[str, Any]:
    """Run ``python -m bench.worker`` and return its JSON figures (peak RSS from wait4)."""
    argv = [sys.executable, "-m", "bench.worker", "--channel", channel]
    if profile:
        argv += ["--profile", profile]
    if clock_offset:
        argv += ["--clock-offset", str(clock_offset)]
    finished = run_child(argv, env)
    lines = [line for line in finished.output.splitlines() if line.startswith("{")]
    if finished.returncode != 0 or not lines:
        raise RuntimeError(
            f"bench worker failed ({finished.returncode}):\n{finished.output[-3000:]}"
        )
    result = json.loads(lines[-1])
    result["wait4_maxrss_mb"] = finished.maxrss_mb
    return result
