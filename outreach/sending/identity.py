"""Who claims a row: this worker process, and its sending lane."""

from __future__ import annotations

import os
import secrets
import socket
import threading

_identity: tuple[int, str] | None = None  # (pid, id): a forked child makes its own
_identity_lock = threading.Lock()  # lanes start together: they must not each make an id

#: The sending lane of this thread (see ``run.dispatch_channel``): extra lanes claim as
#: ``<worker id>/<lane>``, so each releases only rows it claimed itself.
current_lane = threading.local()


def worker_id() -> str:
    """This process's id, made at its first claim: host, pid and a random part, unique per
    process start (a restarted container may reuse the pid), so rows claimed by an earlier
    process are never mistaken for ours."""
    global _identity
    pid = os.getpid()
    with _identity_lock:
        if _identity is None or _identity[0] != pid:
            _identity = (pid, f"{socket.gethostname()[:40]}:{pid}:{secrets.token_hex(4)}")
        return _identity[1]


def claimer() -> str:
    """``claimed_by`` for rows this thread claims: the process, plus its lane if not the first."""
    return getattr(current_lane, "claimer", None) or worker_id()
