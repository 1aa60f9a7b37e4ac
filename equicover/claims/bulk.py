"""Settle and store a year of claims in bulk, fast: claims, payments, accumulators and deltas.

Input: a claims file (``docs/settlement.md``, "A claim"; CSV or Parquet) and the policy to settle
it with. The loader settles the file itself, in the batch engine (DuckDB,
:mod:`equicover.settlement.batch_engine`), so that it can do what the real-time service does and in the
same order:

1. Read and check every row as ``equicover settle`` does; a file with a refused row is refused
   whole (the first error's line, field and reason; ``equicover settle`` lists them all).
2. Set aside, before settlement, the claims the scheme does not pay (when the policy version
   names a scheme): a member without an active enrolment in the scheme on the service date
   (``not_covered``), a provider without a contract with the scheme on the service date
   (``no_contract``), a service outside the contract's designated services
   (``service_not_designated``). They are stored settled with zero payments, ``allowed`` =
   ``member_oop`` = the bill, as the real-time service stores its zero-payment claims, and move
   no accumulator: a claim nobody pays must not use up a member's caps or deductibles.
3. Settle the others in settlement order (member, service date, claim id), each member's
   benefit year starting from the accumulators already stored for it (earlier real-time claims,
   an earlier load), and keep what each claim moved in each accumulator.
4. Write, in the caller's transaction (nothing is committed here), through
   :mod:`equicover.db.bulk` (COPY on PostgreSQL): ``claims``, ``claim_payments``,
   ``claim_accumulator_deltas`` (one row per claim and layer that applied, as the service writes
   them) and ``accumulators`` (stored value + the file's movements).

The stored accumulators and deltas are then exactly those the real-time service
(``claims.service.submit_claim``) leaves when the same claims are submitted one by one in
settlement order after the claims already stored, so eligibility shows what each member used, a
later real-time claim is held to the caps the loaded claims consumed, and ``reverse_claim``
takes a loaded claim back out. (Claim attributes are taken from the file: level, designation,
``in_area``, categories; the service derives them from the registry, ``in_area`` by the policy's
``[area]`` rule. A filled ``in_area`` is authoritative: a file written for the registry declares
the value the rule gives. A row that leaves it empty gets the rule's value, derived from the
registry for the whole file at once before step 1: :func:`_in_area_by_rule`.)

On PostgreSQL the members of the file are locked (``SELECT ... FOR UPDATE`` on ``persons``, the
lock the service takes for each claim) before their accumulators are read, so a real-time claim
of one of them waits for the load to commit and then sees its accumulators.

The claims service (``equicover.claims.service``) remains the only writer of single claims; this
is its bulk path for a year of claims (the demo and the reports need one).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from sqlalchemy import Row, bindparam, select, text, update
from sqlalchemy.orm import Session

from equicover.audit.service import SYSTEM_ACTOR, record_change
from equicover.claims.deltas import ClaimAccumulatorDelta
from equicover.claims.models import Claim, ClaimPayment, PolicyVersion, StoredAccumulator
from equicover.claims.service import ALLOWANCE_PAYER, ZERO_NOT_COVERED, store_policy_version
from equicover.db.bulk import bulk_insert_rows, next_id
from equicover.errors import Conflict, ValidationFailed
from equicover.providers.models import Contract, Provider
from equicover.providers.service import NO_CONTRACT, SERVICE_NOT_DESIGNATED
from equicover.referrals.models import ReferralLetter
from equicover.referrals.service import UNKNOWN_LETTER, letter_refusal, record_uses
from equicover.registry.models import Person
from equicover.settlement import batch_engine as batch
from equicover.settlement.batch_engine_sql import quote_literal, trail_sql
from equicover.settlement.claims_file import TRIMMED_CHARACTERS, ClaimFileError
from equicover.settlement.model import Policy

# The optional column of a claims file naming the claim's referral letter (the real-time field's name).
LETTER_COLUMN = "referral_letter"
# Synthetic submission delay (days after discharge), for provinces whose claims file has no
# submission time: 0-14 days from a hash of the claim id, so the same file gives the same dates.
SYNTHETIC_LAG_DAYS = 15
# The claim columns of batch_input.checked_select the loader stores, besides those the batch keeps.
_STORED_COLUMNS = (
    "provider_id", "categories_text", "provider_level", "designated", "in_area", "referred",
    "care_type", "diagnosis", "days", "total", "eligible",
)  # fmt: skip
_TRIMMED = " || ".join(f"chr({ord(ch)})" for ch in " \t\n\v\f\r")  # the claims reader's whitespace


@dataclass(frozen=True, slots=True)
class BulkLoadReport:
    claims: int
    payments: int
    zero_outside_contract: int  # no_contract + service_not_designated, set aside before settlement
    policy_version_id: int
    zero_not_covered: int = 0  # members without an active enrolment in the scheme on the date
    accumulators: int = 0  # accumulator rows written (new, or updated from a stored value)
    deltas: int = 0  # claim_accumulator_deltas rows
    seeded_years: int = 0  # (member, benefit year) pairs settled on top of stored accumulators


def ensure_policy_version(
    *, session: Session, policy: Policy, scheme_code: str | None, actor: str = SYSTEM_ACTOR
) -> PolicyVersion:
    """The stored version of ``policy`` (same id and start), created from its file if absent.

    With a scheme, the version is stored as an upload is (``claims.service.store_policy_version``:
    the same checks of currency and overlapping periods, the same change-log row), so that the
    real-time window settles later claims of the scheme with it. Without one, it is kept only as
    the record of which rules settled the loaded claims. A stored version whose text differs from
    the policy file is refused: the loaded claims and the accumulators would follow other rules
    than the window's.
    """
    source = Path(policy.path).read_text(encoding="utf-8") if policy.path else ""
    found = session.scalar(
        select(PolicyVersion).where(
            PolicyVersion.policy_id == policy.id, PolicyVersion.effective_from == policy.effective_from
        )
    )
    if found is not None:
        if source and found.sha256 != hashlib.sha256(source.encode("utf-8")).hexdigest():
            raise Conflict(
                f"policy {policy.id}", "source_text",
                f"stored version {found.id} (from {policy.effective_from.isoformat()}) has other rules than this file",
            )  # fmt: skip
        return found
    if scheme_code is not None:
        return store_policy_version(session=session, source_text=source, scheme_code=scheme_code, actor=actor)
    version = PolicyVersion(
        policy_id=policy.id,
        name=policy.name[:200],
        currency=policy.currency,
        minor_digits=policy.minor_digits,
        effective_from=policy.effective_from,
        effective_to=policy.effective_to,
        scheme_id=None,
        source_text=source,
        sha256=hashlib.sha256(source.encode("utf-8")).hexdigest(),
        uploaded_at=dt.datetime.now(dt.UTC),
        uploaded_by=actor,
    )
    session.add(version)
    session.flush()
    return version


def load_settled_claims(
    *,
    session: Session,
    policy: Policy,
    claims_path: str | Path,
    settlements_path: str | Path | None = None,
    scheme_code: str | None = None,
    actor: str = SYSTEM_ACTOR,
    synthetic_submission: bool = False,
) -> BulkLoadReport:
    """Settle and store a file of claims (see the module docstring); returns counts.

    Refused (nothing is written): a row ``equicover settle`` refuses, a member id that is not a
    person of the registry, a provider code not in the database, a claim id already stored.

    ``settlements_path`` is ignored (kept for callers written when the loader took a settlement
    made beforehand): a settlement made before the claims outside contracts are set aside counts
    them in the members' accumulators.
    """
    from equicover.enrolment.models import Enrolment, Scheme

    if settlements_path is not None:
        warnings.warn(
            "load_settled_claims settles the claims itself; settlements_path is ignored",
            DeprecationWarning,
            stacklevel=2,
        )
    claims_path = Path(claims_path)
    record = f"claims file {claims_path.name}"
    scheme_id = None
    if scheme_code is not None:
        scheme_id = session.scalar(select(Scheme.id).where(Scheme.code == scheme_code))
        if scheme_id is None:
            raise ValidationFailed(f"scheme {scheme_code}", "scheme_code", "unknown scheme")
    version = ensure_policy_version(session=session, policy=policy, scheme_code=scheme_code, actor=actor)
    scheme_id = scheme_id if scheme_id is not None else version.scheme_id
    enforce = scheme_id is not None

    providers = session.execute(select(Provider.code, Provider.id)).all()
    contracts: Sequence[Row[int, dt.date, dt.date, str | None]] = ()
    enrolments: Sequence[Row[int, dt.date, dt.date]] = ()
    if enforce:
        contracts = session.execute(
            select(Contract.provider_id, Contract.starts, Contract.ends, Contract.designated_services).where(
                Contract.scheme_id == scheme_id
            )
        ).all()
        enrolments = session.execute(
            select(Enrolment.person_id, Enrolment.starts, Enrolment.ends).where(
                Enrolment.scheme_id == scheme_id, Enrolment.status == "active"
            )
        ).all()

    with tempfile.TemporaryDirectory(prefix="equicover-load-") as spill:
        connection = batch.connect(spill)
        try:
            _register(
                connection,
                "provider_codes",
                {"code": ([c for c, _ in providers], pa.string()), "id": ([i for _, i in providers], pa.int64())},
            )
            _register(connection, "provider_contracts", {
                "provider_id": ([row[0] for row in contracts], pa.int64()),
                "starts": ([row[1] for row in contracts], pa.date32()),
                "ends": ([row[2] for row in contracts], pa.date32()),
                "designated_services": ([row[3] for row in contracts], pa.string()),
            })  # fmt: skip
            _register(connection, "scheme_enrolments", {
                "person_id": ([row[0] for row in enrolments], pa.int64()),
                "starts": ([row[1] for row in enrolments], pa.date32()),
                "ends": ([row[2] for row in enrolments], pa.date32()),
            })  # fmt: skip

            letter_uses = _referral_letters(session, connection, policy, claims_path, record)
            blank_area = _has_blank_in_area(connection, claims_path)
            if letter_uses or blank_area:
                source = _letter_source(connection, claims_path)
                if letter_uses:
                    source = _referred_by_letter(source, letter_uses)
                if blank_area:
                    source = _in_area_by_rule(session, connection, policy, source)
                rows, rejected = batch.check_claims_relation(connection, policy, source, keep=_STORED_COLUMNS)
            else:
                rows, rejected = batch.check_claims_file(connection, policy, claims_path, keep=_STORED_COLUMNS)
            if rejected:
                line, claim_id, field, reason = batch.one_row(
                    connection, f"SELECT * FROM ({batch.rejected_rows_sql(connection, claims_path, rows)}) LIMIT 1"
                )
                where = f"{record}, line {line}" + (f" (claim {claim_id})" if claim_id else "")
                raise ValidationFailed(
                    where, field, f"{reason}; {rejected:,} row(s) refused, `equicover settle` lists them all"
                )
            if rows == 0:
                return BulkLoadReport(0, 0, 0, version.id)
            _decide(connection, enforce)
            unknown = batch.one_row(
                connection,
                "SELECT min(rid) FILTER (WHERE person_id IS NULL), "
                "min(rid) FILTER (WHERE provider_pk IS NULL) FROM decided",
            )
            if unknown[0] is not None:
                raise ValidationFailed(f"{record}, line {unknown[0] + 2}", "member_id", "not a person id")
            if unknown[1] is not None:
                raise ValidationFailed(
                    f"{record}, line {unknown[1] + 2}", "provider_id", "a provider code is not in the database"
                )
            members = _numpy_columns(connection, "SELECT DISTINCT person_id FROM decided ORDER BY person_id")[
                "person_id"
            ]
            known = np.fromiter(session.scalars(select(Person.id)), dtype=np.int64)
            if not np.isin(members, known).all():
                raise ValidationFailed(record, "member_id", "a member id is not a person in the registry")

            _lock_members(session, members)
            seeded_years = _read_stored_accumulators(session, connection, policy)
            relation = batch.settle_checked(
                connection, policy, _to_settle(policy, seeded_years > 0), seeded=seeded_years > 0, movements=True
            )
            batch._run(
                connection, f"CREATE TEMP TABLE settled AS SELECT *, {trail_sql(policy)} AS trail FROM {relation}"
            )

            first_claim = next_id(session, Claim.__table__)
            batch._run(connection, _stored_claims_sql(policy, first_claim, synthetic_submission))
            columns = _numpy_columns(connection, "SELECT * FROM stored_claims ORDER BY pk")
            batch._run(connection, _deltas_sql(policy))
            deltas = _numpy_columns(connection, "SELECT * FROM deltas ORDER BY claim_pk, k")
            accumulators = _numpy_columns(connection, _accumulators_sql())
        finally:
            connection.close()

    count = len(columns["claim_id"])
    _write_claims(session, columns, version.id, actor, synthetic_submission)
    record_uses(
        session.connection(),
        [
            (int(pk), letter_uses[claim_id])
            for claim_id, pk in zip(_objects(columns["claim_id"]), columns["pk"].tolist())
            if claim_id in letter_uses
        ],
    )
    payments = _write_payments(session, policy, columns)
    delta_count = _write_deltas(session, policy, deltas)
    accumulator_count = _write_accumulators(session, policy, accumulators)

    reasons = _objects(columns["zero_reason"])
    outside = sum(1 for value in reasons if value in (NO_CONTRACT, SERVICE_NOT_DESIGNATED))
    not_covered = sum(1 for value in reasons if value == ZERO_NOT_COVERED)
    record_change(
        session=session, actor=actor, entity="claims", entity_id=None, action="bulk_load",
        after={"rows": count, "payments": payments, "outside_contract": outside, "not_covered": not_covered,
               "policy_version_id": version.id, "accumulators": accumulator_count, "accumulator_deltas": delta_count,
               "seeded_years": seeded_years},
    )  # fmt: skip
    return BulkLoadReport(
        claims=count,
        payments=payments,
        zero_outside_contract=outside,
        policy_version_id=version.id,
        zero_not_covered=not_covered,
        accumulators=accumulator_count,
        deltas=delta_count,
        seeded_years=seeded_years,
    )


# --------------------------------------------------------------------------------------------
# In DuckDB


def _numpy_columns(connection: duckdb.DuckDBPyConnection, sql: str) -> dict[str, np.ndarray]:
    """The query's result as numpy columns (DuckDB gives a pandas Categorical only for an ENUM
    column, which none of these queries returns)."""
    columns: dict[str, np.ndarray] = {}
    for name, values in connection.execute(sql).fetchnumpy().items():
        if not isinstance(values, np.ndarray):
            raise TypeError(f"column {name} came back as {type(values).__name__}, not a numpy array")
        columns[name] = values
    return columns


def _register(
    connection: duckdb.DuckDBPyConnection, name: str, columns: dict[str, tuple[list[Any], pa.DataType]]
) -> None:
    connection.register(name, pa.table({column: pa.array(values, kind) for column, (values, kind) in columns.items()}))


def _decide(connection: duckdb.DuckDBPyConnection, enforce: bool) -> None:
    """``decided``: per checked row (``rid``), the person id, the provider's id and why the scheme
    pays nothing (NULL: the claim is settled).

    The rules of the real-time service (``claims.service``: no active enrolment in the scheme on
    the date, then no contract in force) and of ``providers.service.contract_refusal`` (the
    service among the contract's designated services, care types or ICD-10 prefixes, when it
    lists any)."""
    refusal = (
        f"""CASE WHEN NOT EXISTS (
                     SELECT 1 FROM scheme_enrolments e
                     WHERE e.person_id = TRY_CAST(c.member_id AS BIGINT) AND c.service_date BETWEEN e.starts AND e.ends)
                 THEN '{ZERO_NOT_COVERED}'
                 WHEN k.provider_id IS NULL THEN '{NO_CONTRACT}'
                 WHEN k.services IS NOT NULL AND NOT (
                     list_contains(k.services, c.care_type)
                     OR len(list_filter(
                         k.services, lambda t: starts_with(replace(c.diagnosis, '.', ''), replace(upper(t), '.', ''))
                     )) > 0)
                 THEN '{SERVICE_NOT_DESIGNATED}' END"""
        if enforce
        else "NULL"
    )
    batch._run(
        connection,
        f"""
        CREATE TEMP TABLE decided AS
        SELECT c.rowid AS rid, TRY_CAST(c.member_id AS BIGINT) AS person_id, p.id AS provider_pk, {refusal} AS refusal
        FROM checked c
        LEFT JOIN provider_codes p ON p.code = c.provider_id
        LEFT JOIN (
            SELECT provider_id, starts, ends,
                   CASE WHEN trim(coalesce(designated_services, '')) = '' THEN NULL
                        ELSE list_filter(list_transform(string_split(designated_services, ';'), lambda t: trim(t)),
                                         lambda t: t <> '') END
                   AS services
            FROM provider_contracts
        ) k ON k.provider_id = p.id AND c.service_date BETWEEN k.starts AND k.ends
        -- overlapping contracts (not refused by the bulk contract loader): one row per claim
        QUALIFY row_number() OVER (PARTITION BY c.rowid ORDER BY k.starts NULLS LAST) = 1
        """,
    )


def _letter_source(connection: duckdb.DuckDBPyConnection, claims_path: Path) -> str:
    """The file's text claim columns and its optional ``referral_letter`` column, in file order."""
    source = batch.claims_source_sql(connection, claims_path, optional=(LETTER_COLUMN,))
    try:
        connection.execute(f"SELECT count(*) FROM {source}").fetchall()
    except duckdb.InvalidInputException:  # ragged rows: read as the checks read them
        source = batch.claims_source_sql(connection, claims_path, tolerant=True, optional=(LETTER_COLUMN,))
    return source


