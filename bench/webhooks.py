"""Webhooks under gunicorn (``gunicorn -w 3 wsgi:app``, ``--workers N``) on PostgreSQL.

1. Inbound STOP: an open-loop load generator (threads, one connection per request, as
   gunicorn's sync workers close each one) posts signed texts at a fixed rate (300/s for
   60 s), about 2% of them Twilio retries (same MessageSid) and 2% a second STOP from the
   same number. p50 / p99 latency, errors, and the ledger: every number that said STOP has
   exactly one "revoked" row per audience. Baseline: the same requests at 20/s (unloaded).
2. SendGrid Signed Event Webhook: batches of 1,000 events (processed, delivered, opens,
   clicks, a few bounces and spam reports) signed with an ECDSA key, posted by 4 threads.
   Baseline: one event per request.

    python -m bench.webhooks [--quick] [--rate R] [--seconds S]
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import queue
import random
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO
from urllib.parse import urlencode

import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from twilio.request_validator import RequestValidator

from bench.common import (
    BASE_URL,
    TWILIO_TOKEN,
    Figure,
    app_env,
    checkpoint,
    cli,
    database,
    free_port,
    make_app,
    make_audience,
    make_campaign,
    materialise,
    percentile,
    phone,
    report,
    seed,
    terminate,
)

SMS_PATH = "/webhooks/twilio/sms"
EVENTS_PATH = "/webhooks/sendgrid/events"


#: gunicorn sync workers (``--workers``): cores + 1, as the README deploys (bench/README.md).
WORKERS = 3
#: Unmeasured STOPs per worker before the measured ones (first-request start-up).
WARM_UP_PER_WORKER = 10


def start_gunicorn(
    env: dict[str, str],
    port: int,
    workers: int = WORKERS,
    log: IO[bytes] | None = None,
    args: Sequence[str] = (),
) -> subprocess.Popen:
    """``gunicorn -w workers wsgi:app`` on 127.0.0.1:port; returns once /healthz answers.

    ``log``: a file for the server's output (discarded when None); ``args``: more
    gunicorn options (``--worker-class gthread``, ...)."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [
            str(gunicorn),
            *("-w", str(workers), "-b", f"127.0.0.1:{port}"),
            *("--log-level", "warning", *args, "wsgi:app"),
        ],
        cwd=Path(__file__).resolve().parents[1],
        env={**{k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}, **env},
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    terminate(process)
    raise RuntimeError("gunicorn did not start")


