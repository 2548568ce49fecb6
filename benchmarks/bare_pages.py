"""The baseline of benchmarks/pages.py: a bare Starlette app rendering, through Jinja2 with
autoescape, a page of the same bytes as the real one (captured from it), line by line. No
database, no session, no sign-in check, no security headers middleware: what is left is the
server, the HTTP round trip and Jinja producing a page that size.

    BENCH_PAGES_DIR=/tmp/bench-pages-x .venv/bin/python -m uvicorn bare_pages:app \\
        --app-dir benchmarks --port 8001
"""

import os
from pathlib import Path

from jinja2 import Environment
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

TEMPLATE = Environment(autoescape=True).from_string(
    "{% for line in lines %}{{ line }}\n{% endfor %}"
)
PAGES = {
    path.stem: [Markup(line) for line in path.read_text().splitlines()]
    for path in Path(os.environ.get("BENCH_PAGES_DIR", ".")).glob("*.html")
}


def page(request: Request) -> Response:
    lines = PAGES.get(request.path_params["name"])
    if lines is None:
        return Response(status_code=404)
    return HTMLResponse(TEMPLATE.render(lines=lines))


app = Starlette(routes=[Route("/{name}", page)])
