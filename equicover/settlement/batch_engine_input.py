"""Reading and checking a claims file in DuckDB, with the same error rows as the real-time reader.

Every column is read as text (no type sniffing), trimmed, and checked field by field in one
projection; the checked table keeps the typed values and one reason column per field (NULL when the
field is fine). Line numbers are the table's ``rowid`` + 2: a CREATE TABLE AS keeps the file's row
order (``preserve_insertion_order``), and the header is line 1. Parquet files use the same
convention (row index + 2), so an error file reads the same whatever the input format.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from equicover.settlement import claims_file as claims_contract
from equicover.settlement.batch_engine_sql import benefit_year_sql, policy_categories, quote_literal
from equicover.settlement.model import Policy

CLAIM_COLUMNS: tuple[str, ...] = tuple(claims_contract.CLAIM_COLUMNS)
C = claims_contract

# Fields in the order their error rows are written (the real-time reader's order).
# Every claim column but the free list of categories, which has nothing to refuse.
CHECKED_FIELDS = tuple(column for column in C.CLAIM_COLUMNS if column != "categories")

# the characters the real-time reader trims (claims.TRIMMED_CHARACTERS), as a SQL expression
_WHITESPACE = " || ".join(f"chr({ord(ch)})" for ch in C.TRIMMED_CHARACTERS)
_TRUE = tuple(sorted(C.TRUE_TEXTS))
_FALSE = tuple(sorted(C.FALSE_TEXTS))


def _full_match(column: str, pattern: re.Pattern[str]) -> str:
    """The reader's ``^...$`` pattern as a DuckDB (RE2) full match."""
    text = pattern.pattern
    if not (text.startswith("^") and text.endswith("$")):
        raise ValueError(f"pattern {text!r} must be anchored")
    return f"regexp_full_match({column}, {quote_literal(text[1:-1])})"


_TRIM_MAX = max(ord(ch) for ch in C.TRIMMED_CHARACTERS)


def _trim(column: str) -> str:
    """Trim the reader's characters; trim() with a character set is slow, so only rows whose
    first or last character could be one of them pay for it."""
    text = f"coalesce(CAST({column} AS VARCHAR), '')"
    return (
        f"(CASE WHEN ascii({text}) <= {_TRIM_MAX} OR ascii(right({text}, 1)) <= {_TRIM_MAX} "
        f"THEN trim({text}, {_WHITESPACE}) ELSE {text} END)"
    )


def _lit(text: str) -> str:
    return quote_literal(text)


def _in(column: str, values: Sequence[str]) -> str:
    if not values:
        return "FALSE"
    return f"{column} IN ({', '.join(_lit(v) for v in values)})"


def category_flags(policy: Policy, column: str = "categories") -> list[str]:
    """``cat<j>``: the `;`-separated text names category j of the policy, spaces around allowed
    (the reader splits on `;` and trims each part)."""
    space = "[" + "".join(f"\\x{ord(ch):02x}" for ch in C.TRIMMED_CHARACTERS) + "]*"
    flags = []
    for j, name in enumerate(policy_categories(policy)):
        pattern = f"(^|;){space}{re.escape(name)}{space}(;|$)"
        flags.append(f"(contains({column}, {_lit(name)}) AND regexp_matches({column}, {_lit(pattern)})) AS cat{j}")
    return flags


def _fast_money_pattern(minor_digits: int) -> str | None:
    """Amounts a DECIMAL(18, minor digits) cast reads exactly and whose minor units still fit that
    width: plain digits, at most ``minor_digits`` after the point. Almost every row of a real file
    is one; the others take the reader's full tests."""
    whole = 18 - 2 * minor_digits
    if whole < 1:
        return None
    fraction = f"(\\.[0-9]{{1,{minor_digits}}})?" if minor_digits else ""
    return f"[0-9]{{1,{whole}}}{fraction}"


def _money_fast(field: str, minor_digits: int) -> str:
    """``fast_<field>``: the amount takes the fast path (see ``_fast_money_pattern``)."""
    fast = _fast_money_pattern(minor_digits)
    value = "FALSE" if fast is None else f"regexp_full_match(x_{field}, {_lit(fast)})"
    return f"{value} AS fast_{field}"


