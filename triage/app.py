"""create_app(settings): the one place that wires the service together."""

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from adapters.notifications.log import LogNotifier
from adapters.notifications.smtp import SmtpNotifier
from adapters.sharing.jsonl import JsonLinesFile, JsonLinesStream
from triage import openapi
from triage.auth import service as auth_service
from triage.auth.api import router as auth_router
from triage.auth.gate import SignInGate
from triage.config import Settings, get_settings
from triage.db import make_engine, make_session_factory, ping
from triage.deadlines.api import router as alerts_router
from triage.deadlines.scheduler import add_sweep_job
from triage.deps import Clock, system_clock
from triage.edge import (
    BodyLimit,
    Unexpected,
    request_invalid,
    unprocessable,
)
from triage.errors import (
    BodyInvalid,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    Throttled,
)
from triage.imports.api import router as imports_router
from triage.imports.feed import FeedReader
from triage.imports.jobs import Jobs
from triage.metrics import Metrics, MetricsMiddleware
from triage.notifications.protocol import Notifier
from triage.providers.api import router as providers_router
from triage.providers.listing import DirectoryReader
from triage.referrals.api import router as referrals_router
from triage.reports.access import router as audit_router
from triage.reports.api import router as reports_router
from triage.rule_sources import RuleSources
from triage.web.errors import error_page
from triage.web.mount import add_pages, is_page

STATUS_OF: list[tuple[type[DomainError], int]] = [
    (Throttled, status.HTTP_429_TOO_MANY_REQUESTS),
    (NotAuthenticated, status.HTTP_401_UNAUTHORIZED),
    (Forbidden, status.HTTP_403_FORBIDDEN),
    (NotFound, status.HTTP_404_NOT_FOUND),
    (Conflict, status.HTTP_409_CONFLICT),
]


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock = system_clock,
    rules: RuleSources | None = None,
) -> FastAPI:
    """The service: its routes, error answers, scheduler and metrics. The rule data is read
    here once (`rules`, or from the settings' folder) and kept until a restart."""
    settings = settings or get_settings()
    rules = rules or RuleSources.from_settings(settings)
    engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    session_factory = make_session_factory(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scheduler = None
        if settings.scheduler:
            scheduler = BackgroundScheduler(timezone="UTC")
            add_sweep_job(
                scheduler,
                factory=session_factory,
                rules=rules,
                settings=settings,
                clock=clock,
                notifier=make_notifier(settings),
            )
            scheduler.start()
        app.state.import_jobs.start()
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=True)
            app.state.sign_in_gate.close()
            app.state.import_jobs.stop()

    app = FastAPI(
        title="Victim referral triage and routing",
        version="0.1.0",
        description="Referrals from the Victim & Witness Triage Unit to CORE providers.",
        lifespan=lifespan,
        docs_url=None,  # served by the pages, from this service's own copy of Swagger UI
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory
    # Reports may read a replica (DESIGN 8); then they do not fold first (they cannot write).
    app.state.reports_on_replica = settings.reports_database_url is not None
    app.state.reports_session_factory = (
        make_session_factory(make_engine(settings.reports_database_url))
        if settings.reports_database_url
        else session_factory
    )
    app.state.clock = clock
    app.state.rules = rules
    app.state.authenticate = auth_service.RememberedCallers(settings.token_cache_seconds)
    app.state.sign_in_gate = SignInGate(
        checks=settings.password_checks,
        hold=settings.sign_in_refusal_hold_seconds,
        rest=settings.password_check_rest,
    )
    app.state.import_jobs = Jobs(
        session_factory, rules, settings, clock, make_reader=make_feed_reader
    )
    for router in (
        auth_router,
        imports_router,
        referrals_router,
        providers_router,
        alerts_router,
        reports_router,
        audit_router,
    ):
        app.include_router(router)
    app.add_middleware(Unexpected)
    app.add_middleware(
        BodyLimit, larger={"/api/imports/police-feed": settings.import_max_mb * 1024 * 1024}
    )
    add_pages(app, settings)
    _add_error_handlers(app)
    _add_health_routes(app)
    metrics = Metrics()
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_api_route(
        "/metrics", metrics.response, methods=["GET"], tags=["health"],
        summary="Prometheus metrics", response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                         "description": "the Prometheus text format"}},
    )  # fmt: skip
    openapi.install(app)
    return app


