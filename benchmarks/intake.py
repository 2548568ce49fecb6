"""Intake throughput: the real POST /api/referrals against a bare one-row insert, same run.

    .venv/bin/python benchmarks/intake.py [--clients 16] [--warmup 5] [--duration 20]
                                          [--rounds 2] [--pg-admin-url URL] [--profile]

1. Creates a fresh PostgreSQL database (dropped at the end, also on Ctrl-C or failure), sets
   it up with the `triage` command (`db upgrade`, `demo --no-users`, `user add bench-intake
   --role intake`) and signs in through POST /api/auth/token.
2. Starts two single-worker uvicorn servers against that database: the real app
   (`triage serve --port P`) and benchmarks/bare_insert.py (a sync handler inserting one row
   with SQLAlchemy, its own table in the same database).
3. Drives them in turn (bare, real, bare, real, ...) with the same load: N clients, each on
   its own keep-alive HTTP/1.1 connection sending POSTs back to back, every request with a
   unique external_ref and the same JSON body (the shape of tests/support.referral_body).
   Each round has a warm-up, then a measured window in which every completed request's
   latency is recorded. The generator is one asyncio process with a minimal hand-written
   HTTP/1.1 client, so it costs little CPU; its CPU, the server's and PostgreSQL's are
   measured over each window (from /proc) and printed.
4. Prints per round and as the median of the rounds: requests, requests/s, p50/p95/p99
   latency, errors (any answer but 2xx, or a broken connection); then real/bare throughput
   and real p99 / bare p99 against the targets of issue 17 (>= 0.7x, <= 1.5x; issue 3 asked
   0.5x and 2x). With `--profile`, one more round of the real server alone under py-spy.

Exit status: 0 when both targets are met, 1 when any request failed (the run is invalid),
2 when a target is missed, 3 when setting up failed.
"""

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
PATH = "/api/referrals"
USERNAME = "bench-intake"
PASSWORD = "bench-intake-password"
REF_MARK = "@@EXTERNAL_REF@@"
THROUGHPUT_TARGET = 0.7  # real requests/s at least this times the bare insert's (issue 17)
P99_TARGET = 1.5  # real p99 at most this times the bare insert's (issue 17)
NOISY_CORES = 0.2  # other processes busier than this during a window: warn
CLK_TCK = os.sysconf("SC_CLK_TCK")


def referral_body(external_ref: str) -> dict[str, Any]:
    """The body both targets receive: the shape of tests/support.referral_body."""
    return {
        "source": "police",
        "external_ref": external_ref,
        "crime_type": "burglary",
        "hate_strands": [],
        "crime_reported_at": "2026-11-23T09:30:00Z",
        "area": "derby_city",
        "victim": {
            "full_name": "Olivia Hartley",
            "date_of_birth": "1990-04-02",
            "phone": "07700 900123",
            "email": None,
            "address": "12 Friar Gate, Derby",
            "postcode": "DE1 1BX",
            "safe_channels": ["phone"],
            "safe_times": "weekdays 09:00-12:00",
            "language": "en",
        },
        "notes": "Back door forced overnight.",
    }


class SetupError(RuntimeError):
    pass


