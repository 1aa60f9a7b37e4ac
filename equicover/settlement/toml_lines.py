"""Line numbers for key paths in a TOML text.

``tomllib`` gives values but no positions, and a policy mistake is only useful to an analyst with
the line it is on. ``TomlLineIndex`` walks the text once (after ``tomllib`` has accepted it) and
records, for every key path, the line where it starts:
``("layer", 2, "variant", 1, "bands", 0, "ratio")`` -> the line of that ``ratio =``. Indexes are
0-based; arrays of tables (``[[layer]]``, ``[[layer.variant]]``) count per enclosing table, as TOML
does. A path that is not in the text (a missing key) falls back to its nearest recorded ancestor.
"""

from __future__ import annotations

import contextlib
import re
import tomllib
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

KeyPath = tuple[str | int, ...]

_BARE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_SCALAR_ENDS = frozenset(",]}#\n\r")


def toml_type_name(value: object) -> str:
    """What a TOML value is, in the words of a problem message ("a table", "a date")."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (date, datetime)):
        return "a date"
    return type(value).__name__


def quoted_choices(values: Iterable[str]) -> str:
    return ", ".join(repr(value) for value in values)


class _Malformed(Exception):
    """The walker met something it does not understand; the lines found so far are kept."""


def format_key_path(path: Sequence[str | int]) -> str:
    """``("layer", 2, "bands", 0, "ratio")`` -> ``"layer[2].bands[0].ratio"``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


