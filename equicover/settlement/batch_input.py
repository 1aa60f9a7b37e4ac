"""Reading and checking a claims file in DuckDB, with the same error rows as the real-time reader.

Every column is read as text (no type sniffing), trimmed, and checked field by field in one
projection; the checked table keeps the typed values and one reason column per field (NULL when the
field is fine). Line numbers are the table's ``rowid`` + 2: a CREATE TABLE AS keeps the file's row
order (``preserve_insertion_order``), and the header is line 1. Parquet files use the same
convention (row index + 2), so an error file reads the same whatever the input format.
"""

from __future__ import annotations

import re

from equicover.settlement import claims as claims_contract
from equicover.settlement.batch_sql import benefit_year_sql, quote_literal
from equicover.settlement.model import Policy

CLAIM_COLUMNS: tuple[str, ...] = tuple(claims_contract.CLAIM_COLUMNS)
C = claims_contract

# Fields in the order their error rows are written (the real-time reader's order).
CHECKED_FIELDS = (
    "claim_id",
    "member_id",
    "service_date",
    "provider_id",
    "provider_level",
    "designated",
    "in_area",
    "referred",
    "care_type",
    "diagnosis",
    "days",
    "total",
    "eligible",
)

# the characters the real-time reader trims (claims.TRIMMED_CHARACTERS), as a SQL expression
_WHITESPACE = " || ".join(f"chr({ord(ch)})" for ch in C.TRIMMED_CHARACTERS)
_TRUE = tuple(sorted(C.TRUE_TEXTS))
_FALSE = tuple(sorted(C.FALSE_TEXTS))


def _full_match(column: str, pattern: "re.Pattern[str]") -> str:
    """The reader's ``^...$`` pattern as a DuckDB (RE2) full match."""
    text = pattern.pattern
    if not (text.startswith("^") and text.endswith("$")):
        raise ValueError(f"pattern {text!r} must be anchored")
    return f"regexp_full_match({column}, {quote_literal(text[1:-1])})"


def _trim(column: str) -> str:
    return f"trim(coalesce(CAST({column} AS VARCHAR), ''), {_WHITESPACE})"


def _lit(text: str) -> str:
    return quote_literal(text)


def _in(column: str, values) -> str:
    if not values:
        return "FALSE"
    return f"{column} IN ({', '.join(_lit(v) for v in values)})"


def _boolean(field: str) -> tuple[str, str]:
    text = f"lower(x_{field})"
    value = f"CASE WHEN {_in(text, _TRUE)} THEN TRUE WHEN {_in(text, _FALSE)} THEN FALSE END"
    reason = f"CASE WHEN NOT ({_in(text, _TRUE + _FALSE)}) THEN {_lit(C.NOT_A_BOOLEAN)} END"
    return value, reason


def _money(field: str, minor_digits: int) -> tuple[str, str]:
    text = f"x_{field}"
    well_formed = _full_match(text, C.DECIMAL_PATTERN)
    decimals = f"CASE WHEN contains({text}, '.') THEN length(split_part({text}, '.', 2)) ELSE 0 END"
    negative = f"(starts_with({text}, '-') AND regexp_matches({text}, '[1-9]'))"
    scaled = f"try_cast(try_cast({text} AS DECIMAL(38, {minor_digits})) * {10**minor_digits} AS BIGINT)"
    value = f"CASE WHEN {well_formed} AND {decimals} <= {minor_digits} AND NOT {negative} THEN {scaled} END"
    reason = (
        f"CASE WHEN {text} = '' THEN {_lit(C.REQUIRED)} "
        f"WHEN NOT {well_formed} THEN {_lit(C.NOT_A_DECIMAL)} "
        f"WHEN {negative} THEN {_lit(C.NEGATIVE_AMOUNT)} "
        f"WHEN {decimals} > {minor_digits} THEN {_lit(C.too_many_decimals(minor_digits))} "
        # amounts past 2^63 minor units cannot be settled in BIGINT: rejected as unreadable
        f"WHEN {scaled} IS NULL THEN {_lit(C.NOT_A_DECIMAL)} END"
    )
    return value, reason


def _needs_categories(policy: Policy) -> bool:
    whens = [fee.when for fee in policy.fixed_fees] + [a.when for a in policy.allowances]
    for layer in policy.layers:
        whens.append(layer.when)
        whens.extend(v.when for v in layer.variants)
    return any(c.member_category is not None for when in whens for c in when)