# ---------------------------------------------------------------- CPU accounting (/proc)


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def postgres_cpu() -> float:
    """CPU seconds of every local `postgres` process, with its reaped children's.

    A backend that exits is reaped by the postmaster, whose cutime/cstime then carry its CPU,
    so the sum only grows while backends come and go.
    """
    total = 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        if stat[stat.index("(") + 1 : stat.rindex(")")] == "postgres":
            fields = stat.rsplit(")", 1)[1].split()
            total += sum(int(f) for f in fields[11:15]) / CLK_TCK
    return total


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (all cores, /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = values
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


# ---------------------------------------------------------------- database and servers


def fresh_database(admin_url: str) -> tuple[str, str]:
    name = f"bench_intake_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    host_part = admin_url.split("://", 1)[1].rsplit("/", 1)[0]
    return name, f"postgresql+psycopg://{host_part}/{name}"


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_version(admin_url: str) -> str:
    with psycopg.connect(admin_url) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def triage_command(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(BIN / "triage"), *args], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SetupError(f"triage {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    name: str
    command: list[str]
    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def start(self) -> None:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [*self.command, "--port", str(self.port)],
                env=self.env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C reaches us only; we stop it in order
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise SetupError(f"{self.name} server exited:\n{self.log_tail()}")
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise SetupError(f"{self.name} server not listening after {timeout} s:\n{self.log_tail()}")

    def cpu(self) -> float:
        return process_cpu(self.process.pid) if self.process else 0.0

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def pid(server: Server) -> str:
    return str(server.process.pid) if server.process else "?"


def sign_in(port: int) -> str:
    form = urllib.parse.urlencode({"username": USERNAME, "password": PASSWORD}).encode()
    request = urllib.request.Request(f"http://{HOST}:{port}/api/auth/token", data=form)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(json.load(answer)["access_token"])


# ---------------------------------------------------------------- the load generator


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    """One HTTP/1.1 response: (status, server closes the connection, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    chunked = close = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = b"close" in value.lower()
    if not chunked:
        return status, close, await reader.readexactly(length) if length else b""
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers from uvicorn
            return status, close, b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


@dataclass
class Load:
    """Everything one round records: (start, end, status) per request, in completion order."""

    samples: list[tuple[float, float, int]] = field(default_factory=list)
    first_error: str | None = None


async def client(
    port: int, head: bytes, body_parts: tuple[bytes, bytes], tag: str, stop_at: float, load: Load
) -> None:
    prefix, suffix = body_parts
    clock = time.perf_counter
    reader, writer = await asyncio.open_connection(HOST, port)
    number = 0
    try:
        while (start := clock()) < stop_at:
            number += 1
            body = b"%s%s-%07d%s" % (prefix, tag.encode(), number, suffix)
            try:
                writer.write(b"%s%d\r\n\r\n%s" % (head, len(body), body))
                status, close, answer = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                status, close, answer = 0, True, repr(error).encode()
            load.samples.append((start, clock(), status))
            if not 200 <= status < 300 and load.first_error is None:
                load.first_error = f"{status}: {answer[:400].decode(errors='replace')}"
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
    finally:
        writer.close()


@dataclass
class Round:
    target: str
    number: int
    clients: int
    seconds: float
    latencies_ms: list[float]
    errors: int
    statuses: Counter[int]
    first_error: str | None
    generator_cpu: float
    server_cpu: float
    postgres_cpu: float
    machine_cpu: float  # everything on the machine, ours included

    @property
    def others_cpu(self) -> float:
        """CPU that neither the load generator, the server nor PostgreSQL used."""
        return max(0.0, self.machine_cpu - self.generator_cpu - self.server_cpu - self.postgres_cpu)

    @property
    def completed(self) -> int:
        return len(self.latencies_ms)

    @property
    def throughput(self) -> float:
        return self.completed / self.seconds

    def percentile(self, q: float) -> float:
        return percentile(sorted(self.latencies_ms), q)


def percentile(ordered: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (q in 0..100)."""
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


async def drive(
    server: Server, token: str | None, number: int, clients: int, warmup: float, seconds: float
) -> Round:
    """Warm up, then measure: requests completing inside the window count."""
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: {HOST}:{server.port}\r\n"
        "Content-Type: application/json\r\n"
        + (f"Authorization: Bearer {token}\r\n" if token else "")
        + "Content-Length: "
    ).encode()
    template = json.dumps(referral_body(REF_MARK), separators=(",", ":")).encode()
    prefix, suffix = template.split(REF_MARK.encode())
    load = Load()
    begin = time.perf_counter()
    window_start, window_end = begin + warmup, begin + warmup + seconds
    run_id = uuid.uuid4().hex[:6]
    tasks = [
        asyncio.create_task(
            client(
                server.port,
                head,
                (prefix, suffix),
                f"BENCH-{server.name}-{run_id}-c{i:02d}",
                window_end,
                load,
            )
        )
        for i in range(clients)
    ]
    await asyncio.sleep(window_start - time.perf_counter())
    cpu_before = (time.process_time(), server.cpu(), postgres_cpu(), machine_busy())
    await asyncio.sleep(window_end - time.perf_counter())
    cpu_after = (time.process_time(), server.cpu(), postgres_cpu(), machine_busy())
    await asyncio.gather(*tasks)
    measured = [s for s in load.samples if window_start <= s[1] <= window_end and 200 <= s[2] < 300]
    statuses = Counter(status for _, _, status in load.samples)
    return Round(
        target=server.name,
        number=number,
        clients=clients,
        seconds=seconds,
        latencies_ms=[(end - start) * 1000 for start, end, _ in measured],
        errors=sum(n for status, n in statuses.items() if not 200 <= status < 300),
        statuses=statuses,
        first_error=load.first_error,
        generator_cpu=cpu_after[0] - cpu_before[0],
        server_cpu=cpu_after[1] - cpu_before[1],
        postgres_cpu=cpu_after[2] - cpu_before[2],
        machine_cpu=cpu_after[3] - cpu_before[3],
    )


# ---------------------------------------------------------------- report


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


ROUND_HEADER = (
    f"{'round':<6}{'target':<7}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}"
    f"{'p99 ms':>8}{'errors':>7} | CPU ms/request:{'server':>7}{'postgres':>9}{'loadgen':>8}"
    f" | cores busy:{'loadgen':>8}{'others':>7}"
)


def round_line(r: Round) -> str:
    per = 1000 / max(r.completed, 1)
    return (
        f"{r.number:<6}{r.target:<7}{r.completed:>9}{r.throughput:>8.1f}"
        f"{r.percentile(50):>8.1f}{r.percentile(95):>8.1f}{r.percentile(99):>8.1f}"
        f"{r.errors:>7} | {'':>15}{r.server_cpu * per:>7.2f}{r.postgres_cpu * per:>9.2f}"
        f"{r.generator_cpu * per:>8.2f} | {'':>11}{r.generator_cpu / r.seconds:>8.2f}"
        f"{r.others_cpu / r.seconds:>7.2f}"
    )


@dataclass
class Summary:
    target: str
    requests: int
    throughput: float
    p50: float
    p95: float
    p99: float
    errors: int


def summarise(rounds: list[Round], target: str) -> Summary:
    mine = [r for r in rounds if r.target == target]
    return Summary(
        target=target,
        requests=sum(r.completed for r in mine),
        throughput=statistics.median(r.throughput for r in mine),
        p50=statistics.median(r.percentile(50) for r in mine),
        p95=statistics.median(r.percentile(95) for r in mine),
        p99=statistics.median(r.percentile(99) for r in mine),
        errors=sum(r.errors for r in mine),
    )


def report(rounds: list[Round]) -> int:
    bare, real = summarise(rounds, "bare"), summarise(rounds, "real")
    per_target = len(rounds) // 2
    print(f"\nmedian of {per_target} round(s) per target (requests and errors: totals)")
    print(
        f"{'target':<7}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
        f"{'errors':>7}"
    )
    for s in (bare, real):
        print(
            f"{s.target:<7}{s.requests:>9}{s.throughput:>8.1f}{s.p50:>8.1f}{s.p95:>8.1f}"
            f"{s.p99:>8.1f}{s.errors:>7}"
        )
    throughput_ratio = real.throughput / bare.throughput if bare.throughput else 0.0
    p99_ratio = real.p99 / bare.p99 if bare.p99 else float("inf")
    throughput_ok = throughput_ratio >= THROUGHPUT_TARGET
    p99_ok = p99_ratio <= P99_TARGET
    errors = bare.errors + real.errors

    def verdict(ok: bool) -> str:
        return "INVALID (errors)" if errors else "PASS" if ok else "FAIL"

    print(
        f"\nreal/bare throughput: {throughput_ratio:.2f}x  (target >= {THROUGHPUT_TARGET}x)  "
        f"{verdict(throughput_ok)}"
    )
    print(f"real p99 / bare p99:  {p99_ratio:.2f}x  (target <= {P99_TARGET}x)  {verdict(p99_ok)}")
    busiest = max(r.others_cpu / r.seconds for r in rounds)
    if busiest > NOISY_CORES:
        print(
            f"WARNING: other processes kept up to {busiest:.2f} core(s) busy during a measured "
            "window; the figures are not from a quiet machine"
        )
    if errors:
        for r in rounds:
            if r.errors:
                print(
                    f"round {r.number} {r.target}: statuses {dict(r.statuses)}; "
                    f"first error {r.first_error}"
                )
        print(f"INVALID RUN: {errors} request(s) failed")
        return 1
    return 0 if throughput_ok and p99_ok else 2


# ---------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--warmup", type=float, default=5.0, help="warm-up seconds per round")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per target, alternating")
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="a database to connect to for CREATE/DROP DATABASE",
    )
    parser.add_argument(
        "--profile", action="store_true", help="then one round of the real server under py-spy"
    )
    return parser.parse_args()


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@dataclass
class Targets:
    bare: Server
    real: Server
    token: str
    database: str


