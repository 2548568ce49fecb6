"""What the fault tests share: fresh databases, the `triage` command, a served process that
can be killed and started again on the same port, and a load of intake clients that retry.

Synthetic data only: the victim is tests/support.py's invented person, the references and
keys are random.
"""

import gc
import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import psycopg
from sqlalchemy import Engine, text

from tests.conftest import PG_ADMIN_URL, _postgres_url
from tests.support import referral_body

ROOT = Path(__file__).resolve().parents[2]
TRIAGE = Path(sys.executable).with_name("triage")
PASSWORD = "faults-password-2026"
FEED = "faults-feed"  # the intake user the clients sign in as
TIMEOUT = 10.0  # seconds: every request the clients send gives up after this
# The machine's own cluster (Debian's postgresql-common), the one PG_ADMIN_URL names.
CLUSTERS = Path("/etc/postgresql")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as the PostgreSQL client tools take it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def database_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


def create_postgres() -> str:
    """A new empty PostgreSQL database: its SQLAlchemy URL."""
    name = f"triage_faults_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return _postgres_url(PG_ADMIN_URL, name)


def drop_postgres(url: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')


@contextmanager
def fresh_database(backend: str, folder: Path) -> Iterator[str]:
    """An empty database on `backend` (a SQLite file in `folder`), dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'triage.db'}"
        return
    url = create_postgres()
    try:
        yield url
    finally:
        drop_postgres(url)


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "TRIAGE_DATABASE_URL": url, "TRIAGE_PASSWORD": PASSWORD}


def triage(url: str, *args: str) -> str:
    """Run the `triage` command on the database at `url`; answers what it printed."""
    done = subprocess.run(
        [str(TRIAGE), *args], env=_env(url), capture_output=True, text=True, cwd=ROOT, timeout=180
    )
    assert done.returncode == 0, f"triage {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


# `triage` commands in one process, each one's output kept apart (each `triage` run spends
# seconds importing the service before it does anything).
COMMANDS = """
import contextlib, io, json, sys
from triage.cli import app
outputs = []
for args in json.loads(sys.argv[1]):
    raw = io.BytesIO()  # reports write bytes to sys.stdout.buffer
    printed = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    with contextlib.redirect_stdout(printed):
        app(args, standalone_mode=False)
    outputs.append(raw.getvalue().decode())
print(json.dumps(outputs))
"""


def triage_commands(url: str, *commands: list[str]) -> list[str]:
    """Run `triage` commands one after another on the database at `url`, as the command
    line runs them (in one process); answers what each printed."""
    done = subprocess.run(
        [sys.executable, "-c", COMMANDS, json.dumps(commands)],
        env=_env(url),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, f"triage {commands}: {done.stdout}{done.stderr}"
    outputs: list[str] = json.loads(done.stdout.splitlines()[-1])
    return outputs


def set_up(url: str) -> None:
    """What an operator does before the first start: `triage db upgrade`, `triage rules
    load`, `triage user add` (the clients' intake user)."""
    *_, added = triage_commands(
        url, ["db", "upgrade"], ["rules", "load"], ["user", "add", FEED, "--role", "intake"]
    )
    assert f"added intake user {FEED}" in added, added


class Server:
    """`triage serve` in a child process on a fixed port, its output in a log file."""

    def __init__(self, url: str, log: Path, port: int | None = None) -> None:
        self.url = url
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.launched = 0.0

    def start(self, wait: float = 60.0) -> float:
        """Start it and wait until `/healthz` answers: answers the seconds that took."""
        self.launch()
        return self.wait_healthy(wait)

    def launch(self) -> None:
        env = {**os.environ, "TRIAGE_DATABASE_URL": self.url}
        command = [str(TRIAGE), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.launched = time.monotonic()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_healthy(self, wait: float = 60.0) -> float:
        """Wait until `/healthz` answers; answers the seconds since the launch."""
        assert self.process is not None
        deadline = self.launched + wait
        while True:
            assert self.process.poll() is None, f"the server stopped:\n{self.tail()}"
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return time.monotonic() - self.launched
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"no /healthz in {wait} s:\n{self.tail()}"
            time.sleep(0.05)

    def kill(self) -> int:
        """SIGKILL: no shutdown, no rollback, no goodbye. Answers the exit status."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        return self.process.wait(timeout=30)

    def stop(self) -> None:
        """End it, if it runs (every test's `finally`)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def sign_in(self, username: str = FEED) -> str:
        answer = httpx.post(
            f"{self.base}/api/auth/token",
            data={"username": username, "password": PASSWORD},
            timeout=TIMEOUT,
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])


@dataclass
class Attempt:
    started: float
    seconds: float
    status: int | None  # None: no answer (the error says why)
    error: str | None = None


@dataclass
class Referral:
    """One referral a client logs, with every attempt it took to be answered."""

    key: str
    body: dict[str, Any]
    attempts: list[Attempt] = field(default_factory=list)
    answer: dict[str, Any] | None = None

    @property
    def status(self) -> int | None:
        return self.attempts[-1].status if self.attempts else None


class Load:
    """`clients` threads, each logging referrals one after another until stopped. Each
    referral has its own Idempotency-Key; every other one has no crime reference, so only
    the key makes its retry safe. A referral is sent again (same key, same body) after a
    connection error, a timeout or a 5xx, until it is answered 200 or 201 (or anything else,
    which the test then finds)."""

    def __init__(self, base: str, token: str, clients: int = 6) -> None:
        self.base = base
        self.token = token
        self.clients = clients
        self.pause = 0.1  # seconds between retries
        self.patience = 60.0  # seconds a client keeps retrying one referral
        self.referrals: list[Referral] = []
        self.crashes: list[BaseException] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._numbers = iter(range(10**9))

    def start(self) -> None:
        for number in range(self.clients):
            thread = threading.Thread(target=self._client, name=f"client-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def answered(self) -> int:
        with self._lock:
            return sum(1 for r in self.referrals if r.status in (200, 201))

    def wait_answered(self, count: int, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        while self.answered() < count:
            assert not self.crashes, self.crashes
            assert time.monotonic() < deadline, f"{self.answered()} of {count} answered"
            time.sleep(0.02)

    def stop(self, within: float = 90.0) -> None:
        """Let each client finish the referral it is on (or give up on it), then end."""
        self._stop.set()
        deadline = time.monotonic() + within
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def check_finished(self) -> None:
        assert not self.crashes, self.crashes
        assert not any(t.is_alive() for t in self._threads), "a client is still waiting"

    def _client(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            with httpx.Client(base_url=self.base, headers=headers, timeout=TIMEOUT) as http:
                while not self._stop.is_set():
                    with self._lock:
                        number = next(self._numbers)
                    ref = None if number % 2 == 0 else f"FAULT-{uuid.uuid4().hex[:12]}"
                    referral = Referral(
                        key=f"fault-{uuid.uuid4().hex}", body=referral_body(external_ref=ref)
                    )
                    with self._lock:
                        self.referrals.append(referral)
                    self._send(http, referral)
        except BaseException as error:  # reported by the test's thread
            self.crashes.append(error)

    def _send(self, http: httpx.Client, referral: Referral) -> None:
        headers = {"Idempotency-Key": referral.key}
        give_up = time.monotonic() + self.patience
        while time.monotonic() < give_up:
            started = time.monotonic()
            try:
                answer = http.post("/api/referrals", json=referral.body, headers=headers)
            except httpx.TransportError as error:  # refused, reset, timed out
                referral.attempts.append(
                    Attempt(started, time.monotonic() - started, None, type(error).__name__)
                )
            else:
                referral.attempts.append(
                    Attempt(started, time.monotonic() - started, answer.status_code)
                )
                if answer.status_code < 500:
                    referral.answer = answer.json()
                    return
            time.sleep(self.pause)

    def figures(self) -> dict[str, Any]:
        """What the clients saw, for the report and the assertions."""
        attempts = [a for r in self.referrals for a in r.attempts]
        outcomes = Counter(a.error or a.status for a in attempts)
        return {
            "referrals": len(self.referrals),
            "requests": len(attempts),
            "retries": len(attempts) - len(self.referrals),
            "outcomes": dict(outcomes),
            "longest_request_s": round(max((a.seconds for a in attempts), default=0.0), 3),
            "final": dict(Counter(r.status for r in self.referrals)),
        }


def check_each_logged_once(engine: Engine, load: Load) -> dict[str, int]:
    """Every referral the clients sent exists exactly once, under the id they were given,
    and nothing else was logged: counted straight from the `referrals` table."""
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, idempotency_key, source, external_ref FROM referrals")
        ).all()
    by_key = Counter(row.idempotency_key for row in rows)
    by_ref = Counter((row.source, row.external_ref) for row in rows if row.external_ref)
    id_of = {row.idempotency_key: uuid.UUID(str(row.id)) for row in rows}
    load.check_finished()
    for referral in load.referrals:
        assert referral.status in (200, 201), (referral.key, referral.attempts)
        assert referral.answer is not None
        assert by_key[referral.key] == 1, (referral.key, by_key[referral.key])
        ref = referral.body["external_ref"]
        if ref is not None:
            assert by_ref[(referral.body["source"], ref)] == 1, ref
        assert id_of[referral.key] == uuid.UUID(referral.answer["id"]), referral.key
    assert len(rows) == len(load.referrals), (len(rows), len(load.referrals))
    return {"rows": len(rows), "with_external_ref": sum(by_ref.values())}


def forget_broken_connections() -> None:
    """Drop the pooled PostgreSQL connections of every engine in this process (a cluster
    restart broke them), so a later test's fixture does not meet one first."""
    for thing in gc.get_objects():
        if isinstance(thing, Engine) and thing.dialect.name == "postgresql":
            thing.dispose()


def local_cluster() -> str | None:
    """The version of the machine's `main` cluster, if PG_ADMIN_URL is that cluster and this
    user may stop and start it; else None."""
    if not PG_ADMIN_URL.split("://", 1)[1].split("/", 1)[0].endswith("@127.0.0.1:5432"):
        return None
    versions = sorted(CLUSTERS.iterdir()) if CLUSTERS.is_dir() else []
    if len(versions) != 1 or not (versions[0] / "main").is_dir():
        return None
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != "postgres":
        return None
    return versions[0].name


def cluster(action: str) -> None:
    """`pg_ctlcluster ... main stop -m fast` (sessions are ended, not waited for) or start."""
    version = local_cluster()
    assert version is not None
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action]
    if action == "stop":
        command += ["-m", "fast"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"pg_ctlcluster {action}: {done.stdout}{done.stderr}"


def postgres_ready() -> bool:
    done = subprocess.run(
        ["pg_isready", "-h", "127.0.0.1", "-p", "5432"], capture_output=True, timeout=30
    )
    return done.returncode == 0


def wait_postgres(within: float = 60.0) -> float:
    started = time.monotonic()
    while not postgres_ready():
        assert time.monotonic() - started < within, "PostgreSQL did not come back"
        time.sleep(0.1)
    return time.monotonic() - started