def _referral_letters(
    session: Session, connection: duckdb.DuckDBPyConnection, policy: Policy, claims_path: Path, record: str
) -> dict[str, int]:
    """The letter each claim of the file names in its optional ``referral_letter`` column, by claim
    id, checked as the real-time service checks it (``referrals.service.letter_refusal``, the
    policy's ``letter_valid_days``); a letter that does not hold refuses the file. A row whose
    own fields are not readable is left to the file's checks, which refuse it."""
    try:
        source = _letter_source(connection, claims_path)
    except ClaimFileError:
        return {}  # the checks report the file's problem
    if LETTER_COLUMN not in [column[0] for column in connection.execute(f"SELECT * FROM {source} LIMIT 0").description]:
        return {}
    named = connection.execute(
        f"SELECT claim_id, member_id, provider_id, provider_level, service_date, {LETTER_COLUMN} FROM {source} "
        f"WHERE {LETTER_COLUMN} IS NOT NULL"
    ).fetchall()
    wanted = [tuple((value or "").strip(TRIMMED_CHARACTERS) for value in row) for row in named]
    wanted = [row for row in wanted if row[5]]
    if not wanted:
        return {}
    letters = {
        letter.number: letter
        for letter in session.scalars(
            select(ReferralLetter).where(ReferralLetter.number.in_({row[5].upper() for row in wanted}))
        )
    }
    providers: dict[str, int] = dict(session.execute(select(Provider.code, Provider.id)).all())
    uses: dict[str, int] = {}
    for claim_id, member, provider_code, level, served, number in wanted:
        where = f"{record} (claim {claim_id})"
        letter = letters.get(number.upper())
        if letter is None:
            raise ValidationFailed(where, LETTER_COLUMN, UNKNOWN_LETTER)
        try:
            person_id, service_date = int(member), dt.date.fromisoformat(served)
        except ValueError:
            continue
        provider_id = providers.get(provider_code)
        if provider_id is None:
            continue
        refusal = letter_refusal(
            letter,
            person_id=person_id,
            provider_id=provider_id,
            provider_level=level,
            service_date=service_date,
            valid_days=policy.referral_letter_valid_days,
        )
        if refusal is not None:
            raise ValidationFailed(where, LETTER_COLUMN, refusal)
        uses[claim_id] = letter.id
    return uses


