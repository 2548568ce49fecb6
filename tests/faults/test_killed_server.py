"""A served process killed (SIGKILL) in the middle of intake, and a new one started on the
same port: the clients retry with their Idempotency-Key and every referral is logged once.

A kill gives the process no chance to answer, roll back or say goodbye: requests in flight
lose their connection, a transaction not yet committed is lost (the database rolls it back),
one committed but not yet answered is found again by its key or crime reference. The new
process needs nothing from the old one (DESIGN 8: all state is in the database).
"""

import time
from pathlib import Path

import pytest

from tests.faults.served import (
    TIMEOUT,
    Load,
    Server,
    check_each_logged_once,
    fresh_database,
    set_up,
)
from triage.db import make_engine

BEFORE = 20  # referrals answered before the kill
AFTER = 20  # and after the new process answers


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_server_killed_under_load_loses_no_referral_and_logs_none_twice(
    backend: str, tmp_path: Path
) -> None:
    began = time.monotonic()
    with fresh_database(backend, tmp_path) as url:
        set_up(url)
        server = Server(url, tmp_path / "serve.log")
        load = None
        try:
            first_start = server.start()
            load = Load(server.base, server.sign_in())
            load.start()
            load.wait_answered(BEFORE)
            killed_at = time.monotonic()
            assert server.kill() == -9
            in_flight = sum(
                1
                for r in load.referrals
                for a in r.attempts
                if a.started < killed_at < a.started + a.seconds
            )
            second_start = server.start()
            answered = load.answered()
            load.wait_answered(answered + AFTER)
        finally:
            if load is not None:
                load.stop()
            server.stop()
        figures = load.figures()
        engine = make_engine(url)
        try:
            counted = check_each_logged_once(engine, load)
        finally:
            engine.dispose()
    figures.update(
        backend=backend,
        counted=counted,
        in_flight_at_kill=in_flight,
        first_start_s=round(first_start, 2),
        restart_s=round(second_start, 2),
        test_s=round(time.monotonic() - began, 1),
    )
    print(f"\nSIGKILL under load: {figures}")
    # The kill met the load: clients lost connections or found none, and retried.
    assert figures["retries"] > 0, figures
    # Nobody waited past their timeout, and the clients never timed out.
    assert figures["longest_request_s"] < TIMEOUT, figures
    assert not any("Timeout" in str(kind) for kind in figures["outcomes"]), figures
    # No 500 from either process (the first died mid-request, the second started clean).
    assert 500 not in figures["outcomes"], figures
    assert figures["referrals"] >= BEFORE + AFTER
