"""Re-settle one year of claims under several policies and compare what each payer, the members and
the households would bear.

The claims are read once into DuckDB and settled under each policy with the batch engine
(``settlement.batch_engine``: the same checks, the same cascade, so every figure equals settling
that policy alone), one policy after the other on the same connection, each pass using every core.
Policies that read claims alike (the usual what-if) share one typing, one check and one sort: each
decides and settles the sorted good rows as they stream. What is kept per claim is integers (the
settled ranges, renamed, not copied) with the household, district and categories the settlement
carries; the figures come from two small aggregates per policy; every total is an exact sum of
minor units.

Figures per policy (docs/simulation.md):
- what each layer's payer pays, each allowance, the members' out-of-pocket (OOP), the write-offs;
- the inpatient stays of the poor (members holding ``poor_category``) whose OOP is above the
  target share of the bill (10% by default) and above the policy's own ceiling (its first
  ``oop_cap`` layer's ``max_share``);
- catastrophic spending, SDG 3.8.2: households with a settled claim whose yearly OOP is above 10%
  and 25% of their yearly consumption (where consumption comes from: ``consumption.py``);
- the same money and households by category (a member counts under each of its categories, a
  household under each category of its claimants) and by district;
- the claims whose outcome changes most against the first policy.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from equicover.errors import EquicoverError
from equicover.money import RATIO_SCALE
from equicover.settlement import batch_engine as batch
from equicover.settlement.batch_engine_input import error_rows_sql
from equicover.settlement.batch_engine_sql import policy_categories, quote_literal, trail_sql
from equicover.settlement.model import Policy
from equicover.simulation.consumption import ConsumptionAssumptions

# Columns a claims file may carry beside the contract's, for the catastrophic-spending figures.
OPTIONAL_COLUMNS = ("household_id", "household_size", "household_consumption", "district")
NO_CATEGORY = "(none)"
NO_DISTRICT = "(not given)"
DEFAULT_TARGET_SHARE = Fraction(1, 10)
CATASTROPHIC_THRESHOLDS = (10, 25)  # percent of household consumption (SDG 3.8.2)


class SimulationError(EquicoverError):
    """A simulation that cannot be run: no claims, policies in different currencies, a bad column."""

    status = 422
    code = "simulation_refused"


@dataclass(frozen=True, slots=True)
class GroupFigures:
    claims: int = 0
    allowed: int = 0
    paid: int = 0  # by every payer: allowed - member OOP
    member_oop: int = 0
    households: int = 0
    catastrophic_10: int = 0
    catastrophic_25: int = 0
    measured: int = 0  # households whose consumption is known: the denominator of the catastrophic shares

    @property
    def left_out(self) -> int:
        """Households with a settled claim but no consumption: left out of the catastrophic shares."""
        return self.households - self.measured


@dataclass(frozen=True, slots=True)
class GroupRow:
    key: str
    figures: tuple[GroupFigures, ...]  # one per policy


@dataclass(frozen=True, slots=True)
class ChangedClaim:
    claim_id: str
    member_id: str
    care_type: str
    allowed: tuple[int, ...]
    paid: tuple[dict[str, int], ...]  # layer id -> payment, per policy
    member_oop: tuple[int, ...]
    trail: tuple[str, ...]


@dataclass(slots=True)
class PolicyFigures:
    settled: int
    rejected: int
    allowed: int
    provider_writeoff: int
    paid: dict[str, int]  # layer id -> amount
    allowances: dict[str, int]
    member_oop: int
    poor_inpatient_stays: int
    above_target: int
    ceiling: int | None  # scaled by RATIO_SCALE; None: the policy has no oop_cap layer
    above_ceiling: int | None
    households: int
    catastrophic_10: int | None  # None: no household consumption known
    catastrophic_25: int | None
    measured: int | None = None  # households whose consumption is known (None: none is)
    records: list[dict[str, Any]] | None = None

    @property
    def paid_total(self) -> int:
        return sum(self.paid.values())

    @property
    def left_out(self) -> int | None:
        """Households with a settled claim but no consumption: left out of the catastrophic shares."""
        return None if self.measured is None else self.households - self.measured


@dataclass(slots=True)
class SimulationResult:
    policies: list[Policy]
    figures: list[PolicyFigures]
    by_category: list[GroupRow]
    by_district: list[GroupRow]
    changed: list[ChangedClaim]
    settled_by_all: int
    consumption_note: str
    poor_category: str
    target_share: Fraction
    layers: list[tuple[str, str]] = field(default_factory=list)  # (layer id, payer), every policy's, in order

    @property
    def currency(self) -> str:
        return self.policies[0].currency

    @property
    def minor_digits(self) -> int:
        return self.policies[0].minor_digits


def _run(connection: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return connection.execute(sql).fetchall()


def _policy_ceiling(policy: Policy) -> int | None:
    """The policy's own OOP ceiling: the share its first oop_cap layer leaves the member at most."""
    return next((layer.max_share for layer in policy.layers if layer.kind == "oop_cap"), None)


