"""Sign-in throttling: a referral read's latency while clients send wrong passwords (issue 14).

    .venv/bin/python benchmarks/throttle.py [--attackers 16] [--reads 300] [--rounds 2]
                                            [--configs 2,1,off] [--referrals 2000]
                                            [--pg-admin-url URL]

1. A fresh PostgreSQL database (dropped at the end), set up with the `triage` command: `db
   upgrade`, `user add bench-throttle --role triage`, `demo --referrals N --days 120
   --no-users`; a bearer token from POST /api/auth/token.
2. One `triage serve` process per configuration, started afresh each time: `2` and `1` (the
   throttle as shipped, TRIAGE_PASSWORD_CHECKS=2 or 1), taking turns --rounds times, then
   `off` once (TRIAGE_PASSWORD_CHECKS=64 and failure limits of a billion: the service before
   the throttle, for reference).
3. Against each server, in turn: quiet, one address, quiet, botnet, quiet. A phase measures
   --reads referral reads (GET /api/referrals/{id}, random existing ids, one client on one
   keep-alive connection, the triage token; capped at --max-seconds). In the attack phases a
   separate process runs --attackers clients on their own keep-alive connections, each
   sending POST /api/auth/token with a wrong password back to back, never waiting for
   Retry-After, every request a new username (credential stuffing, so the per-username limit
   is not what stops it):
   - one address: all from 127.0.0.1, the client's own address (one attacker: the
     per-address limit, 20 failures in 15 minutes, should answer 429 to the rest);
   - botnet: every request from a new address in X-Forwarded-For (uvicorn trusts it from
     127.0.0.1 by default, FORWARDED_ALLOW_IPS unset), so only the bound on concurrent
     password checks protects the reads.
   The reads start once the attack is steady (--settle seconds, counted with one address
   from its first 429); after them a real user signs in twice (the right password, from
   an address of its own; also in each server's first quiet phase) to see what a sign-in
   costs under the attack; then the attack stops and its requests in flight are let finish
   before the next phase. The recorded failures are deleted between phases, so each attack
   starts from none.
4. Prints a line per phase (read p50/p95/p99, read errors, p95 against the quiet p95 of the
   same server, the attackers' answers by status and per second, the real user's sign-ins,
   the cores busy) and a summary: the median over rounds, and the target, each throttled
   attack's read p95 within 1.5x of the quiet p95.

Exit status 0 when every throttled attack phase meets the target, 1 when a read failed, 2
when a target is missed, 3 when setting up failed.
"""

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.sharedctypes import SynchronizedArray
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from intake import (  # noqa: E402
    BIN,
    HOST,
    ROOT,
    Server,
    SetupError,
    cpu_model,
    drop_database,
    fresh_database,
    machine_busy,
    percentile,
    postgres_cpu,
    postgres_version,
    process_cpu,
    read_response,
    triage_command,
)

USERNAME = "bench-throttle"
PASSWORD = "bench-throttle-password"
RATIO_TARGET = 1.5  # an attacked read's p95 at most this times the quiet p95
BILLION = "1000000000"
CONFIGS = {
    "2": {"TRIAGE_PASSWORD_CHECKS": "2"},
    "1": {"TRIAGE_PASSWORD_CHECKS": "1"},
    "off": {
        "TRIAGE_PASSWORD_CHECKS": "64",
        "TRIAGE_SIGN_IN_FAILURES": BILLION,
        "TRIAGE_SIGN_IN_ADDRESS_FAILURES": BILLION,
    },
}
PHASES = ("quiet", "one address", "quiet", "botnet", "quiet")
STATUSES = (401, 429)  # counted apart; anything else (0: a broken connection) as "other"
USER_SIGN_INS = 2  # in each attack, and in each server's first quiet phase


# ---------------------------------------------------------------- the attackers (a process)


