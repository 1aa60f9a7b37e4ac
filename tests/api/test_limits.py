"""The ASGI guards: concurrency limit with load shedding, error containment."""

from __future__ import annotations

import asyncio
import json

from equicover.http.limits import ConcurrencyLimit, SafeErrors


def _request() -> dict[str, object]:
    return {"type": "http", "method": "POST", "path": "/api/v1/claims", "headers": []}


async def _call(app, scope) -> list[dict[str, object]]:
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def test_requests_beyond_the_limit_wait_and_beyond_the_queue_get_503() -> None:
    running = 0
    peak = 0
    release = asyncio.Event()

    async def slow_app(scope, receive, send) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    guarded = ConcurrencyLimit(slow_app, max_in_flight=2, max_waiting=1)

    async def scenario() -> list[int]:
        tasks = [asyncio.create_task(_call(guarded, _request())) for _ in range(3)]
        await asyncio.sleep(0.05)
        shed = await _call(guarded, _request())  # 2 running + 1 waiting: the 4th is refused at once
        release.set()
        done = await asyncio.gather(*tasks)
        return [int(shed[0]["status"])] + [int(messages[0]["status"]) for messages in done]

    statuses = asyncio.run(scenario())
    assert statuses == [503, 200, 200, 200]
    assert peak == 2


def test_an_escaped_exception_becomes_a_bare_500_without_its_message(caplog) -> None:
    async def broken(scope, receive, send) -> None:
        raise RuntimeError("INSERT ... parameters: ('Nguyen Van A', '001234567890')")

    sent = asyncio.run(_call(SafeErrors(broken), _request()))
    assert sent[0]["status"] == 500
    body = json.loads(sent[1]["body"])
    assert body["code"] == "internal_error"
    assert "Nguyen" not in caplog.text and "RuntimeError" in caplog.text
