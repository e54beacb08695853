"""A cheap open-loop HTTP/1.1 load generator, run in its own process.

One thread, non-blocking sockets and a selector: request ``i`` is due at ``start + i/rate``
and starts then (a new connection each, ``Connection: close``), whatever is still in
flight, so a slow server cannot slow the schedule (no coordinated omission). Latency is
counted from the actual connect and, separately, from the scheduled send time; an answer
is complete at the end of its ``Content-Length`` body (no body for HEAD, else at EOF).

Its own CPU is reported, so a run shows how much of the machine the client took: the
threaded ``bench.webhooks.open_loop`` (48 threads, ``http.client``) shares the GIL and
costs several times more per request.

    python -m bench.loadgen JOB.json   (written by ``run``; prints the result as JSON)
"""

from __future__ import annotations

import errno
import json
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
TIMEOUT = 30.0


@dataclass
class Result:
    """What one schedule measured."""

    latencies: list[float] = field(default_factory=list)  # from the connect
    lateness: list[float] = field(default_factory=list)  # from the scheduled send time
    statuses: dict[int, int] = field(default_factory=dict)  # 0: no answer
    seconds: float = 0.0  # first due time to the last answer
    cpu_seconds: float = 0.0  # the generator's user + system CPU over the schedule
    max_in_flight: int = 0


def raw_request(
    path: str, body: bytes, headers: dict[str, str], method: str = "POST", port: int = 0
) -> bytes:
    """One HTTP/1.1 request as bytes (``Connection: close``)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Exchange:
    __slots__ = ("due", "started", "sock", "out", "buf", "head", "need", "status")

    def __init__(self, due: float, sock: socket.socket, out: bytes, head: bool) -> None:
        self.due, self.started, self.sock, self.out = due, time.perf_counter(), sock, out
        self.buf = bytearray()
        self.head = head  # a HEAD request: the answer has no body
        self.need = -1  # bytes the whole answer takes, once its headers are in
        self.status = 0

    def complete(self) -> bool:
        """Whether the answer is all in (status and size read from its headers)."""
        if self.need < 0:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return False
            lines = bytes(self.buf[:end]).split(b"\r\n")
            self.status = int(lines[0].split(b" ", 2)[1])
            length = None
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length is None and not self.head:
                return False  # read to EOF
            self.need = end + 4 + (0 if self.head else length or 0)
        return len(self.buf) >= self.need


def schedule(port: int, payloads: list[tuple[bytes, bool]], rate: float) -> Result:
    """Send each ``(request bytes, is HEAD)`` at ``rate`` per second; wait for every answer."""
    result = Result()
    selector = selectors.DefaultSelector()
    address = (HOST, port)
    cpu0 = time.process_time()
    start = time.perf_counter()
    sent = 0
    open_: dict[int, _Exchange] = {}

    def finish(exchange: _Exchange, status: int) -> None:
        now = time.perf_counter()
        selector.unregister(exchange.sock)
        exchange.sock.close()
        del open_[id(exchange)]
        result.latencies.append(now - exchange.started)
        result.lateness.append(now - exchange.due)
        result.statuses[status] = result.statuses.get(status, 0) + 1

    while sent < len(payloads) or open_:
        now = time.perf_counter()
        while sent < len(payloads) and start + sent / rate <= now:
            out, head = payloads[sent]
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            exchange = _Exchange(start + sent / rate, sock, out, head)
            code = sock.connect_ex(address)
            open_[id(exchange)] = exchange
            selector.register(sock, selectors.EVENT_WRITE, exchange)
            if code not in (0, errno.EINPROGRESS):
                finish(exchange, 0)
            sent += 1
        result.max_in_flight = max(result.max_in_flight, len(open_))
        wait = (start + sent / rate - time.perf_counter()) if sent < len(payloads) else 0.05
        for key, events in selector.select(max(0.0, wait)):
            exchange = key.data
            try:
                if events & selectors.EVENT_WRITE:
                    if exchange.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        finish(exchange, 0)
                        continue
                    done = exchange.sock.send(exchange.out)
                    exchange.out = exchange.out[done:]
                    if not exchange.out:
                        selector.modify(exchange.sock, selectors.EVENT_READ, exchange)
                    continue
                chunk = exchange.sock.recv(65536)
            except OSError:
                finish(exchange, 0)
                continue
            if chunk:
                exchange.buf += chunk
                if exchange.complete():
                    finish(exchange, exchange.status)
            else:  # EOF
                exchange.complete()
                finish(exchange, exchange.status)
        now = time.perf_counter()
        for exchange in [e for e in open_.values() if now - e.started > TIMEOUT]:
            finish(exchange, 0)
    result.seconds = time.perf_counter() - start
    result.cpu_seconds = time.process_time() - cpu0
    selector.close()
    return result


def run(port: int, requests_: list[tuple], rate: float) -> Result:
    """``schedule`` in a new process (``python -m bench.loadgen``): it has no threads of
    ours to share the GIL with; ``requests_`` as ``bench.webhooks.open_loop`` takes them."""
    payloads = []
    for item in requests_:
        path, body, headers, *rest = item
        method = rest[0] if rest else "POST"
        raw = raw_request(path, body, headers, method, port)
        payloads.append((raw.decode("latin-1"), method == "HEAD"))
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as job:
        json.dump({"port": port, "rate": rate, "payloads": payloads}, job)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "bench.loadgen", job.name],
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    finally:
        os.unlink(job.name)
    data = json.loads(out)
    data["statuses"] = {int(k): v for k, v in data["statuses"].items()}
    return Result(**data)


def main() -> None:
    """Child entry point: run the job file's schedule, print the result as JSON."""
    job = json.loads(Path(sys.argv[1]).read_text())
    payloads = [(raw.encode("latin-1"), head) for raw, head in job["payloads"]]
    result = schedule(job["port"], payloads, job["rate"])
    json.dump(result.__dict__, sys.stdout)


if __name__ == "__main__":
    main()