class TomlLineIndex:
    def __init__(self, text: str) -> None:
        self._text = text
        self._newlines = [index for index, char in enumerate(text) if char == "\n"]
        self._lines: dict[KeyPath, int] = {}
        self._array_table_counts: dict[KeyPath, int] = {}
        self._pos = 0
        with contextlib.suppress(_Malformed, IndexError):
            self._document()

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """Line of the key path, or of its nearest ancestor found in the text."""
        key = tuple(path)
        while key:
            line = self._lines.get(key)
            if line is not None:
                return line
            key = key[:-1]
        return None

    # -- walking -------------------------------------------------------------------------------

    def _line_at(self, pos: int) -> int:
        return bisect_left(self._newlines, pos) + 1

    def _record(self, path: KeyPath, pos: int) -> None:
        self._lines.setdefault(path, self._line_at(pos))

    def _peek(self, count: int = 1) -> str:
        return self._text[self._pos : self._pos + count]

    def _skip_inline_space(self) -> None:
        text, pos = self._text, self._pos
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        self._pos = pos

    def _skip_space_and_comments(self) -> None:
        text = self._text
        while self._pos < len(text):
            char = text[self._pos]
            if char in " \t\r\n":
                self._pos += 1
            elif char == "#":
                end = text.find("\n", self._pos)
                self._pos = len(text) if end < 0 else end
            else:
                return

    def _document(self) -> None:
        table: KeyPath = ()
        text = self._text
        while True:
            self._skip_space_and_comments()
            if self._pos >= len(text):
                return
            start = self._pos
            if text.startswith("[[", start):
                self._pos += 2
                keys = self._key()
                self._skip_inline_space()
                if not text.startswith("]]", self._pos):
                    raise _Malformed
                self._pos += 2
                parent = self._resolve(keys[:-1], start)
                array_path = parent + (keys[-1],)
                index = self._array_table_counts.get(array_path, 0)
                self._array_table_counts[array_path] = index + 1
                self._record(array_path, start)
                table = array_path + (index,)
                self._record(table, start)
            elif text[start] == "[":
                self._pos += 1
                keys = self._key()
                self._skip_inline_space()
                if self._peek() != "]":
                    raise _Malformed
                self._pos += 1
                table = self._resolve(keys, start)
                self._record(table, start)
            else:
                self._key_value(table)

    def _resolve(self, keys: list[str], pos: int) -> KeyPath:
        """A header's keys as a path, stepping into the latest element of arrays of tables."""
        path: KeyPath = ()
        for key in keys:
            path += (key,)
            count = self._array_table_counts.get(path)
            if count:
                path += (count - 1,)
            self._record(path, pos)
        return path

    def _key_value(self, table: KeyPath) -> None:
        start = self._pos
        keys = self._key()
        path = table
        for key in keys:
            path += (key,)
            self._record(path, start)
        self._skip_inline_space()
        if self._peek() != "=":
            raise _Malformed
        self._pos += 1
        self._skip_inline_space()
        self._value(path)

    def _key(self) -> list[str]:
        keys: list[str] = []
        text = self._text
        while True:
            self._skip_inline_space()
            char = self._peek()
            if char == '"':
                end = self._basic_string_end(self._pos + 1)
                keys.append(text[self._pos + 1 : end - 1])
                self._pos = end
            elif char == "'":
                end = text.find("'", self._pos + 1)
                if end < 0:
                    raise _Malformed
                keys.append(text[self._pos + 1 : end])
                self._pos = end + 1
            else:
                start = self._pos
                while self._pos < len(text) and text[self._pos] in _BARE_KEY_CHARS:
                    self._pos += 1
                if self._pos == start:
                    raise _Malformed
                keys.append(text[start : self._pos])
            self._skip_inline_space()
            if self._peek() != ".":
                return keys
            self._pos += 1

    def _basic_string_end(self, pos: int) -> int:
        """Position just after the closing quote of a one-line basic string whose body starts at pos."""
        text = self._text
        while pos < len(text):
            char = text[pos]
            if char == "\\":
                pos += 2
                continue
            if char == '"':
                return pos + 1
            if char == "\n":
                break
            pos += 1
        raise _Malformed

    def _value(self, path: KeyPath) -> None:
        text = self._text
        pos = self._pos
        if text.startswith('"""', pos):
            self._pos = self._multiline_end(pos + 3, '"""', escapes=True)
        elif text.startswith("'''", pos):
            self._pos = self._multiline_end(pos + 3, "'''", escapes=False)
        elif text.startswith('"', pos):
            self._pos = self._basic_string_end(pos + 1)
        elif text.startswith("'", pos):
            end = text.find("'", pos + 1)
            if end < 0:
                raise _Malformed
            self._pos = end + 1
        elif text.startswith("[", pos):
            self._array(path)
        elif text.startswith("{", pos):
            self._inline_table(path)
        else:
            while self._pos < len(text) and text[self._pos] not in _SCALAR_ENDS:
                self._pos += 1

    def _multiline_end(self, pos: int, quotes: str, *, escapes: bool) -> int:
        text = self._text
        while pos < len(text):
            if escapes and text[pos] == "\\":
                pos += 2
                continue
            if text.startswith(quotes, pos):
                end = pos + 3
                # Up to two quote characters may sit just before the closing delimiter.
                extra = 0
                while extra < 2 and end < len(text) and text[end] == quotes[0]:
                    end += 1
                    extra += 1
                return end
            pos += 1
        raise _Malformed

    def _array(self, path: KeyPath) -> None:
        self._pos += 1
        index = 0
        while True:
            self._skip_space_and_comments()
            if self._peek() == "]":
                self._pos += 1
                return
            if self._pos >= len(self._text):
                raise _Malformed
            element = path + (index,)
            self._record(element, self._pos)
            self._value(element)
            index += 1
            self._skip_space_and_comments()
            if self._peek() == ",":
                self._pos += 1

    def _inline_table(self, path: KeyPath) -> None:
        self._pos += 1
        while True:
            self._skip_space_and_comments()
            if self._peek() == "}":
                self._pos += 1
                return
            if self._pos >= len(self._text):
                raise _Malformed
            self._key_value(path)
            self._skip_space_and_comments()
            if self._peek() == ",":
                self._pos += 1


# Limits checked before ``tomllib`` sees a policy text: it parses arrays and inline tables by
# recursion (a file nested 50,000 deep exhausts the stack) and turns any run of digits into an
# int (thousands of digits cost seconds and overflow every column they reach). The shipped
# policies are under 16 KiB, nest 3 deep and have no number over 8 digits.
MAX_POLICY_CHARS = 256 * 1024
MAX_NESTING = 16
MAX_NUMBER_DIGITS = 18


