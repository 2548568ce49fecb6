"""PostgreSQL stopped and started again while a served process takes intake.

While the database is down every request answers at once, 503 with Retry-After (never a bare
500, never a wait past the client's timeout), and `/readyz` answers 503 so a load balancer
sends no one. Once it is back, `/readyz` answers 200 again within moments, the clients'
retries (same Idempotency-Key, same body) are answered, and every referral exists once. A
second process, idle all the while, fails its first request after the restart (503: its
pooled connections were ended) and answers the next.

This stops the machine's own cluster (`pg_ctlcluster ... main stop -m fast`) for a few
seconds and always starts it again, whatever happens; other tests' pooled connections it
broke are dropped afterwards.
"""

import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.faults.served import (
    FEED,
    PASSWORD,
    TIMEOUT,
    Load,
    Server,
    check_each_logged_once,
    cluster,
    forget_broken_connections,
    fresh_database,
    local_cluster,
    postgres_ready,
    set_up,
    wait_postgres,
)
from tests.support import victim
from triage.db import make_engine

BEFORE = 20  # referrals answered before the stop
AFTER = 20  # and after /readyz answers 200 again
DOWN = 2.0  # seconds the cluster stays down (at least), /readyz asked all along

pytestmark = [
    pytest.mark.serial,  # it stops the shared cluster: nothing else may run meanwhile
    pytest.mark.skipif(
        local_cluster() is None,
        reason="stops the machine's own PostgreSQL cluster: needs Debian's pg_ctlcluster, root "
        "or postgres, and TRIAGE_TEST_PG_ADMIN_URL on 127.0.0.1:5432",
    ),
]


@contextmanager
def cluster_stopped(timings: dict[str, float]) -> Iterator[None]:
    """The cluster stopped (fast: sessions are ended, not waited for), then started again
    however the block ends, and waited for with pg_isready."""
    try:
        timings["stopping"] = time.monotonic()
        cluster("stop")
        timings["stopped"] = time.monotonic()
        yield
    finally:
        timings["starting"] = time.monotonic()
        version = local_cluster()
        status = subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", str(version), "main", "status"],
            capture_output=True,
            timeout=60,
        )
        if status.returncode != 0 or not postgres_ready():
            cluster("start")
        wait_postgres()
        timings["ready"] = time.monotonic()


def readyz(base: str) -> tuple[int | None, float, Any]:
    started = time.monotonic()
    try:
        answer = httpx.get(f"{base}/readyz", timeout=TIMEOUT)
    except httpx.TransportError as error:
        return None, time.monotonic() - started, type(error).__name__
    return answer.status_code, time.monotonic() - started, answer.json()


def sign_in(base: str) -> int:
    answer = httpx.post(
        f"{base}/api/auth/token",
        data={"username": FEED, "password": PASSWORD},
        timeout=TIMEOUT,
    )
    return answer.status_code


def test_postgres_restarted_under_load_answers_503_then_recovers_losing_nothing(
    tmp_path: Path,
) -> None:
    began = time.monotonic()
    timings: dict[str, float] = {}
    down: list[tuple[int | None, float, Any]] = []
    with fresh_database("postgresql", tmp_path) as url:
        set_up(url)
        server = Server(url, tmp_path / "serve.log")
        idle = Server(url, tmp_path / "idle.log")  # no requests while the database is away
        load = None
        try:
            server.launch()
            idle.launch()
            server.wait_healthy()
            idle.wait_healthy()
            with ThreadPoolExecutor(4) as pool:  # a few connections into its pool
                warmed = list(pool.map(lambda _: readyz(idle.base)[0], range(8)))
            assert warmed == [200] * 8, warmed
            load = Load(server.base, server.sign_in())
            load.start()
            load.wait_answered(BEFORE)
            with cluster_stopped(timings):
                while time.monotonic() - timings["stopped"] < DOWN:
                    down.append(readyz(server.base))
                    time.sleep(0.1)
            while (answer := readyz(server.base))[0] != 200:
                assert time.monotonic() - timings["ready"] < 30, f"/readyz still {answer}"
                time.sleep(0.05)
            ready_again = time.monotonic()
            answered = load.answered()
            load.wait_answered(answered + AFTER)
            load.stop()
            # The idle process's pooled connections were ended by the restart: the first
            # request to meet one fails (503), then the pool has replaced them all.
            idle_statuses = [sign_in(idle.base) for _ in range(3)]
        finally:
            if load is not None:
                load.stop()
            server.stop()
            idle.stop()
            forget_broken_connections()
        engine = make_engine(url)
        try:
            counted = check_each_logged_once(engine, load)
        finally:
            engine.dispose()
    log = server.log.read_text(errors="replace")
    figures = load.figures()
    attempts = [a for r in load.referrals for a in r.attempts]
    # Sent and answered while the cluster was down (stopped, not yet starting).
    in_outage = [
        a
        for a in attempts
        if timings["stopped"] <= a.started and a.started + a.seconds < timings["starting"]
    ]
    after_ready = [a for a in attempts if a.started >= ready_again]
    figures.update(
        counted=counted,
        stop_s=round(timings["stopped"] - timings["stopping"], 2),
        down_s=round(timings["starting"] - timings["stopped"], 2),
        start_s=round(timings["ready"] - timings["starting"], 2),
        readyz_while_down=dict(
            count=len(down),
            statuses=sorted({status for status, _, _ in down}, key=str),
            longest_s=round(max(seconds for _, seconds, _ in down), 3),
        ),
        readyz_200_after_pg_ready_s=round(ready_again - timings["ready"], 3),
        requests_in_outage=len(in_outage),
        outcomes_in_outage=dict(Counter(a.error or a.status for a in in_outage)),
        status_503_after_ready=sum(1 for a in after_ready if a.status == 503),
        idle_process_after_restart=idle_statuses,
        log_unavailable_lines=log.count("database unavailable: "),
        test_s=round(time.monotonic() - began, 1),
    )
    print(f"\nPostgreSQL restart under load: {figures}")
    # /readyz said 503 all the while the database was down, each time at once.
    assert down and all(status == 503 for status, _, _ in down), down
    assert all(body["status"] == "unavailable" for _, _, body in down), down
    assert figures["readyz_while_down"]["longest_s"] < 4, figures  # no connect timeout met
    # The clients met the outage as 503s (retried), never a bare 500, never a hang.
    assert figures["outcomes_in_outage"].get(503, 0) > 0, figures
    assert set(figures["outcomes_in_outage"]) == {503}, figures
    assert 500 not in figures["outcomes"], figures
    assert figures["longest_request_s"] < TIMEOUT, figures
    assert not any("Timeout" in str(kind) for kind in figures["outcomes"]), figures
    assert idle_statuses == [503, 200, 200], idle_statuses
    # Each 503 was logged as one line, and no log line holds what a victim told us.
    assert "unhandled" not in log, server.tail()
    assert figures["log_unavailable_lines"] == figures["outcomes"][503], figures
    assert victim()["full_name"] not in log and victim()["phone"] not in log
