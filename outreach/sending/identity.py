"""Who claims a row: this worker process, and its sending lane."""

from __future__ import annotations

import os
import secrets
import socket
import threading

#: Unique per process start (a restarted container may reuse the pid): rows claimed by an
#: earlier process are never mistaken for ours.
WORKER_ID = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


#: The sending lane of this thread (see ``dispatch_channel``): extra lanes claim as
#: ``WORKER_ID/<lane>``, so each releases only rows it claimed itself.
current_lane = threading.local()


def claimer() -> str:
    """``claimed_by`` for rows this thread claims: the process, plus its lane if not the first."""
    return getattr(current_lane, "claimer", WORKER_ID)
