"""A bounded pool for password hashing, so that a flood of sign-ins cannot starve other requests.

Verifying an argon2id hash costs about 175 ms of CPU on this project's 2-core machines (the
library's defaults: 3 passes over 64 MiB in 4 lanes, computed by threads of their own) and a
request worker for as long. Run on the request workers, forty sign-ins at once occupy every slot
a process has for requests and both cores, and every other endpoint waits behind them.

:class:`HashSlots` admits ``slots`` hashes at once and ``waiting`` more in line; an attempt beyond
that is refused at once, before it touches the database, with
:class:`~equicover.errors.Overloaded` (503, ``Retry-After``), so it holds no worker for long.
The hashes run on the pool's own threads at a lower scheduling priority (``nice`` +10, inherited
by the threads argon2 starts): while the CPU is busy, the other requests are served first, and
the hashes use what is left. The sign-in endpoints wait for their turn at :class:`SignInGate`
first, on the event loop, holding nothing while they wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from equicover.errors import Overloaded

_Result = TypeVar("_Result")
HASH_NICENESS = 10


def _default_slots() -> int:
    configured = os.environ.get("EQUICOVER_HASH_SLOTS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, min(2, (os.cpu_count() or 2) // 2))


def _default_waiting() -> int:
    configured = os.environ.get("EQUICOVER_HASH_WAITING", "")
    return int(configured) if configured.isdigit() else 4


def _lower_priority() -> None:
    """Lower this pool thread's scheduling priority (Linux schedules threads one by one)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICENESS)


def _busy() -> Overloaded:
    return Overloaded("credentials", "password", "too many sign-ins in progress, retry shortly")


class HashSlots:
    """At most ``slots`` hashes at once, ``waiting`` more admitted, the rest refused (503)."""

    def __init__(self, slots: int | None = None, waiting: int | None = None, wait_seconds: float = 30.0) -> None:
        self.slots = slots if slots is not None else _default_slots()
        self.waiting = waiting if waiting is not None else _default_waiting()
        self.wait_seconds = wait_seconds
        self._lock = threading.Lock()
        self._admitted = 0
        self._executor: ThreadPoolExecutor | None = None

    @property
    def admitted(self) -> int:
        """Sign-ins admitted now (hashing or waiting for their turn)."""
        return self._admitted

    @contextlib.contextmanager
    def admission(self) -> Iterator[None]:
        """Admit one sign-in, or refuse it (503) when ``slots + waiting`` are already admitted."""
        with self._lock:
            if self._admitted >= self.slots + self.waiting:
                raise _busy()
            self._admitted += 1
        try:
            yield
        finally:
            with self._lock:
                self._admitted -= 1

    def run(self, work: Callable[..., _Result], *args: object) -> _Result:
        """``work(*args)`` on the pool's threads (at most ``slots`` at once); waits for the result."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.slots, thread_name_prefix="password-hash", initializer=_lower_priority
                )
            executor = self._executor
        future = executor.submit(work, *args)
        try:
            return future.result(timeout=self.wait_seconds)
        except FutureTimeout:
            future.cancel()
            raise _busy() from None


class SignInGate:
    """The sign-in endpoints' turn at the pool, awaited on the event loop.

    A sign-in waiting here holds no thread, no database connection and no slot of the request
    limit (the sign-in paths are exempt from it, as claim submission is): forty attackers at once
    cost forty waiting coroutines, not forty workers. ``slots`` sign-ins pass at a time (the
    pool's); up to ``waiting`` wait their turn, in order; beyond that the next is refused at once
    (503 ``overloaded``, ``Retry-After``). One gate per application (its event loop).
    """

    def __init__(self, slots: int, waiting: int = 64) -> None:
        self.slots = slots
        self.waiting = waiting
        self._semaphore: asyncio.Semaphore | None = None
        self._queued = 0

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.slots)
        semaphore = self._semaphore
        if semaphore.locked() and self._queued >= self.waiting:
            raise _busy()
        self._queued += 1
        try:
            await semaphore.acquire()
        finally:
            self._queued -= 1
        try:
            yield
        finally:
            semaphore.release()
