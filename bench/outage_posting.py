"""The load of ``bench.faults_webhooks``: signed STOPs and event batches, posted at their
due times from a few threads, each retried after a non-2xx answer until it gets one.

A retry waits 0.25 s, doubling to 2 s (SendGrid retries a batch; Twilio calls the
Messaging Service's fallback URL, here the same path, with ``ErrorCode`` and ``ErrorUrl``
added and signed). Every HTTP request is kept as an ``Attempt``.
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from bench import webhooks
from bench.common import BASE_URL, TWILIO_TOKEN, phone
from bench.pgproxy import PgProxy

#: Signs a SendGrid event body: the request's headers.
Signer = Callable[[bytes], dict[str, str]]


@dataclass
class Attempt:
    """One HTTP request: when (s from the start), how long, the status, the proxy's mode."""

    sent: float
    seconds: float
    status: int
    mode: str


@dataclass
class Job:
    """A STOP text or an event batch, posted until a 2xx."""

    kind: str  # "stop" or "events"
    due: float
    subscriber_id: int = 0
    params: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    message_ids: list[int] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    applied: bool = False

    @property
    def acknowledged(self) -> bool:
        """Whether any attempt got a 2xx."""
        return any(200 <= a.status < 300 for a in self.attempts)

    @property
    def retried(self) -> bool:
        """Whether an attempt did not get a 2xx."""
        return any(not 200 <= a.status < 300 for a in self.attempts)


def stop_jobs(subscriber_ids: list[int], rate: float) -> list[Job]:
    """A signed STOP from each subscriber's number, ``rate`` per second."""
    rng = random.Random(6)
    words = ["STOP", "stop", "Stop.", "UNSUBSCRIBE", "stop all", "Cancel", "END", "QUIT"]
    return [
        Job(
            kind="stop",
            due=index / rate,
            subscriber_id=subscriber_id,
            params={
                "MessageSid": "SM" + secrets.token_hex(16),
                "AccountSid": "AC" + "b" * 32,
                "From": phone(subscriber_id),
                "To": "+15550100200",
                "Body": rng.choice(words),
                "NumMedia": "0",
            },
        )
        for index, subscriber_id in enumerate(subscriber_ids)
    ]


def event_jobs(rows: list[tuple[int, str, str]], rate: float, size: int) -> list[Job]:
    """Batches of processed + delivered events for ``size`` sent rows, ``rate`` per second."""
    stamp = int(time.time()) - 60
    jobs = []
    for index in range(len(rows) // size):
        chunk = rows[index * size : (index + 1) * size]
        events = [
            {
                "email": email,
                "timestamp": stamp,
                "event": kind,
                "sg_event_id": secrets.token_urlsafe(16),
                "sg_message_id": f"{provider_id}.filterdrecv-1-1",
                "message_id": str(message_id),
            }
            for message_id, provider_id, email in chunk
            for kind in ("processed", "delivered")
        ]
        jobs.append(
            Job(
                kind="events",
                due=index / rate,
                body=json.dumps(events).encode(),
                message_ids=[m for m, _, _ in chunk],
                event_ids=[e["sg_event_id"] for e in events],
            )
        )
    return jobs


def _request(job: Job, sign: Signer) -> tuple[str, bytes, dict[str, str]]:
    """The request for the next attempt: a retried STOP goes as Twilio's fallback call."""
    if job.kind == "events":
        return webhooks.EVENTS_PATH, job.body, sign(job.body)
    params = dict(job.params)
    if job.attempts:
        params |= {"ErrorCode": "11200", "ErrorUrl": BASE_URL + webhooks.SMS_PATH}
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        BASE_URL + webhooks.SMS_PATH, params
    )
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
    }
    return webhooks.SMS_PATH, urlencode(params).encode(), headers


def post_through(
    port: int, jobs: list[Job], posters: int, deadline: float, proxy: PgProxy, sign: Signer
) -> tuple[float, list[threading.Thread]]:
    """Post every job from ``posters`` threads, each at its due time, retrying non-2xx
    until ``deadline`` s after the last first attempt.

    Returns (the start instant, the threads): the caller drives the outage meanwhile."""
    started = time.monotonic()
    give_up = started + max(j.due for j in jobs) + deadline
    heap = [(started + j.due, n, j) for n, j in enumerate(jobs)]
    heapq.heapify(heap)
    order = itertools.count(len(heap))
    lock = threading.Condition()
    pending = [len(jobs)]

    def poster() -> None:
        while True:
            with lock:
                while True:
                    if not pending[0]:
                        return
                    if heap and heap[0][0] <= time.monotonic():
                        _, _, job = heapq.heappop(heap)
                        break
                    wait = heap[0][0] - time.monotonic() if heap else 0.5
                    lock.wait(min(max(wait, 0.001), 0.5))
            path, body, headers = _request(job, sign)
            mode, sent = proxy.mode, time.monotonic() - started
            status, seconds = webhooks._post(port, path, body, headers)
            job.attempts.append(Attempt(sent, seconds, status, mode))
            with lock:
                failures = sum(1 for a in job.attempts if not 200 <= a.status < 300)
                if 200 <= status < 300 or time.monotonic() > give_up:
                    pending[0] -= 1
                else:
                    backoff = min(0.25 * 2 ** (failures - 1), 2.0)
                    heapq.heappush(heap, (time.monotonic() + backoff, next(order), job))
                lock.notify_all()

    threads = [threading.Thread(target=poster, daemon=True) for _ in range(posters)]
    for thread in threads:
        thread.start()
    return started, threads