def _categories_sql(column: str) -> str:
    parts = f"string_split(coalesce(CAST({column} AS VARCHAR), ''), ';')"
    return f"list_distinct(list_filter(list_transform({parts}, lambda x: trim(x)), lambda x: x <> ''))"


def _read_claims(connection: duckdb.DuckDBPyConnection, claims: Path | pa.Table) -> tuple[set[str], str]:
    """``raw_claims``: every row of the claims as text, in file order; returns its optional
    columns and a name of the claims for messages."""
    if isinstance(claims, pa.Table):
        connection.register("stored_claims_arrow", claims)
        _run(connection, "CREATE OR REPLACE TABLE raw_claims AS SELECT * FROM stored_claims_arrow")
        connection.unregister("stored_claims_arrow")
        record = "the stored claims"
    else:
        record = str(claims)
        try:
            source = batch.claims_source_sql(connection, claims, optional=OPTIONAL_COLUMNS)
            _run(connection, f"CREATE OR REPLACE TABLE raw_claims AS SELECT * FROM {source}")
        except duckdb.InvalidInputException:
            try:
                source = batch.claims_source_sql(connection, claims, tolerant=True, optional=OPTIONAL_COLUMNS)
                _run(connection, f"CREATE OR REPLACE TABLE raw_claims AS SELECT * FROM {source}")
            except duckdb.Error as error:
                raise batch.ClaimFileError(claims, f"not a readable CSV file: {str(error).splitlines()[0]}") from None
        except duckdb.Error as error:
            raise batch.ClaimFileError(claims, f"not a readable file: {str(error).splitlines()[0]}") from None
    names = {row[0] for row in _run(connection, "DESCRIBE raw_claims")}
    return names & set(OPTIONAL_COLUMNS), record


