"""Run every shared contract check against a fresh SQLite file and a fresh PostgreSQL database.

    python scripts/run_contract.py ../shared/contract --pg-admin-url postgresql://postgres@127.0.0.1:5432/test

Each check sets up its own schema with the `triage` command (which must be on PATH), so each
gets an empty database. Exits 1 if any check fails on any database.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg


def fresh_postgres(admin_url: str) -> tuple[str, str]:
    name = f"triage_contract_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    host_part = admin_url.split("://", 1)[1].rsplit("/", 1)[0]
    return name, f"postgresql+psycopg://{host_part}/{name}"


def drop_postgres(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(check: Path, url: str) -> bool:
    env = {**os.environ, "TRIAGE_DATABASE_URL": url}
    done = subprocess.run([sys.executable, str(check)], env=env, capture_output=True, text=True)
    print(done.stdout.rstrip())
    if done.returncode != 0 and done.stderr:
        print(done.stderr.rstrip()[-3000:])
    return done.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("contract_dir", type=Path)
    parser.add_argument("--pg-admin-url", required=True)
    args = parser.parse_args()
    checks = sorted(args.contract_dir.glob("check_*.py"))
    if not checks:
        print(f"no check_*.py in {args.contract_dir}")
        return 1
    failures = []
    for check in checks:
        with tempfile.TemporaryDirectory() as folder:
            print(f"== {check.name} on SQLite")
            if not run(check, f"sqlite:///{folder}/contract.db"):
                failures.append(f"{check.name} on SQLite")
        name, url = fresh_postgres(args.pg_admin_url)
        try:
            print(f"== {check.name} on PostgreSQL")
            if not run(check, url):
                failures.append(f"{check.name} on PostgreSQL")
        finally:
            drop_postgres(args.pg_admin_url, name)
    print(f"contract: {2 * len(checks) - len(failures)} passed, {len(failures)} failed")
    for failure in failures:
        print(f"  FAILED {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
