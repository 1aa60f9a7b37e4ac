"""Limits on what a request may be: its size (413), its text (422), how many run at once (503)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from equicover.errors import RecordError, ValidationFailed

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


# Text a person or a program sends never needs C0 control characters (nor DEL): PostgreSQL cannot
# store NUL at all, and the others only smuggle invisible content into names and codes. Bodies
# keep tab, newline and carriage return (a reason, a policy file); paths and queries keep none.
CONTROL_CHARACTER = "contains a control character, which is not allowed"
UNPAIRED_SURROGATE = "contains an unpaired surrogate, which is not text"
_PATH_CONTROL = re.compile("[\x00-\x1f\x7f]")
_TEXT_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_RAW_CONTROL = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_FIELD_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

PageRefusal = Callable[[Scope, RecordError], Response]
"""Renders a refusal of a web page (not under ``/api`` or ``/fhir``) as an HTML page; runs in a thread."""


def _text_reason(text: str, pattern: re.Pattern[str]) -> str | None:
    if pattern.search(text):
        return CONTROL_CHARACTER
    if _SURROGATE.search(text):
        return UNPAIRED_SURROGATE
    return None


def _name(text: str) -> str:
    """A field name fit to echo back: a form's or query's own name, never arbitrary input."""
    return text if _FIELD_NAME.fullmatch(text) else "(name)"


def _pairs_refusal(text: str, where: str, pattern: re.Pattern[str]) -> ValidationFailed | None:
    for name, value in parse_qsl(text, keep_blank_values=True):
        reason = _text_reason(name, pattern)
        if reason is not None:
            return ValidationFailed("request", where, reason)
        reason = _text_reason(value, pattern)
        if reason is not None:
            return ValidationFailed("request", f"{where}.{_name(name)}", reason)
    return None


def _json_refusal(document: object) -> ValidationFailed | None:
    """The first string (key or value) of a parsed JSON document that is not clean text.

    Iterative: a document nested as deep as the parser allows must not overflow the stack here.
    """
    stack: list[tuple[object, str]] = [(document, "body")]
    while stack:
        value, location = stack.pop()
        if isinstance(value, str):
            reason = _text_reason(value, _TEXT_CONTROL)
            if reason is not None:
                return ValidationFailed("request", location, reason)
        elif isinstance(value, dict):
            for key in value:
                reason = _text_reason(key, _TEXT_CONTROL)
                if reason is not None:
                    return ValidationFailed("request", location, reason)
            stack.extend((item, f"{location}.{_name(key)}") for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((item, f"{location}.{index}") for index, item in reversed(list(enumerate(value))))
    return None


def text_refusal(scope: Scope, body: bytes) -> ValidationFailed | None:
    """Why this request's path, query or body is not clean text, or None when it is."""
    if _PATH_CONTROL.search(scope.get("path", "")):
        return ValidationFailed("request", "path", CONTROL_CHARACTER)
    query = scope.get("query_string", b"")
    if query:
        found = _pairs_refusal(query.decode("latin-1"), "query", _PATH_CONTROL)
        if found is not None:
            return found
    if not body:
        return None
    content_type = ""
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            content_type = value.decode("latin-1").lower()
    if content_type.startswith("application/x-www-form-urlencoded"):
        return _pairs_refusal(body.decode("latin-1"), "body", _TEXT_CONTROL)
    if _RAW_CONTROL.search(body):
        return ValidationFailed("request", "body", CONTROL_CHARACTER)
    # JSON can only carry a control character or a lone surrogate as a \u escape: parse only then.
    if b"\\u" in body and not content_type.startswith("multipart/"):
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            return None  # not JSON: the endpoint refuses it with its own reason
        return _json_refusal(document)
    return None


def _surface(path: str) -> str:
    if path == "/fhir" or path.startswith("/fhir/"):
        return "fhir"
    if path.startswith(("/api/", "/docs", "/openapi.json")):
        return "api"
    return "web"


def refusal_body(error: RecordError, path: str) -> tuple[bytes, bytes]:
    """A refusal made before any route ran, as the JSON error body or a FHIR OperationOutcome."""
    if _surface(path) == "fhir":
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [
                {"severity": "error", "code": "invalid", "diagnostics": error.message, "expression": [error.field]}
            ],
        }
        return json.dumps(outcome).encode(), b"application/fhir+json"
    return json.dumps(error.to_dict()).encode(), b"application/json"


class TextGuard:
    """ASGI middleware: refuse (422) control characters and lone surrogates in any path, query or body.

    One check for every endpoint and form, before any of them parses the request, so that no
    string reaches a query or a database in a form it cannot take. The body is read here (the
    size limit outside this middleware bounds it) and handed on unchanged. The JSON API answers
    its error body, FHIR an OperationOutcome, the web pages ``page_refusal``'s HTML page.
    """

    def __init__(self, app: ASGIApp, page_refusal: PageRefusal | None = None) -> None:
        self.app = app
        self.page_refusal = page_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replay: list[Message] = []
        body = b""
        if scope.get("method") in _BODY_METHODS:
            chunks = []
            while True:
                message = await receive()
                replay.append(message)
                if message["type"] != "http.request":
                    break
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
        error = text_refusal(scope, body)
        if error is not None:
            await self._refuse(scope, receive, send, error)
            return
        if not replay:
            await self.app(scope, receive, send)
            return
        # The whole body arrives as one message; later reads (a disconnect) go to the server.
        first: Message = {"type": "http.request", "body": body, "more_body": False}
        if replay[-1]["type"] != "http.request":
            first = replay[-1]
        delivered = False

        async def replaying_receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return first
            return await receive()

        await self.app(scope, replaying_receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, error: RecordError) -> None:
        path = scope.get("path", "")
        if _surface(path) == "web" and self.page_refusal is not None:
            from starlette.concurrency import run_in_threadpool

            response = await run_in_threadpool(self.page_refusal, scope, error)
            await response(scope, receive, send)
            return
        body, media_type = refusal_body(error, path)
        await send(
            {
                "type": "http.response.start",
                "status": error.status,
                "headers": [(b"content-type", media_type), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