def _referred_by_letter(source: str, uses: dict[str, int]) -> str:
    """``source`` with ``referred`` true on the rows whose letter holds (a projection: file order kept)."""
    claim_ids = ", ".join(quote_literal(claim_id) for claim_id in uses)
    whitespace = " || ".join(f"chr({ord(char)})" for char in TRIMMED_CHARACTERS)
    return (
        f"(SELECT * REPLACE (CASE WHEN list_contains([{claim_ids}], trim(coalesce(claim_id, ''), {whitespace})) "
        f"THEN 'true' ELSE referred END AS referred) FROM {source})"
    )


_WHITESPACE = " || ".join(f"chr({ord(char)})" for char in TRIMMED_CHARACTERS)
_BLANK_IN_AREA = f"trim(coalesce(in_area, ''), {_WHITESPACE}) = ''"
_IN_CHUNK = 10_000  # ids per IN list when reading the members' places


def _has_blank_in_area(connection: duckdb.DuckDBPyConnection, claims_path: Path) -> bool:
    """Whether a row of the file leaves ``in_area`` empty (the loader then derives it)."""
    try:
        source = _letter_source(connection, claims_path)
    except ClaimFileError:
        return False  # the checks report the file's problem
    return bool(batch.one_row(connection, f"SELECT count(*) FROM {source} WHERE {_BLANK_IN_AREA}")[0])