def _create_facts(
    connection: duckdb.DuckDBPyConnection,
    optional: set[str],
    record: str,
    consumption: ConsumptionAssumptions | None,
    minor_digits: int,
) -> str:
    """The claims' facts every policy shares, each computed once:

    - ``category_sets``: each distinct categories text, its key and its categories (a handful of
      rows: the per-claim work is one join on the text);
    - ``claim_facts``: per row of the claims (``rid``), its household, district and category key;
    - ``household_categories``: each household with each category one of its claimants holds;
    - ``households``: per household, its district and yearly consumption (minor units, or NULL).

    Returns how consumption was obtained, in words."""

    def text(column: str) -> str:
        return f"nullif(trim(CAST(r.{column} AS VARCHAR)), '')" if column in optional else "NULL"

    categories_text = "coalesce(CAST(r.categories AS VARCHAR), '')"
    _run(
        connection,
        f"""CREATE OR REPLACE TABLE category_sets AS
        SELECT (row_number() OVER ())::INTEGER - 1 AS cat_key, text, {_categories_sql("text")} AS cats
        FROM (SELECT DISTINCT {categories_text} AS text FROM raw_claims r)""",
    )
    if "household_id" in optional:
        household = f"coalesce({text('household_id')}, 'member ' || trim(CAST(r.member_id AS VARCHAR)))"
    else:
        household = "trim(CAST(r.member_id AS VARCHAR))"
    given = "NULL::BIGINT"
    if "household_consumption" in optional:
        scale = 10**minor_digits
        given = (
            f"try_cast(try_cast({text('household_consumption')} AS DECIMAL(38, {minor_digits})) * {scale} AS BIGINT)"
        )
    district = f"coalesce({text('district')}, {quote_literal(NO_DISTRICT)})"
    _run(
        connection,
        f"""CREATE OR REPLACE TABLE claim_facts AS
        SELECT r.rowid AS rid, {household} AS hh, trim(CAST(r.member_id AS VARCHAR)) AS member, {district} AS district,
               try_cast({text("household_size")} AS BIGINT) AS hh_size, {text("household_size")} AS size_text,
               {given} AS consumption_given, {text("household_consumption")} AS consumption_text, c.cat_key
        FROM raw_claims r JOIN category_sets c ON c.text = {categories_text}""",
    )
    for column, bad in (
        ("household_size", "size_text IS NOT NULL AND (hh_size IS NULL OR hh_size < 1)"),
        (
            "household_consumption",
            "consumption_text IS NOT NULL AND (consumption_given IS NULL OR consumption_given < 0)",
        ),
    ):
        ((first,),) = _run(connection, f"SELECT min(rid) FROM claim_facts WHERE {bad}")
        if first is not None:
            reason = (
                "not a whole number >= 1"
                if column == "household_size"
                else f"not an amount >= 0 with at most {minor_digits} decimal places"
            )
            raise SimulationError(f"{record}, line {int(first) + 2}: {column}: {reason}")
    _run(
        connection,
        """CREATE OR REPLACE TABLE household_categories AS
        SELECT DISTINCT h.hh, unnest(c.cats) AS category
        FROM (SELECT DISTINCT hh, cat_key FROM claim_facts) h JOIN category_sets c USING (cat_key)""",
    )
    if "household_consumption" in optional:
        amount = "h.given"
        note = "household consumption from the claims' household_consumption column (yearly, per household)"
    elif consumption is not None:
        ranked = [row for row in consumption.per_person if row.category is not None]
        cases = " ".join(f"WHEN {rank} THEN {row.amount}" for rank, row in enumerate(ranked))
        per_person = f"CASE p.first_rank {cases} ELSE {consumption.default} END" if cases else str(consumption.default)
        if ranked:
            values = ", ".join(f"({quote_literal(row.category or '')}, {rank})" for rank, row in enumerate(ranked))
            _run(
                connection,
                f"""CREATE OR REPLACE TABLE household_rank AS
                SELECT hc.hh, min(r.rank) AS first_rank
                FROM household_categories hc JOIN (VALUES {values}) r(category, rank) USING (category)
                GROUP BY hc.hh""",
            )
        else:
            _run(connection, "CREATE OR REPLACE TABLE household_rank AS SELECT NULL::VARCHAR AS hh, 0 AS first_rank")
        amount = f"h.size * ({per_person})"
        who = (
            "household size from the household_size column (for stored claims: the registry's count of its persons)"
            if "household_size" in optional
            else "household size: its members with claims (household_id column, no household_size column)"
            if "household_id" in optional
            else "each member counted as a one-person household (no household_id column)"
        )
        note = (
            f"ASSUMPTION: household consumption = yearly consumption per person by category from {consumption.path} "
            f"({consumption.id}, {consumption.year}; first category any claimant of the household holds) "
            f"x household size; {who}"
        )
    else:
        amount = "NULL::BIGINT"
        note = (
            "not computed: no household consumption (give --consumption FILE, or a household_consumption column "
            "in the claims file)"
        )
    ranks = (
        "LEFT JOIN household_rank p USING (hh)"
        if consumption is not None and "household_consumption" not in optional
        else ""
    )
    _run(
        connection,
        f"""CREATE OR REPLACE TABLE households AS
        SELECT h.hh, h.district, ({amount})::BIGINT AS consumption FROM (
            SELECT hh, min(district) AS district, coalesce(max(hh_size), count(DISTINCT member)) AS size,
                   max(consumption_given) AS given
            FROM claim_facts GROUP BY hh
        ) h {ranks}""",
    )
    return note


def _sim_table(index: int) -> str:
    return f"simulated_{index}"


# The good rows of the checked table with their row number in the claims and the facts the
# figures group by, which the settlement carries: the figures then read each policy's settled
# claims alone, without joining them to the facts again.
_GOOD_ROWS_WITH_FACTS = """(SELECT c.*, f.rid, f.hh, f.district, f.cat_key
    FROM checked c JOIN claim_facts f ON f.rid = c.rowid
    WHERE NOT c.bad AND c.rowid NOT IN (SELECT rid FROM duplicates))"""
_CARRIED = ("rid", "member_id", "care_type", "hh", "district", "cat_key")
_TYPED_SORTED = "typed_sorted"


