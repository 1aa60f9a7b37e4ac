"""The batch engine: millions of claims settled set-based in DuckDB.

Same rules and same output as the real-time engine (``realtime.py``), without a loop over claims:
the payer cascade is a chain of SELECT levels generated from the policy (``batch_sql.py``). Layers
without yearly state are column expressions; a layer with yearly state (scope "year",
``cap_per_year``, ``max_per_year``) adds running sums over the member's benefit year in settlement
order, because each of its accumulators is the smaller of a running sum and a cap
(docs/settlement.md, "The arithmetic").

Steps (each a DuckDB statement; ``progress`` hears of each):
1. read and check: every row typed and checked in one parallel pass, kept in file order
   (``checked``; its rowid gives the line number), with the policy's per-claim decisions (fixed
   fee, allowed amount, which layers and variants apply, allowances) already computed;
2. duplicate claim ids: an aggregate on the id's hash, exact comparison on the few candidates;
3. errors file;
4. sort: the good rows' settlement columns, once, by (member, service date, claim id);
5. settle: the cascade over the sorted table in its storage order. Running sums within a member's
   year are table-wide running sums (streaming ``OVER ()`` windows, no partition sort) minus their
   value at the year's first claim; these windows make a pipeline sequential, so the sorted table
   is cut at member boundaries into one range per core, settled side by side on separate
   cursors, integers only;
6. write: trail strings (one constant-list lookup per layer) and money formatting, in parallel,
   the ranges read back in settlement order.

Files: CSV or Parquet in, CSV or Parquet out, chosen by extension. Bad rows (the same rows and
reasons as the real-time reader, checked in SQL by ``batch_input.py``) go to the errors file and
are not settled. DuckDB runs with a memory limit and a spill directory, so ten million claims fit
in a few GB.
"""

from __future__ import annotations

import csv
import os
import tempfile
import time
from array import array
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from equicover.settlement import claims_file as claims_contract
from equicover.settlement.batch_engine_input import (
    CHECKED_FIELDS,
    CLAIM_COLUMNS,
    bad_flag_sql,
    category_flags,
    checked_select,
    error_rows_sql,
)
from equicover.settlement.batch_engine_sql import (
    allowance_columns,
    benefit_year_sql,
    fixed_fee_apply_columns,
    fixed_fee_columns,
    layer_match_columns,
    layer_match_flags,
    layer_stages,
    policy_categories,
    quote_identifier,
    quote_literal,
    seed_columns,
    trail_columns,
    trail_sql,
)
from equicover.settlement.model import Claim, Policy
from equicover.settlement.realtime_engine import Accumulator, ClaimOutsidePolicyError

Progress = Callable[[str, int, int], None]

MEMORY_LIMIT = os.environ.get("EQUICOVER_BATCH_MEMORY_LIMIT", "3GB")


