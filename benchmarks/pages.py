"""The pages people work in all day: the triage queue over 100,000 open referrals and the case
page, against a bare Jinja page of the same size, same run (issue 13).

    .venv/bin/python benchmarks/pages.py [--open 100000] [--history 20000] [--requests 300]
                                         [--pg-admin-url URL]

1. A fresh PostgreSQL database (dropped at the end), set up with the `triage` command: `db
   upgrade`, `demo --referrals H --days 365` (H referrals with their whole histories: offers,
   attempts, checks, audit events), then open referrals cloned in SQL from the open ones the
   demo left until --open referrals are open (received over the year, their due times and
   rights spread as the demo's are), and ANALYZE.
2. Two single-worker servers: the real app (`triage serve`) and benchmarks/bare_pages.py, a
   bare Starlette app rendering through Jinja2, with no database or session, a page of the
   same bytes as the real one (captured from it first).
3. One client on one keep-alive connection, as a person at a browser: the queue's first page
   (the 50 most urgent), a queue page with a filter and a search by name, and case pages of
   open referrals chosen at random (with a signed-in session cookie); each page as often as
   --requests, the bare page between them. Prints p50/p95/p99 and the page sizes, and the
   targets: queue p95 < 150 ms, case p95 < 100 ms.

Exit status 0 when both targets are met, 2 when one is missed, 3 when setting up failed.
"""

import argparse
import http.client
import random
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from intake import (  # noqa: E402
    BIN,
    HOST,
    Server,
    SetupError,
    cpu_model,
    drop_database,
    fresh_database,
    percentile,
    postgres_version,
    triage_command,
)

PASSWORD = "bench-pages-password"
QUEUE_TARGET_MS = 150.0
CASE_TARGET_MS = 100.0