def _money_pieces(field: str, minor_digits: int) -> list[str]:
    """Each test once: well formed, fraction digits, negative. The CASEs skip the slower tests on
    fast-path rows (a fast-path amount is well formed, has at most the minor digits and is not
    negative)."""
    text = f"x_{field}"
    return [
        f"CASE WHEN fast_{field} THEN TRUE ELSE {_full_match(text, C.DECIMAL_PATTERN)} END AS wf_{field}",
        f"CASE WHEN fast_{field} THEN 0 WHEN strpos({text}, '.') > 0 THEN length({text}) - strpos({text}, '.') "
        f"ELSE 0 END AS fd_{field}",
        f"CASE WHEN fast_{field} THEN FALSE "
        f"ELSE (starts_with({text}, '-') AND regexp_matches({text}, '[1-9]')) END AS neg_{field}",
    ]


def _money_value(field: str, minor_digits: int) -> str:
    """Minor units of a well-formed amount. Fast-path texts (see ``_fast_money_pattern``) are a
    DECIMAL(18) cast; the others take the exact way: the DECIMAL(18) cast when it fits, else the
    digits without the point, padded to the minor digits, read as BIGINT (NULL past 2^63 - 1
    minor units, rejected as not a decimal amount like the reader does)."""
    text = f"x_{field}"
    digits = f"replace({text}, '.', '') || repeat('0', {minor_digits} - fd_{field})"
    exact = f"try_cast({digits} AS BIGINT)"
    if minor_digits <= 17:
        fast = f"try_cast(try_cast({text} AS DECIMAL(18, {minor_digits})) * {10**minor_digits} AS BIGINT)"
        exact = f"coalesce({fast}, {exact})"
    quick = ""
    if _fast_money_pattern(minor_digits) is not None:
        quick = f"WHEN fast_{field} THEN (CAST({text} AS DECIMAL(18, {minor_digits})) * {10**minor_digits})::BIGINT "
    return f"CASE {quick}WHEN wf_{field} AND fd_{field} <= {minor_digits} AND NOT neg_{field} THEN {exact} END"


def _money_reason(field: str, minor_digits: int) -> str:
    return (
        f"CASE WHEN x_{field} = '' THEN {_lit(C.REQUIRED)} "
        f"WHEN NOT wf_{field} THEN {_lit(C.NOT_A_DECIMAL)} "
        f"WHEN neg_{field} THEN {_lit(C.NEGATIVE_AMOUNT)} "
        f"WHEN fd_{field} > {minor_digits} THEN {_lit(C.too_many_decimals(minor_digits))} "
        f"WHEN {field} IS NULL THEN {_lit(C.NOT_A_DECIMAL)} END"
    )


def _boolean_value(field: str) -> str:
    text = f"lower(x_{field})"
    return f"CASE WHEN {_in(text, _TRUE)} THEN TRUE WHEN {_in(text, _FALSE)} THEN FALSE END"