def _area_rule_sql(policy: Policy) -> str:
    """The policy's ``[area]`` rule (``Policy.in_area``) over ``m`` (the member's district and
    province) and ``p`` (the registered provider: code, level, district, province). Places compare
    as the real-time service compares them: two unknown districts are the same."""
    tests = []
    if policy.area_levels is not None:
        levels = ", ".join(quote_literal(level) for level in policy.area_levels) or "NULL"
        tests.append(f"p.level IN ({levels})")
    if policy.area_rule == "network":
        codes = ", ".join(quote_literal(code) for code in sorted(policy.area_network)) or "NULL"
        tests.append(f"p.code IN ({codes})")
    elif policy.area_rule == "province":
        tests.append("m.province_id IS NOT DISTINCT FROM p.province_id")
    else:
        tests.append("m.district_id IS NOT DISTINCT FROM p.district_id")
    return " AND ".join(["m.person_id IS NOT NULL", "p.code IS NOT NULL", *(f"({test})" for test in tests)])


def _in_area_by_rule(session: Session, connection: duckdb.DuckDBPyConnection, policy: Policy, source: str) -> str:
    """``source`` with each empty ``in_area`` replaced by what the policy's ``[area]`` rule gives
    for the member's home and the registered provider (the real-time service's rule, set-based);
    a filled ``in_area`` is kept as written. File order is kept (the line numbers of errors).

    An unknown member or provider gets ``false``: the loader refuses the file for it afterwards."""
    from equicover.registry.models import Location

    batch._run(connection, f"CREATE OR REPLACE TEMP TABLE area_source AS SELECT * FROM {source}")
    members = [
        int(value)
        for (value,) in connection.execute(
            f"SELECT DISTINCT person_id FROM (SELECT TRY_CAST(trim(coalesce(member_id, ''), {_WHITESPACE}) AS BIGINT) "
            f"AS person_id FROM area_source WHERE {_BLANK_IN_AREA}) WHERE person_id IS NOT NULL"
        ).fetchall()
    ]
    places: list[tuple[int, int | None, int | None]] = []
    for start in range(0, len(members), _IN_CHUNK):
        places.extend(
            (int(person), district, province)
            for person, district, province in session.execute(
                select(Person.id, Location.district_id, Location.province_id)
                .join(Location, Location.id == Person.location_id)
                .where(Person.id.in_(members[start : start + _IN_CHUNK]))
            ).all()
        )
    providers = session.execute(
        select(Provider.code, Provider.level, Location.district_id, Location.province_id).join(
            Location, Location.id == Provider.location_id
        )
    ).all()
    _register(connection, "area_members", {
        "person_id": ([row[0] for row in places], pa.int64()),
        "district_id": ([row[1] for row in places], pa.int64()),
        "province_id": ([row[2] for row in places], pa.int64()),
    })  # fmt: skip
    _register(connection, "area_providers", {
        "code": ([row[0] for row in providers], pa.string()),
        "level": ([row[1] for row in providers], pa.string()),
        "district_id": ([row[2] for row in providers], pa.int64()),
        "province_id": ([row[3] for row in providers], pa.int64()),
    })  # fmt: skip
    batch._run(
        connection,
        f"""
        CREATE OR REPLACE TEMP TABLE area_derived AS
        SELECT s.rowid AS rid, CASE WHEN {_area_rule_sql(policy)} THEN 'true' ELSE 'false' END AS derived
        FROM area_source s
        LEFT JOIN area_members m ON m.person_id = TRY_CAST(trim(coalesce(s.member_id, ''), {_WHITESPACE}) AS BIGINT)
        LEFT JOIN area_providers p ON p.code = trim(coalesce(s.provider_id, ''), {_WHITESPACE})
        WHERE {_BLANK_IN_AREA.replace("in_area", "s.in_area")}
        """,
    )
    return (
        "(SELECT s.* REPLACE (coalesce(d.derived, s.in_area) AS in_area) "
        "FROM area_source s LEFT JOIN area_derived d ON d.rid = s.rowid ORDER BY s.rowid)"
    )


