"""Putting the pages into the app: their routes, their assets (from node_modules, installed
by make; the stylesheet built from triage/web/scss), the API docs served from here (they
must work with no internet), and the sign-in redirect."""

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from triage.config import Settings
from triage.web import admin, case, dashboard, erase, new_referral, offers, queue, sign_in
from triage.web.errors import error_page
from triage.web.pages import ENVIRONMENT, SignInRequired, redirect, sign_in_url
from triage.web.security import SecurityHeaders

STATIC = Path(__file__).resolve().parent / "static"
ROUTERS = (sign_in, queue, new_referral, case, offers, dashboard, admin, erase)


def add_pages(app: FastAPI, settings: Settings) -> None:
    modules = Path(settings.node_modules)
    # Most specific first: Starlette takes the first mount whose prefix matches.
    for prefix, folder in (
        ("/static/govuk-frontend", modules / "govuk-frontend/dist/govuk"),
        ("/static/htmx", modules / "htmx.org/dist"),
        ("/static/swagger-ui", modules / "swagger-ui-dist"),
        ("/static", STATIC),
        ("/assets", modules / "govuk-frontend/dist/govuk/assets"),
    ):
        app.mount(prefix, StaticFiles(directory=folder, check_dir=False), name=prefix)
    for module in ROUTERS:
        app.include_router(module.router)
    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
    app.add_exception_handler(SignInRequired, _sign_in_first)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_middleware(SecurityHeaders)


def is_page(request: Request) -> bool:
    """A request for a page (HTML), not for the API (JSON)."""
    path = request.url.path
    return not path.startswith(("/api/", "/healthz", "/readyz", "/metrics", "/openapi.json"))


def _sign_in_first(request: Request, error: SignInRequired) -> Response:
    return redirect(sign_in_url(error.next_url))


def _http_error(request: Request, error: HTTPException) -> Response:
    """404 and 405 and the like: a page for pages, JSON for the API."""
    if is_page(request):
        return error_page(request, error.status_code, str(error.detail))
    return JSONResponse(
        {"detail": error.detail}, status_code=error.status_code, headers=error.headers
    )


def docs(request: Request) -> HTMLResponse:
    """The interactive API documentation (Swagger UI, served from this service)."""
    return HTMLResponse(ENVIRONMENT.get_template("docs.html").render())
