"""Scoring answers against targeting rules, set-based in DuckDB.

One SQL statement per step for the whole file (a round of a province is one table, never a Python
loop per household):

1. ``answers_clean``: every cell trimmed and lower-cased, empty cells NULL, line numbers kept
   (``rowid`` + 2: the header is line 1);
2. ``answer_errors``: one row per problem (line, household, field, reason): a missing household or
   area type, a household twice in the file, an answer outside the options, a missing required
   item, a number that is not a whole number or outside its bounds, money with too many decimals.
   A row with any problem is rejected whole;
3. ``answer_scores``: the accepted rows with each score (exact decimals), the income per person,
   the count of deprivations, the category (the first of the file whose conditions hold, else
   ``none``), the registry categories it grants and the reason in words.

The answers file is the questionnaire's export: one row per household, a ``household`` column,
``area_type`` (optional when the rules have one area type), ``village`` (optional) and one column
per item. Column names may carry the group prefixes of KoboToolbox (``group/item``) or ODK Central
(``group-item``); other columns (``_uuid``, ``start``, ``meta/instanceID``...) are ignored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from equicover.errors import EquicoverError
from equicover.exports import FORMULA_STARTS, safe_csv_writer
from equicover.settlement.batch_engine_sql import quote_identifier, quote_literal
from equicover.targeting.rules import NOT_IDENTIFIED, Condition, Item, Score, TargetingRules

BASE_COLUMNS = ("household", "area_type", "village")
ERROR_COLUMNS = ("line", "household", "field", "reason")
SCORE_DIGITS = 4
TRUE_TEXTS = ("yes", "y", "true", "1")
FALSE_TEXTS = ("no", "n", "false", "0")
MAX_MONEY_WHOLE_DIGITS = 14


class AnswersFileError(EquicoverError):
    """An answers file that cannot be scored at all (unreadable, a required column missing)."""

    status = 422
    code = "bad_answers_file"


@dataclass(frozen=True, slots=True)
class ScoredHousehold:
    line: int
    household: str
    area_type: str
    village: str | None
    scores: dict[str, Decimal | None]
    income_per_person: int | None  # minor units per person and income period, rounded down
    deprivations: int | None
    category: str
    grants: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class AnswerError:
    line: int
    household: str
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class ScoreSummary:
    scored: int
    rejected: int  # rows
    by_category: dict[str, int]


# --------------------------------------------------------------------------------------------
# Column names of a questionnaire export


def canonical_columns(header: Sequence[str], rules: TargetingRules) -> dict[str, str]:
    """Original header -> the column it answers (a base column or an item id); others left out.

    A name matches as written, lower-cased, or by its last part after a Kobo ``/`` or an ODK ``-``
    group separator. Two headers answering the same column are refused."""
    known = set(BASE_COLUMNS) | {item.id for item in rules.items}
    found: dict[str, str] = {}
    taken: dict[str, str] = {}
    for original in header:
        name = original.strip().lower()
        candidates = [name, name.rsplit("/", 1)[-1], name.rsplit(":", 1)[-1]]
        parts = name.split("-")
        candidates += ["-".join(parts[index:]) for index in range(1, len(parts))]
        match = next((candidate for candidate in candidates if candidate in known), None)
        if match is None:
            continue
        if match in taken:
            raise AnswersFileError(f"columns {taken[match]!r} and {original!r} both answer {match!r}")
        taken[match] = original
        found[original] = match
    return found


def check_columns(columns: Iterable[str], rules: TargetingRules) -> None:
    present = set(columns)
    missing = [name for name in ("household",) if name not in present]
    if len(rules.area_types) > 1 and "area_type" not in present:
        missing.append("area_type")
    # an item asked only in some area types may be absent from an export of the others: its rows,
    # if any, are then refused one by one ("missing required item")
    missing += [item.id for item in rules.items if item.required and not item.area_types and item.id not in present]
    if missing:
        raise AnswersFileError(f"missing column(s) {missing}")


# --------------------------------------------------------------------------------------------
# SQL pieces


def _lit(text: str) -> str:
    return quote_literal(text)


def _in(column: str, values: Iterable[str]) -> str:
    listed = list(values)
    if not listed:
        return "FALSE"
    return f"{column} IN ({', '.join(_lit(value) for value in listed)})"


def _decimal(value: Decimal) -> str:
    return f"CAST({_lit(str(value))} AS DECIMAL(18, {SCORE_DIGITS}))"


def _col(item_id: str) -> str:
    return quote_identifier(f"i_{item_id}")


def _asked(item: Item) -> str:
    return "TRUE" if not item.area_types else _in("area_type", item.area_types)


def _money_pattern(rules: TargetingRules) -> str:
    fraction = f"(\\.[0-9]{{1,{rules.minor_digits}}})?" if rules.minor_digits else ""
    return f"[0-9]{{1,{MAX_MONEY_WHOLE_DIGITS}}}{fraction}"


def _valid(item: Item, rules: TargetingRules) -> tuple[str, str]:
    """(SQL true when the answer is well formed, the reason when it is not)."""
    column = _col(item.id)
    if item.type == "choice":
        return _in(column, item.options), f"answer outside the options ({', '.join(item.options)})"
    if item.type == "yes_no":
        return _in(column, TRUE_TEXTS + FALSE_TEXTS), "answer outside the options (yes, no)"
    if item.type == "number":
        bounds = []
        if item.minimum is not None:
            bounds.append(f"TRY_CAST({column} AS BIGINT) >= {item.minimum}")
        if item.maximum is not None:
            bounds.append(f"TRY_CAST({column} AS BIGINT) <= {item.maximum}")
        test = " AND ".join([f"regexp_full_match({column}, '[0-9]{{1,12}}')", *bounds])
        low = "" if item.minimum is None else f" from {item.minimum}"
        high = "" if item.maximum is None else f" to {item.maximum}"
        return test, f"must be a whole number{low}{high}"
    digits = rules.minor_digits
    return (
        f"regexp_full_match({column}, {_lit(_money_pattern(rules))})",
        f"must be an amount of at most {MAX_MONEY_WHOLE_DIGITS} digits and {digits} decimal(s)",
    )


def _typed(item: Item, rules: TargetingRules) -> str:
    column = _col(item.id)
    asked = _asked(item)
    if item.type == "choice":
        value = column
    elif item.type == "yes_no":
        value = f"CASE WHEN {_in(column, TRUE_TEXTS)} THEN 'yes' WHEN {_in(column, FALSE_TEXTS)} THEN 'no' END"
    elif item.type == "number":
        value = f"CAST({column} AS BIGINT)"
    else:
        value = f"CAST(CAST({column} AS DECIMAL(18, {rules.minor_digits})) * {10**rules.minor_digits} AS BIGINT)"
    return f"CASE WHEN {asked} THEN {value} END AS {_col(item.id)}"


def _score_sql(score: Score) -> str:
    terms = [_decimal(score.constant)]
    for item_id, per_option in score.points.items():
        cases = " ".join(f"WHEN {_lit(option)} THEN {_decimal(points)}" for option, points in per_option.items())
        terms.append(f"(CASE {_col(item_id)} {cases} ELSE {_decimal(Decimal(0))} END)")
    for item_id, weight in score.weights.items():
        terms.append(f"(coalesce({_col(item_id)}, 0) * {_decimal(weight)})")
    total = f"CAST(({' + '.join(terms)}) AS DECIMAL(18, {SCORE_DIGITS}))"
    if score.area_types:
        total = f"CASE WHEN {_in('area_type', score.area_types)} THEN {total} END"
    return f"{total} AS {quote_identifier('s_' + score.id)}"


def _score_text(column: str) -> str:
    return f"rtrim(rtrim(CAST({column} AS VARCHAR), '0'), '.')"


def _money_text(expression: str, digits: int) -> str:
    if digits == 0:
        return f"CAST({expression} AS VARCHAR)"
    scale = 10**digits
    whole = f"CAST({expression} // {scale} AS VARCHAR)"
    fraction = f"lpad(CAST({expression} % {scale} AS VARCHAR), {digits}, '0')"
    return f"({whole} || '.' || {fraction})"


def _line_amount(rules: TargetingRules, line_id: str) -> str:
    cases = " ".join(
        f"WHEN {_lit(line.area_type)} THEN {line.per_person}" for line in rules.lines if line.id == line_id
    )
    return f"(CASE area_type {cases} END)"


def _condition_sql(rules: TargetingRules, condition: Condition) -> tuple[str, str]:
    """(SQL true when the condition holds, SQL of its reason in words)."""
    tests: list[str] = []
    words: list[str] = []
    if condition.area_types:
        tests.append(_in("area_type", condition.area_types))
        words.append(_lit(f"{'/'.join(condition.area_types)} area"))
    for bound, operator, text in (
        (condition.score_at_least, ">=", "at least"),
        (condition.score_at_most, "<=", "at most"),
    ):
        for score_id, figure in bound.items():
            column = quote_identifier("s_" + score_id)
            tests.append(f"{column} {operator} {_decimal(figure)}")
            words.append(
                f"{_lit(score_id + ' score ')} || {_score_text(column)} || {_lit(f' {text} {figure.normalize():f}')}"
            )
    for line_id, operator, text in (
        (condition.income_below, "<", "below"),
        (condition.income_at_most, "<=", "at or below"),
        (condition.income_at_least, ">=", "at least"),
    ):
        if line_id is None:
            continue
        amount = _line_amount(rules, line_id)
        # income / members compared with the line exactly: income vs line x members, in minor units
        tests.append(f"(income IS NOT NULL AND income {operator} {amount} * members)")
        words.append(
            f"{_lit('income per person ')} || {_money_text('income_per_person', rules.minor_digits)} || "
            f"{_lit(f' {text} {line_id} ')} || {_money_text(amount, rules.minor_digits)}"
        )
    for count, operator, text in (
        (condition.deprivations_at_least, ">=", "at least"),
        (condition.deprivations_at_most, "<=", "at most"),
    ):
        if count is None:
            continue
        tests.append(f"deprivations {operator} {count}")
        words.append(f"CAST(deprivations AS VARCHAR) || {_lit(f' deprivation(s), {text} {count}')}")
    return " AND ".join(tests) or "TRUE", " || ', ' || ".join(words) or _lit("always")


def _outcome_sql(rules: TargetingRules) -> tuple[str, str]:
    category_cases: list[str] = []
    reason_cases: list[str] = []
    for outcome in rules.outcomes:
        for condition in outcome.when:
            test, words = _condition_sql(rules, condition)
            category_cases.append(f"WHEN {test} THEN {_lit(outcome.id)}")
            reason_cases.append(f"WHEN {test} THEN {_lit(outcome.id + ': ')} || {words}")
    figures = [
        f"{_lit(score.id + ' score ')} || coalesce({_score_text(quote_identifier('s_' + score.id))}, '-')"
        for score in rules.scores
    ]
    if rules.income is not None:
        figures.append(
            f"{_lit('income per person ')} || coalesce({_money_text('income_per_person', rules.minor_digits)}, '-')"
        )
    if rules.deprivations:
        figures.append("CAST(deprivations AS VARCHAR) || ' deprivation(s)'")
    none_reason = _lit(f"{NOT_IDENTIFIED}: no category's conditions hold")
    if figures:
        none_reason += " || ' (' || " + " || ', ' || ".join(figures) + " || ')'"
    category = f"CASE {' '.join(category_cases)} ELSE {_lit(NOT_IDENTIFIED)} END"
    reason = f"CASE {' '.join(reason_cases)} ELSE {none_reason} END"
    return category, reason


def _deprivations_sql(rules: TargetingRules) -> str:
    if not rules.deprivations:
        return "CAST(NULL AS INTEGER)"
    terms = []
    for deprivation in rules.deprivations:
        column = _col(deprivation.item)
        below = deprivation.below
        test = f"{column} < {below}" if below is not None else _in(column, deprivation.deprived)
        terms.append(f"(CASE WHEN {test} THEN 1 ELSE 0 END)")
    return f"CAST(({' + '.join(terms)}) AS INTEGER)"


# --------------------------------------------------------------------------------------------
# The three steps


def score_relation(connection: duckdb.DuckDBPyConnection, rules: TargetingRules, source: str) -> None:
    """Build ``answer_errors`` and ``answer_scores`` from the table ``source``.

    ``source`` has a ``line`` column and canonical columns (``household``, optional ``area_type``
    and ``village``, item ids), every value text or NULL."""
    present = {row[0] for row in connection.execute(f"DESCRIBE {quote_identifier(source)}").fetchall()}
    default_area = rules.area_types[0] if len(rules.area_types) == 1 else None

    def cleaned(name: str) -> str:
        if name not in present:
            return "CAST(NULL AS VARCHAR)"
        return f"nullif(lower(trim(CAST({quote_identifier(name)} AS VARCHAR))), '')"

    area = cleaned("area_type")
    if default_area is not None:
        area = f"coalesce({area}, {_lit(default_area)})"
    village = "CAST(NULL AS VARCHAR)"
    if "village" in present:
        village = f"nullif(trim(CAST({quote_identifier('village')} AS VARCHAR)), '')"
    household = "CAST(NULL AS VARCHAR)"
    if "household" in present:
        household = f"nullif(trim(CAST({quote_identifier('household')} AS VARCHAR)), '')"
    item_columns = ", ".join(f"{cleaned(item.id)} AS {_col(item.id)}" for item in rules.items)
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE answers_clean AS SELECT line, {household} AS household, {area} AS area_type, "
        f"{village} AS village, {item_columns}, "
        f"count(*) OVER (PARTITION BY {household}) AS copies FROM {quote_identifier(source)}"
    )

    checks = [
        "SELECT line, coalesce(household, '') AS household, 'household' AS field, 'missing' AS reason "
        "FROM answers_clean WHERE household IS NULL",
        "SELECT line, household, 'household', 'appears more than once in the file' "
        "FROM answers_clean WHERE household IS NOT NULL AND copies > 1",
        "SELECT line, coalesce(household, ''), 'area_type', "
        + _lit(f"must be one of {', '.join(rules.area_types)}")
        + f" FROM answers_clean WHERE area_type IS NULL OR NOT ({_in('area_type', rules.area_types)})",
    ]
    for item in rules.items:
        column = _col(item.id)
        asked = _asked(item)
        valid, reason = _valid(item, rules)
        if item.required:
            checks.append(
                f"SELECT line, coalesce(household, ''), {_lit(item.id)}, 'missing required item' "
                f"FROM answers_clean WHERE {asked} AND {column} IS NULL"
            )
        checks.append(
            f"SELECT line, coalesce(household, ''), {_lit(item.id)}, {_lit(reason)} "
            f"FROM answers_clean WHERE {asked} AND {column} IS NOT NULL AND NOT coalesce({valid}, FALSE)"
        )
    connection.execute(
        "CREATE OR REPLACE TEMP TABLE answer_errors AS SELECT * FROM (" + " UNION ALL ".join(checks) + ") "
        "ORDER BY line, field"
    )

    typed = ", ".join(_typed(item, rules) for item in rules.items)
    connection.execute(
        f"CREATE OR REPLACE TEMP VIEW answers_typed AS SELECT line, household, area_type, village, {typed} "
        "FROM answers_clean WHERE line NOT IN (SELECT line FROM answer_errors)"
    )
    if rules.income is not None:
        income = _col(rules.income.item)
        members = _col(rules.income.members_item)
        income_columns = (
            f"{income} AS income, {members} AS members, "
            f"CASE WHEN {members} > 0 THEN {income} // {members} END AS income_per_person"
        )
    else:
        income_columns = (
            "CAST(NULL AS BIGINT) AS income, CAST(NULL AS BIGINT) AS members, CAST(NULL AS BIGINT) AS income_per_person"
        )
    scores = ", ".join(_score_sql(score) for score in rules.scores)
    connection.execute(
        "CREATE OR REPLACE TEMP VIEW answers_measured AS SELECT *, "
        + (scores + ", " if scores else "")
        + f"{income_columns}, {_deprivations_sql(rules)} AS deprivations FROM answers_typed"
    )
    category, reason = _outcome_sql(rules)
    grants = " ".join(f"WHEN {_lit(outcome.id)} THEN {_lit(';'.join(outcome.grants))}" for outcome in rules.outcomes)
    # one materialisation for the whole chain (typed -> measured -> decided are views)
    connection.execute(
        "CREATE OR REPLACE TEMP TABLE answer_scores AS "
        f"SELECT *, CASE category {grants} ELSE '' END AS grants FROM "
        f"(SELECT *, {category} AS category, {reason} AS reason FROM answers_measured)"
    )


def _score_columns(rules: TargetingRules) -> list[str]:
    return [quote_identifier("s_" + score.id) for score in rules.scores]


def fetch_scored(connection: duckdb.DuckDBPyConnection, rules: TargetingRules) -> list[ScoredHousehold]:
    score_columns = _score_columns(rules)
    rows = connection.execute(
        "SELECT line, household, area_type, village, income_per_person, deprivations, category, grants, reason"
        + "".join(f", {column}" for column in score_columns)
        + " FROM answer_scores ORDER BY line"
    ).fetchall()
    result = []
    for row in rows:
        scores = {score.id: row[9 + index] for index, score in enumerate(rules.scores)}
        result.append(
            ScoredHousehold(
                line=row[0],
                household=row[1],
                area_type=row[2],
                village=row[3],
                scores=scores,
                income_per_person=row[4],
                deprivations=row[5],
                category=row[6],
                grants=tuple(part for part in row[7].split(";") if part),
                reason=row[8],
            )
        )
    return result


def fetch_errors(connection: duckdb.DuckDBPyConnection) -> list[AnswerError]:
    return [
        AnswerError(line=row[0], household=row[1], field=row[2], reason=row[3])
        for row in connection.execute(
            f"SELECT {', '.join(ERROR_COLUMNS)} FROM answer_errors ORDER BY line, field"
        ).fetchall()
    ]


# --------------------------------------------------------------------------------------------
# Answers in memory (a round read from the database, one interview at the hospital)


def load_answer_rows(
    connection: duckdb.DuckDBPyConnection, rules: TargetingRules, rows: Sequence[dict[str, Any]]
) -> None:
    """Load answers given as dicts (``household``, ``area_type``, ``village`` and item ids) into the
    table ``answers_source``; the ``line`` of each is its position + 2, as if it were a file."""
    import pyarrow as pa

    names = ["household", "area_type", "village", *(item.id for item in rules.items)]
    columns: dict[str, list[Any]] = {"line": list(range(2, len(rows) + 2))}
    for name in names:
        columns[name] = [None if row.get(name) is None else str(row.get(name)) for row in rows]
    table = pa.table(
        {name: pa.array(values, type=pa.int64() if name == "line" else pa.string()) for name, values in columns.items()}
    )
    connection.register("answers_input", table)
    connection.execute("CREATE OR REPLACE TEMP TABLE answers_source AS SELECT * FROM answers_input")
    connection.unregister("answers_input")


def score_answers(
    rules: TargetingRules, rows: Sequence[dict[str, Any]]
) -> tuple[list[ScoredHousehold], list[AnswerError]]:
    """Score answers given as dicts (see :func:`load_answer_rows`)."""
    connection = duckdb.connect()
    try:
        load_answer_rows(connection, rules, rows)
        score_relation(connection, rules, "answers_source")
        return fetch_scored(connection, rules), fetch_errors(connection)
    finally:
        connection.close()


# --------------------------------------------------------------------------------------------
# Files: CSV (KoboToolbox, ODK Central exports included) and XLSX


def load_answers_file(connection: duckdb.DuckDBPyConnection, rules: TargetingRules, path: Path) -> None:
    """Load ``path`` into the table ``answers_source`` (canonical columns, ``line``)."""
    if not path.is_file():
        raise AnswersFileError(f"{path.name}: no such file")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        _load_xlsx(connection, path)
    else:
        try:
            connection.execute(
                "CREATE OR REPLACE TEMP TABLE answers_file AS SELECT * FROM "
                f"read_csv({_lit(str(path))}, header = true, all_varchar = true, encoding = 'utf-8')"
            )
        except duckdb.Error as error:
            raise AnswersFileError(f"{path.name}: unreadable CSV ({str(error).splitlines()[0]})") from None
    header = [row[0] for row in connection.execute("DESCRIBE answers_file").fetchall()]
    mapping = canonical_columns(header, rules)
    check_columns(mapping.values(), rules)
    selected = ", ".join(
        f"{quote_identifier(original)} AS {quote_identifier(name)}" for original, name in mapping.items()
    )
    connection.execute(
        f"CREATE OR REPLACE TEMP VIEW answers_source AS SELECT rowid + 2 AS line, {selected} FROM answers_file"
    )


def _load_xlsx(connection: duckdb.DuckDBPyConnection, path: Path) -> None:
    import pyarrow as pa
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds on a damaged workbook
        raise AnswersFileError(f"{path.name}: unreadable workbook ({type(error).__name__})") from None
    try:
        sheet = workbook.active
        rows = sheet.iter_rows(values_only=True) if sheet is not None else iter(())
        header = [_cell_text(value) or f"column_{index}" for index, value in enumerate(next(rows, ()))]
        columns: list[list[str | None]] = [[] for _ in header]
        for cells in rows:
            texts = [_cell_text(value) for value in cells]
            if not any(texts):
                continue
            for index in range(len(header)):
                columns[index].append(texts[index] if index < len(texts) else None)
    finally:
        workbook.close()
    if not header:
        raise AnswersFileError(f"{path.name}: the sheet has no header row")
    table = pa.table({name: pa.array(values, type=pa.string()) for name, values in zip(header, columns)})
    connection.register("answers_workbook", table)
    connection.execute("CREATE OR REPLACE TEMP TABLE answers_file AS SELECT * FROM answers_workbook")
    connection.unregister("answers_workbook")


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _spreadsheet_text(column: str) -> str:
    """SQL of :func:`equicover.exports.spreadsheet_text`: text that would start a formula gets an apostrophe."""
    starts = " OR ".join(f"starts_with({column}, {_lit(start)})" for start in FORMULA_STARTS)
    number = _lit("[+-]?[0-9]+([.][0-9]+)?")
    apostrophe = _lit("'")
    formula = f"({starts}) AND NOT regexp_full_match({column}, {number})"
    return f"CASE WHEN {formula} THEN {apostrophe} || {column} ELSE {column} END"


def score_file(rules: TargetingRules, answers: Path, out: Path, errors_path: Path) -> ScoreSummary:
    """Score a whole answers file into ``out`` (one row per accepted household) and write the
    rejected rows' reasons to ``errors_path`` (only when there are some)."""
    connection = duckdb.connect()
    try:
        load_answers_file(connection, rules, answers)
        score_relation(connection, rules, "answers_source")
        score_columns = [
            f"{_score_text(column)} AS {quote_identifier('score_' + column[3:-1])}" for column in _score_columns(rules)
        ]
        income = []
        if rules.income is not None:
            income = [f"{_money_text('income_per_person', rules.minor_digits)} AS income_per_person"]
        deprivations = ["deprivations"] if rules.deprivations else []
        household = _spreadsheet_text("household")
        village = _spreadsheet_text("coalesce(village, '')")
        projection = ", ".join(
            [
                f"{household} AS household",
                "area_type",
                f"{village} AS village",
                *score_columns,
                *income,
                *deprivations,
                "category",
                "grants",
                "reason",
            ]
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        connection.execute(
            f"COPY (SELECT {projection} FROM answer_scores ORDER BY line) TO {_lit(str(out))} (HEADER, DELIMITER ',')"
        )
        errors = fetch_errors(connection)
        if errors:
            with errors_path.open("w", newline="", encoding="utf-8") as handle:
                writer = safe_csv_writer(handle)
                writer.writerow(ERROR_COLUMNS)
                writer.writerows((error.line, error.household, error.field, error.reason) for error in errors)
        counts = dict(connection.execute("SELECT category, count(*) FROM answer_scores GROUP BY category").fetchall())
        scored = sum(counts.values())
        rejected = len({error.line for error in errors})
        return ScoreSummary(scored=scored, rejected=rejected, by_category=counts)
    finally:
        connection.close()