def attack(
    port: int, clients: int, botnet: bool, tag: str, stop: Event, counts: SynchronizedArray,
    results: "multiprocessing.Queue[list[tuple[float, float, int]]]",
) -> None:  # fmt: skip
    """Run `clients` attackers until `stop` is set, then put every (start, end, status)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    samples: list[tuple[float, float, int]] = []
    asyncio.run(_attackers(port, clients, botnet, tag, stop, counts, samples))
    results.put(samples)


async def _attackers(
    port: int, clients: int, botnet: bool, tag: str, stop: Event, counts: SynchronizedArray,
    samples: list[tuple[float, float, int]],
) -> None:  # fmt: skip
    await asyncio.gather(
        *(_attacker(port, i, clients, botnet, tag, stop, counts, samples) for i in range(clients))
    )


async def _attacker(
    port: int, number: int, clients: int, botnet: bool, tag: str, stop: Event,
    counts: SynchronizedArray, samples: list[tuple[float, float, int]],
) -> None:  # fmt: skip
    """Wrong passwords back to back on one keep-alive connection; a new username each time,
    and with `botnet` a new address each time."""
    reader, writer = await asyncio.open_connection(HOST, port)
    n = number
    while not stop.is_set():
        n += clients
        body = urllib.parse.urlencode(
            {"username": f"{tag}-{n}", "password": f"not-the-password-{n}"}
        ).encode()
        forwarded = f"X-Forwarded-For: 10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}\r\n"
        head = (
            f"POST /api/auth/token HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"{forwarded if botnet else ''}Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        started = time.monotonic()
        try:
            writer.write(head + body)
            status, close, _ = await read_response(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            status, close = 0, True
        samples.append((started, time.monotonic(), status))
        counts[STATUSES.index(status) if status in STATUSES else len(STATUSES)] += 1
        if close:
            writer.close()
            reader, writer = await asyncio.open_connection(HOST, port)
    writer.close()


# ---------------------------------------------------------------- the reader and the user


class Reader:
    """One person reading referrals: one keep-alive connection, a triage token."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection(HOST, port, timeout=120)
        self.headers = {"Authorization": f"Bearer {token}"}

    def reconnect(self, referral_id: str) -> None:
        """A fresh connection (uvicorn closes one idle for 5 s) and one read, not timed."""
        self.connection.close()
        self.connection = http.client.HTTPConnection(HOST, self.port, timeout=120)
        self.read(referral_id)

    def read(self, referral_id: str) -> tuple[float, int, bytes]:
        started = time.monotonic()
        try:
            self.connection.request("GET", f"/api/referrals/{referral_id}", headers=self.headers)
            answer = self.connection.getresponse()
            status, content = answer.status, answer.read()
        except (OSError, http.client.HTTPException) as error:
            self.connection.close()  # http.client connects again on the next request
            status, content = 0, repr(error).encode()
        return (time.monotonic() - started) * 1000, status, content

    def close(self) -> None:
        self.connection.close()


def sign_in(port: int, address: str | None = None) -> tuple[float, int, str]:
    """The bench user signs in (from `address` in X-Forwarded-For): (seconds, status, token)."""
    form = urllib.parse.urlencode({"username": USERNAME, "password": PASSWORD}).encode()
    headers = {"X-Forwarded-For": address} if address else {}
    request = urllib.request.Request(f"http://{HOST}:{port}/api/auth/token", form, headers)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return time.monotonic() - started, answer.status, str(json.load(answer)["access_token"])
    except urllib.error.HTTPError as error:
        return time.monotonic() - started, error.code, ""


# ---------------------------------------------------------------- phases


@dataclass
class Phase:
    config: str
    round: int
    name: str
    reads_ms: list[float] = field(default_factory=list)
    read_errors: Counter[int] = field(default_factory=Counter)
    first_error: str = ""
    seconds: float = 0.0
    attack: Counter[str] = field(default_factory=Counter)  # answers inside the read window
    attack_total: Counter[str] = field(default_factory=Counter)  # over the whole attack
    first_429_s: float | None = None  # after the attack started
    attack_p50_ms: float = float("nan")  # an attacker's answer, inside the window
    sign_ins: list[tuple[float, int]] = field(default_factory=list)
    cores: dict[str, float] = field(default_factory=dict)
    quiet_p95: float = float("nan")  # the same server's quiet phases, pooled (set later)

    def p(self, q: float) -> float:
        return percentile(sorted(self.reads_ms), q)

    @property
    def ratio(self) -> float:
        return self.p(95) / self.quiet_p95 if self.quiet_p95 else float("nan")

    @property
    def attacked(self) -> bool:
        return self.name != "quiet"


def status_key(status: int) -> str:
    return str(status) if status in STATUSES else "other"