def _write_rejected(
    connection: duckdb.DuckDBPyConnection,
    policy: Policy,
    index: int,
    claims: Path | pa.Table,
    errors_dir: Path,
    rows: int,
) -> None:
    """The rejected rows of the ``checked`` table as ``rejected-<policy id>-<n>.csv``."""
    errors = (
        batch.rejected_rows_sql(connection, claims, rows)
        if isinstance(claims, Path)
        else error_rows_sql("checked", "duplicates")
    )
    target = errors_dir / f"rejected-{policy.id}-{index + 1}.csv"
    _run(
        connection,
        f"COPY (SELECT line, nullif(claim_id, '') AS claim_id, field, reason FROM ({errors})) "
        f"TO {quote_literal(target.as_posix())} (FORMAT csv, HEADER true)",
    )


def _keep_settled(connection: duckdb.DuckDBPyConnection, index: int) -> None:
    """``simulated_<index>``: the settled ranges the engine just made, kept under this policy's
    name rather than copied (the next policy's settlement reuses the engine's table names)."""
    pattern = quote_literal(f"{batch.SETTLED_TABLE}_[0-9]+")
    names = _run(connection, f"SELECT table_name FROM duckdb_tables() WHERE regexp_full_match(table_name, {pattern})")
    parts = sorted((str(name) for (name,) in names), key=lambda name: int(name.rsplit("_", 1)[1]))
    renamed = []
    for part, name in enumerate(parts):
        _run(connection, f"ALTER TABLE {name} RENAME TO {_sim_table(index)}_part{part}")
        renamed.append(f"SELECT * FROM {_sim_table(index)}_part{part}")
    _run(connection, f"CREATE OR REPLACE VIEW {_sim_table(index)} AS {' UNION ALL '.join(renamed)}")


def _settle_policy(
    connection: duckdb.DuckDBPyConnection,
    policy: Policy,
    index: int,
    claims: Path | pa.Table,
    errors_dir: Path | None,
) -> tuple[int, int]:
    """``simulated_<index>``: the cascade's integers for every good row (``pay{k}``, ``al{k}``,
    ``member_oop``, the trail's columns) with ``rid``, ``member_id`` and ``care_type``, for a
    policy that reads the claims otherwise than the first: checked and sorted on its own."""
    rows, rejected = batch.check_claims_relation(connection, policy, "raw_claims", keep=("care_type",))
    if errors_dir is not None and rejected:
        _write_rejected(connection, policy, index, claims, errors_dir, rows)
    batch.settle_checked(connection, policy, _GOOD_ROWS_WITH_FACTS, carry=_CARRIED)
    _keep_settled(connection, index)
    return rows - rejected, rejected


def _settle_alike(
    connection: duckdb.DuckDBPyConnection,
    alike: Sequence[tuple[int, Policy]],
    claims: Path | pa.Table,
    errors_dir: Path | None,
) -> list[tuple[int, int]]:
    """``simulated_<index>`` for each of policies that read claims alike (the usual what-if: same
    vocabulary and period, other ratios or caps): the claims are typed, checked and sorted once,
    under the first, and each policy decides and settles the sorted good rows as they stream.
    Rows and rejections are the same for every one of them. The claims' text and facts are dropped
    once sorted: the last use of either."""
    first = alike[0][1]
    rows, rejected = batch.check_typed(connection, first, "raw_claims")
    _run(connection, "DROP TABLE raw_claims")
    if errors_dir is not None and rejected:
        for index, policy in alike:
            _write_rejected(connection, policy, index, claims, errors_dir, rows)
    # only what the policies' decisions read is sorted: the category text only for a policy
    # that flags other categories than the first
    unread = [*batch.CHECK_ONLY_COLUMNS, "provider_id"]
    if all(policy_categories(policy) == policy_categories(first) for _, policy in alike):
        unread.append("categories_text")
    _run(
        connection,
        f"CREATE OR REPLACE TABLE {_TYPED_SORTED} AS SELECT * EXCLUDE ({', '.join(unread)}) "
        f"FROM {_GOOD_ROWS_WITH_FACTS} ORDER BY {batch.SETTLEMENT_ORDER}",
    )
    _run(connection, "DROP TABLE checked")  # memory for the settlements, not spill
    _run(connection, "DROP TABLE claim_facts")  # the sorted rows carry what the figures read of it
    for index, policy in alike:
        flags = partial(batch.typed_for, first, policy)
        batch.settle_in_order(connection, policy, _TYPED_SORTED, carry=_CARRIED, flags=flags)
        _keep_settled(connection, index)
    _run(connection, f"DROP TABLE {_TYPED_SORTED}")
    return [(rows - rejected, rejected)] * len(alike)