def checked_select(policy: Policy, source: str) -> str:
    """SELECT over ``source`` (text columns named as CLAIM_COLUMNS) giving typed columns, one
    ``r_<field>`` reason per field (NULL when fine) and ``cat<j>`` flags. Duplicate claim ids are
    found afterwards, over the whole file. ``provider_id`` (trimmed) and ``categories_text`` (as
    read) are there for callers that store the claims; the settlement does not read them."""
    digits = policy.minor_digits
    trimmed = ", ".join(f"{_trim(c)} AS x_{c}" for c in CLAIM_COLUMNS if c != "categories")
    flags = category_flags(policy, "coalesce(CAST(categories AS VARCHAR), '')")
    categories = "".join(", " + flag for flag in flags)
    category_columns = "".join(f"cat{j}, " for j in range(len(flags)))
    period = f"service_date >= DATE '{policy.effective_from.isoformat()}'"
    if policy.effective_to is not None:
        period += f" AND service_date <= DATE '{policy.effective_to.isoformat()}'"
    required = _lit(C.REQUIRED)

    # level 1: each test once
    pieces = f"""
        SELECT *,
            CASE WHEN {_full_match("x_service_date", C.ISO_DATE_PATTERN)}
                      -- year 0000 passes the pattern and DuckDB, not Python's date.fromisoformat
                      AND NOT starts_with(x_service_date, '0000')
                 THEN try_cast(x_service_date AS DATE) END AS service_date,
            upper(x_diagnosis) AS diagnosis,
            {_full_match("x_days", C.WHOLE_NUMBER_PATTERN)} AS wf_days,
            {", ".join(_money_pieces("total", digits) + _money_pieces("eligible", digits))}
        FROM (
            SELECT *, {_money_fast("total", digits)}, {_money_fast("eligible", digits)}
            FROM (SELECT {trimmed}{categories}, coalesce(CAST(categories AS VARCHAR), '') AS x_categories FROM {source})
        )
    """
    # level 2: typed values
    typed = f"""
        SELECT *,
            {_boolean_value("designated")} AS designated,
            {_boolean_value("in_area")} AS in_area,
            {_boolean_value("referred")} AS referred,
            CASE WHEN wf_days THEN try_cast(x_days AS BIGINT) END AS days,
            {_money_value("total", digits)} AS total,
            {_money_value("eligible", digits)} AS eligible
        FROM ({pieces})
    """
    # level 3: reasons
    return f"""
        SELECT
            x_claim_id AS claim_id, x_member_id AS member_id, service_date,
            {benefit_year_sql(policy, "service_date")} AS byear,
            x_provider_id AS provider_id, x_categories AS categories_text,
            x_provider_level AS provider_level, designated, in_area, referred,
            x_care_type AS care_type, diagnosis, days, total, eligible, {category_columns}
            CASE WHEN x_claim_id = '' THEN {required} END AS r_claim_id,
            CASE WHEN x_member_id = '' THEN {required} END AS r_member_id,
            CASE WHEN x_service_date = '' THEN {required}
                 WHEN service_date IS NULL THEN {_lit(C.NOT_AN_ISO_DATE)}
                 WHEN NOT ({period}) THEN {_lit(C.OUTSIDE_POLICY_PERIOD)} END AS r_service_date,
            CASE WHEN x_provider_id = '' THEN {required} END AS r_provider_id,
            CASE WHEN NOT ({_in("x_provider_level", policy.provider_levels)})
                 THEN {_lit(C.UNKNOWN_PROVIDER_LEVEL)} END AS r_provider_level,
            CASE WHEN designated IS NULL THEN {_lit(C.NOT_A_BOOLEAN)} END AS r_designated,
            CASE WHEN in_area IS NULL THEN {_lit(C.NOT_A_BOOLEAN)} END AS r_in_area,
            CASE WHEN referred IS NULL THEN {_lit(C.NOT_A_BOOLEAN)} END AS r_referred,
            CASE WHEN NOT ({_in("x_care_type", policy.care_types)})
                 THEN {_lit(C.UNKNOWN_CARE_TYPE)} END AS r_care_type,
            CASE WHEN diagnosis = '' THEN {required}
                 WHEN NOT {_full_match("diagnosis", C.ICD10_PATTERN)} THEN {_lit(C.NOT_AN_ICD10_CODE)} END
                AS r_diagnosis,
            CASE WHEN days IS NULL THEN {_lit(C.NOT_A_WHOLE_NUMBER)} END AS r_days,
            {_money_reason("total", digits)} AS r_total,
            CASE WHEN x_eligible = '' OR NOT wf_eligible OR neg_eligible OR fd_eligible > {digits}
                      OR eligible IS NULL THEN {_money_reason("eligible", digits)}
                 WHEN total IS NOT NULL AND eligible > total THEN {_lit(C.ELIGIBLE_ABOVE_TOTAL)} END
                AS r_eligible
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
            SELECT line, claim_id, unnest(list_filter([{reasons}], lambda e: e.r IS NOT NULL)) AS e
            FROM (
                SELECT c.*, {line("c.rowid")} AS line,
                       coalesce(c.r_claim_id, CASE WHEN dup.first_rid IS NOT NULL THEN {duplicate} END)
                           AS claim_reason
                FROM {checked} c LEFT JOIN {duplicates} dup ON dup.rid = c.rowid
                WHERE c.bad OR dup.rid IS NOT NULL
            )
        )
        ORDER BY line, e.i
    """
