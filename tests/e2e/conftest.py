"""Browser tests: Debian's Chromium, driven by Playwright, against a real server started on a
free port over a fresh database (SQLite and PostgreSQL), set up with the `triage` command as
a new user would: migrated, the demo area with a few hundred referrals of history, one demo
user per role and a worker for every provider. axe-core (npm, injected) checks every page."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import BACKENDS, PG_ADMIN_URL, _postgres_url

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
TRIAGE = Path(sys.executable).with_name("triage")
AXE = ROOT / "node_modules/axe-core/axe.min.js"
PASSWORD = "e2e-password-2026"
PROVIDERS = ("core-general", "da-idva", "da-outreach", "sv-adult", "hate-crime",
             "young-people", "mental-health-hub")  # fmt: skip
# Where the role guides' screenshots are written (make screenshots: into docs/).
SHOTS = Path(os.environ.get("TRIAGE_SCREENSHOTS", ROOT / "build/screenshots"))
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.hookimpl(trylast=True)  # after pytest's own ordering by fixture
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The journeys first, in their order. pytest-xdist hands each worker a run of
    consecutive tests to begin with, so one worker takes them all: each backend's server is
    set up once in a run (not once on each worker that meets a journey), axe checks each page
    once, and the longest tests start first."""
    here = Path(__file__).parent
    journeys = [item for item in items if here in item.path.parents]
    if journeys:
        items[:] = journeys + [item for item in items if here not in item.path.parents]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# `triage` commands one after another in one process, as the command line runs each (a
# `triage` process spends a second or more importing the service before it does anything);
# the first to fail (its exit status, or what it raised) ends the run.
COMMANDS = """
import json, sys
from triage.cli import app
for args in json.loads(sys.argv[1]):
    status = app(args, standalone_mode=False)
    if status:
        sys.exit(f"triage {' '.join(args)}: exit status {status}")
"""


def _triage(env: dict[str, str], *commands: list[str]) -> str:
    """Run the `triage` commands in one process; answers what they printed."""
    done = subprocess.run([sys.executable, "-c", COMMANDS, json.dumps(commands)], env=env,
                          capture_output=True, text=True, cwd=ROOT, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@dataclass
class Server:
    base: str
    env: dict[str, str]

    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        """The JSON API, for setting up what a test is not about."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read() or b"null")

    def token(self, username: str) -> str:
        request = urllib.request.Request(
            self.base + "/api/auth/token",
            data=f"username={username}&password={PASSWORD}".encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return str(json.loads(answer.read())["access_token"])


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """`triage db upgrade`, `triage demo`, a worker per provider, then `triage serve`."""
    name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'triage.db'}"
    else:
        name = f"triage_e2e_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        url = _postgres_url(PG_ADMIN_URL, name)
    env = {**os.environ, "TRIAGE_DATABASE_URL": url, "TRIAGE_PASSWORD": PASSWORD,
           "TRIAGE_SWEEP_SECONDS": "1", "TRIAGE_NOTIFIER": "log"}  # fmt: skip
    _triage(
        env,
        ["db", "upgrade"],
        ["demo", "--referrals", "400", "--days", "365"],
        *(["user", "add", f"worker-{code}", "--role", "provider", "--provider", code]
          for code in PROVIDERS),
    )  # fmt: skip
    port = _free_port()
    serve = [str(TRIAGE), "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                assert process.poll() is None, (
                    process.stderr.read().decode() if process.stderr else ""
                )
                time.sleep(0.1)
        yield Server(base, env)
    finally:
        process.terminate()
        process.wait(timeout=20)
        if name:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    # Here, not as `pytestmark`: a mark in a conftest marks nothing.
    if not CHROMIUM.exists():
        pytest.skip("make installs /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


@dataclass
class Checked:
    """Every page a test reached, each checked by axe-core once per address."""

    pages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now. Injected through
    the DevTools protocol: the page's own CSP (no inline script) stays as it is."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    found = page.evaluate(
        """async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))
             .violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                    nodes: v.nodes.slice(0, 3).map(n => n.html.slice(0, 300))}))""",
        AXE_TAGS,
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


class Person:
    """Someone at the browser, signed in through the sign-in page."""

    def __init__(self, browser: Any, server: Server, username: str, checked: Checked,
                 width: int = 1280) -> None:  # fmt: skip
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.server = server
        self.checked = checked
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", self._console)
        self.page.goto(server.base + "/")
        self.reached()
        if username:
            self.page.get_by_label("Username").fill(username)
            self.page.get_by_role("textbox", name="Password").fill(PASSWORD)
            self.page.get_by_role("button", name="Sign in").click()
            self.reached()

    def _console(self, message: Any) -> None:
        """A script's error, not HTMX saying it let go of a request when the page moved on."""
        if message.type == "error" and not message.text.startswith(
            ("htmx:sendAbort", "htmx:afterRequest")
        ):
            self.errors.append(message.text)

    def go(self, path: str) -> Any:
        self.page.goto(self.server.base + path)
        self.reached()
        return self.page

    def reached(self) -> None:
        """Check the page now shown (once per path): no serious or critical axe violation,
        no script error, no horizontal scrolling at its width."""
        self.page.wait_for_load_state("load")
        path = self.page.url.split("?")[0].removeprefix(self.server.base)
        key = path if "/referrals/" not in path or path.endswith("/new") else "/referrals/{id}"
        key += f"@{self.page.viewport_size['width']}"
        if key in self.checked.pages:
            return
        violations = axe_violations(self.page)
        self.checked.pages[key] = violations
        assert not violations, f"{path}: {json.dumps(violations, indent=1)}"
        assert not self.errors, f"{path}: {self.errors}"
        overflow = self.page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= self.page.viewport_size["width"], f"{path} scrolls sideways"

    def text(self) -> str:
        return " ".join(str(self.page.inner_text("main")).split())

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.evaluate("window.scrollTo(0, 0)")
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="session")
def checked() -> Checked:
    return Checked()
