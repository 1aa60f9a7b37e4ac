"""Log lines that cannot be forged: control characters escaped in every record (OWASP ASVS 7.3.1).

A request path carries what the client typed: ``/api/v1/persons/1%0A2026-12-05 ... admin signed
in`` would write a second, forged line into the log wherever the path is logged. :func:`escape`
writes every control character (C0, DEL, C1, and the Unicode line and paragraph separators) as
a visible escape (``\\n``, ``\\x1b``, ``\\u2028``); :func:`install` makes every log record of the
process go through it, its message and its arguments, before any handler formats it, whoever
logs it (equicover, uvicorn, a library). Tracebacks (``exc_info``) keep their own lines.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    character = match.group()
    if character in _NAMED:
        return _NAMED[character]
    code = ord(character)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape(text: str) -> str:
    """``text`` with every control character written as an escape (one line, nothing invisible)."""
    return _CONTROL.sub(_escaped, text) if _CONTROL.search(text) else text


def _clean(value: object) -> object:
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, bytes):
        return escape(value.decode("latin-1"))
    return value


def escape_record(record: logging.LogRecord) -> logging.LogRecord:
    """Escape the record's message and string arguments in place (a number stays a number for ``%d``)."""
    if isinstance(record.msg, str):
        record.msg = escape(record.msg)
    args = record.args
    if isinstance(args, tuple):
        record.args = tuple(_clean(value) for value in args)
    elif isinstance(args, Mapping):
        record.args = {key: _clean(value) for key, value in args.items()}
    return record


class ControlCharacterFilter(logging.Filter):
    """A filter that escapes control characters (for a handler installed by hand)."""

    def filter(self, record: logging.LogRecord) -> bool:
        escape_record(record)
        return True


def install() -> None:
    """Escape every log record the process creates from now on (idempotent)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "escapes_control_characters", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return escape_record(current(*args, **kwargs))

    escaping: Callable[..., logging.LogRecord] = factory
    escaping.escapes_control_characters = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(escaping)
