"""An upload's import job and its rejects: kept, so a job outlives the process that ran it."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from triage.db import Base


class ImportJob(Base):
    """A police feed upload being imported: its progress commits with each batch of rows
    (`rows_done`, the counts), so a job cut off by a restart resumes after its last batch."""

    __tablename__ = "import_jobs"
    __table_args__ = (Index("ix_import_jobs_status_heartbeat_at", "status", "heartbeat_at"),)

    id: Mapped[UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    filename: Mapped[str] = mapped_column(String(200))
    stored_at: Mapped[str] = mapped_column(Text)  # the upload's file on the server
    mapping_at: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # queued, running, done, failed
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime]
    rows_done: Mapped[int] = mapped_column(default=0)
    rows_read: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    already_present: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(500))


class ImportReject(Base):
    """One problem of one rejected row of a job (as the rejects file's line)."""

    __tablename__ = "import_rejects"
    __table_args__ = (Index("ix_import_rejects_job_id_row", "job_id", "row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[UUID] = mapped_column(ForeignKey("import_jobs.id"))
    row: Mapped[int]
    external_ref: Mapped[str] = mapped_column(String(100))
    field: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(1000))