def _settle_all(
    connection: duckdb.DuckDBPyConnection, policies: Sequence[Policy], claims: Path | pa.Table, errors_dir: Path | None
) -> list[tuple[int, int]]:
    """Every policy settled: those that read claims otherwise than the first each on its own,
    then the first with those that read claims alike in one typing, check and sort."""
    first = policies[0]
    alike = [(index, policy) for index, policy in enumerate(policies) if batch.reads_claims_alike(first, policy)]
    outcomes = {}
    for index, policy in enumerate(policies):
        if not batch.reads_claims_alike(first, policy):
            outcomes[index] = _settle_policy(connection, policy, index, claims, errors_dir)
    outcomes.update(zip((index for index, _ in alike), _settle_alike(connection, alike, claims, errors_dir)))
    return [outcomes[index] for index in range(len(policies))]


def _int(value: object) -> int:
    return int(value) if value is not None else 0  # type: ignore[call-overload]


def _catastrophic_counts(oop: str, consumption: str) -> str:
    """The households above each threshold, then the households whose consumption is known (a
    household without one, or with none above zero, is in neither: it cannot be measured)."""
    return ", ".join(
        [
            *(
                f"count(*) FILTER (WHERE {consumption} > 0 AND {oop}::HUGEINT * 100 > {share}::HUGEINT * {consumption})"
                for share in CATASTROPHIC_THRESHOLDS
            ),
            f"count(*) FILTER (WHERE {consumption} > 0)",
        ]
    )


def _aggregate(
    connection: duckdb.DuckDBPyConnection,
    policy: Policy,
    index: int,
    *,
    inpatient: str,
    target_share: Fraction,
) -> None:
    """Two small tables per policy, each one pass over its settled claims:
    ``claim_groups_<i>`` (sums by category key and district) and ``household_oop_<i>``."""
    table = _sim_table(index)
    ceiling = _policy_ceiling(policy)
    stay = f"s.care_type = {quote_literal(inpatient)}"
    # member_oop / allowed > n / d  <=>  member_oop * d > n * allowed: exact in integers
    target = f"s.member_oop::HUGEINT * {target_share.denominator} > {target_share.numerator}::HUGEINT * s.allowed"
    own = f"s.member_oop::HUGEINT * {RATIO_SCALE} > {ceiling if ceiling is not None else 0}::HUGEINT * s.allowed"
    sums = [f"sum(s.pay{k}) AS pay{k}" for k in range(len(policy.layers))]
    sums += [f"sum(s.al{k}) AS al{k}" for k in range(len(policy.allowances))]
    _run(
        connection,
        f"""CREATE OR REPLACE TABLE claim_groups_{index} AS
        SELECT s.cat_key, s.district, count(*) AS claims, sum(s.allowed) AS allowed,
               sum(s.provider_writeoff) AS writeoff, sum(s.member_oop) AS oop,
               count(*) FILTER (WHERE {stay}) AS stays,
               count(*) FILTER (WHERE {stay} AND {target}) AS above_target,
               count(*) FILTER (WHERE {stay} AND {own}) AS above_ceiling{"".join(", " + x for x in sums)}
        FROM {table} s GROUP BY s.cat_key, s.district""",
    )
    _run(
        connection,
        f"""CREATE OR REPLACE TABLE household_oop_{index} AS
        SELECT s.hh, sum(s.member_oop) AS oop FROM {table} s GROUP BY s.hh""",
    )