def _string_end(text: str, pos: int, quote: str) -> int:
    """Position just after the string opening at ``pos`` (or the end of the text if it never closes)."""
    triple = text.startswith(quote * 3, pos)
    delimiter = quote * 3 if triple else quote
    pos += len(delimiter)
    escapes = quote == '"'
    while pos < len(text):
        char = text[pos]
        if escapes and char == "\\":
            pos += 2
            continue
        if text.startswith(delimiter, pos):
            end = pos + len(delimiter)
            while triple and end < len(text) and text[end] == quote and end - pos < 5:
                end += 1  # up to two quotes may sit just before the closing delimiter
            return end
        if char == "\n" and not triple:
            return pos
        pos += 1
    return len(text)


def limit_problem(text: str) -> tuple[int, str] | None:
    """(line, reason) of the first place where ``text`` is too large, too deep or too long a number."""
    if len(text) > MAX_POLICY_CHARS:
        return 1, f"the file has {len(text)} characters; a policy file may have at most {MAX_POLICY_CHARS}"
    depth = digits = dots = 0
    line = 1
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char in "\"'":
            end = _string_end(text, pos, char)
            line += text.count("\n", pos, end)
            pos, digits = end, 0
            continue
        if char == "#":
            end = text.find("\n", pos)
            pos, digits = (len(text) if end < 0 else end), 0
            continue
        if char == "\n":
            line += 1
            dots = 0
        elif char == "." and not (text[pos - 1 : pos].isdigit() and text[pos + 1 : pos + 2].isdigit()):
            dots += 1  # a dotted key (a decimal point has digits on both sides)
            if dots > MAX_NESTING:
                return line, f"a key has more than {MAX_NESTING + 1} dotted parts"
        elif char in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return line, f"arrays and tables are nested more than {MAX_NESTING} deep"
        elif char in "]}":
            depth = max(0, depth - 1)
        if "0" <= char <= "9":
            digits += 1
            if digits > MAX_NUMBER_DIGITS:
                return line, f"a number has more than {MAX_NUMBER_DIGITS} digits"
        elif char != "_":
            digits = 0
        pos += 1
    return None


def too_deep(document: dict[str, object]) -> KeyPath | None:
    """The key path of a table or array nested deeper than :data:`MAX_NESTING` (dotted keys and headers
    nest without brackets), or None. Iterative, like everything that may meet such a document."""
    stack: list[tuple[object, KeyPath]] = [(document, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_NESTING:
            return path
        if isinstance(value, dict):
            stack.extend((item, (*path, key)) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, (*path, index)) for index, item in enumerate(value))
    return None


@dataclass(frozen=True, slots=True)
class FileProblem:
    """One mistake in a data file (a policy, targeting rules, a projection): where, and why."""

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


def syntax_problem(path: str, text: str, error: tomllib.TOMLDecodeError) -> FileProblem:
    """``tomllib``'s complaint as a problem on its line (the last line when it is at the end)."""
    message = str(error)
    match = re.search(r"\(at line (\d+), column \d+\)", message)
    if match:
        line = int(match.group(1))
        message = message[: match.start()].strip()
    else:
        line = text.count("\n") + 1
        message = re.sub(r"\s*\(at end of document\)", "", message).strip() + " (at the end of the file)"
    return FileProblem(path, line, "", f"TOML syntax error: {message}")


def read_data_file(path: Path, what: str, refuse: Callable[[list[FileProblem]], Exception]) -> str:
    """The text of the ``what`` at ``path`` (e.g. "policy file"), or ``refuse`` with why it cannot be read.

    A UTF-8 character takes at most 4 bytes: a larger file is refused without reading it."""
    try:
        if path.stat().st_size > 4 * MAX_POLICY_CHARS:
            message = f"the file is larger than a {what} may be ({MAX_POLICY_CHARS} characters)"
            raise refuse([FileProblem(str(path), 1, "", message)])
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = "not UTF-8 text" if isinstance(error, UnicodeDecodeError) else error.strerror or str(error)
        raise refuse([FileProblem(str(path), 1, "", f"cannot read the {what}: {reason}")]) from None
