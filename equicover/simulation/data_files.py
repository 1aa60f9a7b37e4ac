"""Reading the simulation's own data files (projection and household-consumption TOML) strictly.

Every mistake is a :class:`DataFileError` naming the file, the line and the key, as the policy
loader does for policies, so an analyst can fix a projection the way they fix a policy.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any

from equicover.errors import EquicoverError
from equicover.money import MoneyError, parse_money
from equicover.settlement.toml_lines import FileProblem, KeyPath, TomlLineIndex, format_key_path, syntax_problem

# A mistake in the file: where (file, line, key) and why.
DataProblem = FileProblem


class DataFileError(EquicoverError):
    """A projection or consumption file that cannot be used; ``problems`` holds every mistake."""

    status = 422
    code = "invalid_data_file"

    def __init__(self, problems: list[DataProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


class TomlReader:
    """Typed values out of one parsed TOML document, each mistake kept with its line and key."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = "not UTF-8 text" if isinstance(error, UnicodeDecodeError) else error.strerror or str(error)
            raise DataFileError([DataProblem(str(path), 1, "", f"cannot read the file: {reason}")]) from None
        try:
            self.document: dict[str, Any] = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as error:
            raise DataFileError([syntax_problem(str(path), self.text, error)]) from None
        self._lines: TomlLineIndex | None = None
        self.problems: list[DataProblem] = []

    def problem(self, path: KeyPath, message: str) -> None:
        if self._lines is None:
            self._lines = TomlLineIndex(self.text)
        line = self._lines.line_of(path) or 1
        self.problems.append(DataProblem(str(self.path), line, format_key_path(path), message))

    def raise_problems(self) -> None:
        if self.problems:
            raise DataFileError(self.problems)

    def keys(self, table: dict[str, Any], path: KeyPath, allowed: tuple[str, ...], required: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                self.problem(path + (key,), f"unknown key {key!r} (allowed here: {', '.join(allowed)})")
        for key in required:
            if key not in table:
                self.problem(path, f"missing required key {key!r}")

    def table(self, value: object, path: KeyPath) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        self.problem(path, "must be a table")
        return {}

    def tables(self, value: object, path: KeyPath) -> list[tuple[KeyPath, dict[str, Any]]]:
        if not isinstance(value, list):
            self.problem(path, "must be an array of tables ([[...]])")
            return []
        return [(path + (index,), self.table(element, path + (index,))) for index, element in enumerate(value)]

    def text_value(self, table: dict[str, Any], key: str, path: KeyPath, default: str | None = None) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or not value.strip():
            if key in table or default is None:
                self.problem(path + (key,), "must be a non-empty string")
            return default or ""
        return value

    def whole(self, table: dict[str, Any], key: str, path: KeyPath, *, minimum: int = 0) -> int:
        value = table.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.problem(path + (key,), f"must be a whole number >= {minimum}, not {value!r}")
            return minimum
        return value

    def money(self, table: dict[str, Any], key: str, path: KeyPath, minor_digits: int) -> int:
        value = table.get(key)
        if not isinstance(value, str):
            self.problem(path + (key,), f'money must be a decimal string like "220.00", not {value!r}')
            return 0
        try:
            return parse_money(value, minor_digits)
        except MoneyError as error:
            self.problem(path + (key,), str(error))
            return 0

    def rate(self, value: object, path: KeyPath, *, low: Fraction, high: Fraction | None, what: str) -> Fraction:
        """An exact decimal (a TOML number read through its shortest repr, or a string) in [low, high]."""
        try:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise InvalidOperation
            decimal = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
            if not decimal.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            self.problem(path, f"{what} must be a number, not {value!r}")
            return Fraction(0)
        number = Fraction(decimal)
        if number < low:
            self.problem(path, f"{what} {value} is below {_percent(low)}")
        elif high is not None and number > high:
            self.problem(path, f"{what} {value} is above {_percent(high)}")
        return number


def _percent(number: Fraction) -> str:
    value = Decimal(number.numerator) / Decimal(number.denominator) * 100
    return f"{value.normalize():f}%"