def _to_settle(policy: Policy, seeded: bool) -> str:
    """The claims to settle: the checked rows nobody set aside, keyed by the person id as the
    service keys accumulators (``str(person_id)``), with their stored accumulators as seeds."""
    relation = (
        "(SELECT c.* REPLACE (CAST(d.person_id AS VARCHAR) AS member_id) "
        "FROM checked c JOIN decided d ON d.rid = c.rowid WHERE d.refusal IS NULL)"
    )
    return batch.seeded_relation(policy, relation, "seeds") if seeded else relation


def _stored_claims_sql(policy: Policy, first_pk: int, synthetic_submission: bool) -> str:
    """``stored_claims``: every claim as stored, ``pk`` allocated in (service date, claim id) order."""
    paid = "".join(f", coalesce(s.pay{k}, 0) AS paid_{k}" for k in range(len(policy.layers)))
    granted = "".join(f", coalesce(s.al{k}, 0) AS allowance_{k}" for k in range(len(policy.allowances)))
    lag = f"(hash(c.claim_id) % {SYNTHETIC_LAG_DAYS})::INTEGER + c.days::INTEGER" if synthetic_submission else "0"
    categories = f"trim(c.categories_text, {_TRIMMED})"  # as in the file (the service writes them sorted)
    return f"""
        CREATE TEMP TABLE stored_claims AS
        SELECT {first_pk - 1} + row_number() OVER (ORDER BY c.service_date, c.claim_id) AS pk,
               c.claim_id, d.person_id, d.provider_pk, c.service_date AS served, c.provider_level,
               c.designated, c.in_area, c.referred, c.care_type, c.diagnosis, c.days, c.total, c.eligible,
               {categories} AS categories,
               coalesce(s.allowed, c.total) AS allowed, coalesce(s.provider_writeoff, 0) AS provider_writeoff,
               coalesce(s.member_oop, c.total) AS member_oop,
               coalesce(s.trail, '') AS trail,
               d.refusal AS zero_reason, c.service_date + {lag} AS submitted_on
               {paid}{granted}
        FROM checked c JOIN decided d ON d.rid = c.rowid
        LEFT JOIN settled s ON s.claim_id = c.claim_id
    """