@contextmanager
def targets(admin_url: str) -> Iterator[Targets]:
    """A fresh database set up by `triage`, both servers listening, an intake token.

    Servers are stopped and the database dropped on the way out, however it is left; the
    servers' logs are kept (and their folder printed) when it is left by an error.
    """
    log_dir = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    servers: list[Server] = []
    db_name: str | None = None
    failed = True
    try:
        db_name, url = fresh_database(admin_url)
        env = {**os.environ, "TRIAGE_DATABASE_URL": url, "TRIAGE_PASSWORD": PASSWORD}
        env.pop("TRIAGE_RULE_SET", None)  # the demo area's rules, whatever the shell says
        print(f"database: {db_name} (dropped at the end)")
        triage_command(["db", "upgrade"], env)
        triage_command(["demo", "--no-users"], env)
        triage_command(["user", "add", USERNAME, "--role", "intake"], env)
        real = Server("real", [str(BIN / "triage"), "serve"], env, log_dir)
        bare = Server(
            "bare",
            [sys.executable, "-m", "uvicorn", "bare_insert:app", "--app-dir", str(BENCH_DIR)]
            + ["--host", HOST, "--workers", "1", "--log-level", "info"],
            {**env, "BENCH_DATABASE_URL": url},
            log_dir,
        )
        servers = [bare, real]
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        yield Targets(bare, real, sign_in(real.port), db_name)
        failed = False
    except KeyboardInterrupt:
        failed = False  # asked to stop: nothing to look into
        raise
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not stop cleanup
        for server in servers:
            server.stop()
        if db_name is not None:
            drop_database(admin_url, db_name)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if failed:
            print(f"server logs kept in {log_dir}", file=sys.stderr)
        else:
            shutil.rmtree(log_dir, ignore_errors=True)


