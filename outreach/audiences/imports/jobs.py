"""Imports started from the web: job files, progress, and the thread that runs them."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from flask import Flask

from outreach.audiences.imports.reading import inspect_csv
from outreach.audiences.imports.run import ImportResult, run_import
from outreach.audiences.imports.settings import CsvInfo, ImportProblem, settings_from_json
from outreach.clock import now as clock_now
from outreach.extensions import db

log = logging.getLogger(__name__)


#: How long finished import jobs (and their reports) are kept.
JOB_RETENTION = timedelta(days=7)


#: A running job that has not written progress for this long has stopped.
STALE_AFTER = timedelta(minutes=10)


_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


class JobStore:
    """Import jobs on disk (``<instance>/imports/<id>/``): the upload, its state, the report.

    State lives in ``job.json`` (written atomically) so any web process on the machine can
    answer the progress endpoint. The uploaded file is deleted when the import finishes.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, job_id: str) -> Path:
        if not _JOB_ID.fullmatch(job_id or ""):
            raise KeyError(job_id)
        return self.root / job_id

    def create(self, upload: IO[bytes], filename: str, actor_id: int | None) -> dict[str, Any]:
        """Store an upload and read its header; raises ImportProblem for unusable files."""
        self.cleanup()
        job_id = secrets.token_hex(16)
        folder = self.root / job_id
        folder.mkdir(parents=True)
        target = folder / "upload.csv"
        with target.open("wb") as out:
            shutil.copyfileobj(upload, out, 1 << 20)
        try:
            info = inspect_csv(target)
        except ImportProblem:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        state = {
            "id": job_id,
            "state": "uploaded",
            "filename": Path(filename or "import.csv").name[:120],
            "actor_id": actor_id,
            "created_at": clock_now().isoformat(),
            "size": target.stat().st_size,
            "info": asdict(info),
            "settings": None,
            "result": None,
            "error": None,
        }
        self.save(state)
        return state

    def load(self, job_id: str) -> dict[str, Any]:
        """A job's state; KeyError if there is none.

        A running job whose state file has not moved for STALE_AFTER was cut off (the
        process stopped): it is reported as failed. Importing the file again is safe.
        """
        path = self._dir(job_id) / "job.json"
        if not path.exists():
            raise KeyError(job_id)
        state = json.loads(path.read_text())
        if state["state"] in ("queued", "running"):
            idle = time.time() - path.stat().st_mtime
            if idle > STALE_AFTER.total_seconds():
                state["state"] = "failed"
                state["error"] = (
                    "the import stopped part-way (the server restarted?); importing the same "
                    "file again is safe: people already imported count as already subscribed"
                )
        return state

    def save(self, state: dict[str, Any]) -> None:
        """Write a job's state atomically."""
        folder = self._dir(state["id"])
        tmp = folder / "job.json.tmp"
        tmp.write_text(json.dumps(state, default=str))
        os.replace(tmp, folder / "job.json")

    def upload_path(self, job_id: str) -> Path:
        """Where the uploaded CSV is kept until the import finishes."""
        return self._dir(job_id) / "upload.csv"

    def report_path(self, job_id: str) -> Path:
        """Where the rejected-rows report is written."""
        return self._dir(job_id) / "rejected.csv"

    def info(self, state: dict[str, Any]) -> CsvInfo:
        """The CsvInfo stored with a job."""
        return CsvInfo(**state["info"])

    def cleanup(self) -> None:
        """Remove jobs older than JOB_RETENTION (their reports hold personal data)."""
        if not self.root.exists():
            return
        cutoff = (clock_now() - JOB_RETENTION).timestamp()
        for folder in self.root.iterdir():
            try:
                if folder.is_dir() and folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                continue


def run_job(store: JobStore, job_id: str) -> None:
    """Run a mapped job to the end, recording progress and the result in its state file."""
    state = store.load(job_id)
    settings = settings_from_json(state["settings"])
    state["state"] = "running"
    state["started_at"] = clock_now().isoformat()
    store.save(state)

    def progress(result: ImportResult) -> None:
        state["result"] = result.as_dict()
        store.save(state)

    try:
        with store.report_path(job_id).open("w", newline="", encoding="utf-8") as report:
            result = run_import(
                store.upload_path(job_id), settings, report=report, progress=progress
            )
    except Exception as exc:  # noqa: BLE001 - the job must end in a state staff can see
        db.session.rollback()
        log.error("import job %s failed: %s", job_id, type(exc).__name__)
        state["state"] = "failed"
        state["error"] = (
            str(exc) if isinstance(exc, ImportProblem) else "the import stopped unexpectedly"
        )
    else:
        state["state"] = "done"
        state["result"] = result.as_dict()
    state["finished_at"] = clock_now().isoformat()
    store.upload_path(job_id).unlink(missing_ok=True)
    store.save(state)


def start_job(app: Flask, store: JobStore, job_id: str) -> threading.Thread:
    """Run a job in a background thread with its own app context (and database session)."""

    def work() -> None:
        with app.app_context():
            try:
                run_job(store, job_id)
            finally:
                db.session.remove()

    thread = threading.Thread(target=work, name=f"import-{job_id[:8]}", daemon=True)
    thread.start()
    return thread