def _deltas_sql(policy: Policy) -> str:
    """One row per (claim, layer that applied), in claim then layer order, as the service writes them."""
    parts = [
        f"SELECT sc.pk AS claim_pk, {k} AS k, {quote_literal(layer.id)} AS layer_id, "
        f"s.member_id, s.byear AS benefit_year, s.dp{k} AS position, s.pay{k} AS paid, s.ds{k} AS member_share "
        f"FROM settled s JOIN stored_claims sc ON sc.claim_id = s.claim_id WHERE s.m{k}"
        for k, layer in enumerate(policy.layers)
    ]
    return f"CREATE TEMP TABLE deltas AS {' UNION ALL '.join(parts)}"


def _accumulators_sql() -> str:
    """Each accumulator the file moved: the stored value (if any) plus the file's movements."""
    return """
        SELECT d.member_id, d.layer_id, d.benefit_year,
               (coalesce(any_value(a.position), 0) + sum(d.position))::BIGINT AS position,
               (coalesce(any_value(a.paid), 0) + sum(d.paid))::BIGINT AS paid,
               (coalesce(any_value(a.member_share), 0) + sum(d.member_share))::BIGINT AS member_share,
               any_value(a.member_id) IS NOT NULL AS stored
        FROM deltas d
        LEFT JOIN stored_accumulators a
            ON a.member_id = d.member_id AND a.layer_id = d.layer_id AND a.benefit_year = d.benefit_year
        GROUP BY d.member_id, d.layer_id, d.benefit_year
        ORDER BY d.member_id, d.benefit_year, d.layer_id
    """


# --------------------------------------------------------------------------------------------
# The database


def _lock_members(session: Session, members: np.ndarray) -> None:
    """PostgreSQL: lock the members' rows as the service does for each claim (in id order, the
    same order as any other bulk load, so two loads cannot deadlock). SQLite has one writer."""
    if session.connection().dialect.name != "postgresql":
        return
    session.execute(
        text("SELECT id FROM persons WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"), {"ids": members.tolist()}
    ).all()