@dataclass
class Bench:
    args: argparse.Namespace
    url: str
    ids: list[str]
    token: str
    logs: Path
    addresses: int = 0
    signed_in_quiet: bool = False  # this server's

    def clear_failures(self) -> None:
        dsn = self.url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute("DELETE FROM sign_in_failures")

    def user_address(self) -> str:
        self.addresses += 1
        return f"192.0.2.{self.addresses % 250 + 1}"

    def run_phase(self, server: Server, reader: Reader, phase: Phase) -> None:
        self.clear_failures()
        context = multiprocessing.get_context("fork")
        stop = context.Event()
        counts = context.Array("q", len(STATUSES) + 1, lock=False)
        results: multiprocessing.Queue[list[tuple[float, float, int]]] = context.Queue()
        attacker = None
        attack_started = time.monotonic()
        if phase.attacked:
            tag = f"stuffed-{phase.config}-{phase.round}-{phase.name.replace(' ', '-')}"
            attacker = context.Process(
                target=attack,
                args=(server.port, self.args.attackers, phase.name == "botnet", tag, stop,
                      counts, results),
                daemon=True,  # ends with us, however we end
            )  # fmt: skip
            attacker.start()
            if phase.name == "one address" and phase.config != "off":
                # until the throttle engages: the first 429
                give_up = attack_started + self.args.settle_max
                while counts[STATUSES.index(429)] == 0 and time.monotonic() < give_up:
                    time.sleep(0.05)
            time.sleep(self.args.settle)
        reader.reconnect(random.choice(self.ids))
        cpu_before = self.cpu(server, attacker)
        window_start = time.monotonic()
        deadline = window_start + self.args.max_seconds
        while len(phase.reads_ms) < self.args.reads and time.monotonic() < deadline:
            elapsed, status, content = reader.read(random.choice(self.ids))
            if status == 200:
                phase.reads_ms.append(elapsed)
            else:
                phase.read_errors[status] += 1
                phase.first_error = phase.first_error or f"{status}: {content[:300]!r}"
        window_end = time.monotonic()
        phase.seconds = window_end - window_start
        cpu_after = self.cpu(server, attacker)
        cores = {key: (cpu_after[key] - cpu_before[key]) / phase.seconds for key in cpu_before}
        machine = cores.pop("machine")
        phase.cores = {**cores, "others": max(0.0, machine - sum(cores.values()))}
        first_quiet = phase.name == "quiet" and not self.signed_in_quiet
        self.signed_in_quiet = self.signed_in_quiet or first_quiet
        for _ in range(USER_SIGN_INS if phase.attacked or first_quiet else 0):
            # a real user, from an address of its own
            seconds, status, _ = sign_in(server.port, self.user_address())
            phase.sign_ins.append((seconds, status))
        if attacker is None:
            return
        stop.set()  # the attackers finish the request each has in flight, then stop
        samples = results.get(timeout=120)
        attacker.join(timeout=30)
        inside = [s for s in samples if window_start <= s[1] <= window_end]
        phase.attack = Counter(status_key(s[2]) for s in inside)
        phase.attack_total = Counter(status_key(s[2]) for s in samples)
        refused = [s[1] - attack_started for s in samples if s[2] == 429]
        phase.first_429_s = min(refused) if refused else None
        if inside:
            phase.attack_p50_ms = statistics.median((s[1] - s[0]) * 1000 for s in inside)
        time.sleep(1.0)  # let the server's last checks and writes finish

    def cpu(self, server: Server, attacker: Any) -> dict[str, float]:
        return {
            "server": server.cpu(),
            "postgres": postgres_cpu(),
            "attackers": process_cpu(attacker.pid) if attacker is not None else 0.0,
            "reader": process_cpu(os.getpid()),
            "machine": machine_busy(),
        }


# ---------------------------------------------------------------- set-up and report


def set_up(args: argparse.Namespace, url: str, env: dict[str, str]) -> list[str]:
    started = time.perf_counter()
    triage_command(["db", "upgrade"], env)
    triage_command(["user", "add", USERNAME, "--role", "triage"], env)  # the demo needs one
    triage_command(["demo", "--referrals", str(args.referrals), "--days", "120", "--no-users"],
                   env)  # fmt: skip
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as connection:
        connection.execute("ANALYZE")
        rows = connection.execute("SELECT id FROM referrals ORDER BY random() LIMIT 2000")
        ids = [str(r[0]) for r in rows]
    print(f"set up {len(ids):,} referrals to read in {time.perf_counter() - started:.0f} s")
    if not ids:
        raise SetupError("the demo made no referrals")
    return ids


