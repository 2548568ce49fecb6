"""Police feed uploads (DESIGN 10): `POST /api/imports/police-feed` answers 202 with a job,
`GET /api/imports/{id}` its progress and summary, `GET /api/imports/{id}/rejects` the
rejects as CSV."""

import csv
import io
import shutil
import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from anyio import to_thread
from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from triage.caller import Caller
from triage.deps import DbSession, NoUnknownQuery, allow_roles
from triage.errors import InvalidInput, NotFound
from triage.imports import repository
from triage.imports.jobs import Jobs
from triage.imports.models import ImportJob
from triage.imports.service import REJECT_COLUMNS, reject_row
from triage.lifecycle.codes import Role

router = APIRouter(prefix="/api/imports", tags=["imports"])
feed_senders = allow_roles(Role.intake, Role.triage)
FeedSender = Annotated[Caller, Depends(feed_senders)]
REJECTS_SHOWN = 100

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary",
                                 "description": "the feed: CSV with a header row, or JSON lines"},
                        "mapping": {"type": "string", "format": "binary",
                                    "description": "a force's own columns: the mapping TOML"},
                    },
                }
            }
        },
    }
}  # fmt: skip


class RejectRead(BaseModel):
    row: int
    external_ref: str
    field: str
    reason: str


class ImportRead(BaseModel):
    id: UUID
    kind: str
    filename: str
    status: str  # queued, running, done, failed
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    rows_read: int
    created: int
    already_present: int
    rejected: int
    error: str | None
    rejects: list[RejectRead]  # the first 100; every one at rejects_url
    rejects_url: str


@router.post(
    "/police-feed",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ImportRead,
    openapi_extra=UPLOAD_BODY,
)
async def upload_police_feed(
    request: Request, caller: FeedSender, session: DbSession, _unknown: NoUnknownQuery = None
) -> ImportRead:
    """Upload a police feed (multipart: `file`, and `mapping` for a force's own columns) to
    import in the background; answers 202 with the job: poll `GET /api/imports/{id}`."""
    jobs: Jobs = request.app.state.import_jobs
    try:
        form = await request.form(max_files=2, max_fields=2)
    except HTTPException as error:  # a body that is not multipart as it says
        raise InvalidInput(f"the upload cannot be read: {error.detail}", field=("body",)) from None
    upload = form.get("file")
    mapping = form.get("mapping")
    if not isinstance(upload, UploadFile):
        raise InvalidInput("attach the feed as the multipart field `file`", field=("body", "file"))
    if mapping is not None and not isinstance(mapping, UploadFile):
        raise InvalidInput("attach the mapping as a file", field=("body", "mapping"))
    folder = Path(request.app.state.settings.imports_dir)
    name = uuid.uuid4().hex
    stored = await to_thread.run_sync(_keep, upload, folder / f"{name}.feed")
    kept_mapping = (
        await to_thread.run_sync(_keep, mapping, folder / f"{name}.mapping.toml")
        if mapping is not None
        else None
    )
    job = await to_thread.run_sync(
        lambda: jobs.add(
            session,
            caller=caller,
            filename=upload.filename or "upload",
            stored=stored,
            mapping=kept_mapping,
        )  # fmt: skip
    )
    answer = _read(session, job)
    await to_thread.run_sync(session.commit)  # the job's thread must see it
    jobs.run(job.id)
    return answer


def _keep(upload: UploadFile, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    upload.file.seek(0)
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out, 1024 * 1024)
    return path


@router.get("/{job_id}", response_model=ImportRead)
def read_import(
    job_id: UUID,
    caller: FeedSender,
    session: DbSession,
    _unknown: NoUnknownQuery = None,
) -> ImportRead:
    """An import's progress and, once done, its summary (rows read, created, already
    present, rejected) with the first 100 rejects."""
    return _read(session, _job(session, job_id, caller))


@router.get(
    "/{job_id}/rejects",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def import_rejects(
    job_id: UUID, caller: FeedSender, session: DbSession, _unknown: NoUnknownQuery = None
) -> Response:
    """Every reject of an import as CSV: row, external_ref, field, reason."""
    job = _job(session, job_id, caller)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(REJECT_COLUMNS)
    writer.writerows(reject_row(r) for r in repository.rejects_of(session, job.id))
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8")


def _job(session: Session, job_id: UUID, caller: Caller) -> ImportJob:
    """The job, if the caller may see it: triage any, an intake user their own."""
    job = repository.job(session, job_id)
    if job is None or (caller.role == Role.intake and job.created_by != caller.user_id):
        raise NotFound(f"no import {job_id}")
    return job


def _read(session: Session, job: ImportJob) -> ImportRead:
    rejects = repository.rejects_of(session, job.id, limit=REJECTS_SHOWN)
    values: dict[str, Any] = {
        name: getattr(job, name)
        for name in ("id", "kind", "filename", "status", "created_at", "started_at",
                     "finished_at", "rows_read", "created", "already_present", "rejected",
                     "error")
    }  # fmt: skip
    return ImportRead(
        **values,
        rejects=[
            RejectRead(row=r.row, external_ref=r.external_ref, field=r.field, reason=r.reason)
            for r in rejects
        ],  # fmt: skip
        rejects_url=f"/api/imports/{job.id}/rejects",
    )