def run_rounds(found: Targets, args: argparse.Namespace) -> list[Round]:
    bare, real = found.bare, found.real
    print(
        f"servers: bare on :{bare.port} (pid {pid(bare)}), real on :{real.port} (pid {pid(real)})\n"
    )
    print(ROUND_HEADER)
    rounds: list[Round] = []
    for number in range(1, args.rounds + 1):
        for server in (bare, real):
            token = found.token if server is real else None
            result = asyncio.run(
                drive(server, token, number, args.clients, args.warmup, args.duration)
            )
            rounds.append(result)
            print(round_line(result), flush=True)
            if server.process and server.process.poll() is not None:
                raise SetupError(f"{server.name} server died:\n{server.log_tail()}")
    if args.profile:
        profile_real(found, args)
    return rounds


def profile_real(found: Targets, args: argparse.Namespace) -> None:
    """One more round of the real server only, sampled by py-spy (not counted: sampling
    slows it), and where its time went: each function's share of the samples, with what it
    called (inclusive) and on its own (self)."""
    spy = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
    if spy is None:
        print("\n--profile needs py-spy (.venv/bin/pip install py-spy)")
        return
    raw = Path(tempfile.mkdtemp(prefix="bench-intake-profile-")) / "real.txt"
    seconds = args.warmup + args.duration
    sampler = subprocess.Popen(
        [spy, "record", "--pid", str(pid(found.real)), "--rate", "250", "--format", "raw", "--gil",
         "--duration", str(int(seconds)), "--nonblocking", "--output", str(raw)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    result = asyncio.run(
        drive(found.real, found.token, 0, args.clients, args.warmup, args.duration)
    )
    print(f"\nprofiled round (py-spy at 250 Hz, not counted):\n{round_line(result)}")
    sampler.wait()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [
            frame.split(" (")[0] + " (" + frame.rsplit("/", 1)[-1] for frame in stack.split(";")
        ]
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    print(f"{total:,} samples of the real server (holding the GIL: Python at work, not waiting)")
    for title, counts in (("inclusive", inclusive), ("self", own)):
        print(f"top functions, {title}:")
        for frame, count in counts.most_common(40 if title == "inclusive" else 25):
            print(f"  {100 * count / total:5.1f}%  {frame}")


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    try:
        version = postgres_version(args.pg_admin_url)
    except psycopg.Error as error:
        print(f"setup failed: cannot reach PostgreSQL at {args.pg_admin_url}: {error}")
        return 3
    print(
        f"machine: {os.cpu_count()} CPU(s), {cpu_model()}, "
        f"PostgreSQL {version}, Python {sys.version.split()[0]}"
    )
    print(
        f"load: {args.clients} clients on keep-alive connections, per round {args.warmup:g} s "
        f"warm-up + {args.duration:g} s measured, {args.rounds} round(s) per target"
    )
    try:
        with targets(args.pg_admin_url) as found:
            rounds = run_rounds(found, args)
        return report(rounds)
    except SetupError as error:
        print(f"setup failed: {error}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped and the database dropped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