HEADER = (
    f"{'config':<7}{'rd':>3} {'phase':<12}{'reads':>6}{'p50':>7}{'p95':>7}{'p99':>8}{'err':>4}"
    f"{'x quiet':>8} | attackers:{'401':>6}{'429':>7}{'other':>6}{'/s':>7}{'p50 ms':>8}"
    f" | user sign-in s | cores: srv   pg  atk other"
)


def phase_line(p: Phase) -> str:
    seconds = max(p.seconds, 1e-9)
    attack = (
        f"{p.attack['401']:>6}{p.attack['429']:>7}{p.attack['other']:>6}"
        f"{sum(p.attack.values()) / seconds:>7.1f}{p.attack_p50_ms:>8.0f}"
        if p.attacked
        else f"{'':>34}"
    )
    users = " ".join(f"{s:.1f}" if status == 200 else f"{status}" for s, status in p.sign_ins)
    cores = p.cores
    return (
        f"{p.config:<7}{p.round:>3} {p.name:<12}{len(p.reads_ms):>6}{p.p(50):>7.1f}"
        f"{p.p(95):>7.1f}{p.p(99):>8.1f}{sum(p.read_errors.values()):>4}"
        f"{p.ratio:>7.2f}x | {'':>10}{attack} | {users:<14} |       "
        f"{cores['server']:>4.2f}{cores['postgres']:>5.2f}{cores['attackers']:>5.2f}"
        f"{cores['others']:>6.2f}"
    )


def engagement(p: Phase) -> str:
    if not p.attacked:
        return ""
    first = "never" if p.first_429_s is None else f"after {p.first_429_s:.1f} s"
    total = sum(p.attack_total.values())
    answers = sum(p.attack.values())
    cost = p.cores["server"] * p.seconds * 1000 / answers if answers else float("nan")
    return (
        f"    whole attack: {total} answers, {p.attack_total['401']} password checks (401), "
        f"{p.attack_total['429']} refused (429), {p.attack_total['other']} other; "
        f"first 429 {first}; server CPU while reading {cost:.1f} ms per attacker's answer"
    )


