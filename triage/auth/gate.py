"""The way in under attack (DESIGN 12): what a flood of wrong passwords may cost the people
working, and how little.

- A lockout the database has answered is remembered here until it ends, so the next try
  from that username or address is refused without a database read.
- A refusal is held (`hold` seconds, on the event loop: no thread, no connection) before it
  is answered, so a client that ignores Retry-After sends a few tries a second, not hundreds.
- Password checks (argon2: about 0.15 s of one core and 64 MiB each) run `checks` at once
  on threads of their own at the lowest CPU priority, each slot resting `rest` times as
  long as its check took before the next (so checks take at most 40% of a core each by
  default); a sign-in waits for one on the event loop, holding no thread and no database
  connection, and gives up after `wait` seconds (429).

Measured by benchmarks/throttle.py (benchmarks/README.md).
"""

import asyncio
import contextlib
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio

from triage.auth.passwords import rehashed, verify_password
from triage.errors import Throttled


class LockedOut(Throttled):
    """Too many failed sign-ins for a username or from an address, until `until`."""

    def __init__(self, message: str, *, key: tuple[str, str], until: datetime, now: datetime):
        super().__init__(message, retry_after=_seconds(until - now))
        self.key = key
        self.until = until


def _seconds(delta: timedelta) -> int:
    return math.ceil(delta.total_seconds())


def _lowest_priority() -> None:
    """Run this thread (a password check's) at nice 19: on Linux a thread's own."""
    # Not Linux, or not allowed: the checks still work, at the usual priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


@dataclass
class SignInGate:
    checks: int = 1
    hold: float = 1.0
    wait: float = 10.0
    # After each check its slot stays taken this many times as long as the check took: the
    # checks use at most 1 / (1 + rest) of a core each, whatever a botnet sends.
    rest: float = 1.5
    remembered: int = 100_000  # lockouts kept in memory at most

    def __post_init__(self) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, self.checks),
            thread_name_prefix="password-check",
            initializer=_lowest_priority,
        )
        self._slots: dict[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = {}
        self._until: dict[tuple[str, str], datetime] = {}

    # Lockouts -----------------------------------------------------------------------------

    def known_lockout(self, keys: tuple[tuple[str, str], ...], now: datetime) -> None:
        """Raise the lockout remembered for any of `keys` (LockedOut), forgetting ended ones."""
        for key in keys:
            until = self._until.get(key)
            if until is None:
                continue
            if until > now:
                raise LockedOut(locked_out_message(until, now), key=key, until=until, now=now)
            del self._until[key]

    def remember(self, lockout: LockedOut, now: datetime) -> None:
        if len(self._until) >= self.remembered:
            self._until = {k: u for k, u in self._until.items() if u > now}
            if len(self._until) >= self.remembered:  # still full: drop the older half
                self._until = dict(list(self._until.items())[self.remembered // 2 :])
        self._until[lockout.key] = lockout.until

    async def refuse(self, refusal: Throttled) -> Throttled:
        """Hold a refusal before it is answered (a lockout; a busy gate has waited already)."""
        if isinstance(refusal, LockedOut) and self.hold > 0:
            await anyio.sleep(self.hold)
        return refusal

    # Password checks ----------------------------------------------------------------------

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Check a password on a password-check thread, once one is free (429 after `wait`)."""
        slots = self.slots_here()
        holder = object()  # the slot is released by a timer, not by this request's task
        try:
            with anyio.fail_after(self.wait):
                await slots.acquire_on_behalf_of(holder)
        except TimeoutError:
            raise Throttled("too many sign-ins at once: try again shortly", retry_after=2) from None
        loop = asyncio.get_running_loop()
        try:
            # Shielded: a client that goes away does not free the slot while argon2 still runs.
            with anyio.CancelScope(shield=True):
                started = loop.time()
                valid = await loop.run_in_executor(
                    self._executor, verify_password, password_hash, password
                )
        except BaseException:
            slots.release_on_behalf_of(holder)
            raise
        # The answer goes now; the slot rests before the next check may start.
        loop.call_later((loop.time() - started) * self.rest, slots.release_on_behalf_of, holder)
        return valid

    async def rehashed(self, password_hash: str, password: str) -> str | None:
        """`passwords.rehashed` on a password-check thread: a signed-in user's hash made at
        old costs is made again (no slot: only the right password gets here)."""
        loop = asyncio.get_running_loop()
        with anyio.CancelScope(shield=True):
            new_hash = await loop.run_in_executor(self._executor, rehashed, password_hash, password)
        return new_hash

    def slots_here(self) -> anyio.CapacityLimiter:
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = anyio.CapacityLimiter(max(1, self.checks))
        return slots

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def locked_out_message(until: datetime, now: datetime) -> str:
    return f"too many failed sign-ins: try again in {_seconds(until - now)} seconds"
