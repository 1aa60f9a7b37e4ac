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
from bisect import bisect_left
from collections.abc import Sequence

KeyPath = tuple[str | int, ...]

_BARE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_SCALAR_ENDS = frozenset(",]}#\n\r")


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