def _figures(
    connection: duckdb.DuckDBPyConnection,
    policy: Policy,
    index: int,
    settled: int,
    rejected: int,
    *,
    poor_category: str,
    consumption_known: bool,
) -> PolicyFigures:
    sums = [f"sum(pay{k})" for k in range(len(policy.layers))] + [f"sum(al{k})" for k in range(len(policy.allowances))]
    row = _run(
        connection,
        f"SELECT sum(allowed), sum(writeoff), sum(oop){''.join(', ' + s for s in sums)} FROM claim_groups_{index}",
    )[0]
    allowed, writeoff, oop = _int(row[0]), _int(row[1]), _int(row[2])
    paid = {layer.id: _int(row[3 + k]) for k, layer in enumerate(policy.layers)}
    allowances = {a.id: _int(row[3 + len(policy.layers) + k]) for k, a in enumerate(policy.allowances)}
    stays, above_target, above_ceiling = _run(
        connection,
        f"""SELECT sum(stays), sum(above_target), sum(above_ceiling)
        FROM claim_groups_{index} g JOIN category_sets c USING (cat_key)
        WHERE list_contains(c.cats, {quote_literal(poor_category)})""",
    )[0]
    households, cat10, cat25, measured = _run(
        connection,
        f"""SELECT count(*), {_catastrophic_counts("o.oop", "h.consumption")}
        FROM household_oop_{index} o JOIN households h USING (hh)""",
    )[0]
    ceiling = _policy_ceiling(policy)
    return PolicyFigures(
        settled=settled,
        rejected=rejected,
        allowed=allowed,
        provider_writeoff=writeoff,
        paid=paid,
        allowances=allowances,
        member_oop=oop,
        poor_inpatient_stays=_int(stays),
        above_target=_int(above_target),
        ceiling=ceiling,
        above_ceiling=_int(above_ceiling) if ceiling is not None else None,
        households=_int(households),
        catastrophic_10=_int(cat10) if consumption_known else None,
        catastrophic_25=_int(cat25) if consumption_known else None,
        measured=_int(measured) if consumption_known else None,
    )


def _groups(connection: duckdb.DuckDBPyConnection, count: int, by: str) -> list[GroupRow]:
    """Money by claimant and households by ``by`` ("category" or "district") for each policy,
    from the small per-policy tables."""
    none = quote_literal(NO_CATEGORY)
    per_policy: list[dict[str, GroupFigures]] = []
    for index in range(count):
        if by == "category":
            money_sql = f"""SELECT key, sum(claims), sum(allowed), sum(oop) FROM (
                SELECT unnest(CASE WHEN len(c.cats) = 0 THEN [{none}] ELSE c.cats END) AS key,
                       g.claims, g.allowed, g.oop
                FROM claim_groups_{index} g JOIN category_sets c USING (cat_key)
            ) GROUP BY key"""
            households_sql = f"""SELECT coalesce(hc.category, {none}) AS key, count(*),
                    {_catastrophic_counts("o.oop", "h.consumption")}
                FROM household_oop_{index} o JOIN households h USING (hh)
                LEFT JOIN household_categories hc USING (hh) GROUP BY key"""
        else:
            money_sql = (
                f"SELECT district, sum(claims), sum(allowed), sum(oop) FROM claim_groups_{index} GROUP BY district"
            )
            households_sql = f"""SELECT h.district, count(*), {_catastrophic_counts("o.oop", "h.consumption")}
                FROM household_oop_{index} o JOIN households h USING (hh) GROUP BY h.district"""
        money = {str(key): (_int(n), _int(allowed), _int(oop)) for key, n, allowed, oop in _run(connection, money_sql)}
        households = {
            str(key): (_int(n), _int(c10), _int(c25), _int(known))
            for key, n, c10, c25, known in _run(connection, households_sql)
        }
        figures = {}
        for key in money.keys() | households.keys():
            claims, allowed, oop = money.get(key, (0, 0, 0))
            n, c10, c25, known = households.get(key, (0, 0, 0, 0))
            figures[key] = GroupFigures(claims, allowed, allowed - oop, oop, n, c10, c25, known)
        per_policy.append(figures)
    keys = sorted(set().union(*(figures.keys() for figures in per_policy)))
    return [GroupRow(key, tuple(figures.get(key, GroupFigures()) for figures in per_policy)) for key in keys]