@dataclass(frozen=True)
class BatchReport:
    settled: int
    rejected: int
    seconds: float


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _run(connection: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    """Execute and fetch everything: a connection refuses new work while a result is pending."""
    return connection.execute(sql).fetchall()


def one_row(connection: duckdb.DuckDBPyConnection, sql: str, parameters: object = None) -> tuple[Any, ...]:
    """The row of a query that always returns one (an aggregate, or a lookup of a row known to exist)."""
    row = connection.execute(sql, parameters).fetchone()
    if row is None:
        raise LookupError(f"the query returned no row: {sql}")
    return row


def connect(spill_directory: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that spills to ``spill_directory`` instead of running out of memory."""
    return duckdb.connect(
        config={
            "memory_limit": MEMORY_LIMIT,
            "temp_directory": spill_directory,
            "threads": _cores(),
            "preserve_insertion_order": True,
        }
    )


# --------------------------------------------------------------------------------------------
# The settlement proper, over typed claims


def _prepared_sql(policy: Policy, typed: str, keep: tuple[str, ...]) -> str:
    """Fixed fee, allowed amount, layer matches and allowances over typed claims (see batch_sql)."""
    level1 = f"SELECT *, {fixed_fee_columns(policy)} FROM {typed}"
    apply = fixed_fee_apply_columns(policy)
    level2 = f"SELECT * EXCLUDE (fee), {apply} FROM ({level1})" if apply else level1
    columns = [
        *keep,
        "allowed",
        "provider_writeoff",
        "elig",
        "ff",
        *layer_match_columns(policy),
        *allowance_columns(policy),
    ]
    return f"SELECT {', '.join(columns)} FROM ({level2})"


SORTED_TABLE = "sorted_claims"
# the order a member's claims are settled in: by date, then claim id (claim ids are unique among good rows)
SETTLEMENT_ORDER = "member_id, service_date, claim_id"


def _sorted_columns(policy: Policy, *, seeded: bool = False, carry: Sequence[str] = ()) -> list[str]:
    """What the cascade reads of each claim, in the sorted table: settlement columns only (and ``carry``)."""
    columns = [
        "member_id",
        "byear",
        "claim_id",
        "allowed",
        "provider_writeoff",
        "elig",
        "ff",
        *(f"v{k}" if layer.kind != "oop_cap" else f"m{k}" for k, layer in enumerate(policy.layers)),
        *(f"al{k}" for k in range(len(policy.allowances))),
        *(seed_columns(policy) if seeded else ()),
    ]
    columns.extend(column for column in carry if column not in columns)
    return columns


def _create_sorted(
    connection: duckdb.DuckDBPyConnection,
    policy: Policy,
    prepared: str,
    *,
    seeded: bool = False,
    carry: Sequence[str] = (),
) -> None:
    """The one sort: :func:`_sorted_columns`, stored in settlement order."""
    columns = _sorted_columns(policy, seeded=seeded, carry=carry)
    _run(
        connection,
        f"CREATE OR REPLACE TABLE {SORTED_TABLE} AS SELECT {', '.join(columns)} FROM {prepared} "
        f"ORDER BY {SETTLEMENT_ORDER}",
    )


SETTLED_TABLE = "settled_claims"

# below this many claims per part the cascade runs as one pipeline; tests lower it
PARALLEL_SETTLE_MIN_ROWS = 250_000


def _member_boundary(connection: duckdb.DuckDBPyConnection, table: str, near: int, rows: int) -> int:
    """The first row at or after ``near`` of the sorted ``table`` where a new member starts."""
    (previous,) = one_row(connection, f"SELECT member_id FROM {table} WHERE rowid = ?", [near - 1])
    width = 4096
    while near < rows:
        (found,) = one_row(
            connection,
            f"SELECT min(rowid) FROM {table} WHERE rowid >= ? AND rowid < ? AND member_id <> ?",
            [near, near + width, previous],
        )
        if found is not None:
            return int(found)
        near += width
        width *= 4
    return rows


def _settle_in_parts(
    connection: duckdb.DuckDBPyConnection,
    policy: Policy,
    *,
    seeded: bool = False,
    movements: bool = False,
    carry: Sequence[str] = (),
    table: str = SORTED_TABLE,
    prepare: Callable[[str], str] | None = None,
) -> str:
    """The cascade over the sorted ``table``, as a relation in settlement order.

    Each streaming-window pipeline runs on one core, so the sorted table is cut at member
    boundaries into one range per core; every range is settled on its own cursor, at the same
    time, into its own table (a member's claims, and so all its running sums, stay in one range),
    and the ranges are read back in order (UNION ALL keeps it when insertion order is preserved).
    ``prepare``: what the cascade reads of a range of ``table`` (rows in the same order), when
    ``table`` holds other columns than :func:`_sorted_columns`.
    """
    ((rows,),) = _run(connection, f"SELECT count(*) FROM {table}")
    parts = max(1, min(_cores(), rows // PARALLEL_SETTLE_MIN_ROWS))
    cuts = [0]
    for part in range(1, parts):
        cut = _member_boundary(connection, table, max(cuts[-1] + 1, rows * part // parts), rows)
        if cut < rows:
            cuts.append(cut)
    cuts.append(rows)
    ranges = list(zip(cuts, cuts[1:]))

    def source(index: int) -> str:
        low, high = ranges[index]
        rows_of = table if len(ranges) == 1 else f"(SELECT * FROM {table} WHERE rowid >= {low} AND rowid < {high})"
        return rows_of if prepare is None else f"({prepare(rows_of)})"

    def settle_range(index: int, cursor: duckdb.DuckDBPyConnection) -> None:
        settled = _settled_sql(policy, source(index), seeded=seeded, movements=movements, carry=carry)
        _run(cursor, f"CREATE OR REPLACE TABLE {SETTLED_TABLE}_{index} AS {settled}")

    if len(ranges) == 1:
        settle_range(0, connection)
        return f"{SETTLED_TABLE}_0"

    def on_own_cursor(index: int) -> None:
        cursor = connection.cursor()
        try:
            settle_range(index, cursor)
        finally:
            cursor.close()

    with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
        for done in [pool.submit(on_own_cursor, i) for i in range(len(ranges))]:
            done.result()
    return "(" + " UNION ALL ".join(f"SELECT * FROM {SETTLED_TABLE}_{i}" for i in range(len(ranges))) + ")"


def movement_columns(policy: Policy) -> list[str]:
    """What each claim moved in the accumulators of layer k, as :func:`_settled_sql` gives them
    with ``movements``: ``m{k}`` (the layer applied: the real-time engine writes the layer's
    accumulator, moved or not), ``pay{k}`` (added to ``paid``), ``dp{k}`` (to ``position``: the
    remaining amount placed along a year-scope layer's bands) and ``ds{k}`` (to ``member_share``:
    what an oop_cap layer left to the member); with ``member_id`` and ``byear`` they key the
    accumulator."""
    columns = ["member_id", "byear"]
    for k in range(len(policy.layers)):
        columns.extend((f"m{k}", f"pay{k}", f"dp{k}", f"ds{k}"))
    return columns


def _movement_sql(policy: Policy) -> list[str]:
    columns = ["member_id", "byear"]
    for k, layer in enumerate(policy.layers):
        if layer.kind == "oop_cap":
            columns.append(f"0::BIGINT AS dp{k}")
            columns.append(f"(CASE WHEN m{k} THEN mn{k} - pay{k} ELSE 0 END)::BIGINT AS ds{k}")
        else:
            columns.append(f"r{k}::BIGINT AS dp{k}" if layer.scope == "year" else f"0::BIGINT AS dp{k}")
            columns.append(f"0::BIGINT AS ds{k}")
    return columns


def _settled_sql(
    policy: Policy,
    source: str = SORTED_TABLE,
    *,
    seeded: bool = False,
    movements: bool = False,
    carry: Sequence[str] = (),
) -> str:
    """The payer cascade over ``source`` (the sorted table or a range of its rows that starts at
    a member's first claim), in its order: integers only (payments in minor units, what the trail
    is made of). Its streaming windows make it one sequential pipeline, so everything that can
    wait (trail strings, money formatting) is left to ``_output_select``.

    ``seeded``: ``source`` carries :func:`~equicover.settlement.batch_engine_sql.seed_columns` (the
    members' stored accumulators). ``movements``: the columns of :func:`movement_columns` are
    kept too."""
    flags = layer_match_flags(policy)
    query = f"SELECT *{', ' + ', '.join(flags) if flags else ''} FROM {source}"
    for stage in layer_stages(policy, seeded=seeded):
        query = f"SELECT *, {', '.join(stage.columns)} FROM ({query})"
    total_paid = " + ".join(f"pay{k}" for k in range(len(policy.layers))) or "0"
    columns = [
        "claim_id",
        "allowed",
        "provider_writeoff",
        *(f"pay{k}" for k in range(len(policy.layers))),
        f"(allowed - ({total_paid}))::BIGINT AS member_oop",
        *(f"al{k}" for k in range(len(policy.allowances))),
        *trail_columns(policy),
        *(_movement_sql(policy) if movements else ()),
        *carry,
    ]
    return f"SELECT {', '.join(columns)} FROM ({query})"


def output_column_names(policy: Policy) -> list[str]:
    return list(claims_contract.output_columns(policy))


def _as_decimal(value: str, minor_digits: int) -> str:
    """Minor units -> DECIMAL(38, minor_digits), exactly (a decimal product adds the scales)."""
    if minor_digits == 0:
        return f"CAST({value} AS DECIMAL(38, 0))"
    unit = "0." + "0" * (minor_digits - 1) + "1"
    return f"CAST(CAST({value} AS DECIMAL(38, 0)) * {unit} AS DECIMAL(38, {minor_digits}))"


def _output_select(policy: Policy, settled: str, *, as_decimal: bool = True, extra: Sequence[str] = ()) -> str:
    """Output columns (docs/settlement.md, "What comes out") from the cascade's integers, in the cascade's order (no
    ORDER BY: a table or the sequential pipeline keeps it). Money as DECIMAL(38, minor digits)
    for files, BIGINT minor units for ``settle_records``; ``extra`` columns of ``settled`` follow."""
    sources = {
        "claim_id": "claim_id",
        "allowed": "allowed",
        "provider_writeoff": "provider_writeoff",
        "member_oop": "member_oop",
        "trail": trail_sql(policy),
    }
    sources.update({f"paid_{layer.id}": f"pay{k}" for k, layer in enumerate(policy.layers)})
    sources.update({f"allowance_{a.id}": f"al{k}" for k, a in enumerate(policy.allowances)})
    columns = []
    for name in output_column_names(policy):
        value = sources[name]
        if as_decimal and name not in ("claim_id", "trail"):
            value = _as_decimal(value, policy.minor_digits)
        columns.append(f"{value} AS {quote_identifier(name)}")
    columns.extend(extra)
    return f"SELECT {', '.join(columns)} FROM {settled}"


def output_select(policy: Policy, settled: str) -> str:
    """The output columns (docs/settlement.md, "What comes out") of a relation that
    :func:`settle_checked` returned, money as BIGINT minor units, in settlement order."""
    return _output_select(policy, settled, as_decimal=False)


def seed_table(policy: Policy, accumulators: Mapping[tuple[str, str, int], Accumulator]) -> pa.Table:
    """Stored accumulators as seeds: one row per (member_id, byear) with the columns of
    ``batch_sql.seed_columns`` (0 for a layer without one). Layers the policy does not have are
    left out: the engine never reads them."""
    index = {layer.id: k for k, layer in enumerate(policy.layers)}
    width = len(policy.layers)
    rows: dict[tuple[str, int], list[int]] = {}
    for (member_id, layer_id, year), value in accumulators.items():
        k = index.get(layer_id)
        if k is None:
            continue
        row = rows.setdefault((member_id, int(year)), [0] * (3 * width))
        row[3 * k : 3 * k + 3] = [value.position, value.paid, value.member_share]
    keys = list(rows)
    columns: dict[str, pa.Array[Any]] = {
        "member_id": pa.array([member for member, _ in keys], pa.string()),
        "byear": pa.array([year for _, year in keys], pa.int64()),
    }
    for j, name in enumerate(seed_columns(policy)):
        columns[name] = pa.array([rows[key][j] for key in keys], pa.int64())
    return pa.table(columns)


def seeded_relation(policy: Policy, relation: str, seeds: str) -> str:
    """``relation`` (claims with ``member_id`` and ``byear``) with the seed columns of ``seeds``
    (a relation shaped as :func:`seed_table`'s), 0 where the member has none for the year."""
    columns = ", ".join(f"coalesce(s.{name}, 0)::BIGINT AS {name}" for name in seed_columns(policy))
    return (
        f"(SELECT r.*, {columns} FROM {relation} r "
        f"LEFT JOIN {seeds} s ON s.member_id = r.member_id AND s.byear = r.byear)"
    )


# --------------------------------------------------------------------------------------------
# Files

ClaimFileError = claims_contract.ClaimFileError


def _path_literal(path: Path) -> str:
    return quote_literal(Path(path).as_posix())


def _is_parquet(path: Path) -> bool:
    return Path(path).suffix.lower() == ".parquet"


def _csv_header(path: Path) -> list[str]:
    """The header row as the real-time reader sees it (BOM dropped, names trimmed)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except OSError as error:
        raise ClaimFileError(path, f"cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ClaimFileError(path, "not UTF-8 text") from None
    except csv.Error as error:
        raise ClaimFileError(path, f"not a readable CSV file: {error}") from None
    if header is None:
        raise ClaimFileError(path, "the file is empty: expected a header row")
    return [name.strip(claims_contract.TRIMMED_CHARACTERS) for name in header]


def _missing(path: Path, header: list[str]) -> None:
    missing = [column for column in CLAIM_COLUMNS if column not in header]
    if missing:
        raise claims_contract.missing_columns_error(path, missing)


def _source_sql(
    connection: duckdb.DuckDBPyConnection, path: Path, *, tolerant: bool = False, optional: Sequence[str] = ()
) -> str:
    """A text-only relation with the columns of docs/settlement.md, "A claim", in file row order.

    CSV: every column VARCHAR, no sniffing; the first column of a repeated name wins, as in the
    real-time reader. ``tolerant`` reads ragged rows (short rows padded with empty values, extra
    fields dropped) single-threaded; the fast parallel read refuses them. ``optional`` names
    further columns kept as text when the file has them (the settlement never reads them).
    """
    if _is_parquet(path):
        try:
            described = connection.execute(f"DESCRIBE SELECT * FROM read_parquet({_path_literal(path)})").fetchall()
        except duckdb.Error as error:
            raise ClaimFileError(path, f"not a readable Parquet file: {error}") from None
        types = {name: kind for name, kind, *_ in described}
        _missing(path, list(types))
        columns = []
        for c in CLAIM_COLUMNS:
            if types[c].endswith("[]"):  # categories as a list column
                columns.append(f"array_to_string({quote_identifier(c)}, ';') AS {c}")
            else:
                columns.append(f"CAST({quote_identifier(c)} AS VARCHAR) AS {c}")
        columns.extend(f"CAST({quote_identifier(c)} AS VARCHAR) AS {c}" for c in optional if c in types)
        return f"(SELECT {', '.join(columns)} FROM read_parquet({_path_literal(path)}))"
    header = _csv_header(path)
    _missing(path, header)
    spec = ", ".join(f"'f{i}': 'VARCHAR'" for i in range(len(header)))
    select = ", ".join(f"f{header.index(c)} AS {c}" for c in (*CLAIM_COLUMNS, *(c for c in optional if c in header)))
    options = "null_padding = true, strict_mode = false, parallel = false" if tolerant else "strict_mode = true"
    return (
        f"(SELECT {select} FROM read_csv({_path_literal(path)}, header = true, delim = ',', "
        f"quote = '\"', escape = '\"', auto_detect = false, columns = {{{spec}}}, {options}))"
    )


def _rows_are_lines(path: Path, rows: int) -> bool:
    """True when data row i is on file line i + 2: no blank lines, no quoted line breaks."""
    newlines, last = 0, b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
        physical = newlines + (0 if last == b"\n" else 1)
    return physical == rows + 1


def _line_table(connection: duckdb.DuckDBPyConnection, path: Path) -> str:
    """(rid, line) for every data row: the line a row starts on, as csv.reader counts.

    Only used for a CSV file with blank lines or quoted line breaks that has rejected rows; a
    sequential pass, because where a row starts depends on every quote before it.
    """
    starts = array("q")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        last_line = reader.line_num
        for fields in reader:
            if fields:
                starts.append(last_line + 1)
            last_line = reader.line_num
    table = pa.table({"rid": pa.array(range(len(starts)), pa.int64()), "line": pa.array(starts, pa.int64())})
    connection.register("line_of_arrow", table)
    return "line_of_arrow"


def _copy_options(path: Path) -> str:
    if _is_parquet(path):
        return "(FORMAT parquet, COMPRESSION zstd)"
    return "(FORMAT csv, HEADER true)"


def _create_checked(
    connection: duckdb.DuckDBPyConnection, policy: Policy, path: Path, keep_extra: tuple[str, ...] = ()
) -> None:
    keep = ("claim_id", "member_id", "service_date", "byear") + tuple(f"r_{f}" for f in CHECKED_FIELDS) + keep_extra

    def create(source: str) -> None:
        checked = checked_select(policy, source)
        _run(
            connection,
            f"CREATE OR REPLACE TEMP TABLE checked AS SELECT *, {bad_flag_sql()} AS bad "
            f"FROM ({_prepared_sql(policy, f'({checked})', keep)})",
        )

    try:
        create(_source_sql(connection, path))
    except duckdb.InvalidInputException as error:
        if _is_parquet(path):
            raise ClaimFileError(path, f"not a readable Parquet file: {error}") from None
        try:
            create(_source_sql(connection, path, tolerant=True))
        except duckdb.Error as second:
            raise ClaimFileError(path, f"not a readable CSV file: {str(second).splitlines()[0]}") from None


def claims_source_sql(
    connection: duckdb.DuckDBPyConnection,
    claims_path: str | Path,
    *,
    tolerant: bool = False,
    optional: Sequence[str] = (),
) -> str:
    """The text relation :func:`check_claims_relation` checks: the claim columns of a CSV or
    Parquet file (and the ``optional`` ones it has), in file row order. A CSV file with ragged rows
    fails with ``duckdb.InvalidInputException`` unless ``tolerant``. Raises ``ClaimFileError`` for
    a file without the claim columns."""
    return _source_sql(connection, Path(claims_path), tolerant=tolerant, optional=optional)


def reads_claims_alike(first: Policy, second: Policy) -> bool:
    """The two policies accept, refuse and type every claim row the same way (same minor digits,
    period, provider levels, care types and benefit year): what ``checked_select`` computes for
    one is good for the other but for the category flags."""
    return (
        first.minor_digits == second.minor_digits
        and first.effective_from == second.effective_from
        and first.effective_to == second.effective_to
        and set(first.provider_levels) == set(second.provider_levels)
        and set(first.care_types) == set(second.care_types)
        and first.year_start == second.year_start
    )


def typed_for(typed_as: Policy, policy: Policy, typed: str) -> str:
    """``typed`` (``checked_select(typed_as, ...)`` of the claims, or rows of it) as
    ``checked_select(policy, ...)`` gives it, for a policy that :func:`reads_claims_alike`
    ``typed_as``: only the category flags can differ."""
    if not reads_claims_alike(typed_as, policy):
        raise ValueError(f"policy {policy.id} does not read claims as {typed_as.id} does")
    if policy_categories(typed_as) == policy_categories(policy):
        return f"SELECT * FROM {typed}"
    flags = "".join(", " + flag for flag in category_flags(policy, "categories_text"))
    dropped = ", ".join(f"cat{j}" for j in range(len(policy_categories(typed_as))))
    return f"SELECT *{f' EXCLUDE ({dropped})' if dropped else ''}{flags} FROM {typed}"


def check_claims_relation(
    connection: duckdb.DuckDBPyConnection,
    policy: Policy,
    source: str,
    *,
    keep: tuple[str, ...] = (),
) -> tuple[int, int]:
    """:func:`check_claims_file` over a relation of text claim columns already read (a table made
    from :func:`claims_source_sql`, read once and checked under several policies); its row order
    gives the line numbers."""
    keep = ("claim_id", "member_id", "service_date", "byear") + tuple(f"r_{f}" for f in CHECKED_FIELDS) + keep
    checked = checked_select(policy, source)
    _run(
        connection,
        f"CREATE OR REPLACE TEMP TABLE checked AS SELECT *, {bad_flag_sql()} AS bad "
        f"FROM ({_prepared_sql(policy, f'({checked})', keep)})",
    )
    return _check_duplicates(connection)


def check_typed(connection: duckdb.DuckDBPyConnection, policy: Policy, source: str) -> tuple[int, int]:
    """:func:`check_claims_relation` without any per-claim decision: ``checked`` holds every
    column of ``checked_select(policy, source)`` and ``bad``, for policies that read claims alike
    to decide from (:func:`typed_for`, :func:`settle_in_order`). Returns (rows, rejected rows)."""
    _run(
        connection,
        f"CREATE OR REPLACE TEMP TABLE checked AS SELECT *, {bad_flag_sql()} AS bad "
        f"FROM ({checked_select(policy, source)})",
    )
    return _check_duplicates(connection)


# The columns of the checked table that only the checks read.
CHECK_ONLY_COLUMNS = ("bad", *(f"r_{f}" for f in CHECKED_FIELDS))


# The rows of the checked table that are settled: no field refused, not a repeated claim id.
GOOD_ROWS = "(SELECT * FROM checked c WHERE NOT c.bad AND c.rowid NOT IN (SELECT rid FROM duplicates))"


def check_claims_file(
    connection: duckdb.DuckDBPyConnection, policy: Policy, claims_path: str | Path, *, keep: tuple[str, ...] = ()
) -> tuple[int, int]:
    """Steps 1 and 2 of :func:`settle_file` on ``connection`` (see :func:`connect`): the temp
    tables ``checked`` (every row of the file in file order, typed, with its reasons, ``bad``
    and the policy's per-claim decisions; ``keep`` names further columns of
    ``batch_input.checked_select`` to keep, e.g. ``provider_id``) and ``duplicates``. Returns
    (rows, rejected rows); :data:`GOOD_ROWS` are the others."""
    _create_checked(connection, policy, Path(claims_path), keep)
    return _check_duplicates(connection)


def _check_duplicates(connection: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """The ``duplicates`` table over ``checked``; (rows, rejected rows)."""
    _run(
        connection,
        """
        CREATE OR REPLACE TEMP TABLE duplicates AS
        WITH repeated AS (
            SELECT hash(claim_id) AS h FROM checked WHERE claim_id <> ''
            GROUP BY h HAVING count(*) > 1
        )
        SELECT rid, first_rid FROM (
            SELECT rowid AS rid, min(rowid) OVER (PARTITION BY claim_id) AS first_rid
            FROM checked WHERE claim_id <> '' AND hash(claim_id) IN (SELECT h FROM repeated)
        ) WHERE rid > first_rid
        """,
    )
    ((rows, rejected),) = connection.execute(
        "SELECT count(*), count(*) FILTER (WHERE c.bad OR c.rowid IN (SELECT rid FROM duplicates)) FROM checked c"
    ).fetchall()
    return int(rows), int(rejected)


def rejected_rows_sql(connection: duckdb.DuckDBPyConnection, claims_path: str | Path, rows: int) -> str:
    """After :func:`check_claims_file`: the error rows (``line, claim_id, field, reason``) of
    the rejected rows, in line order, lines counted as the real-time reader counts them."""
    claims_path = Path(claims_path)
    line_of = None
    if not _is_parquet(claims_path) and not _rows_are_lines(claims_path, rows):
        line_of = _line_table(connection, claims_path)
    return error_rows_sql("checked", "duplicates", line_of)


def settle_checked(
    connection: duckdb.DuckDBPyConnection,
    policy: Policy,
    source: str = GOOD_ROWS,
    *,
    seeded: bool = False,
    movements: bool = False,
    carry: Sequence[str] = (),
) -> str:
    """Steps 4 and 5 of :func:`settle_file`: sort ``source`` (rows of the checked table, or a
    relation with the same columns; with ``seeded``, also ``batch_sql.seed_columns``) and settle
    it; returns the settled relation in settlement order: ``claim_id``, ``allowed``,
    ``provider_writeoff``, ``pay{k}``, ``member_oop``, ``al{k}``, the trail's columns
    (``batch_sql.trail_sql`` makes the text), with ``movements`` :func:`movement_columns`, and
    the ``carry`` columns of ``source`` (not read by the settlement), in that order."""
    _create_sorted(connection, policy, source, seeded=seeded, carry=carry)
    return _settle_in_parts(connection, policy, seeded=seeded, movements=movements, carry=carry)


def settle_in_order(
    connection: duckdb.DuckDBPyConnection,
    policy: Policy,
    typed: str,
    *,
    carry: Sequence[str] = (),
    flags: Callable[[str], str] | None = None,
) -> str:
    """:func:`settle_checked` for good rows already stored in settlement order (see
    :data:`SETTLEMENT_ORDER`) in the table ``typed``, with the columns of
    ``batch_input.checked_select``: this policy's per-claim decisions are computed as each range
    of rows streams into the cascade, with neither a sort nor a copy. Several policies that read
    claims alike settle one sorted table this way; ``flags`` gives a range of rows this policy's
    category flags when they are not the table's (:func:`typed_for`)."""
    keep = tuple(dict.fromkeys(("member_id", "byear", "claim_id", *carry)))
    columns = ", ".join(_sorted_columns(policy, carry=carry))

    def prepare(rows: str) -> str:
        flagged = rows if flags is None else f"({flags(rows)})"
        return f"SELECT {columns} FROM ({_prepared_sql(policy, flagged, keep)})"

    return _settle_in_parts(connection, policy, carry=carry, table=typed, prepare=prepare)


def settle_file(
    policy: Policy,
    claims_path: str | Path,
    out_path: str | Path,
    *,
    errors_path: str | Path | None = None,
    progress: Progress | None = None,
) -> BatchReport:
    """Settle every good row of a claims file into ``out_path``; bad rows go to ``errors_path``.

    The errors file (columns ``line, claim_id, field, reason``) is written when ``errors_path``
    is given and some row was rejected.
    """
    started = time.perf_counter()
    claims_path, out_path = Path(claims_path), Path(out_path)
    steps = ("read and check", "duplicate claim ids", "errors", "sort", "settle", "write")

    def report(done: int) -> None:
        if progress is not None:
            progress(steps[done] if done < len(steps) else "done", done, len(steps))

    with tempfile.TemporaryDirectory(prefix="equicover-batch-") as spill:
        connection = connect(spill)
        try:
            report(0)
            _create_checked(connection, policy, claims_path)
            report(1)
            rows, rejected = _check_duplicates(connection)
            report(2)
            if errors_path is not None and rejected:
                errors = rejected_rows_sql(connection, claims_path, rows)
                _run(
                    connection,
                    f"COPY (SELECT line, nullif(claim_id, '') AS claim_id, field, reason FROM ({errors})) "
                    f"TO {_path_literal(Path(errors_path))} (FORMAT csv, HEADER true)",
                )
            report(3)
            _create_sorted(connection, policy, GOOD_ROWS)
            _run(connection, "DROP TABLE checked")  # memory for the next steps, not spill
            report(4)
            # the cascade is sequential (streaming windows) within a member range, the ranges
            # run side by side; the output formatting and writing then run on every core, the
            # tables keeping the settlement order
            settled_relation = _settle_in_parts(connection, policy)
            _run(connection, f"DROP TABLE {SORTED_TABLE}")
            report(5)
            output = _output_select(policy, settled_relation)
            written = _run(connection, f"COPY ({output}) TO {_path_literal(out_path)} {_copy_options(out_path)}")
            settled = int(written[0][0]) if written else 0
            report(6)
        finally:
            connection.close()
    return BatchReport(settled=settled, rejected=int(rejected), seconds=time.perf_counter() - started)


# --------------------------------------------------------------------------------------------
# In memory, for tests and small batches


def _claims_table(policy: Policy, claims: list[Claim]) -> pa.Table:
    return pa.table(
        {
            "claim_id": pa.array([c.claim_id for c in claims], pa.string()),
            "member_id": pa.array([c.member_id for c in claims], pa.string()),
            "service_date": pa.array([c.service_date for c in claims], pa.date32()),
            "provider_level": pa.array([c.provider_level for c in claims], pa.string()),
            "designated": pa.array([c.designated for c in claims], pa.bool_()),
            "in_area": pa.array([c.in_area for c in claims], pa.bool_()),
            "referred": pa.array([c.referred for c in claims], pa.bool_()),
            "care_type": pa.array([c.care_type for c in claims], pa.string()),
            "diagnosis": pa.array([c.diagnosis.strip().upper() for c in claims], pa.string()),
            "days": pa.array([c.days for c in claims], pa.int64()),
            "total": pa.array([c.total for c in claims], pa.int64()),
            "eligible": pa.array([c.eligible for c in claims], pa.int64()),
            "categories": pa.array([sorted(c.categories) for c in claims], pa.list_(pa.string())),
        }
    )


def settle_records(
    policy: Policy,
    claims: list[Claim],
    *,
    accumulators: Mapping[tuple[str, str, int], Accumulator] | None = None,
    movements: bool = False,
) -> list[dict[str, Any]]:
    """Settle typed claims in memory; the same dicts as ``claims.settlement_record``.

    ``accumulators``: the members' stored accumulators by (member, layer id, benefit year), as
    an ``InMemoryAccumulatorStore`` would hold them before these claims (default: none).
    ``movements``: each record also carries ``"movements"``, {layer id: Accumulator of what the
    claim added} for every layer that applied (the layers whose accumulator the real-time engine
    writes)."""
    for claim in claims:
        if not policy.covers(claim.service_date):
            raise ClaimOutsidePolicyError(claim.claim_id, policy.id)
    seeded = accumulators is not None
    with tempfile.TemporaryDirectory(prefix="equicover-batch-") as spill:
        connection = connect(spill)
        try:
            connection.register("claims_arrow", _claims_table(policy, claims))
            categories = "".join(
                f", list_contains(categories, {quote_literal(name)}) AS cat{j}"
                for j, name in enumerate(policy_categories(policy))
            )
            typed = f"(SELECT *, {benefit_year_sql(policy)} AS byear{categories} FROM claims_arrow)"
            keep = ("claim_id", "member_id", "service_date", "byear")
            prepared = f"({_prepared_sql(policy, typed, keep)})"
            if seeded:
                connection.register("seeds_arrow", seed_table(policy, accumulators or {}))
                prepared = seeded_relation(policy, prepared, "seeds_arrow")
            _create_sorted(connection, policy, prepared, seeded=seeded)
            names = output_column_names(policy)
            settled = f"({_settled_sql(policy, seeded=seeded, movements=movements)})"
            extra = movement_columns(policy)[2:] if movements else []
            cursor = connection.execute(_output_select(policy, settled, as_decimal=False, extra=extra))
            rows = cursor.fetchall()
        finally:
            connection.close()
    records = [dict(zip(names, row)) for row in rows]
    if movements:
        width = len(names)
        for record, row in zip(records, rows):
            moved = row[width:]
            record["movements"] = {
                layer.id: Accumulator(moved[4 * k + 2], moved[4 * k + 1], moved[4 * k + 3])
                for k, layer in enumerate(policy.layers)
                if moved[4 * k]
            }
    return records
