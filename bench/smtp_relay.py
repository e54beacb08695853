"""A local SMTP relay for the email benchmark (aiosmtpd on 127.0.0.1): accepts every
message, keeps only its Message-ID, so the benchmark can count messages and duplicates."""

from __future__ import annotations

import re
import threading

from aiosmtpd.controller import Controller

from bench.common import free_port

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class CountingRelay:
    """aiosmtpd handler: every message accepted, its Message-ID kept."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.message_ids: list[bytes] = []
        self.connections = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: ANN001, ANN201, D102
        with self.lock:
            self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, D102
        found = _MESSAGE_ID.search(envelope.original_content or envelope.content)
        with self.lock:
            self.message_ids.append(found.group(1) if found else b"")
        return "250 2.0.0 queued"

    def counts(self) -> tuple[int, int, int]:
        """(messages, duplicate Message-IDs, connections) so far."""
        with self.lock:
            return (
                len(self.message_ids),
                len(self.message_ids) - len(set(self.message_ids)),
                self.connections,
            )


class LocalRelay:
    """``with LocalRelay() as relay:`` a counting relay on a free port; ``relay.url`` is its
    ``OUTREACH_SMTP_URL`` (no TLS, no pacing: the relay is on this machine)."""

    def __init__(self) -> None:
        self.handler = CountingRelay()
        self.port = free_port()
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, data_size_limit=1_000_000
        )
        self.url = f"smtp://127.0.0.1:{self.port}?mps=0"

    def __enter__(self) -> LocalRelay:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