def _read_stored_accumulators(session: Session, connection: duckdb.DuckDBPyConnection, policy: Policy) -> int:
    """Register ``stored_accumulators`` (the policy's stored accumulators of the claims to settle)
    and ``seeds`` (the same, one row per member and benefit year: ``batch_sql.seed_columns``);
    returns the number of (member, benefit year) pairs that have some."""
    years = [int(year) for (year,) in connection.execute(
        "SELECT DISTINCT c.byear FROM checked c JOIN decided d ON d.rid = c.rowid WHERE d.refusal IS NULL"
    ).fetchall()]  # fmt: skip
    stored = session.execute(
        select(
            StoredAccumulator.member_id, StoredAccumulator.layer_id, StoredAccumulator.benefit_year,
            StoredAccumulator.position, StoredAccumulator.paid, StoredAccumulator.member_share,
        ).where(StoredAccumulator.policy_id == policy.id, StoredAccumulator.benefit_year.in_(years))
    ).all() if years else []  # fmt: skip
    _register(connection, "stored_all", {
        "member_id": ([row[0] for row in stored], pa.string()),
        "layer_id": ([row[1] for row in stored], pa.string()),
        "benefit_year": ([row[2] for row in stored], pa.int64()),
        "position": ([row[3] for row in stored], pa.int64()),
        "paid": ([row[4] for row in stored], pa.int64()),
        "member_share": ([row[5] for row in stored], pa.int64()),
    })  # fmt: skip
    layers = {layer.id: k for k, layer in enumerate(policy.layers)}
    batch._run(
        connection,
        f"""
        CREATE TEMP TABLE stored_accumulators AS
        SELECT a.* FROM stored_all a
        SEMI JOIN (
            SELECT DISTINCT CAST(d.person_id AS VARCHAR) AS member_id, c.byear
            FROM checked c JOIN decided d ON d.rid = c.rowid WHERE d.refusal IS NULL
        ) p ON p.member_id = a.member_id AND p.byear = a.benefit_year
        WHERE a.layer_id IN ({", ".join(quote_literal(layer) for layer in layers) or "NULL"})
        """,
    )
    pivot = ", ".join(
        f"coalesce(max(CASE WHEN layer_id = {quote_literal(layer)} THEN {column} END), 0)::BIGINT AS {prefix}{k}"
        for layer, k in layers.items()
        for prefix, column in (("sp", "position"), ("sc", "paid"), ("ss", "member_share"))
    )
    batch._run(
        connection,
        f"CREATE TEMP TABLE seeds AS SELECT member_id, benefit_year AS byear{', ' + pivot if pivot else ''} "
        "FROM stored_accumulators GROUP BY member_id, benefit_year",
    )
    ((pairs,),) = connection.execute("SELECT count(*) FROM seeds").fetchall()
    return int(pairs)


def _write_claims(
    session: Session, columns: dict[str, np.ndarray], version_id: int, actor: str, synthetic_submission: bool
) -> None:
    count = len(columns["claim_id"])
    sqlite = session.connection().dialect.name == "sqlite"
    submitted: list[Any]
    if synthetic_submission:
        # noon UTC of the day, as text: on SQLite as SQLAlchemy's DateTime stores it (UTC, no
        # offset, so ORM reads see the same values), on PostgreSQL as COPY reads a timestamptz
        days = np.datetime_as_string(np.asarray(columns["submitted_on"]).astype("datetime64[D]"))
        submitted = np.char.add(days.astype(str), " 12:00:00.000000" if sqlite else " 12:00:00+00:00").tolist()
    else:
        now = dt.datetime.now(dt.UTC)
        submitted = [now.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now] * count
    bulk_insert_rows(
        session,
        Claim.__table__,
        {
            "id": np.asarray(columns["pk"], dtype=np.int64).tolist(),
            "claim_id": columns["claim_id"].tolist(),
            "person_id": np.asarray(columns["person_id"], dtype=np.int64).tolist(),
            "provider_id": np.asarray(columns["provider_pk"], dtype=np.int64).tolist(),
            "policy_version_id": [version_id] * count,
            "service_date": _dates(columns["served"]),
            "provider_level": columns["provider_level"].tolist(),
            "designated": columns["designated"].tolist(),
            "in_area": columns["in_area"].tolist(),
            "referred": columns["referred"].tolist(),
            "care_type": columns["care_type"].tolist(),
            "diagnosis": columns["diagnosis"].tolist(),
            "days": columns["days"].tolist(),
            "total": columns["total"].tolist(),
            "eligible": columns["eligible"].tolist(),
            "categories": columns["categories"].tolist(),
            "status": ["settled"] * count,
            "allowed": columns["allowed"].tolist(),
            "provider_writeoff": columns["provider_writeoff"].tolist(),
            "member_oop": columns["member_oop"].tolist(),
            "fixed_fee": [None] * count,
            "trail": columns["trail"].tolist(),
            "zero_reason": _objects(columns["zero_reason"]),
            "submitted_at": submitted,
            "submitted_by": [actor] * count,
        },
    )


