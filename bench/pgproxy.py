"""A TCP proxy in front of PostgreSQL that a benchmark can take down and bring back.

The served app is pointed at the proxy's port instead of PostgreSQL's, so an outage can be
simulated without touching the shared server (others' tests keep their connections):

* ``cut()``: every proxied connection is closed at once and new ones are refused, as a
  restarting server does to its clients (``terminating connection``, then nothing listens);
* ``silence()``: new connections are accepted and never answered, as from a host that is
  gone: only the client's connect timeout ends them;
* ``restore()``: connections are forwarded again.

Threads, one per direction of each connection: the app's pool holds a handful of them.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

from bench.common import free_port


class PgProxy:
    """127.0.0.1:``port`` forwarding to ``upstream`` (host, port) while it is up."""

    def __init__(self, upstream: tuple[str, int], port: int | None = None) -> None:
        self.upstream = upstream
        self.port = port or free_port()
        self.mode = "down"
        self.accepted = 0
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._held: set[socket.socket] = set()

    # ------------------------------------------------------------------ modes

    def restore(self) -> None:
        """Listen (again) and forward every new connection (held ones are closed)."""
        self._set_mode("up")
        with self._lock:
            held, self._held = list(self._held), set()
        self._drop(*held)

    def silence(self) -> None:
        """Cut what is open; accept new connections but never answer them."""
        self._set_mode("silent")
        self._cut_open()

    def cut(self) -> None:
        """Close every proxied connection and stop listening (connections are refused)."""
        with self._lock:
            listener, self._listener = self._listener, None
            self.mode = "down"
        if listener is not None:
            listener.close()
        self._cut_open()

    def close(self) -> None:
        """Stop for good."""
        self.cut()

    def __enter__(self) -> PgProxy:
        self.restore()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _set_mode(self, mode: str) -> None:
        with self._lock:
            self.mode = mode
            if self._listener is not None:
                return
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(128)
            listener.settimeout(0.1)
            self._listener = listener
        threading.Thread(target=self._accept_loop, args=(listener,), daemon=True).start()

    def _accept_loop(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            self.accepted += 1
            with self._lock:
                self._open.add(client)
                mode = self.mode
                if mode != "up":
                    self._held.add(client)  # never answered; closed by the next change
            if mode != "up":
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                self._drop(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.add(upstream)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            pass
        self._drop(source, target)

    def _drop(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            with self._lock:
                self._open.discard(sock)
                self._held.discard(sock)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def _cut_open(self) -> None:
        with self._lock:
            sockets = list(self._open)
        self._drop(*sockets)


@contextlib.contextmanager
def proxied(database_url: str) -> Iterator[tuple[PgProxy, str]]:
    """A proxy in front of ``database_url``'s server; yields it and the URL through it."""
    import sqlalchemy as sa

    url = sa.engine.make_url(database_url)
    proxy = PgProxy((url.host or "127.0.0.1", url.port or 5432))
    through = url.set(host="127.0.0.1", port=proxy.port)
    text = through.render_as_string(hide_password=False).replace("+psycopg", "")
    with proxy:
        yield proxy, text
