"""The police feed import against PostgreSQL's own COPY (issue 15):

    .venv/bin/python benchmarks/import.py [--rows 1000000] [--pg-admin-url URL]

1. A synthetic v1 CSV of --rows rows (triage/demo/feed.py: Faker en_GB people, every row
   new and valid), written before anything is timed.
2. A fresh PostgreSQL database (`triage db upgrade`, dropped at the end); then, timed,
   `triage import police-feed FILE` end to end as a user runs it: a new process that parses,
   validates (the model POST /api/referrals uses), evaluates the Victims' Code, writes the
   audit and check-log lines and COPYs it all. Its wall time and its peak RSS (wait4).
3. The baseline, in the same run: the referral rows that import stored, exported to a CSV
   file (COPY TO), loaded by PostgreSQL's own `COPY FROM` (streamed from the file, psql's
   \\copy) into an empty table made `LIKE referrals INCLUDING ALL` (the same indexes and
   constraints). Only the referral rows: the import also writes their audit and check lines.
4. Prints rows/s of both, the ratio, the peak RSS, the other processes' CPU during the
   import, and the targets: >= 10,000 referrals/s and < 300 MB.

Exit status 0 when both targets are met, 2 when one is missed, 3 when setting up failed.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from intake import (  # noqa: E402
    BIN,
    ROOT,
    SetupError,
    cpu_model,
    drop_database,
    fresh_database,
    machine_busy,
    postgres_version,
    triage_command,
)

RATE_TARGET = 10_000  # referrals a second
RSS_TARGET_MB = 300


def write_feed_apart(feed: Path, rows: int) -> int:
    """Write the feed in a process of its own (this one stays small: a child's peak RSS, as
    wait4 reports it, starts from its parent's at the fork); answers the referrals it makes."""
    code = (
        "import sys; from pathlib import Path; from triage.demo.feed import write_feed; "
        "print(write_feed(Path(sys.argv[1]), int(sys.argv[2]), seed=15).created)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(feed), str(rows)], cwd=ROOT,
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout.strip())


def timed_import(feed: Path, env: dict[str, str]) -> tuple[float, float, float, str]:
    """Run the import: (seconds, peak RSS MB, CPU seconds of the import, its summary line)."""
    busy_before = machine_busy()
    started = time.perf_counter()
    child = subprocess.Popen(
        [str(BIN / "triage"), "import", "police-feed", str(feed),
         "--rejects", str(feed.with_suffix(".rejects.csv"))],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    together = TreeMemory(child.pid)
    together.start()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    together.stop = True
    child.returncode = os.waitstatus_to_exitcode(status)
    out = child.stdout.read() if child.stdout else ""
    if child.returncode != 0:
        raise SetupError(f"the import failed ({child.returncode}): {out}")
    cpu = usage.ru_utime + usage.ru_stime
    machine = machine_busy() - busy_before
    print(f"  machine busy {machine:.1f} CPU s in {seconds:.1f} s (import {cpu:.1f} CPU s); "
          f"the import and its workers together at most {together.peak / 1024:.0f} MB")  # fmt: skip
    return seconds, usage.ru_maxrss / 1024, cpu, out.strip().splitlines()[-1]


class TreeMemory(threading.Thread):
    """The largest sum of resident memory of a process and its descendants, read from /proc
    five times a second (the workers' share, which wait4's peak of one process leaves out)."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.peak, self.stop = root, 0, False  # peak in KiB

    def run(self) -> None:
        while not self.stop:
            parents: dict[int, int] = {}
            rss: dict[int, int] = {}
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    status = (entry / "status").read_text()
                except OSError:
                    continue
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                parents[int(entry.name)] = int(fields.get("PPid", "0"))
                rss[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0])
            tree, grew = {self.root}, True
            while grew:
                more = {pid for pid, parent in parents.items() if parent in tree} - tree
                tree |= more
                grew = bool(more)
            self.peak = max(self.peak, sum(rss.get(pid, 0) for pid in tree))
            time.sleep(0.2)


def copy_baseline(admin_url: str, name: str, folder: Path) -> tuple[float, int]:
    """PostgreSQL's COPY FROM of the same referral rows: (seconds, rows)."""
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    dump = folder / "referrals.csv"
    with psycopg.connect(url, autocommit=True) as connection:
        with (
            connection.cursor() as cursor,
            dump.open("wb") as out,
            cursor.copy("COPY referrals TO STDOUT (FORMAT CSV)") as copy,
        ):
            for block in copy:
                out.write(block)
        connection.execute("CREATE TABLE referrals_baseline (LIKE referrals INCLUDING ALL)")
        connection.execute("CHECKPOINT")
        started = time.perf_counter()
        with (
            connection.cursor() as cursor,
            dump.open("rb") as source,
            cursor.copy("COPY referrals_baseline FROM STDIN (FORMAT CSV)") as copy,
        ):
            while block := source.read(1 << 20):
                copy.write(block)
        seconds = time.perf_counter() - started
        row = connection.execute("SELECT count(*) FROM referrals_baseline").fetchone()
    return seconds, int(row[0]) if row else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pg-admin-url", default=os.environ.get(
        "TRIAGE_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test"))  # fmt: skip
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores ({cpu_model()}), PostgreSQL "
          f"{postgres_version(args.pg_admin_url)}, Python {sys.version.split()[0]}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        folder = Path(tmp)
        feed = folder / "feed.csv"
        started = time.perf_counter()
        created = write_feed_apart(feed, args.rows)
        print(f"feed: {args.rows:,} rows, {feed.stat().st_size / 2**20:,.0f} MiB, written in "
              f"{time.perf_counter() - started:.0f} s")  # fmt: skip
        name, url = fresh_database(args.pg_admin_url)
        try:
            env = {**os.environ, "TRIAGE_DATABASE_URL": url}
            triage_command(["db", "upgrade"], env)
            seconds, rss, cpu, summary = timed_import(feed, env)
            print(f"import: {summary}")
            base_seconds, base_rows = copy_baseline(args.pg_admin_url, name, folder)
        except SetupError as error:
            print(f"setting up failed: {error}", file=sys.stderr)
            return 3
        finally:
            drop_database(args.pg_admin_url, name)
    rate, base_rate = created / seconds, base_rows / base_seconds
    print(
        f"import: {created:,} referrals in {seconds:.1f} s = {rate:,.0f}/s "
        f"({cpu / created * 1e6:.0f} us CPU each), peak RSS {rss:.0f} MB (the largest process)"
    )
    print(
        f"COPY FROM of the same referral rows: {base_rows:,} in {base_seconds:.1f} s = "
        f"{base_rate:,.0f}/s; the import at {rate / base_rate:.3f}x of it"
    )
    met_rate, met_rss = rate >= RATE_TARGET, rss < RSS_TARGET_MB
    print(
        f"target >= {RATE_TARGET:,}/s: {'met' if met_rate else 'MISSED'}; "
        f"peak RSS < {RSS_TARGET_MB} MB: {'met' if met_rss else 'MISSED'}"
    )
    return 0 if met_rate and met_rss else 2


if __name__ == "__main__":
    sys.exit(main())
