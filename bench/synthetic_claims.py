"""Synthetic claims for the settlement benchmark, generated set-based in DuckDB.

Deterministic for a given (n, seed): every value is a hash of the row number, so the file is the
same whatever the thread count. Claims come in file order by claim id, not by member, as a
province's monthly extract does; about 0.05% of rows carry a realistic input error.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

LEVELS = ("township", "county", "city", "province")
DIAGNOSES = ("I10", "E11.9", "K35.8", "C34.1", "N18.5", "J18.9", "I21.0", "S72.0", "O80", "A15.0", "M54.5", "Z00.0")


def _pick(values: tuple[str, ...], salt: int) -> str:
    array = "[" + ", ".join(f"'{v}'" for v in values) + "]"
    return f"{array}[1 + (hash(i, {salt}) % {len(values)})::INTEGER]"


def _uniform(salt: int) -> str:
    """A uniform in [0, 1) from the row number."""
    return f"((hash(i, {salt}) % 1000000007)::DOUBLE / 1000000007)"


def _money_text(cents: str) -> str:
    return f"(({cents}) // 100)::VARCHAR || '.' || lpad((({cents}) % 100)::VARCHAR, 2, '0')"


def claims_sql(n: int, seed: int = 7) -> str:
    members = max(1, n // 4)
    s = seed * 100
    inpatient = f"({_uniform(s + 1)} < 0.22)"
    care = (
        f"CASE WHEN {inpatient} THEN 'inpatient' "
        f"WHEN {_uniform(s + 2)} < 0.20 THEN 'chronic_outpatient' "
        f"WHEN {_uniform(s + 2)} < 0.24 THEN 'emergency' ELSE 'outpatient' END"
    )
    # inpatient bills 1,500-200,000 CNY, outpatient 20-3,000, log-uniform
    total_cents = (
        f"CASE WHEN {inpatient} THEN round(exp(ln(150000) + {_uniform(s + 3)} * (ln(20000000) - ln(150000))))"
        f" ELSE round(exp(ln(2000) + {_uniform(s + 3)} * (ln(300000) - ln(2000)))) END::BIGINT"
    )
    return f"""
    SELECT
        'C' || lpad(i::VARCHAR, 10, '0') AS claim_id,
        'M' || lpad((hash(i, {s + 4}) % {members})::VARCHAR, 9, '0') AS member_id,
        strftime(DATE '2018-01-01' + (hash(i, {s + 5}) % 730)::INTEGER, '%Y-%m-%d') AS service_date,
        'P' || lpad((hash(i, {s + 6}) % 5000)::VARCHAR, 5, '0') AS provider_id,
        {_pick(LEVELS, s + 7)} AS provider_level,
        CASE WHEN {_uniform(s + 8)} < 0.85 THEN 'true' ELSE 'false' END AS designated,
        CASE WHEN {_uniform(s + 9)} < 0.8 THEN 'true' ELSE 'false' END AS in_area,
        CASE WHEN {_uniform(s + 10)} < 0.5 THEN 'yes' ELSE 'no' END AS referred,
        {care} AS care_type,
        {_pick(DIAGNOSES, s + 11)} AS diagnosis,
        CASE WHEN {inpatient} THEN (1 + hash(i, {s + 12}) % 20)::VARCHAR ELSE '0' END AS days,
        {_money_text("total_c")} AS total,
        CASE WHEN hash(i, {s + 13}) % 2000 = 0 THEN {_money_text("total_c + 100")}
             ELSE {_money_text(f"(total_c * (0.6 + 0.4 * {_uniform(s + 14)}))::BIGINT")} END AS eligible,
        CASE WHEN {_uniform(s + 15)} < 0.55 THEN 'registered_poor'
             WHEN {_uniform(s + 15)} < 0.70 THEN 'registered_poor;elderly'
             WHEN {_uniform(s + 15)} < 0.85 THEN 'near_poor'
             ELSE '' END AS categories
    FROM (SELECT i, {total_cents} AS total_c FROM range({n}) t(i))
    """


def write_claims(path: Path, n: int, *, seed: int = 7, connection: duckdb.DuckDBPyConnection | None = None) -> Path:
    """Write n synthetic claims to ``path`` (.csv or .parquet), all text columns."""
    own = connection is None
    con = connection or duckdb.connect()
    try:
        target = path.as_posix().replace("'", "''")
        options = "(FORMAT parquet, COMPRESSION zstd)" if path.suffix == ".parquet" else "(FORMAT csv, HEADER true)"
        con.execute(f"COPY ({claims_sql(n, seed)}) TO '{target}' {options}")
    finally:
        if own:
            con.close()
    return path