def checked_select(policy: Policy, source: str) -> str:
    """SELECT over ``source`` (text columns named as CLAIM_COLUMNS) giving typed columns, one
    ``r_<field>`` reason per field and ``bad`` (any reason). Duplicates are found afterwards."""
    trimmed = ", ".join(f"{_trim(c)} AS x_{c}" for c in CLAIM_COLUMNS if c != "categories")
    if _needs_categories(policy):
        categories = (
            "list_filter(list_transform(string_split(coalesce(CAST(categories AS VARCHAR), ''), ';'), "
            f"c -> trim(c, {_WHITESPACE})), c -> c <> '') AS categories"
        )
    else:
        categories = "[]::VARCHAR[] AS categories"

    # year 0000 passes the pattern and DuckDB, not Python's date.fromisoformat
    date_ok = f"{_full_match('x_service_date', C.ISO_DATE_PATTERN)} AND NOT starts_with(x_service_date, '0000')"
    date_value = f"CASE WHEN {date_ok} THEN try_cast(x_service_date AS DATE) END"
    period = f"d >= DATE '{policy.effective_from.isoformat()}'"
    if policy.effective_to is not None:
        period += f" AND d <= DATE '{policy.effective_to.isoformat()}'"

    designated, r_designated = _boolean("designated")
    in_area, r_in_area = _boolean("in_area")
    referred, r_referred = _boolean("referred")
    total, r_total = _money("total", policy.minor_digits)
    eligible, r_eligible = _money("eligible", policy.minor_digits)
    icd = _full_match("upper(x_diagnosis)", C.ICD10_PATTERN)
    whole = _full_match("x_days", C.WHOLE_NUMBER_PATTERN)
    required = _lit(C.REQUIRED)

    typed = f"""
        SELECT
            x_claim_id AS claim_id,
            x_member_id AS member_id,
            {date_value} AS d,
            x_provider_level AS provider_level,
            {designated} AS designated,
            {in_area} AS in_area,
            {referred} AS referred,
            x_care_type AS care_type,
            upper(x_diagnosis) AS diagnosis,
            CASE WHEN {whole} THEN try_cast(x_days AS BIGINT) END AS days,
            {total} AS total,
            {eligible} AS eligible,
            categories,
            CASE WHEN x_claim_id = '' THEN {required} END AS r_claim_id,
            CASE WHEN x_member_id = '' THEN {required} END AS r_member_id,
            x_service_date,
            CASE WHEN x_provider_id = '' THEN {required} END AS r_provider_id,
            CASE WHEN NOT ({_in('x_provider_level', policy.provider_levels)})
                 THEN {_lit(C.UNKNOWN_PROVIDER_LEVEL)} END AS r_provider_level,
            {r_designated} AS r_designated,
            {r_in_area} AS r_in_area,
            {r_referred} AS r_referred,
            CASE WHEN NOT ({_in('x_care_type', policy.care_types)})
                 THEN {_lit(C.UNKNOWN_CARE_TYPE)} END AS r_care_type,
            CASE WHEN x_diagnosis = '' THEN {required}
                 WHEN NOT {icd} THEN {_lit(C.NOT_AN_ICD10_CODE)} END AS r_diagnosis,
            CASE WHEN NOT {whole} OR try_cast(x_days AS BIGINT) IS NULL
                 THEN {_lit(C.NOT_A_WHOLE_NUMBER)} END AS r_days,
            {r_total} AS r_total,
            {r_eligible} AS r_eligible
        FROM (SELECT {trimmed}, {categories} FROM {source})
    """
    return f"""
        SELECT
            claim_id, member_id, d AS service_date, {benefit_year_sql(policy, 'd')} AS byear,
            provider_level, designated, in_area, referred, care_type, diagnosis, days,
            total, eligible, categories,
            r_claim_id, r_member_id,
            CASE WHEN x_service_date = '' THEN {required}
                 WHEN d IS NULL THEN {_lit(C.NOT_AN_ISO_DATE)}
                 WHEN NOT ({period}) THEN {_lit(C.OUTSIDE_POLICY_PERIOD)} END AS r_service_date,
            r_provider_id, r_provider_level, r_designated, r_in_area, r_referred, r_care_type,
            r_diagnosis, r_days, r_total,
            CASE WHEN r_eligible IS NOT NULL THEN r_eligible
                 WHEN r_total IS NULL AND eligible > total
                 THEN {_lit(C.ELIGIBLE_ABOVE_TOTAL)} END AS r_eligible
        FROM ({typed})
    """


def bad_flag_sql() -> str:
    return " OR ".join(f"r_{f} IS NOT NULL" for f in CHECKED_FIELDS)


def error_rows_sql(checked: str, duplicates: str, line_of: str | None = None) -> str:
    """One row per (row, field) problem, in line order then field order.

    ``duplicates`` has (rid, first_rid): later rows repeating an earlier claim_id. ``line_of``
    (rid, line) maps row ids to file lines when they are not simply rid + 2 (blank lines or
    quoted line breaks in a CSV file).
    """
    def line(rid: str) -> str:
        if line_of is None:
            return f"({rid} + 2)"
        return f"(SELECT l.line FROM {line_of} l WHERE l.rid = {rid})"

    duplicate = f"{_lit(C.DUPLICATE_PREFIX)} || {line('dup.first_rid')}::VARCHAR"
    reasons = ", ".join(
        f"{{'i': {i}, 'f': {_lit(f)}, 'r': {'claim_reason' if f == 'claim_id' else 'r_' + f}}}"
        for i, f in enumerate(CHECKED_FIELDS)
    )
    return f"""
        SELECT line, claim_id, e.f AS field, e.r AS reason
        FROM (
            SELECT line, claim_id, unnest(list_filter([{reasons}], e -> e.r IS NOT NULL)) AS e
            FROM (
                SELECT c.*, {line('c.rowid')} AS line,
                       coalesce(c.r_claim_id, CASE WHEN dup.first_rid IS NOT NULL THEN {duplicate} END)
                           AS claim_reason
                FROM {checked} c LEFT JOIN {duplicates} dup ON dup.rid = c.rowid
                WHERE c.bad OR dup.rid IS NOT NULL
            )
        )
        ORDER BY line, e.i
    """
