"""Refuse request bodies larger than a limit with 413, before the application reads them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    import asyncio

DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024


class _TooLarge(Exception):
    pass


def _body(max_bytes: int) -> bytes:
    message = f"request body larger than {max_bytes} bytes"
    return json.dumps(
        {
            "status": 413,
            "code": "payload_too_large",
            "message": message,
            "record": "request",
            "field": "body",
            "reason": message,
        }
    ).encode()


def _fhir_body(max_bytes: int) -> bytes:
    """The same refusal as a FHIR OperationOutcome (issue code too-long), for the /fhir paths."""
    message = f"request body larger than {max_bytes} bytes"
    return json.dumps(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "too-long", "diagnostics": message}],
        }
    ).encode()


class BodySizeLimit:
    """ASGI middleware: checks ``Content-Length`` and also counts streamed (chunked) bodies."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send, path: str) -> None:
        body, media_type = _body(self.max_bytes), b"application/json"
        if path == "/fhir" or path.startswith("/fhir/"):
            body, media_type = _fhir_body(self.max_bytes), b"application/fhir+json"
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", media_type), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._refuse(send, scope.get("path", ""))
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send, scope.get("path", ""))


DEFAULT_MAX_IN_FLIGHT = 12
DEFAULT_MAX_WAITING = 256


class ConcurrencyLimit:
    """At most ``max_in_flight`` HTTP requests of this process run at once; the rest wait their turn.

    Each running request may hold a database connection across several thread-pool hops (session,
    user, endpoint, commit). Without a bound, more requests than the connection pool holds check
    out connections, the threads of the others block waiting for one, and the holders cannot get
    a thread to finish: the pool times out. Keep this below the pool size (5 + 10 overflow).
    When ``max_waiting`` requests already wait, a new one is answered 503 at once (with
    Retry-After) rather than queued for ever: an overloaded service sheds load visibly.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        max_waiting: int = DEFAULT_MAX_WAITING,
        exempt: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.max_waiting = max_waiting
        self.exempt = frozenset(exempt)  # (method, path) of requests that hold no connection while they wait
        self._semaphore: asyncio.Semaphore | None = None
        self._waiting = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope.get("method"), scope.get("path")) in self.exempt:
            await self.app(scope, receive, send)
            return
        import asyncio

        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.max_in_flight)
        semaphore = self._semaphore
        if semaphore.locked() and self._waiting >= self.max_waiting:
            body = json.dumps(
                {
                    "status": 503,
                    "code": "overloaded",
                    "message": "too many requests in progress, retry shortly",
                    "record": None,
                    "field": None,
                    "reason": None,
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"retry-after", b"1"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        self._waiting += 1
        try:
            await semaphore.acquire()
        finally:
            self._waiting -= 1
        try:
            await self.app(scope, receive, send)
        finally:
            semaphore.release()


class SafeErrors:
    """Turn any exception that escaped the application into a bare 500 JSON answer.

    Starlette's outermost error middleware would log the exception's message and traceback, and a
    database error's message carries the statement's parameters (names, national IDs): log only
    the exception type and the route instead.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            import logging

            logging.getLogger("equicover.api").error(
                "unexpected %s on %s %s", type(error).__name__, scope.get("method"), scope.get("path")
            )
            if started:
                return
            body = json.dumps(
                {
                    "status": 500,
                    "code": "internal_error",
                    "message": "internal error",
                    "record": None,
                    "field": None,
                    "reason": None,
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
