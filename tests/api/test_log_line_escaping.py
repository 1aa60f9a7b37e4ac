"""No log line can be forged: control characters in anything logged (a path, a header, a
message) are written as escapes, so that one record stays one line."""

from __future__ import annotations

import io
import logging

from equicover.http.log_safety import ControlCharacterFilter, escape
from tests.api_helpers import make_client

FORGED = "/api/v1/persons/1\n2026-12-05 10:00:00 INFO equicover.api admin signed in\r\x1b[2J\u2028"


def _one_handler(logger: logging.Logger) -> io.StringIO:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return out


def test_every_record_of_the_service_process_is_one_line(session_factory) -> None:
    make_client(session_factory=session_factory)  # creating the application escapes every record from then on
    for name in ("equicover.api", "uvicorn.error", "some.library"):
        logger = logging.getLogger(name)
        out = _one_handler(logger)
        try:
            logger.error("unexpected %s on %s %s", "RuntimeError", "GET", FORGED)
            logger.warning(f"message built with the path {FORGED}")
            logger.info("mapping %(path)s", {"path": FORGED})
        finally:
            logger.handlers.clear()
        lines = out.getvalue().splitlines()
        assert len(lines) == 3, lines
        assert all("\x1b" not in line and "\r" not in line and "\u2028" not in line for line in lines)
        assert "/api/v1/persons/1\\n2026-12-05 10:00:00 INFO" in lines[0] and "\\x1b[2J\\u2028" in lines[0]


def test_a_request_path_with_an_encoded_newline_cannot_add_a_line(session_factory, caplog) -> None:
    client = make_client(session_factory=session_factory)
    logger = logging.getLogger("equicover.api")
    with caplog.at_level(logging.INFO):
        client.get("/api/v1/persons/1%0A2026-12-05%20INFO%20forged")
        logger.warning("refused %s", "/api/v1/persons/1\n2026-12-05 INFO forged")
    for record in caplog.records:
        assert "\n" not in record.getMessage()


def test_the_escape_keeps_numbers_and_plain_text() -> None:
    assert escape("plain text, ünïcode 中文") == "plain text, ünïcode 中文"
    assert escape("a\tb\x00c\x7fd\x85e") == "a\\tb\\x00c\\x7fd\\x85e"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d claims at %s", (3, "a\nb"), None)
    ControlCharacterFilter().filter(record)
    assert record.getMessage() == "3 claims at a\\nb"