def _write_payments(session: Session, policy: Policy, columns: dict[str, np.ndarray]) -> int:
    """One payment row per claim per layer and allowance (zero rows kept, as the service does)."""
    payer_of = {layer.id: layer.payer for layer in policy.layers}
    items = [("layer", layer.id, payer_of[layer.id], f"paid_{k}") for k, layer in enumerate(policy.layers)]
    # An allowance has no payer of its own: recorded as the claims service records it.
    items += [
        ("allowance", allowance.id, ALLOWANCE_PAYER, f"allowance_{k}") for k, allowance in enumerate(policy.allowances)
    ]
    count = len(columns["claim_id"])
    width = len(items)
    payments = count * width
    if not payments:
        return 0
    first_payment = next_id(session, ClaimPayment.__table__)
    rows: dict[str, list[Any]] = {
        "id": list(range(first_payment, first_payment + payments)),
        "claim_pk": np.repeat(np.asarray(columns["pk"], dtype=np.int64), width).tolist(),
        "kind": [kind for kind, _, _, _ in items] * count,
        "item_id": [item for _, item, _, _ in items] * count,
        "payer": [payer for _, _, payer, _ in items] * count,
        "amount": np.column_stack([np.asarray(columns[name], dtype=np.int64) for *_, name in items]).ravel().tolist(),
    }
    bulk_insert_rows(session, ClaimPayment.__table__, rows)
    return payments


def _write_deltas(session: Session, policy: Policy, deltas: dict[str, np.ndarray]) -> int:
    count = len(deltas["claim_pk"])
    if not count:
        return 0
    first = next_id(session, ClaimAccumulatorDelta.__table__)
    bulk_insert_rows(
        session,
        ClaimAccumulatorDelta.__table__,
        {
            "id": list(range(first, first + count)),
            "claim_pk": np.asarray(deltas["claim_pk"], dtype=np.int64).tolist(),
            "policy_id": [policy.id] * count,
            "member_id": deltas["member_id"].tolist(),
            "layer_id": deltas["layer_id"].tolist(),
            "benefit_year": np.asarray(deltas["benefit_year"], dtype=np.int64).tolist(),
            "position": np.asarray(deltas["position"], dtype=np.int64).tolist(),
            "paid": np.asarray(deltas["paid"], dtype=np.int64).tolist(),
            "member_share": np.asarray(deltas["member_share"], dtype=np.int64).tolist(),
        },
    )
    return count


def _write_accumulators(session: Session, policy: Policy, accumulators: dict[str, np.ndarray]) -> int:
    """New accumulators in bulk; those already stored (seeds) updated to stored + movements."""
    count = len(accumulators["member_id"])
    if not count:
        return 0
    stored = np.asarray(accumulators["stored"], dtype=bool)
    values = {
        "member_id": accumulators["member_id"].tolist(),
        "layer_id": accumulators["layer_id"].tolist(),
        "benefit_year": np.asarray(accumulators["benefit_year"], dtype=np.int64).tolist(),
        "position": np.asarray(accumulators["position"], dtype=np.int64).tolist(),
        "paid": np.asarray(accumulators["paid"], dtype=np.int64).tolist(),
        "member_share": np.asarray(accumulators["member_share"], dtype=np.int64).tolist(),
    }
    fresh = [i for i, was_stored in enumerate(stored.tolist()) if not was_stored]
    if fresh:
        bulk_insert_rows(
            session,
            StoredAccumulator.__table__,
            {
                "policy_id": [policy.id] * len(fresh),
                **{name: [column[i] for i in fresh] for name, column in values.items()},
            },
        )
    moved = [i for i, was_stored in enumerate(stored.tolist()) if was_stored]
    if moved:
        table = StoredAccumulator.__table__
        statement = (
            update(table)
            .where(
                table.c.policy_id == policy.id,
                table.c.member_id == bindparam("key_member_id"),
                table.c.layer_id == bindparam("key_layer_id"),
                table.c.benefit_year == bindparam("key_benefit_year"),
            )
            .values(
                position=bindparam("new_position"),
                paid=bindparam("new_paid"),
                member_share=bindparam("new_member_share"),
            )
        )
        session.connection().execute(
            statement,
            [{f"key_{name}": values[name][i] for name in ("member_id", "layer_id", "benefit_year")}
             | {f"new_{name}": values[name][i] for name in ("position", "paid", "member_share")} for i in moved],
        )  # fmt: skip
    return count


def _objects(values: np.ndarray) -> list[Any]:
    if isinstance(values, np.ma.MaskedArray):
        return [
            None if masked else value
            for value, masked in zip(values.data.tolist(), np.ma.getmaskarray(values).tolist())
        ]
    objects: list[Any] = values.tolist()  # tolist() is typed Any: its items depend on the dtype
    return objects


def _dates(values: np.ndarray) -> list[dt.date]:
    days = np.asarray(values).astype("datetime64[D]")
    dates: list[dt.date] = days.astype(object).tolist()  # datetime64[D] items are dates
    return dates