def make_directory_reader() -> DirectoryReader:
    """The reader of published service directories (Open Referral UK), for
    `triage providers import-oruk`."""
    from adapters.oruk.reader import OrukReader  # loaded only by the command that reads one

    return OrukReader()


def make_sharing_writer(out: Path | None) -> JsonLinesFile | JsonLinesStream:
    """The sharing export's writer: JSON lines to `out`, or to standard output."""
    return JsonLinesStream(sys.stdout) if out is None else JsonLinesFile(out)


def make_feed_reader(path: Path, mapping: Path | None = None) -> FeedReader:
    """The reader of police feed files (CSV or JSON lines, a force's columns mapped)."""
    from adapters.police_feed.reader import FeedFile

    return FeedFile(path, mapping)


def make_notifier(settings: Settings) -> Notifier:
    """The delivery adapter the settings name (the only place adapters are chosen)."""
    if settings.notifier == "smtp":
        return SmtpNotifier(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_sender,
            domain=settings.smtp_domain,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )
    if settings.notifier == "notify":
        from adapters.notifications.notify import NotifyNotifier  # loads its client only if chosen

        needed = ("notify_api_key", "notify_email_template_id", "notify_sms_template_id")
        if missing := [f"TRIAGE_{name.upper()}" for name in needed if not getattr(settings, name)]:
            raise ValueError(f"TRIAGE_NOTIFIER=notify needs {' and '.join(missing)} set")
        return NotifyNotifier(
            api_key=settings.notify_api_key or "",
            email_template_id=settings.notify_email_template_id or "",
            sms_template_id=settings.notify_sms_template_id or "",
            base_url=settings.notify_base_url,
            timeout=settings.notify_timeout_seconds,
        )
    if settings.notifier == "log":
        return LogNotifier()
    raise ValueError(
        f"TRIAGE_NOTIFIER must be 'log', 'smtp' or 'notify', not {settings.notifier!r}"
    )


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    def domain_error(request: Request, error: DomainError) -> Response:
        if is_page(request):  # a page's answer is a page
            return error_page(request, _status_of(error), error.message)
        if isinstance(error, InvalidInput):
            return unprocessable(
                [{"loc": list(error.field), "msg": error.message, "type": "value_error"}]
            )
        code = _status_of(error)
        detail: Any = error.message
        if isinstance(error, Conflict):
            detail = {"message": error.message, **error.detail}
        headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
        if isinstance(error, Throttled):
            headers = {"Retry-After": str(error.retry_after)}
        return JSONResponse({"detail": detail}, status_code=code, headers=headers)

    @app.exception_handler(BodyInvalid)
    def body_invalid(request: Request, error: BodyInvalid) -> JSONResponse:
        return unprocessable([{**e, "loc": ["body", *e.get("loc", ())]} for e in error.errors])

    @app.exception_handler(RequestValidationError)
    def request_invalid_here(request: Request, error: RequestValidationError) -> Response:
        if is_page(request):  # a page asked with a bad query (a hand-edited address)
            return error_page(request, 422, "the address has a value this page does not take")
        return request_invalid(request, error)


def _status_of(error: DomainError) -> int:
    if isinstance(error, InvalidInput):
        return status.HTTP_422_UNPROCESSABLE_CONTENT
    return next(code for kind, code in STATUS_OF if isinstance(error, kind))


def _add_health_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        responses={503: {"description": "the database does not answer",
                         "content": {"application/json": {"schema": {"type": "object"}}}}},
    )  # fmt: skip
    def readyz() -> JSONResponse:
        """Readiness: the database answers."""
        try:
            ping(app.state.engine)
        except Exception as error:  # any failure to reach the database means not ready
            return JSONResponse({"status": "unavailable", "error": type(error).__name__}, 503)
        return JSONResponse({"status": "ok"})