def _changed_claims(
    connection: duckdb.DuckDBPyConnection, policies: Sequence[Policy], top: int
) -> tuple[list[ChangedClaim], int]:
    """The claims settled under every policy whose outcome moves most from the first policy's:
    by the largest change in member OOP, then in what the payers pay, layer by layer."""
    count = len(policies)
    joins = " ".join(f"JOIN {_sim_table(i)} t{i} USING (rid)" for i in range(1, count))
    ((settled_by_all,),) = _run(connection, f"SELECT count(*) FROM {_sim_table(0)} t0 {joins}")
    if count < 2 or top <= 0:
        return [], int(settled_by_all)
    layer_ids = list(dict.fromkeys(layer.id for policy in policies for layer in policy.layers))
    index_of = [{layer.id: k for k, layer in enumerate(policy.layers)} for policy in policies]

    def pay(i: int, layer_id: str) -> str:
        k = index_of[i].get(layer_id)
        return f"t{i}.pay{k}" if k is not None else "0"

    oop_change = "greatest(" + ", ".join(f"abs(t{i}.member_oop - t0.member_oop)" for i in range(1, count)) + ")"
    pay_change = (
        " + ".join(f"abs({pay(i, layer_id)} - {pay(0, layer_id)})" for i in range(1, count) for layer_id in layer_ids)
        or "0"
    )
    selected = ["t0.rid", "t0.claim_id", "t0.member_id", "t0.care_type"]
    for i in range(count):
        selected += [f"t{i}.allowed", f"t{i}.member_oop"]
        selected += [pay(i, layer_id) for layer_id in layer_ids]
    rows = _run(
        connection,
        f"""SELECT {", ".join(selected)}, {oop_change} AS oop_change, {pay_change} AS pay_change
        FROM {_sim_table(0)} t0 {joins}
        WHERE {oop_change} > 0 OR {pay_change} > 0
        ORDER BY oop_change DESC, pay_change DESC, t0.claim_id LIMIT {int(top)}""",
    )
    rids = ", ".join(str(int(row[0])) for row in rows) or "NULL"
    trails = [
        dict(_run(connection, f"SELECT rid, {trail_sql(policy)} FROM {_sim_table(i)} WHERE rid IN ({rids})"))
        for i, policy in enumerate(policies)
    ]
    changed = []
    width = 2 + len(layer_ids)
    for row in rows:
        allowed, oop, paid = [], [], []
        for i in range(count):
            part = row[4 + i * width : 4 + (i + 1) * width]
            allowed.append(int(part[0]))
            oop.append(int(part[1]))
            paid.append(
                {layer_id: int(value) for layer_id, value in zip(layer_ids, part[2:]) if layer_id in index_of[i]}
            )
        changed.append(
            ChangedClaim(
                str(row[1]),
                str(row[2]),
                str(row[3]),
                tuple(allowed),
                tuple(paid),
                tuple(oop),
                tuple(str(trail[row[0]]) for trail in trails),
            )
        )
    return changed, int(settled_by_all)


def simulate(
    policies: Sequence[Policy],
    claims: Path | pa.Table,
    *,
    consumption: ConsumptionAssumptions | None = None,
    poor_category: str = "registered_poor",
    inpatient: str = "inpatient",
    target_share: Fraction = DEFAULT_TARGET_SHARE,
    top: int = 20,
    errors_dir: Path | None = None,
    keep_records: bool = False,
) -> SimulationResult:
    """Settle ``claims`` (a claims file, or an Arrow table of the same text columns) under each
    policy and gather the figures of the module docstring. ``keep_records``: each policy's
    figures also hold its per-claim output rows (as ``batch_engine.settle_records`` gives them),
    for small files."""
    if not policies:
        raise SimulationError("give at least one policy")
    first = policies[0]
    for policy in policies[1:]:
        if (policy.currency, policy.minor_digits) != (first.currency, first.minor_digits):
            raise SimulationError(
                f"policy {policy.path or policy.id}: currency {policy.currency} ({policy.minor_digits} minor digits) "
                f"differs from {first.path or first.id}'s {first.currency} ({first.minor_digits}): "
                "their settlements cannot be compared"
            )
    if consumption is not None and consumption.currency != first.currency:
        raise SimulationError(
            f"{consumption.path}: consumption.currency: {consumption.currency} is not the policies' {first.currency}"
        )
    with tempfile.TemporaryDirectory(prefix="equicover-simulate-") as spill:
        connection = batch.connect(spill)
        try:
            optional, record = _read_claims(connection, claims)
            note = _create_facts(connection, optional, record, consumption, first.minor_digits)
            consumption_known = not note.startswith("not computed")
            outcomes = _settle_all(connection, policies, claims, errors_dir)
            if all(settled == 0 for settled, _ in outcomes):
                rejected = max(rejected for _, rejected in outcomes)
                detail = f" ({rejected} row(s) rejected)" if rejected else ""
                raise SimulationError(f"{record}: no claims to settle{detail}: a base year needs claims")
            figures = []
            for i, (policy, (settled, rejected)) in enumerate(zip(policies, outcomes)):
                _aggregate(connection, policy, i, inpatient=inpatient, target_share=target_share)
                figures.append(
                    _figures(
                        connection,
                        policy,
                        i,
                        settled,
                        rejected,
                        poor_category=poor_category,
                        consumption_known=consumption_known,
                    )
                )
            if keep_records:
                for i, policy in enumerate(policies):
                    names = batch.output_column_names(policy)
                    cursor = connection.execute(batch.output_select(policy, _sim_table(i)))
                    figures[i].records = [dict(zip(names, row)) for row in cursor.fetchall()]
            by_category = _groups(connection, len(policies), "category")
            by_district = _groups(connection, len(policies), "district")
            changed, settled_by_all = _changed_claims(connection, policies, top)
        finally:
            connection.close()
    payer_of = {layer.id: layer.payer for policy in reversed(policies) for layer in policy.layers}
    order = list(dict.fromkeys(layer.id for policy in policies for layer in policy.layers))
    return SimulationResult(
        policies=list(policies),
        figures=figures,
        by_category=by_category,
        by_district=by_district,
        changed=changed,
        settled_by_all=settled_by_all,
        consumption_note=note,
        poor_category=poor_category,
        target_share=target_share,
        layers=[(layer_id, payer_of[layer_id]) for layer_id in order],
    )


