"""The claim batcher's queue: results reach the awaiting coroutines; a full queue answers 503."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

import pytest

from equicover.claims.group_commit import ClaimBatcher
from equicover.claims.schemas import ClaimIn
from equicover.claims.settle_and_store import ClaimSubmission
from equicover.errors import Overloaded


class _StuckFactory:
    """A session factory whose first session never comes until released: the settler thread
    stays busy with its first batch and everything after it waits in the queue."""

    kw: dict[str, object] = {}

    def __init__(self) -> None:
        self.release = threading.Event()
        self.asked = threading.Event()

    def __call__(self) -> object:
        self.asked.set()
        self.release.wait(30)
        raise RuntimeError("no database in this test")


def _submission(number: int) -> ClaimSubmission:
    claim = ClaimIn(
        claim_id=f"Q-{number}", person_id=1, provider_code="P", service_date=dt.date(2024, 1, 2),
        care_type="inpatient", diagnosis="J18.9", total=100,
    )  # fmt: skip
    return ClaimSubmission(claim, "test")


def test_a_full_queue_refuses_with_overloaded_and_queued_claims_still_get_their_answer() -> None:
    factory = _StuckFactory()
    batcher = ClaimBatcher(factory, max_batch=4, max_waiting=3)

    async def scenario() -> list[object]:
        first = batcher.submit_from_loop(_submission(0))
        assert await asyncio.to_thread(factory.asked.wait, 10)  # the settler is stuck on claim 0
        waiting = [batcher.submit_from_loop(_submission(number)) for number in range(1, 4)]
        with pytest.raises(Overloaded) as refused:
            batcher.submit_from_loop(_submission(4))
        assert refused.value.status == 503
        factory.release.set()
        return await asyncio.gather(first, *waiting, return_exceptions=True)

    try:
        answers = asyncio.run(scenario())
    finally:
        factory.release.set()
        batcher.close()
    # Each queued claim got an answer (here the factory's failure), none was lost.
    assert len(answers) == 4 and all(isinstance(answer, RuntimeError) for answer in answers)
