"""Worker heartbeats: one row per running worker process (no personal data)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from outreach.extensions import db
from outreach.models.base import UTCDateTime, utcnow


class WorkerHeartbeat(db.Model):
    """A sending worker's last sign of life, written by ``operations/heartbeats.py``."""

    __tablename__ = "worker_heartbeats"

    #: ``sending.identity.worker_id()``: host, pid and a random part, unique per start.
    worker_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    host: Mapped[str] = mapped_column(String(64))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_beat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: What it is doing, e.g. ``email: 500 rows`` (a channel and a count, never a person).
    current_batch: Mapped[str | None] = mapped_column(String(120))

    __table_args__ = (Index("ix_worker_heartbeats_last_beat_at", "last_beat_at"),)