def clone_open(url: str, wanted: int) -> int:
    """Clone the open referrals the demo left (rows, not histories) until `wanted` are open:
    new ids and references, received on a random day of the year, due some hours from then."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as connection:
        row = connection.execute("SELECT count(*) FROM referrals WHERE state <> 'closed'")
        have = int(row.fetchone()[0])  # type: ignore[index]
        missing = max(0, wanted - have)
        columns = [
            r[0]
            for r in connection.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'referrals' ORDER BY ordinal_position"
            )
        ]
        changed = {
            "id": "gen_random_uuid()",
            "reference": "'VR-BE-' || lpad(n::text, 8, '0')",
            "external_ref": "NULL",
            "idempotency_key": "NULL",
            "victim_full_name": "r.victim_full_name || ' ' || n",
            "received_at": "now() - (random() * interval '365 days')",
            "urgent_at": "now() + (random() * interval '240 hours') - interval '48 hours'",
            "returned_at": "NULL",
            "reported_version": "r.version",
        }
        select = ", ".join(changed.get(c, f"r.{c}") for c in columns)
        connection.execute(
            f"INSERT INTO referrals ({', '.join(columns)}) "
            f"SELECT {select} FROM generate_series(1, %s) AS n "
            "CROSS JOIN LATERAL (SELECT * FROM referrals WHERE state <> 'closed' "
            "AND n > 0 ORDER BY id OFFSET (n %% %s) LIMIT 1) AS r",
            (missing, max(have, 1)),
        )
        connection.execute("ANALYZE")
        row = connection.execute("SELECT count(*) FROM referrals WHERE state <> 'closed'")
        return int(row.fetchone()[0])  # type: ignore[index]


def open_ids(url: str, count: int) -> list[str]:
    """Open referrals with histories (the demo's own), for the case page."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as connection:
        rows = connection.execute(
            "SELECT id FROM referrals WHERE state <> 'closed' AND reference NOT LIKE 'VR-BE-%%' "
            "ORDER BY random() LIMIT %s",
            (count,),
        ).fetchall()
    return [str(r[0]) for r in rows]


class Browser:
    """One keep-alive connection with a page session's cookie."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection(HOST, port, timeout=60)
        self.cookie = ""

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        answer = self.connection.getresponse()
        content = answer.read()
        for name, value in answer.getheaders():
            if name.lower() == "set-cookie":
                self.cookie = "; ".join(
                    part for part in [self.cookie, value.split(";", 1)[0]] if part
                )
        return answer.status, content

    def sign_in(self, username: str) -> None:
        _, page = self.request("GET", "/sign-in")
        token = re.search(rb'name="form_token" value="([^"]+)"', page)
        if token is None:
            raise SetupError("no form token on the sign-in page")
        form = urllib.parse.urlencode(
            {"username": username, "password": PASSWORD, "form_token": token.group(1).decode()}
        )
        status, _ = self.request("POST", "/sign-in", form)
        if status != 303:
            raise SetupError(f"sign-in answered {status}")

    def timed(self, path: str) -> tuple[float, int]:
        started = time.perf_counter()
        status, content = self.request("GET", path)
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            raise SetupError(f"GET {path} answered {status}: {content[:300]!r}")
        return elapsed, len(content)


def summary(name: str, times: list[float], size: int) -> str:
    ordered = sorted(times)
    return (
        f"{name:<34}{len(times):>6}{statistics.median(ordered):>9.1f}"
        f"{percentile(ordered, 95):>9.1f}{percentile(ordered, 99):>9.1f}{size:>10,}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--open", type=int, default=100_000, help="open referrals")
    parser.add_argument("--history", type=int, default=20_000, help="demo referrals first")
    parser.add_argument("--requests", type=int, default=300, help="requests per page")
    parser.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    name, url = fresh_database(args.pg_admin_url)
    env = {"TRIAGE_DATABASE_URL": url, "TRIAGE_PASSWORD": PASSWORD, "TRIAGE_SCHEDULER": "false",
           "PATH": str(BIN)}  # fmt: skip
    logs = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    servers: list[Server] = []
    try:
        started = time.perf_counter()
        triage_command(["db", "upgrade"], env)
        triage_command(["demo", "--referrals", str(args.history), "--days", "365"], env)
        opened = clone_open(url, args.open)
        print(f"set up {args.history:,} demo referrals and {opened:,} open in "
              f"{time.perf_counter() - started:.0f} s")  # fmt: skip
        real = Server("real", [str(BIN / "triage"), "serve", "--host", HOST], env, logs)
        bare = Server("bare", [str(BIN / "python"), "-m", "uvicorn", "bare_pages:app",
                               "--app-dir", str(Path(__file__).parent), "--host", HOST,
                               "--workers", "1", "--log-level", "warning"], env, logs)  # fmt: skip
        servers = [real, bare]
        real.start()
        real.wait_ready()
        person = Browser(real.port)
        person.sign_in("demo-triage")
        ids = open_ids(url, args.requests)
        paths = {
            "queue, first page": lambda i: "/queue",
            "queue, filtered": lambda i: "/queue?state=contacting&area=derby_city",
            "queue, search by name": lambda i: f"/queue?q={urllib.parse.quote('Smith')}",
            "case page": lambda i: f"/referrals/{ids[i % len(ids)]}",
        }
        captured = {key: person.request("GET", make(0))[1] for key, make in paths.items()}
        for key, page in captured.items():
            (logs / f"{key.replace(' ', '_').replace(',', '')}.html").write_bytes(page)
        bare.env = {**env, "BENCH_PAGES_DIR": str(logs)}
        bare.start()
        bare.wait_ready()
        baseline = Browser(bare.port)
        times: dict[str, list[float]] = {key: [] for key in paths}
        sizes: dict[str, int] = {}
        bare_times: dict[str, list[float]] = {key: [] for key in paths}
        bare_sizes: dict[str, int] = {}
        for key, make in paths.items():
            slug = key.replace(" ", "_").replace(",", "")
            for i in range(20):  # warm up both
                person.timed(make(i))
                baseline.timed(f"/{slug}")
            for _ in range(args.requests):
                elapsed, sizes[key] = person.timed(make(random.randrange(10_000)))
                times[key].append(elapsed)
                elapsed, bare_sizes[key] = baseline.timed(f"/{slug}")
                bare_times[key].append(elapsed)
        print(f"\nmachine: {cpu_model()}, PostgreSQL {postgres_version(args.pg_admin_url)}, "
              f"{datetime.now(UTC):%Y-%m-%d}; one worker each, one client, keep-alive")  # fmt: skip
        print(f"{'page':<34}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'bytes':>10}")
        for key in paths:
            print(summary(key, times[key], sizes[key]))
            print(summary("  bare Jinja, same size", bare_times[key], bare_sizes[key]))
        queue_p95 = max(percentile(sorted(times[k]), 95) for k in paths if k != "case page")
        case_p95 = percentile(sorted(times["case page"]), 95)
        met = queue_p95 < QUEUE_TARGET_MS and case_p95 < CASE_TARGET_MS
        print(f"\nqueue p95 (worst of the three) {queue_p95:.1f} ms "
              f"(target < {QUEUE_TARGET_MS:.0f}); case p95 {case_p95:.1f} ms "
              f"(target < {CASE_TARGET_MS:.0f}): {'met' if met else 'MISSED'}")  # fmt: skip
        return 0 if met else 2
    except SetupError as error:
        print(f"setting up failed: {error}", file=sys.stderr)
        for server in servers:
            print(f"--- {server.name} log:\n{server.log_tail()}", file=sys.stderr)
        return 3
    finally:
        for server in servers:
            server.stop()
        drop_database(args.pg_admin_url, name)


if __name__ == "__main__":
    sys.exit(main())