def _post(
    port: int, path: str, body: bytes, headers: dict[str, str], method: str = "POST"
) -> tuple[int, float]:
    """One request on a new connection; returns (status, seconds); status 0 if it failed."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        response.read()
        status = response.status
    except OSError:
        status = 0
    finally:
        connection.close()
    return status, time.perf_counter() - started


def open_loop(
    port: int,
    requests_: list[tuple],
    rate: float,
    threads: int = 48,
    expected: frozenset[int] = frozenset({200}),
) -> tuple[list[float], list[float], int, float]:
    """Send requests at a fixed rate (open loop); returns (latencies, lateness, errors, s).

    Each request is ``(path, body, headers)`` (a POST) or ``(path, body, headers, method)``;
    an answer whose status is not in ``expected`` counts as an error."""
    jobs: queue.Queue = queue.Queue()
    latencies: list[float] = []
    lateness: list[float] = []
    errors = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal errors
        while True:
            job = jobs.get()
            if job is None:
                return
            due, item = job
            late = time.perf_counter() - due
            status, seconds = _post(port, *item)
            with lock:
                latencies.append(seconds)
                lateness.append(late + seconds)
                if status not in expected:
                    errors += 1

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    started = time.perf_counter()
    for index, item in enumerate(requests_):
        due = started + index / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        jobs.put((due, item))
    for _ in pool:
        jobs.put(None)
    for thread in pool:
        thread.join(120)
    return latencies, lateness, errors, time.perf_counter() - started


def stop_requests(
    numbers: list[str],
    rng: random.Random,
    base_url: str = BASE_URL,
    token: str = TWILIO_TOKEN,
    repeats: float = 0.02,
) -> list[tuple[str, bytes, dict]]:
    """Signed inbound STOPs for these numbers, with ~2% retries and ~2% second STOPs."""
    validator = RequestValidator(token)
    words = ["STOP", "stop", "Stop.", " STOP ", "UNSUBSCRIBE", "stop all", "Cancel", "END"]
    made: list[tuple[str, bytes, dict]] = []
    for number in numbers:
        params = {
            "MessageSid": "SM" + secrets.token_hex(16),
            "AccountSid": "AC" + "b" * 32,
            "From": number,
            "To": "+15550100200",
            "Body": rng.choice(words),
            "NumMedia": "0",
        }
        signature = validator.compute_signature(base_url + SMS_PATH, params)
        item = (
            SMS_PATH,
            urlencode(params).encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
        )
        made.append(item)
        draw = rng.random()
        if draw < repeats:
            made.append(item)  # Twilio retried the same MessageSid
        elif draw < 2 * repeats:
            again = {**params, "MessageSid": "SM" + secrets.token_hex(16), "Body": "STOP"}
            signature = validator.compute_signature(base_url + SMS_PATH, again)
            made.append(
                (SMS_PATH, urlencode(again).encode(), {**item[2], "X-Twilio-Signature": signature})
            )
    return made


def inbound_stop(url: str, rate: float, seconds: float, workers: int = WORKERS) -> list[Figure]:
    """The STOP load test; returns its figures."""
    count = int(rate * seconds)
    base_rate, base_seconds = 20.0, min(5.0, seconds)
    base_count = int(base_rate * base_seconds)
    warm_count = WARM_UP_PER_WORKER * workers
    rng = random.Random(5)
    app = make_app(url)
    with app.app_context():
        from outreach.extensions import db

        audiences = [make_audience("stop-a"), make_audience("stop-b")]
        seed(warm_count + count + base_count, audiences, channels=("sms",))
        db.session.remove()
    checkpoint()  # the seeding's dirty pages are not flushed during the measurement
    numbers = [phone(i + 1) for i in range(warm_count + count + base_count)]
    warm_requests = stop_requests(numbers[:warm_count], rng, repeats=0)
    baseline_requests = stop_requests(numbers[warm_count : warm_count + base_count], rng)
    load_requests = stop_requests(numbers[warm_count + base_count :], rng)
    port = free_port()
    server = start_gunicorn(app_env(url), port, workers)
    try:
        # Not measured: each worker's first requests import and compile what it needs.
        open_loop(port, warm_requests, base_rate)
        base_lat, _, base_errors, _ = open_loop(port, baseline_requests, base_rate)
        lat, late, errors, took = open_loop(port, load_requests, rate)
    finally:
        terminate(server)
    with app.app_context():
        from outreach.extensions import db

        revoked = dict(
            db.session.execute(
                sa.text(
                    "SELECT s.phone, count(e.id) FROM subscribers s LEFT JOIN consent_events e "
                    "ON e.subscriber_id = s.id AND e.action = 'revoked' GROUP BY s.phone"
                )
            ).all()
        )
        suppressed = db.session.scalar(
            sa.text("SELECT count(*) FROM suppressions WHERE channel = 'sms'")
        )
        inbound = db.session.scalar(sa.text("SELECT count(*) FROM inbound_sms"))
        db.session.remove()
    wrong = {n: c for n, c in revoked.items() if c != len(audiences)}
    p99 = percentile(lat, 0.99)
    return [
        Figure(
            name=f"inbound STOP at {rate:g}/s for {seconds:g}s: p99",
            ours=p99 * 1000,
            unit="ms",
            target="p99 < 50 ms, 0 errors, 1 opt-out each",
            passed=p99 < 0.05 and errors == 0 and not wrong and suppressed == len(numbers),
            baseline=percentile(base_lat, 0.99) * 1000,
            baseline_note=f"p99 at {base_rate:g}/s",
            note=(
                f"{len(lat):,} requests in {took:.1f}s ({len(lat) / took:.0f}/s), errors "
                f"{errors + base_errors}, p50 {percentile(lat, 0.5) * 1000:.1f} ms, p99 counted "
                f"from the scheduled send time {percentile(late, 0.99) * 1000:.1f} ms; ledger: "
                f"{len(revoked) - len(wrong):,} of {len(revoked):,} numbers have exactly "
                f"{len(audiences)} 'revoked' rows; {suppressed:,} suppressions, {inbound:,} "
                "inbound texts stored (retries not stored twice)"
            ),
        )
    ]


def _event_batches(message_rows: list[tuple[int, str, str]], size: int) -> list[list[dict]]:
    rng = random.Random(9)
    events: list[dict] = []
    stamp = int(time.time()) - 60
    for message_id, provider_id, email in message_rows:
        kinds = ["processed", "delivered"]
        draw = rng.random()
        if draw < 0.3:
            kinds.append("open")
        if draw < 0.05:
            kinds.append("click")
        if draw > 0.998:
            kinds.append("bounce")
        if 0.5 < draw < 0.5002:
            kinds.append("spamreport")
        for kind in kinds:
            events.append(
                {
                    "email": email,
                    "timestamp": stamp,
                    "event": kind,
                    "sg_event_id": secrets.token_urlsafe(16),
                    "sg_message_id": f"{provider_id}.filterdrecv-1-1",
                    "message_id": str(message_id),
                    "category": ["outreach"],
                    **(
                        {"type": "bounce", "reason": "550 5.1.1 unknown user"}
                        if kind == "bounce"
                        else {}
                    ),
                }
            )
    return [events[i : i + size] for i in range(0, len(events), size)]


def _signer() -> tuple[str, Callable[[bytes], dict[str, str]]]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()

    def headers(body: bytes) -> dict[str, str]:
        stamp = str(int(time.time()))
        signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        }

    return public, headers


def closed_loop(port: int, bodies: list[tuple[bytes, dict]], threads: int) -> tuple[float, int]:
    """Post every body with ``threads`` concurrent senders; (seconds, errors)."""
    work: queue.Queue = queue.Queue()
    for item in bodies:
        work.put(item)
    errors = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal errors
        while True:
            try:
                body, headers = work.get_nowait()
            except queue.Empty:
                return
            status, _ = _post(port, EVENTS_PATH, body, headers)
            if status != 200:
                with lock:
                    errors += 1

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return time.perf_counter() - started, errors


def sendgrid_events(url: str, messages: int, workers: int = WORKERS) -> list[Figure]:
    """Batches of 1,000 signed events; events per second, and one event per request."""
    app = make_app(url)
    with app.app_context():
        from outreach.extensions import db

        audience = make_audience("events")
        seed(messages, [audience], channels=("email",), start=10_000_000)
        make_campaign(audience, "email", name="Events")
        materialise()
        db.session.execute(
            sa.text(
                "UPDATE outbox_messages SET state = 'sent', sent_at = now(), "
                "provider_id = 'sg' || (id / 1000)::text WHERE channel = 'email'"
            )
        )
        db.session.commit()
        rows = db.session.execute(
            sa.text(
                "SELECT m.id, m.provider_id, s.email FROM outbox_messages m "
                "JOIN subscribers s ON s.id = m.subscriber_id WHERE m.channel = 'email'"
            )
        ).all()
        db.session.remove()
    public, sign = _signer()
    batches = _event_batches([tuple(r) for r in rows], 1000)
    singles = [[event] for event in batches[-1][:300]]
    bodies = []
    for batch in batches[:-1]:
        body = json.dumps(batch).encode()
        bodies.append((body, sign(body)))
    single_bodies = []
    for one in singles:
        body = json.dumps(one).encode()
        single_bodies.append((body, sign(body)))
    port = free_port()
    server = start_gunicorn(app_env(url, SENDGRID_WEBHOOK_PUBLIC_KEY=public), port, workers)
    try:
        seconds, errors = closed_loop(port, bodies, threads=4)
        single_seconds, single_errors = closed_loop(port, single_bodies, threads=4)
    finally:
        terminate(server)
    events = sum(len(b) for b in batches[:-1])
    rate = events / seconds
    return [
        Figure(
            name="SendGrid events/s in batches of 1,000",
            ours=rate,
            unit="/s",
            target=">= 20,000 /s",
            passed=rate >= 20_000 and errors == 0,
            baseline=len(single_bodies) / single_seconds,
            baseline_note="1 event per request",
            note=(
                f"{events:,} events in {len(bodies)} signed batches, {seconds:.1f}s, "
                f"errors {errors + single_errors}"
            ),
        )
    ]


def run(
    quick: bool = False,
    rate: float = 300.0,
    seconds: float = 60.0,
    only: str | None = None,
    workers: int = WORKERS,
) -> list[Figure]:
    """Both webhook benchmarks (or ``only`` one: "stop" / "events") on a fresh database."""
    if quick:
        rate, seconds = 20.0, 1.0
    figures: list[Figure] = []
    with database("postgresql", "outreach_bench_hooks") as url:
        if only in (None, "stop"):
            figures += inbound_stop(url, rate, seconds, workers)
        if only in (None, "events"):
            figures += sendgrid_events(url, 2_000 if quick else 40_000, workers)
    return figures


def main() -> None:
    """Command line entry point."""
    parser = cli(__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=WORKERS, help="gunicorn workers")
    parser.add_argument("--only", choices=("stop", "events"))
    args = parser.parse_args()
    figures = run(args.quick, args.rate, args.seconds, args.only, args.workers)
    report("Webhooks", figures, args.json)


if __name__ == "__main__":
    main()