def summary(phases: list[Phase], configs: list[str]) -> int:
    print("\nmedian over rounds (reads ms; attackers' answers per second inside the window)")
    print(
        f"{'config':<7}{'phase':<12}{'rounds':>7}{'p50':>7}{'p95':>7}{'p99':>8}"
        f"{'x quiet p95':>12}{'401/s':>8}{'429/s':>8}{'verdict':>9}"
    )
    missed = errors = 0
    for config in configs:
        for name in ("quiet", "one address", "botnet"):
            mine = [p for p in phases if p.config == config and p.name == name]
            if not mine:
                continue

            def med(values: list[float]) -> float:
                return statistics.median(values)

            ratio = med([p.ratio for p in mine])
            rate401 = med([p.attack["401"] / p.seconds for p in mine])
            rate429 = med([p.attack["429"] / p.seconds for p in mine])
            verdict = ""
            if name != "quiet" and config != "off":
                worst = max(p.ratio for p in mine)
                met = worst <= RATIO_TARGET
                missed += not met
                verdict = "PASS" if met else "FAIL"
            rates = f"{rate401:>8.1f}{rate429:>8.1f}" if name != "quiet" else f"{'':>16}"
            print(
                f"{config:<7}{name:<12}{len(mine):>7}{med([p.p(50) for p in mine]):>7.1f}"
                f"{med([p.p(95) for p in mine]):>7.1f}{med([p.p(99) for p in mine]):>8.1f}"
                f"{ratio:>11.2f}x{rates}{verdict:>9}"
            )
    for p in phases:
        if p.read_errors:
            errors += sum(p.read_errors.values())
            print(f"READ ERRORS {p.config} round {p.round} {p.name}: {dict(p.read_errors)}; "
                  f"first {p.first_error}")  # fmt: skip
    busiest = max(p.cores["others"] for p in phases)
    if busiest > 0.2:
        print(f"WARNING: other processes kept up to {busiest:.2f} core(s) busy in a phase")
    print(f"\ntarget: every throttled attack's read p95 (each round) within {RATIO_TARGET}x of "
          f"the quiet p95 of the same server: {'met' if not missed else 'MISSED'}")  # fmt: skip
    return 1 if errors else 2 if missed else 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attackers", type=int, default=16, help="attacking clients (16)")
    parser.add_argument("--reads", type=int, default=300, help="reads per phase (300)")
    parser.add_argument("--max-seconds", type=float, default=20.0,
                        help="at most this long reading per phase (20)")  # fmt: skip
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds of attack before the reads; with one address, after "
                             "its first 429 (3)")  # fmt: skip
    parser.add_argument("--settle-max", type=float, default=30.0,
                        help="at most this long waiting for one address's 429 (30)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=2, help="turns of the throttled configs")
    parser.add_argument("--configs", default="2,1,off",
                        help="password_checks 2 and 1 take turns; off runs once, last")  # fmt: skip
    parser.add_argument("--referrals", type=int, default=2000, help="demo referrals (2000)")
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    return parser.parse_args()


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    args = parse_args()
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    if unknown := [c for c in configs if c not in CONFIGS]:
        print(f"unknown config(s) {unknown}: choose from {list(CONFIGS)}", file=sys.stderr)
        return 3
    order = [(c, r) for r in range(1, args.rounds + 1) for c in configs if c != "off"]
    order += [("off", 1)] if "off" in configs else []
    signal.signal(signal.SIGTERM, _terminate)
    name, url = fresh_database(args.pg_admin_url)
    # PYTHONPATH: the code next to this file, also when it is a copy (e.g. `git archive`)
    env = {"TRIAGE_DATABASE_URL": url, "TRIAGE_PASSWORD": PASSWORD, "TRIAGE_SCHEDULER": "false",
           "PATH": str(BIN), "PYTHONPATH": str(ROOT)}  # fmt: skip
    logs = Path(tempfile.mkdtemp(prefix="bench-throttle-"))
    server: Server | None = None
    phases: list[Phase] = []
    started = time.monotonic()
    try:
        print(f"database: {name} (dropped at the end); server logs in {logs}")
        ids = set_up(args, url, env)
        bench = Bench(args, url, ids, "", logs)
        print(HEADER)
        for config, round_ in order:
            server = Server(f"checks-{config}-{round_}", [str(BIN / "triage"), "serve",
                            "--host", HOST], {**env, **CONFIGS[config]}, logs)  # fmt: skip
            server.start()
            server.wait_ready()
            if not bench.token:
                seconds, status, bench.token = sign_in(server.port, bench.user_address())
                if status != 200:
                    raise SetupError(f"sign-in answered {status}")
            reader = Reader(server.port, bench.token)
            bench.signed_in_quiet = False
            for _ in range(20):  # warm up
                reader.read(random.choice(ids))
            mine = []
            for phase_name in PHASES:
                phase = Phase(config, round_, phase_name)
                bench.run_phase(server, reader, phase)
                mine.append(phase)
            quiet = sorted(t for p in mine if not p.attacked for t in p.reads_ms)
            for phase in mine:
                phase.quiet_p95 = percentile(quiet, 95)
                print(phase_line(phase))
            for phase in mine:
                if line := engagement(phase):
                    print(f"  {phase.name}: {line.strip()}")
            sys.stdout.flush()
            phases += mine
            reader.close()
            server.stop()
            server = None
        print(f"\nmachine: {cpu_model()}, {os.cpu_count()} cores, PostgreSQL "
              f"{postgres_version(args.pg_admin_url)}, Python {sys.version.split()[0]}, "
              f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {args.attackers} attackers, "
              f"{len(ids):,} referral ids; run {time.monotonic() - started:.0f} s")  # fmt: skip
        return summary(phases, configs)
    except SetupError as error:
        print(f"setting up failed: {error}", file=sys.stderr)
        if server is not None:
            print(f"--- server log:\n{server.log_tail()}", file=sys.stderr)
        return 3
    except KeyboardInterrupt as stopped:
        print(f"stopped ({stopped or 'Ctrl-C'}): no figures", file=sys.stderr)
        return 130
    finally:
        if server is not None:
            server.stop()
        drop_database(args.pg_admin_url, name)


if __name__ == "__main__":
    sys.exit(main())
