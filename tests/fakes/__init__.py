"""In-process fake channels that record what they are asked to send."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable

from outreach.channels.base import EmailBatch, Outcome, OutgoingSms, SendResult, personalize


class RecordingChannels:
    """Both channels at once; ``outcome_for(address)`` scripts a result per recipient."""

    name = "recording"

    def __init__(
        self, outcome_for: Callable[[str], SendResult | None] | None = None, delay: float = 0.0
    ) -> None:
        self.emails: list[dict] = []
        self.texts: list[dict] = []
        self.outcome_for = outcome_for or (lambda address: None)
        self.delay = delay
        self.lock = threading.Lock()

    def send_batch(self, batch: EmailBatch) -> list[SendResult]:
        """Record each personalised email."""
        results = []
        for r in batch.recipients:
            scripted = self.outcome_for(r.to)
            if scripted is not None:
                results.append(dataclasses.replace(scripted, message_id=r.message_id))
                continue
            with self.lock:
                self.emails.append(
                    {
                        "message_id": r.message_id,
                        "to": r.to,
                        "at": time.monotonic(),
                        "subject": personalize(batch.subject, r.substitutions),
                        "html": personalize(batch.html, r.substitutions),
                        "text": personalize(batch.text, r.substitutions),
                        "headers": dict(r.headers),
                        "categories": batch.categories,
                    }
                )
            results.append(SendResult(r.message_id, Outcome.SENT, f"sg-{r.message_id}"))
        return results

    def send_many(self, messages: list[OutgoingSms]) -> list[SendResult]:
        """Record each text."""
        results = []
        for m in messages:
            if self.delay:
                time.sleep(self.delay)
            scripted = self.outcome_for(m.to)
            if scripted is not None:
                results.append(dataclasses.replace(scripted, message_id=m.message_id))
                continue
            with self.lock:
                self.texts.append(
                    {
                        "message_id": m.message_id,
                        "to": m.to,
                        "body": m.body,
                        "callback": m.status_callback,
                        "at": time.monotonic(),
                    }
                )
            results.append(SendResult(m.message_id, Outcome.SENT, f"SM{m.message_id:032d}"))
        return results

    def install(self, app) -> RecordingChannels:  # noqa: ANN001
        """Make this the app's email and SMS channel."""
        app.extensions["outreach.channels"] = (self, self)
        return self