@dataclass(frozen=True, slots=True)
class MemberSums:
    """A base year settled once, summed per (member, group, care type): what a projection resamples.

    One row per (member, group, care type), as parallel arrays: ``unit`` numbers each (member,
    group) from 0, ``group`` and ``care`` index the groups and the policy's care types, ``values``
    holds each layer's then each allowance's payments (minor units)."""

    unit: np.ndarray
    group: np.ndarray
    care: np.ndarray
    values: np.ndarray  # rows x items, int64
    settled: int
    rejected: int
    outside_groups: int  # settled claims of members in none of the groups


def member_sums(policy: Policy, claims: Path | pa.Table, groups: Sequence[tuple[str, ...]]) -> MemberSums:
    """Settle ``claims`` under ``policy`` (as :func:`simulate` does) and sum every layer's and
    allowance's payments per member, group and care type. A claim belongs to the first group one
    of whose categories its member holds; a group of no categories takes every claim left."""
    cases = []
    for index, categories in enumerate(groups):
        if categories:
            names = ", ".join(quote_literal(name) for name in categories)
            cases.append(f"WHEN list_has_any(c.cats, [{names}]) THEN {index}")
        else:
            cases.append(f"WHEN TRUE THEN {index}")
    group = f"CASE {' '.join(cases)} ELSE -1 END" if cases else "-1"
    sums = [f"sum(s.pay{k})" for k in range(len(policy.layers))]
    sums += [f"sum(s.al{k})" for k in range(len(policy.allowances))]
    with tempfile.TemporaryDirectory(prefix="equicover-project-") as spill:
        connection = batch.connect(spill)
        try:
            optional, record = _read_claims(connection, claims)
            _create_facts(connection, optional, record, None, policy.minor_digits)
            ((settled, rejected),) = _settle_all(connection, [policy], claims, None)
            if settled == 0:
                detail = f" ({rejected} row(s) rejected)" if rejected else ""
                raise SimulationError(f"{record}: no claims to settle{detail}: a base year needs claims")
            _run(connection, f"CREATE TABLE group_of_set AS SELECT cat_key, {group} AS g FROM category_sets c")
            ((outside,),) = _run(
                connection,
                f"SELECT count(*) FROM {_sim_table(0)} s JOIN group_of_set USING (cat_key) WHERE g < 0",
            )
            cares = " ".join(f"WHEN {quote_literal(care)} THEN {k}" for k, care in enumerate(policy.care_types))
            columns = connection.execute(
                f"""SELECT (dense_rank() OVER (ORDER BY s.member_id, o.g) - 1)::BIGINT AS unit, o.g::BIGINT AS g,
                       (CASE s.care_type {cares} END)::BIGINT AS care{"".join(", " + x for x in sums)}
                FROM {_sim_table(0)} s JOIN group_of_set o USING (cat_key)
                WHERE o.g >= 0 GROUP BY s.member_id, o.g, s.care_type"""
            ).fetchnumpy()
        finally:
            connection.close()
    column_names = list(columns)
    items = [np.asarray(columns[name], dtype=np.int64) for name in column_names[3:]]
    values = np.stack(items, axis=1) if items else np.zeros((len(columns["unit"]), 0), dtype=np.int64)
    return MemberSums(
        unit=np.asarray(columns["unit"], dtype=np.int64),
        group=np.asarray(columns["g"], dtype=np.int64),
        care=np.asarray(columns["care"], dtype=np.int64),
        values=values,
        settled=settled,
        rejected=rejected,
        outside_groups=int(outside),
    )
