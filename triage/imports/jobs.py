"""Import jobs (`POST /api/imports/police-feed`): run on a thread of their own, their
progress committed with each batch, so a job outlives the process that started it.

A job is taken with one conditional UPDATE (queued, or running without a heartbeat for
`STALE`): a restarted or other process whose disk holds the upload resumes it after its last
committed batch, and the summary counts each row once. One whose upload is not on any disk
that looks for it stays queued; a job ends `done` or `failed` with the reason, and its upload
is deleted (it holds victims' details).
"""

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

from sqlalchemy.orm import Session, sessionmaker

from triage.auth import service as auth_service
from triage.caller import Caller
from triage.config import Settings
from triage.db import transaction
from triage.imports import repository
from triage.imports.feed import FeedReader, FeedUnreadable
from triage.imports.models import ImportJob
from triage.imports.service import Batch, Context, Summary, import_feed
from triage.rule_sources import RuleSources

log = logging.getLogger(__name__)

STALE = timedelta(seconds=60)  # a running job's heartbeat (each batch) older than this: gone
KIND = "police_feed"


class Stopped(Exception):
    """The process is stopping: the job goes back to the queue after its last batch."""


@dataclass
class Jobs:
    factory: sessionmaker[Session]
    rules: RuleSources
    settings: Settings
    clock: Callable[[], datetime]
    make_reader: Callable[[Path, Path | None], FeedReader]
    look_every: float = 15.0  # seconds between looks for jobs left by another process

    def __post_init__(self) -> None:
        self._runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-job")
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    # Starting and stopping ------------------------------------------------------------------

    def start(self) -> None:
        """Resume the jobs left by a process that stopped, now and every `look_every`."""
        self._watcher = threading.Thread(target=self._watch, name="import-watch", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        """Stop after the running batch: its job goes back to the queue, to resume."""
        self._stopping.set()
        self._runner.shutdown(wait=True, cancel_futures=True)

    def _watch(self) -> None:
        while not self._stopping.is_set():
            try:
                self.resume()
            except Exception:  # the database away for a while: look again later
                log.warning("looking for import jobs to resume failed", exc_info=True)
            self._stopping.wait(self.look_every)

    def resume(self) -> None:
        with transaction(self.factory) as session:
            left = repository.waiting(session, stale_before=self.clock() - STALE)
            ids = [job.id for job in left if Path(job.stored_at).exists()]
        for job_id in ids:
            self.run(job_id)

    # A new upload ---------------------------------------------------------------------------

    def add(self, session: Session, *, caller: Caller, filename: str, stored: Path,
            mapping: Path | None) -> ImportJob:  # fmt: skip
        """Queue a job for an upload already stored (run once the request commits: `run`)."""
        now = self.clock()
        job = ImportJob(
            id=uuid.uuid4(), kind=KIND, filename=filename[:200], stored_at=str(stored),
            mapping_at=str(mapping) if mapping else None, status="queued",
            created_by=caller.user_id, created_at=now, started_at=None, finished_at=None,
            heartbeat_at=now, rows_done=0, rows_read=0, created=0, already_present=0,
            rejected=0, error=None,
        )  # fmt: skip
        repository.add_job(session, job)
        return job

    def run(self, job_id: UUID) -> None:
        """Run a job on the job thread (unless this process is stopping)."""
        if not self._stopping.is_set():
            self._runner.submit(self._run, job_id)

    # Running ------------------------------------------------------------------------------

    def _run(self, job_id: UUID) -> None:
        now = self.clock()
        with transaction(self.factory) as session:
            if not repository.claim(session, job_id, now=now, stale_before=now - STALE):
                return  # done, or running elsewhere
            job = repository.job(session, job_id)
            assert job is not None
            stored, mapping, after_row = job.stored_at, job.mapping_at, job.rows_done
            caller = auth_service.caller_of(session, job.created_by)
        try:
            reader = self.make_reader(Path(stored), Path(mapping) if mapping else None)
            context = Context(caller, self.rules, self.settings, self.clock)
            import_feed(self.factory, reader, context, after_row=after_row,
                        done=lambda session, batch: self._progress(session, job_id, batch),
                        committed=self._check_stopping)  # fmt: skip
        except Stopped:
            self._end(job_id, "queued")
            return
        except FeedUnreadable as error:
            self._end(job_id, "failed", str(error).replace(str(stored), "the upload"))
        except Exception as error:
            log.error("import job %s stopped: %s", job_id, type(error).__name__)
            self._end(job_id, "failed", f"the import stopped ({type(error).__name__})")
        else:
            self._end(job_id, "done")
        for path in (stored, mapping):
            if path:
                Path(path).unlink(missing_ok=True)

    def _progress(self, session: Session, job_id: UUID, batch: Batch) -> None:
        summary = batch.summary
        repository.progress(
            session, job_id, last_row=batch.last_row, now=self.clock(),
            counts={"rows_read": summary.read, "created": summary.created,
                    "already_present": summary.already_present, "rejected": summary.rejected},
            rejects=[{"row": r.row, "external_ref": r.external_ref, "field": r.field[:100],
                      "reason": r.reason[:1000]} for r in batch.rejects],
        )  # fmt: skip

    def _check_stopping(self, _: Summary) -> None:
        if self._stopping.is_set():
            raise Stopped

    def _end(self, job_id: UUID, status: str, error: str | None = None) -> None:
        with transaction(self.factory) as session:
            repository.finish(session, job_id, status=status, now=self.clock(), error=error)
