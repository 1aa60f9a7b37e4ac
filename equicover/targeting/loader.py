"""Targeting rules files: TOML -> checked :class:`TargetingRules`, or every mistake with file, line and key.

Like the benefit policies (:mod:`equicover.settlement.loader`), a rules file is read strictly and
all its problems are collected before :class:`RulesError` is raised, so that an analyst fixes them
in one pass: unknown keys, values of the wrong type, identifiers that are not lower-case names,
repeated identifiers, options or items a score, a deprivation or a category refers to but the
questionnaire lacks, area types the file does not declare, income lines missing for an area type a
category compares them in, money with more decimals than the currency, periods ending before they
start, a procedure whose objection window outlasts its notice.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

from equicover.errors import EquicoverError
from equicover.money import MoneyError, minor_digits_of, parse_money
from equicover.settlement.toml_lines import (
    MAX_NESTING,
    FileProblem,
    KeyPath,
    TomlLineIndex,
    format_key_path,
    limit_problem,
    quoted_choices,
    read_data_file,
    syntax_problem,
    toml_type_name,
    too_deep,
)
from equicover.targeting.rules import (
    APPROVING_LEVELS,
    INCOME_PERIODS,
    ITEM_TYPES,
    LABEL_LANGUAGES,
    NOT_IDENTIFIED,
    YES_NO_OPTIONS,
    Condition,
    Deprivation,
    Income,
    Item,
    Labels,
    Line,
    Outcome,
    Procedure,
    Score,
    TargetingRules,
)

NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
OPTION = re.compile(r"^[a-z0-9][a-z0-9_]{0,47}$")
RULES_ID = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
# Columns every answers file may carry besides the items: an item may not take their names.
RESERVED_COLUMNS = frozenset({"household", "area_type", "village"})
MAX_DECIMALS = 4
MAX_FIGURE = Decimal(10) ** 9

TOP_LEVEL_KEYS = ("rules", "income", "procedure", "item", "score", "line", "deprivation", "category")
RULES_KEYS = (
    "id",
    "name",
    "currency",
    "minor_digits",
    "effective_from",
    "effective_to",
    "area_types",
    "validity_months",
    "source",
)
RULES_REQUIRED = ("id", "name", "currency", "effective_from", "area_types", "validity_months", "source")
INCOME_KEYS = ("item", "members_item", "period")
PROCEDURE_KEYS = (
    "validation",
    "notice_days",
    "objection_days",
    "approving_level",
    "on_demand",
    "hospital_validity_days",
)
PROCEDURE_REQUIRED = ("validation", "notice_days", "objection_days", "approving_level")
ITEM_KEYS = ("id", "label", "labels", "type", "required", "options", "option_labels", "area_types", "min", "max")
SCORE_KEYS = ("id", "area_types", "constant", "points", "weights")
LINE_KEYS = ("id", "area_type", "per_person")
DEPRIVATION_KEYS = ("id", "item", "deprived", "below")
CATEGORY_KEYS = ("id", "label", "labels", "grants", "when", "validity_months")
CONDITION_KEYS = (
    "area_type",
    "score_at_least",
    "score_at_most",
    "income_below",
    "income_at_most",
    "income_at_least",
    "deprivations_at_least",
    "deprivations_at_most",
)
_UNKNOWN_DIGITS = 18
_T = TypeVar("_T", bound=str)


# A mistake in the file: where (file, line, key) and why.
RulesProblem = FileProblem


class RulesError(EquicoverError):
    """Targeting rules that cannot be used; ``problems`` holds every mistake found."""

    status = 422
    code = "invalid_targeting_rules"

    def __init__(self, problems: list[RulesProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def load_rules(path: str | Path) -> TargetingRules:
    path = Path(path)
    text = read_data_file(path, "rules file", RulesError)
    return load_rules_text(text, path=str(path))


def load_rules_text(text: str, *, path: str = "<string>") -> TargetingRules:
    limit = limit_problem(text)
    if limit is not None:
        raise RulesError([RulesProblem(path, limit[0], "", limit[1])])
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RulesError([syntax_problem(path, text, error)]) from None
    deep = too_deep(document)
    if deep is not None:
        key = deep[: MAX_NESTING + 1]
        line = TomlLineIndex(text).line_of(key) or 1
        message = f"tables and arrays are nested more than {MAX_NESTING} deep"
        raise RulesError([RulesProblem(path, line, format_key_path(key), message)])
    reader = _RulesReader(path, text)
    rules = reader.read(document)
    if reader.problems or rules is None:
        raise RulesError(reader.problems)
    return rules


def check_rules_files(paths: Iterable[str | Path]) -> list[RulesProblem]:
    """Every problem of every file, and rules sharing an id whose effective periods overlap."""
    problems: list[RulesProblem] = []
    loaded: list[TargetingRules] = []
    for path in paths:
        try:
            rules = load_rules(path)
        except RulesError as error:
            problems.extend(error.problems)
            continue
        for earlier in loaded:
            if earlier.id == rules.id and _overlap(earlier, rules):
                line = TomlLineIndex(Path(path).read_text(encoding="utf-8")).line_of(("rules", "effective_from")) or 1
                problems.append(
                    RulesProblem(
                        str(path),
                        line,
                        "rules.effective_from",
                        f"the effective period of rules {rules.id!r} overlaps the one in {earlier.path}; "
                        "a rules id must have one version per day",
                    )
                )
        loaded.append(rules)
    return problems


def _overlap(first: TargetingRules, second: TargetingRules) -> bool:
    return first.effective_from <= (second.effective_to or date.max) and second.effective_from <= (
        first.effective_to or date.max
    )


class _RulesReader:
    """Reads one parsed document, collecting problems instead of stopping at the first."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.text_of_file = text
        self._lines: TomlLineIndex | None = None
        self.problems: list[RulesProblem] = []
        self.minor_digits = _UNKNOWN_DIGITS
        self.area_types: tuple[str, ...] = ()
        self.area_types_known = True
        self.declared_lines: set[tuple[str, str]] = set()  # also those whose amount is wrong (reported once)

    # -- reporting -----------------------------------------------------------------------------

    def problem(self, path: KeyPath, message: str) -> None:
        if self._lines is None:
            self._lines = TomlLineIndex(self.text_of_file)
        line = self._lines.line_of(path) or 1
        self.problems.append(RulesProblem(self.file, line, format_key_path(path), message))

    def keys(self, table: dict[str, Any], path: KeyPath, allowed: Sequence[str], required: Sequence[str] = ()) -> None:
        for key in table:
            if key not in allowed:
                self.problem(path + (key,), f"unknown key {key!r} (allowed here: {quoted_choices(allowed)})")
        for key in required:
            if key not in table:
                self.problem(path, f"missing required key {key!r}")

    # -- typed values --------------------------------------------------------------------------

    def table(self, value: object, path: KeyPath) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.problem(path, f"must be a table, not {toml_type_name(value)}")
        return None

    def tables(self, value: object, path: KeyPath) -> list[tuple[KeyPath, dict[str, Any]]]:
        if isinstance(value, dict):
            pairs: list[tuple[KeyPath, object]] = [(path, value)]
        elif isinstance(value, list):
            pairs = [(path + (index,), element) for index, element in enumerate(value)]
        else:
            self.problem(path, f"must be an array of tables, not {toml_type_name(value)}")
            return []
        result = []
        for element_path, element in pairs:
            table = self.table(element, element_path)
            if table is not None:
                result.append((element_path, table))
        return result

    def text(self, table: dict[str, Any], key: str, path: KeyPath) -> str | None:
        if key not in table:
            return None
        value = table[key]
        if not isinstance(value, str):
            self.problem(path + (key,), f"must be a string, not {toml_type_name(value)}")
            return None
        if not value.strip():
            self.problem(path + (key,), "must not be empty")
            return None
        return value

    def name(self, table: dict[str, Any], key: str, path: KeyPath) -> str | None:
        value = self.text(table, key, path)
        if value is not None and not NAME.match(value):
            self.problem(path + (key,), "must be a lower-case name (a-z, 0-9, _; starting with a letter)")
            return None
        return value

    def choice(self, table: dict[str, Any], key: str, path: KeyPath, choices: Sequence[_T]) -> _T | None:
        if key not in table:
            return None
        value = table[key]
        for choice in choices:
            if value == choice:
                return choice
        self.problem(path + (key,), f"must be one of {quoted_choices(choices)}, not {value!r}")
        return None

    def integer(
        self, table: dict[str, Any], key: str, path: KeyPath, *, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        if key not in table:
            return None
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path + (key,), f"must be a whole number, not {toml_type_name(value)}")
            return None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            low = "" if minimum is None else f" at least {minimum}"
            high = "" if maximum is None else f" at most {maximum}"
            self.problem(path + (key,), f"must be{low}{' and' if low and high else ''}{high}, not {value}")
            return None
        return value

    def boolean(self, table: dict[str, Any], key: str, path: KeyPath) -> bool | None:
        if key not in table:
            return None
        value = table[key]
        if not isinstance(value, bool):
            self.problem(path + (key,), f"must be true or false, not {toml_type_name(value)}")
            return None
        return value

    def figure(self, value: object, path: KeyPath) -> Decimal | None:
        """Points, weights, bounds: a number with at most MAX_DECIMALS decimals, read exactly."""
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            self.problem(path, f"must be a number, not {toml_type_name(value)}")
            return None
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            self.problem(path, "must be a number")
            return None
        if not number.is_finite():
            self.problem(path, "must be a finite number")
            return None
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -MAX_DECIMALS:
            self.problem(path, f"may have at most {MAX_DECIMALS} decimals")
            return None
        if abs(number) >= MAX_FIGURE:
            self.problem(path, f"must be smaller than {MAX_FIGURE} in size")
            return None
        return number

    def money(self, table: dict[str, Any], key: str, path: KeyPath) -> int | None:
        if key not in table:
            return None
        value = table[key]
        if not isinstance(value, str):
            self.problem(path + (key,), f'money must be a decimal string like "3767.00", not {toml_type_name(value)}')
            return None
        try:
            return parse_money(value, self.minor_digits)
        except MoneyError as error:
            self.problem(path + (key,), str(error))
            return None

    def date_value(self, table: dict[str, Any], key: str, path: KeyPath) -> date | None:
        if key not in table:
            return None
        value = table[key]
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        self.problem(path + (key,), f"must be a date like 2018-01-01, not {value!r}")
        return None

    def names(self, table: dict[str, Any], key: str, path: KeyPath, pattern: re.Pattern[str] = NAME) -> tuple[str, ...]:
        if key not in table:
            return ()
        value = table[key]
        if not isinstance(value, list) or not value or not all(isinstance(part, str) for part in value):
            self.problem(path + (key,), "must be a non-empty array of strings")
            return ()
        for index, part in enumerate(value):
            if not pattern.match(part):
                self.problem(path + (key, index), f"{part!r} is not a lower-case name (a-z, 0-9, _)")
        if len(set(value)) != len(value):
            self.problem(path + (key,), "names a value twice")
        return tuple(value)

    def labels(self, table: dict[str, Any], key: str, path: KeyPath) -> Labels | None:
        """``labels = { fr = "...", zh = "..." }`` (or a ``[item.labels]`` table): the text as people
        read it in each of the application's languages; a language absent falls back to English."""
        if key not in table:
            return ()
        labels_path = path + (key,)
        labels_table = self.table(table[key], labels_path)
        if labels_table is None:
            return None
        before = len(self.problems)
        found: list[tuple[str, str]] = []
        for language in labels_table:
            if language not in LABEL_LANGUAGES:
                self.problem(
                    labels_path + (language,),
                    f"unknown language {language!r} (known: {quoted_choices(LABEL_LANGUAGES)})",
                )
                continue
            text = self.text(labels_table, language, labels_path)
            if text is not None:
                found.append((language, text.strip()))
        return tuple(found) if len(self.problems) == before else None

    def option_labels(self, table: dict[str, Any], path: KeyPath, options: tuple[str, ...]) -> dict[str, Labels]:
        """``option_labels.<option> = { en = "...", fr = "..." }``: each answer's text per language."""
        if "option_labels" not in table:
            return {}
        labels_path = path + ("option_labels",)
        per_option = self.table(table["option_labels"], labels_path) or {}
        result: dict[str, Labels] = {}
        for option in per_option:
            if option not in options:
                self.problem(labels_path + (option,), f"{option!r} is not an option of this item")
                continue
            found = self.labels(per_option, option, labels_path)
            if found is not None:
                result[option] = found
        return result

    def known_area_types(self, values: tuple[str, ...], path: KeyPath) -> tuple[str, ...]:
        if self.area_types_known:
            for value in values:
                if value not in self.area_types:
                    self.problem(path, f"unknown area type {value!r} (declared: {quoted_choices(self.area_types)})")
        return values

    # -- the document --------------------------------------------------------------------------

    def read(self, document: dict[str, Any]) -> TargetingRules | None:
        self.keys(document, (), TOP_LEVEL_KEYS, ("rules", "procedure", "item", "category"))
        header = self.table(document.get("rules", {}), ("rules",)) or {}
        self.keys(header, ("rules",), RULES_KEYS, RULES_REQUIRED if "rules" in document else ())
        rules_id = self.text(header, "id", ("rules",))
        if rules_id is not None and not RULES_ID.match(rules_id):
            self.problem(("rules", "id"), "must be a lower-case name (a-z, 0-9, _, -; starting with a letter)")
            rules_id = None
        name = self.text(header, "name", ("rules",))
        source = self.text(header, "source", ("rules",))
        currency = self.text(header, "currency", ("rules",))
        minor_digits = self.integer(header, "minor_digits", ("rules",), minimum=0, maximum=4)
        if currency is not None:
            try:
                iso_digits = minor_digits_of(currency)
            except MoneyError as error:
                if minor_digits is None:
                    self.problem(("rules", "currency"), f"{error}; give minor_digits")
                iso_digits = None
            if minor_digits is not None:
                self.minor_digits = minor_digits
            elif iso_digits is not None:
                self.minor_digits = iso_digits
        effective_from = self.date_value(header, "effective_from", ("rules",))
        effective_to = self.date_value(header, "effective_to", ("rules",))
        if effective_from and effective_to and effective_to < effective_from:
            self.problem(("rules", "effective_to"), "is before effective_from")
        self.area_types = self.names(header, "area_types", ("rules",))
        self.area_types_known = bool(self.area_types)
        validity = self.integer(header, "validity_months", ("rules",), minimum=1, maximum=120)

        items = self.read_items(document.get("item", []))
        by_id = {item.id: item for item in items}
        income = self.read_income(document, by_id)
        scores = self.read_scores(document.get("score", []), by_id)
        lines = self.read_lines(document.get("line", []))
        deprivations = self.read_deprivations(document.get("deprivation", []), by_id)
        outcomes = self.read_outcomes(document.get("category", []), scores, lines, deprivations, income)
        procedure = self.read_procedure(document.get("procedure", {}))
        if (
            self.problems
            or rules_id is None
            or name is None
            or source is None
            or currency is None
            or effective_from is None
            or validity is None
            or procedure is None
        ):
            return None
        return TargetingRules(
            id=rules_id,
            name=name,
            currency=currency,
            minor_digits=self.minor_digits,
            effective_from=effective_from,
            effective_to=effective_to,
            area_types=self.area_types,
            validity_months=validity,
            items=items,
            scores=scores,
            lines=lines,
            deprivations=deprivations,
            outcomes=outcomes,
            procedure=procedure,
            source=source,
            income=income,
            path=self.file,
        )

    def read_items(self, value: object) -> tuple[Item, ...]:
        items: list[Item] = []
        seen: set[str] = set()
        for path, table in self.tables(value, ("item",)):
            self.keys(table, path, ITEM_KEYS, ("id", "label", "type"))
            item_id = self.name(table, "id", path)
            label = self.text(table, "label", path)
            labels = self.labels(table, "labels", path)
            kind = self.choice(table, "type", path, ITEM_TYPES)
            required = self.boolean(table, "required", path)
            area_types = self.known_area_types(self.names(table, "area_types", path), path + ("area_types",))
            options = self.names(table, "options", path, OPTION)
            minimum = self.integer(table, "min", path)
            maximum = self.integer(table, "max", path)
            option_labels = self.option_labels(table, path, YES_NO_OPTIONS if kind == "yes_no" else options)
            if item_id is not None:
                if item_id in RESERVED_COLUMNS:
                    self.problem(
                        path + ("id",), f"{item_id!r} is a column of every answers file; name the item otherwise"
                    )
                elif item_id in seen:
                    self.problem(path + ("id",), f"item {item_id!r} is declared twice")
                seen.add(item_id)
            if kind == "choice" and not options and "options" not in table:
                self.problem(path, "a choice item needs its options")
            if kind in ("yes_no", "number", "money") and "options" in table:
                self.problem(path + ("options",), f"a {kind} item has no options")
            if kind != "number" and ("min" in table or "max" in table):
                self.problem(path, "only a number item has min and max")
            if minimum is not None and maximum is not None and maximum < minimum:
                self.problem(path + ("max",), "is below min")
            if item_id and label and kind and labels is not None:
                items.append(
                    Item(
                        id=item_id,
                        label=label,
                        type=kind,
                        required=True if required is None else required,
                        options=YES_NO_OPTIONS if kind == "yes_no" else options,
                        area_types=area_types,
                        minimum=minimum,
                        maximum=maximum,
                        labels=labels,
                        option_labels=option_labels,
                    )
                )
        return tuple(items)

    def read_income(self, document: dict[str, Any], items: dict[str, Item]) -> Income | None:
        if "income" not in document:
            return None
        table = self.table(document["income"], ("income",))
        if table is None:
            return None
        path: KeyPath = ("income",)
        self.keys(table, path, INCOME_KEYS, INCOME_KEYS)
        item = self.name(table, "item", path)
        members = self.name(table, "members_item", path)
        period = self.choice(table, "period", path, INCOME_PERIODS)
        if item is not None and (item not in items or items[item].type != "money"):
            self.problem(path + ("item",), f"must name a money item of the questionnaire, not {item!r}")
            item = None
        if members is not None and (members not in items or items[members].type != "number"):
            self.problem(path + ("members_item",), f"must name a number item of the questionnaire, not {members!r}")
            members = None
        if item is None or members is None or period is None:
            return None
        return Income(item=item, members_item=members, period=period)

    def read_scores(self, value: object, items: dict[str, Item]) -> tuple[Score, ...]:
        scores: list[Score] = []
        seen: set[str] = set()
        for path, table in self.tables(value, ("score",)):
            self.keys(table, path, SCORE_KEYS, ("id",))
            score_id = self.name(table, "id", path)
            if score_id is not None:
                if score_id in seen:
                    self.problem(path + ("id",), f"score {score_id!r} is declared twice")
                seen.add(score_id)
            area_types = self.known_area_types(self.names(table, "area_types", path), path + ("area_types",))
            constant = self.figure(table["constant"], path + ("constant",)) if "constant" in table else Decimal(0)
            points: dict[str, dict[str, Decimal]] = {}
            raw_points = self.table(table.get("points", {}), path + ("points",)) or {}
            for item_id, per_option in raw_points.items():
                item_path = path + ("points", item_id)
                item = items.get(item_id)
                if item is None or item.type not in ("choice", "yes_no"):
                    self.problem(item_path, f"{item_id!r} is not a choice or yes_no item of the questionnaire")
                    continue
                options_table = self.table(per_option, item_path)
                if options_table is None:
                    continue
                points[item_id] = {}
                for option, raw in options_table.items():
                    if option not in item.options:
                        self.problem(item_path + (option,), f"{option!r} is not an option of item {item_id!r}")
                        continue
                    figure = self.figure(raw, item_path + (option,))
                    if figure is not None:
                        points[item_id][option] = figure
            weights: dict[str, Decimal] = {}
            raw_weights = self.table(table.get("weights", {}), path + ("weights",)) or {}
            for item_id, raw in raw_weights.items():
                item = items.get(item_id)
                if item is None or item.type != "number":
                    self.problem(path + ("weights", item_id), f"{item_id!r} is not a number item of the questionnaire")
                    continue
                figure = self.figure(raw, path + ("weights", item_id))
                if figure is not None:
                    weights[item_id] = figure
            if not points and not weights and "points" not in table and "weights" not in table:
                self.problem(path, "a score needs points or weights")
            if score_id is not None and constant is not None:
                scores.append(
                    Score(id=score_id, area_types=area_types, constant=constant, points=points, weights=weights)
                )
        return tuple(scores)

    def read_lines(self, value: object) -> tuple[Line, ...]:
        lines: list[Line] = []
        seen: set[tuple[str, str]] = set()
        for path, table in self.tables(value, ("line",)):
            self.keys(table, path, LINE_KEYS, LINE_KEYS)
            line_id = self.name(table, "id", path)
            area_type = self.name(table, "area_type", path)
            if area_type is not None:
                self.known_area_types((area_type,), path + ("area_type",))
            amount = self.money(table, "per_person", path)
            if amount is not None and amount <= 0:
                self.problem(path + ("per_person",), "must be more than zero")
                amount = None
            if line_id is not None and area_type is not None:
                if (line_id, area_type) in seen:
                    self.problem(path + ("id",), f"line {line_id!r} is declared twice for area type {area_type!r}")
                seen.add((line_id, area_type))
                self.declared_lines.add((line_id, area_type))
                if amount is not None:
                    lines.append(Line(id=line_id, area_type=area_type, per_person=amount))
        return tuple(lines)

    def read_deprivations(self, value: object, items: dict[str, Item]) -> tuple[Deprivation, ...]:
        result: list[Deprivation] = []
        seen: set[str] = set()
        for path, table in self.tables(value, ("deprivation",)):
            self.keys(table, path, DEPRIVATION_KEYS, ("id", "item"))
            deprivation_id = self.name(table, "id", path)
            if deprivation_id is not None:
                if deprivation_id in seen:
                    self.problem(path + ("id",), f"deprivation {deprivation_id!r} is declared twice")
                seen.add(deprivation_id)
            item_id = self.name(table, "item", path)
            item = items.get(item_id or "")
            if item_id is not None and item is None:
                self.problem(path + ("item",), f"{item_id!r} is not an item of the questionnaire")
            deprived = self.names(table, "deprived", path, OPTION)
            below = self.integer(table, "below", path)
            if item is not None:
                if item.type in ("choice", "yes_no"):
                    if "below" in table or not deprived:
                        self.problem(path, f"a deprivation on a {item.type} item lists the answers that are deprived")
                    for index, option in enumerate(deprived):
                        if option not in item.options:
                            self.problem(path + ("deprived", index), f"{option!r} is not an option of {item.id!r}")
                elif item.type == "number":
                    if "deprived" in table or below is None:
                        self.problem(path, "a deprivation on a number item gives the figure it is deprived below")
                else:
                    self.problem(path + ("item",), "a deprivation is on a choice, yes_no or number item")
            if deprivation_id is not None and item is not None:
                result.append(Deprivation(id=deprivation_id, item=item.id, deprived=deprived, below=below))
        return tuple(result)

    def read_outcomes(
        self,
        value: object,
        scores: tuple[Score, ...],
        lines: tuple[Line, ...],
        deprivations: tuple[Deprivation, ...],
        income: Income | None,
    ) -> tuple[Outcome, ...]:
        outcomes: list[Outcome] = []
        seen: set[str] = set()
        for path, table in self.tables(value, ("category",)):
            self.keys(table, path, CATEGORY_KEYS, ("id", "label", "grants", "when"))
            outcome_id = self.name(table, "id", path)
            if outcome_id is not None:
                if outcome_id == NOT_IDENTIFIED:
                    self.problem(path + ("id",), f"{NOT_IDENTIFIED!r} is the outcome of a household no category fits")
                elif outcome_id in seen:
                    self.problem(path + ("id",), f"category {outcome_id!r} is declared twice")
                seen.add(outcome_id)
            label = self.text(table, "label", path)
            labels = self.labels(table, "labels", path)
            grants = self.names(table, "grants", path)
            validity = self.integer(table, "validity_months", path, minimum=1, maximum=120)
            conditions = tuple(
                condition
                for condition_path, condition_table in self.tables(table.get("when", []), path + ("when",))
                if (
                    condition := self.read_condition(
                        condition_table, condition_path, scores, lines, deprivations, income
                    )
                )
                is not None
            )
            if outcome_id and label and grants and conditions and labels is not None:
                outcomes.append(
                    Outcome(
                        id=outcome_id,
                        label=label,
                        grants=grants,
                        when=conditions,
                        validity_months=validity,
                        labels=labels,
                    )
                )
        return tuple(outcomes)

    def read_condition(
        self,
        table: dict[str, Any],
        path: KeyPath,
        scores: tuple[Score, ...],
        lines: tuple[Line, ...],
        deprivations: tuple[Deprivation, ...],
        income: Income | None,
    ) -> Condition | None:
        self.keys(table, path, CONDITION_KEYS)
        if not table:
            self.problem(path, "a condition needs at least one test")
            return None
        before = len(self.problems)
        area_types = self.known_area_types(self.names(table, "area_type", path), path + ("area_type",))
        applies_in = area_types or self.area_types
        bounds: dict[str, dict[str, Decimal]] = {}
        score_by_id = {score.id: score for score in scores}
        for key in ("score_at_least", "score_at_most"):
            bounds[key] = {}
            if key not in table:
                continue
            given = self.table(table[key], path + (key,)) or {}
            for score_id, raw in given.items():
                score = score_by_id.get(score_id)
                if score is None:
                    self.problem(path + (key, score_id), f"{score_id!r} is not a score of this file")
                    continue
                missing = [kind for kind in applies_in if score.area_types and kind not in score.area_types]
                if missing:
                    self.problem(
                        path + (key, score_id),
                        f"score {score_id!r} is not computed in area type(s) {quoted_choices(missing)}: "
                        "restrict the condition's area_type",
                    )
                figure = self.figure(raw, path + (key, score_id))
                if figure is not None:
                    bounds[key][score_id] = figure
        line_refs: dict[str, str | None] = {}
        for key in ("income_below", "income_at_most", "income_at_least"):
            line_id = self.name(table, key, path)
            line_refs[key] = line_id
            if line_id is None:
                continue
            if income is None:
                self.problem(path + (key,), "compares income, but the file has no [income] section")
            for kind in applies_in:
                if (line_id, kind) not in self.declared_lines:
                    self.problem(path + (key,), f"line {line_id!r} has no amount for area type {kind!r}")
        counts: dict[str, int | None] = {}
        for key in ("deprivations_at_least", "deprivations_at_most"):
            counts[key] = self.integer(table, key, path, minimum=0, maximum=max(len(deprivations), 0))
            if key in table and not deprivations:
                self.problem(path + (key,), "counts deprivations, but the file declares none")
        if len(self.problems) != before:
            return None
        return Condition(
            area_types=area_types,
            score_at_least=bounds["score_at_least"],
            score_at_most=bounds["score_at_most"],
            income_below=line_refs["income_below"],
            income_at_most=line_refs["income_at_most"],
            income_at_least=line_refs["income_at_least"],
            deprivations_at_least=counts["deprivations_at_least"],
            deprivations_at_most=counts["deprivations_at_most"],
        )

    def read_procedure(self, value: object) -> Procedure | None:
        table = self.table(value, ("procedure",))
        if table is None:
            return None
        path: KeyPath = ("procedure",)
        self.keys(table, path, PROCEDURE_KEYS, PROCEDURE_REQUIRED)
        validation = self.text(table, "validation", path)
        notice = self.integer(table, "notice_days", path, minimum=1, maximum=365)
        objection = self.integer(table, "objection_days", path, minimum=1, maximum=365)
        level = self.choice(table, "approving_level", path, APPROVING_LEVELS)
        on_demand = self.boolean(table, "on_demand", path)
        hospital = self.integer(table, "hospital_validity_days", path, minimum=1, maximum=366)
        if notice is not None and objection is not None and objection > notice:
            self.problem(path + ("objection_days",), "the objection window cannot outlast the notice period")
            return None
        if validation is None or notice is None or objection is None or level is None:
            return None
        return Procedure(
            validation=validation,
            notice_days=notice,
            objection_days=objection,
            approving_level=level,
            on_demand=bool(on_demand),
            hospital_validity_days=hospital,
        )
