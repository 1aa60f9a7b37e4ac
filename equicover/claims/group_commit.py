"""Settle the claims a service process receives in small batches, on one thread of its own.

A hospital window waits for its answer, and a province's windows together send hundreds of
claims a second. Settled one per transaction, each claim pays for its own round trips and its
own commit (the WAL flush); settled together, the claims that arrived while the previous batch
was being written share them (:func:`equicover.claims.settle_and_store.submit_claims`: three statements
for a whole batch on PostgreSQL). Nobody waits for a batch to fill: the settler takes whatever
is queued when it is free, one claim when traffic is light, a few dozen at peak, so a claim
waits at most for the batch before it. This is group commit, done where the claims are.

The same rules hold as for a lone claim: each is settled against the accumulators its
predecessors left, refusals are per claim, nothing is half-written. When a batch cannot be
written (a deadlock or serialization failure after retries, a claim_id stored concurrently for
another member, anything unexpected), it is rolled back whole and its claims are settled again
one by one, each in its own transaction, so one bad claim cannot sink the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from equicover.claims.models import Claim
from equicover.claims.settle_and_store import ClaimSubmission, ConcurrentClaimIds, SubmitResult, submit_claims
from equicover.db.retry import backoff, is_transient
from equicover.errors import EquicoverError, Overloaded

log = logging.getLogger("equicover.claims")

DEFAULT_MAX_BATCH = 64
# About two seconds of a province's peak traffic: past that a window is better told to retry than left waiting.
DEFAULT_MAX_WAITING = 1024
RETRIES = 8


@dataclass(slots=True)
class _Job:
    submission: ClaimSubmission
    future: Future[SubmitResult] | asyncio.Future[SubmitResult]
    loop: asyncio.AbstractEventLoop | None = None  # set when an event loop awaits the future


class ClaimBatcher:
    """Queue of submitted claims and the thread that settles them in batches.

    ``submit`` may be called from any thread (the event loop awaits the future with
    ``asyncio.wrap_future``). The thread starts with the first submission and stops with
    :meth:`close`, after settling what is queued.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_waiting: int = DEFAULT_MAX_WAITING,
    ) -> None:
        if max_batch < 1 or max_waiting < 1:
            raise ValueError("max_batch and max_waiting must be at least 1")
        self.session_factory = session_factory
        self.max_batch = max_batch
        self.max_waiting = max_waiting  # claims queued at most; beyond, submissions from an event loop get 503
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self._connection: Connection | None = None  # the settler thread's own, see _session
        self.batches = 0  # settled so far, for the bench's report
        self.claims = 0

    def submit(self, submission: ClaimSubmission) -> Future[SubmitResult]:
        """Queue a claim; the future gives (stored claim, created) or the typed error that refused it."""
        self._start()
        future: Future[SubmitResult] = Future()
        self._queue.put(_Job(submission, future))
        return future

    def submit_from_loop(self, submission: ClaimSubmission) -> asyncio.Future[SubmitResult]:
        """:meth:`submit` for a coroutine: the results of a batch reach each event loop in one
        wake-up (``call_soon_threadsafe`` once per batch, not once per claim)."""
        if self._queue.qsize() >= self.max_waiting:
            raise Overloaded("claims", "queue", f"{self.max_waiting} claims are waiting to be settled: retry shortly")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[SubmitResult] = loop.create_future()
        self._start()
        self._queue.put(_Job(submission, future, loop))
        return future

    def _start(self) -> None:
        if self._closed:
            raise RuntimeError("the claim batcher is closed")
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="claim-settler", daemon=True)
                    self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Settle what is queued, then stop the thread."""
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _run(self) -> None:
        stopping = False
        while not stopping:
            job = self._queue.get()
            if job is None:
                break
            jobs = [job]
            while len(jobs) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                jobs.append(more)
            self._settle(jobs)

    def _settle(self, jobs: list[_Job]) -> None:
        try:
            results = self._attempt([job.submission for job in jobs])
        except Exception as error:
            if len(jobs) > 1:
                if not isinstance(error, ConcurrentClaimIds):
                    log.warning(
                        "claim batch of %d not written (%s): settling its claims one by one",
                        len(jobs),
                        type(error).__name__,
                    )
                for job in jobs:
                    self._settle([job])
                return
            _deliver([(jobs[0], error, True)])
            return
        self.batches += 1
        self.claims += len(jobs)
        _deliver([(job, result, False) for job, result in zip(jobs, results, strict=True)])

    def _session(self) -> Session:
        """A session for one batch, on the settler's own connection when the factory is bound to
        an engine: checked out once, not from the pool (and pinged) for every batch."""
        bind = self.session_factory.kw.get("bind")
        if not isinstance(bind, Engine):
            return self.session_factory()  # bound to a connection already (the tests' rolled-back one)
        if self._connection is None or self._connection.closed or self._connection.invalidated:
            if self._connection is not None:
                self._connection.close()
            self._connection = bind.connect()
            if self._connection.dialect.name == "postgresql":
                # Every read here is a lookup by key. A plan made while a table was still empty
                # (a new database, before autovacuum's first ANALYZE) would scan the whole table
                # per claim, and prepared statements keep their plans: steer them to the indexes.
                self._connection.exec_driver_sql("SET enable_seqscan = off")
                self._connection.commit()
        return self.session_factory(bind=self._connection)

    def _attempt(self, submissions: list[ClaimSubmission]) -> list[SubmitResult]:
        """Settle and commit, retrying the whole transaction after a transient conflict."""
        for attempt in range(1, RETRIES + 1):
            session = self._session()
            try:
                results = submit_claims(session=session, submissions=submissions)
                _load_stored_payments(session, results)
                session.commit()
                return results
            except DBAPIError as error:
                session.rollback()
                if error.connection_invalidated and self._connection is not None:
                    self._connection.close()  # the server went away: a new connection for the next attempt
                    self._connection = None
                if attempt == RETRIES or not (is_transient(error) or error.connection_invalidated):
                    raise
                backoff(attempt)
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()
        raise AssertionError("unreachable")  # pragma: no cover


def _deliver(outcomes: list[tuple[_Job, Any, bool]]) -> None:
    """Hand each job its result (or, if the flag is set, its exception); one wake-up per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, Any, bool]]] = {}
    for outcome in outcomes:
        job = outcome[0]
        if job.loop is None:
            _resolve([outcome])
        else:
            by_loop.setdefault(job.loop, []).append(outcome)
    for loop, waiting in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody awaits these any more
            loop.call_soon_threadsafe(_resolve, waiting)


def _resolve(outcomes: list[tuple[_Job, Any, bool]]) -> None:
    for job, value, failed in outcomes:
        if job.future.done():  # an awaiting request was cancelled (client gone): the claim stands, nobody to tell
            continue
        if failed:
            job.future.set_exception(value)
        else:
            job.future.set_result(value)


def _load_stored_payments(session: Session, results: list[SubmitResult]) -> None:
    """Claims returned as already stored carry their payments too: the answer is built after the session closes."""
    from equicover.claims.service import payments_of

    for result in results:
        if isinstance(result, EquicoverError):
            continue
        row, created = result
        if not created and isinstance(row, Claim) and getattr(row, "settled_payments", None) is None:
            row.settled_payments = payments_of(session=session, claim_pk=row.id)
