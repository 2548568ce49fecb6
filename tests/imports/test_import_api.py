"""`POST /api/imports/police-feed` (202 and a job), `GET /api/imports/{id}` (progress and
summary), the rejects as CSV, and a job that outlives the process running it."""

import time
from datetime import date
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.support import FakeClock
from triage.app import create_app
from triage.auth import service as auth_service
from triage.config import Settings
from triage.db import transaction
from triage.demo.feed import write_feed
from triage.imports.jobs import STALE
from triage.imports.models import ImportJob
from triage.referrals.models import Referral
from triage.rule_sources import RuleSources

TODAY = date(2026, 11, 24)


def upload(api: Any, feed: Path, **files: Any) -> Any:
    return api.client.post(
        "/api/imports/police-feed",
        headers=api.headers,
        files={"file": (feed.name, feed.read_bytes(), "text/csv"), **files},
    )


def finished(api: Any, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        job = api.get(f"/api/imports/{job_id}").json()
        if job["status"] in ("done", "failed"):
            return job  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def test_an_upload_is_imported_in_the_background(sign_in: Any, tmp_path: Path,
                                                 settings: Settings) -> None:  # fmt: skip
    feed = tmp_path / "feed.csv"
    plan = write_feed(feed, 700, bad_share=0.04, repeat_share=0.05, today=TODAY)
    intake = sign_in("intake")
    answer = upload(intake, feed)
    assert answer.status_code == 202, answer.text
    queued = answer.json()
    assert queued["status"] in ("queued", "running", "done") and queued["filename"] == "feed.csv"

    job = finished(intake, queued["id"])
    assert job["status"] == "done", job
    assert (job["rows_read"], job["created"], job["already_present"], job["rejected"]) == (
        plan.rows, plan.created, plan.already_present, plan.rejected)  # fmt: skip
    assert {r["row"] for r in job["rejects"]} == set(plan.rejects)
    csv_answer = intake.client.get(job["rejects_url"], headers=intake.headers)
    assert csv_answer.headers["content-type"].startswith("text/csv")
    lines = csv_answer.text.splitlines()
    assert lines[0] == "row,external_ref,field,reason" and len(lines) - 1 == len(job["rejects"])
    assert list(settings.imports_dir.iterdir()) == []  # the upload is not kept once done

    assert sign_in("triage").get(f"/api/imports/{queued['id']}").status_code == 200
    other_feed = sign_in("intake")  # another feed's user does not see it
    assert other_feed.get(f"/api/imports/{queued['id']}").status_code == 404
    assert sign_in("commissioner").get(f"/api/imports/{queued['id']}").status_code == 403


def test_an_upload_that_is_no_feed_fails_saying_why(sign_in: Any, tmp_path: Path) -> None:
    feed = tmp_path / "notes.csv"
    feed.write_text("name,age\r\nA,1\r\n", encoding="utf-8")
    api = sign_in("triage")
    job = finished(api, upload(api, feed).json()["id"])
    assert job["status"] == "failed"
    assert "name, age not v1 columns" in job["error"] and str(tmp_path) not in job["error"]


def test_the_upload_is_checked_after_who_asks(client: TestClient, sign_in: Any) -> None:
    files = {"file": ("f.csv", b"external_ref\r\n", "text/csv")}
    assert client.post("/api/imports/police-feed", files=files).status_code == 401
    provider = sign_in("provider", provider="core-general")
    assert provider.client.post("/api/imports/police-feed", headers=provider.headers,
                                files=files).status_code == 403  # fmt: skip
    api = sign_in("triage")
    none = api.client.post("/api/imports/police-feed", headers=api.headers, data={"x": "1"})
    assert none.status_code == 422 and none.json()["detail"][0]["loc"] == ["body", "file"]


def test_an_upload_over_its_limit_is_refused(
    settings: Settings, rules: RuleSources, clock: FakeClock, providers: list[str], sign_in: Any
) -> None:
    app = create_app(settings.model_copy(update={"import_max_mb": 1}), clock=clock, rules=rules)
    with TestClient(app) as small:
        api = sign_in("triage")
        files = {"file": ("big.csv", b"x" * (1024 * 1024 + 1), "text/csv")}
        answer = small.post("/api/imports/police-feed", headers=api.headers, files=files)
    app.state.engine.dispose()
    assert answer.status_code == 413


def test_a_job_left_running_by_a_stopped_process_is_resumed_after_its_last_batch(
    session_factory: sessionmaker[Session], settings: Settings, rules: RuleSources,
    clock: FakeClock, providers: list[str], tmp_path: Path,
) -> None:  # fmt: skip
    settings.imports_dir.mkdir(parents=True)
    stored = settings.imports_dir / "left.feed"
    plan = write_feed(stored, 900, bad_share=0.02, today=TODAY)
    app = create_app(settings, clock=clock, rules=rules)
    jobs = app.state.import_jobs
    with transaction(session_factory) as session:
        caller = auth_service.feed_caller(session, username=auth_service.FEED_USER, now=clock())
        job = jobs.add(session, caller=caller, filename="left.csv", stored=stored, mapping=None)
        job_id = job.id
    # The first process imported rows 1-500 and stopped (its heartbeat then went stale).
    from adapters.police_feed.reader import FeedFile
    from triage.imports.service import Context, import_feed

    first = [row for row in FeedFile(stored).rows() if row.number <= 500]

    class FirstRows:
        def rows(self) -> Any:
            return iter(first)

    with transaction(session_factory) as session:
        session.get(ImportJob, job_id).status = "running"  # type: ignore[union-attr]
    import_feed(session_factory, FirstRows(), Context(caller, rules, settings, clock),
                done=lambda session, batch: jobs._progress(session, job_id, batch),
                batch_size=250)  # fmt: skip
    clock.advance(seconds=STALE.total_seconds() + 1)

    with TestClient(app):  # a new process starts: it finds the job and resumes it
        deadline = time.monotonic() + 60
        while True:
            with session_factory() as session:
                state = session.get(ImportJob, job_id)
                assert state is not None
                if state.status == "done":
                    break
            assert time.monotonic() < deadline
            time.sleep(0.05)
    app.state.engine.dispose()
    assert (state.rows_read, state.created, state.already_present, state.rejected) == (
        plan.rows, plan.created, plan.already_present, plan.rejected)  # fmt: skip
    assert state.rows_done == 900
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Referral)) == plan.created
