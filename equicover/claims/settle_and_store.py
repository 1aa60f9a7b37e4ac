"""Real-time settlement of submitted claims: one claim, or a batch of concurrent ones.

The claims service (:mod:`equicover.claims.service`) exposes :func:`submit_claim` and
:func:`submit_claims` from here; this module is its write path for claims and, with it, the only
writer of ``claims``, ``claim_payments``, ``accumulators`` and ``claim_accumulator_deltas`` for
submitted claims.

Settling claims (:func:`submit_claims`; one claim is a batch of one):

1. The members' rows in ``persons`` are locked (``SELECT ... FOR UPDATE``, in member id order so
   that two batches never deadlock; SQLite has one writer at a time anyway). Every submission and
   reversal of a member goes through that lock, so two claims of one member settled at the same
   moment are applied one after the other and the second sees the first's accumulators: an
   annual cap or deductible is never overrun. Claims of one member inside a batch are settled in
   the order they were submitted, each against the accumulators the previous one left.
2. Idempotency: a bill number is the facility's own, so the key is (provider, ``claim_id``). A
   stored claim of the same provider with the same ``claim_id`` is returned as it is
   (``created=False``) and nothing is paid twice; so is an earlier claim of the same batch with
   that key. Another facility's bill with the same number is another claim. A concurrent first
   submission of the same key for *another* member loses on the unique constraint of
   ``claims (claim_id, provider_id)`` (``INSERT ... ON CONFLICT DO NOTHING``): a lone claim then
   writes nothing and returns the winner's result; a batch raises :class:`ConcurrentClaimIds` and
   its caller rolls back and submits the claims one by one.
3. The engine's claim is built from the stored records, never from what the caller asserts: the
   member's categories valid on the service date, the provider's level and designation, and
   ``in_area`` by the policy's ``[area]`` rule (``Policy.in_area``; default: the provider lies in
   the same district as the member's location; else the same province, or the network's list of
   facility codes, optionally only facilities of some levels). A claim that
   names a referral letter (``referral_letter``) is referred when the letter holds for this
   patient, facility and date (``equicover.referrals.service.letter_refusal``) and refused with
   the reason when it does not; the claim is linked to the letter in ``referral_letter_uses``.
   Without a letter, ``referred`` is the submitter's (a system that checked the referral itself).
4. Coverage: the member's active enrolments on the date (in ``scheme_code`` if given; else the
   first scheme by id that pays); the scheme's policy version in force on the date; a contract
   between the scheme and the provider on the date. A missing enrolment or contract is not an
   error: the claim is stored settled with zero payments, the member owing the whole bill, and
   ``zero_reason`` = ``not_covered`` (no enrolment), ``no_contract`` (the provider has no contract
   with the scheme) or ``service_not_designated`` (the contract lists the services it covers, care
   types or ICD-10 prefixes, and not this one; ``equicover.providers.service.designates``, the
   rule the bulk loader applies too). A bill that is not a bill is refused, nothing stored: a
   service date after today in the policy's time zone (:data:`SERVICE_DATE_AFTER_TODAY`), a date no
   policy version covers (:data:`NO_POLICY_ON_DATE`; ``no_policy`` remains on claims stored before
   this rule), days of stay that the policy's ``stay_days`` refuses for the care type.
5. :class:`equicover.settlement.realtime_engine.RealtimeEngine` (compiled once per policy version and
   process) settles it against a :class:`DatabaseAccumulatorStore`; the claim, one
   ``claim_payments`` row per layer and allowance, the new accumulators, the claim's accumulator
   deltas and one ``change_log`` row (ids and amounts only, no personal data) are written.

Speed: a province's windows submit hundreds of claims a second, and the answer is awaited at the
counter. On PostgreSQL a batch of any size costs three statements: the locked read of the claims'
context (1-3), the read of their coverage and accumulators (4), and one write of everything
(:data:`_POSTGRESQL_WRITE`, data-modifying CTEs over JSON documents). SQLite runs in-process, with no
round trips to save: it runs the same reads and writes claim by claim. Statements are built once
(building a SQLAlchemy statement costs more than running it) and the writes are Core statements,
not the ORM's unit of work: readers of ``accumulators`` load them with ``populate_existing``.

A claim refused with a typed error (unknown person or provider, another facility's provider, a
date outside the member's lifetime, a care type or provider level the policy does not know) is
refused alone: :func:`submit_claims` returns the error in its place and settles the others.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Connection, Date, Integer, Select, String, and_, bindparam, func, insert, or_, select, true
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, aliased

from equicover.audit.service import SYSTEM_ACTOR, change_log_values, insert_change_now
from equicover.claims.deltas import ClaimAccumulatorDelta
from equicover.claims.models import Claim, ClaimPayment, ClaimStatus, PaymentKind, PolicyVersion, StoredAccumulator
from equicover.claims.schemas import ClaimIn
from equicover.enrolment.models import Enrolment, Scheme
from equicover.errors import Conflict, EquicoverError, Forbidden, ValidationFailed
from equicover.providers.models import Contract, Provider
from equicover.providers.service import designates
from equicover.referrals.service import UNKNOWN_LETTER, letter_for_claims, letter_refusal, record_uses
from equicover.registry.models import Location, Person, PersonCategory
from equicover.registry.service import holds_on
from equicover.settlement import model
from equicover.settlement.loader import load_policy_text
from equicover.settlement.model import DEFAULT_REFERRAL_LETTER_VALID_DAYS
from equicover.settlement.realtime_engine import NO_ACCUMULATION, Accumulator, RealtimeEngine

ALLOWANCE_PAYER = "allowance"  # payer recorded on allowance rows (the programme pays them beside the bill)
ZERO_NOT_COVERED = "not_covered"
ZERO_NO_POLICY = "no_policy"
ZERO_NO_CONTRACT = "no_contract"
ZERO_SERVICE_NOT_DESIGNATED = "service_not_designated"  # the contract lists designated services, not this one
# Refusal reasons (field service_date) that the web window translates.
SERVICE_DATE_AFTER_TODAY = "after today (the scheme's date)"
NO_POLICY_ON_DATE = "no policy of the scheme is in force on this date"

# The change-log row of a submitted claim: ids and amounts, never personal data.
_CHANGE_LOGGED = (
    "claim_id",
    "person_id",
    "provider_id",
    "policy_version_id",
    "total",
    "allowed",
    "member_oop",
    "zero_reason",
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------------------------
# Compiled policies


@dataclass(frozen=True, slots=True)
class _CompiledPolicy:
    sha256: str
    policy: model.Policy
    engine: RealtimeEngine  # compiled once; each claim runs it over its own store (RealtimeEngine.with_store)
    payers: dict[str, str]  # layer id -> payer, for the payment rows


class _NoStore:
    """The store of a cached engine: every claim brings its own, so touching this one is a bug."""

    def get(self, member_id: str, layer_id: str, benefit_year: int) -> Accumulator:  # pragma: no cover - guard
        raise RuntimeError("a cached engine was used without its claim's accumulator store")

    def put(
        self, member_id: str, layer_id: str, benefit_year: int, accumulator: Accumulator
    ) -> None:  # pragma: no cover
        raise RuntimeError("a cached engine was used without its claim's accumulator store")


_policy_cache: dict[int, _CompiledPolicy] = {}
_policy_cache_lock = threading.Lock()


def _compiled(version_id: int, sha256: str, source_text: str | None) -> _CompiledPolicy | None:
    """The cached parse and compilation of a stored version; parsed from ``source_text`` on a miss
    (``None`` if it is a miss and no text was given). Keyed by id *and* hash: a version is never
    edited in place, but a cache must not outlive a restored or rewritten database either."""
    cached = _policy_cache.get(version_id)
    if cached is not None and cached.sha256 == sha256:
        return cached
    if source_text is None:
        return None
    policy = load_policy_text(source_text, path=f"policy version {version_id}")
    compiled = _CompiledPolicy(
        sha256, policy, RealtimeEngine(policy, _NoStore()), {layer.id: layer.payer for layer in policy.layers}
    )
    with _policy_cache_lock:
        _policy_cache[version_id] = compiled
    return compiled


def loaded_policy(version: PolicyVersion) -> model.Policy:
    """The parsed policy of a stored version (parsed once per process, keyed by id and hash)."""
    compiled = _compiled(version.id, version.sha256, version.source_text)
    assert compiled is not None
    return compiled.policy


def _compiled_version(connection: Connection, version_id: int, sha256: str) -> _CompiledPolicy:
    """A version's compiled policy, reading its source text only the first time in this process."""
    compiled = _compiled(version_id, sha256, None)
    if compiled is None:
        source_text = connection.scalar(select(PolicyVersion.source_text).where(PolicyVersion.id == version_id))
        compiled = _compiled(version_id, sha256, source_text)
    assert compiled is not None
    return compiled


# --------------------------------------------------------------------------------------------
# Accumulators


class DatabaseAccumulatorStore:
    """The accumulators of one member, one policy and one benefit year, as the engine's store.

    Holds the values the claim starts from (stored ones, read under the member lock, or those an
    earlier claim of the same batch left); the engine's ``put`` calls are kept in memory and
    :meth:`changes` gives them to the writer, so a claim refused half-way writes nothing.
    """

    def __init__(self, policy_id: str, member_id: str, benefit_year: int, stored: dict[str, Accumulator]) -> None:
        self.policy_id = policy_id
        self.member_id = member_id
        self.benefit_year = benefit_year
        self._stored = stored
        self._updates: dict[str, Accumulator] = {}

    def _check(self, member_id: str, benefit_year: int) -> None:
        if member_id != self.member_id or benefit_year != self.benefit_year:  # pragma: no cover - engine contract
            raise RuntimeError("the accumulator store holds one member and one benefit year")

    def get(self, member_id: str, layer_id: str, benefit_year: int) -> Accumulator:
        self._check(member_id, benefit_year)
        if layer_id in self._updates:
            return self._updates[layer_id]
        return self._stored.get(layer_id, NO_ACCUMULATION)

    def put(self, member_id: str, layer_id: str, benefit_year: int, accumulator: Accumulator) -> None:
        self._check(member_id, benefit_year)
        self._updates[layer_id] = accumulator

    def changes(self) -> list[tuple[str, Accumulator, Accumulator]]:
        """(layer id, value before the claim, value after it) of every accumulator the claim moved."""
        return [(layer_id, self._stored.get(layer_id, NO_ACCUMULATION), new) for layer_id, new in self._updates.items()]


# --------------------------------------------------------------------------------------------
# Submissions and results


@dataclass(frozen=True, slots=True)
class ClaimSubmission:
    """One claim to settle, by whom, and (for a clerk) the only facility it may be for."""

    claim: ClaimIn
    actor: str = SYSTEM_ACTOR
    only_provider_id: int | None = None


class ConcurrentClaimIds(Conflict):
    """A claim_id of the batch was stored by a concurrent transaction meanwhile: roll back, resubmit one by one."""

    def __init__(self) -> None:
        super().__init__(
            "claims batch", "claim_id", "a claim_id was stored concurrently; submit the batch's claims one by one"
        )


class SettledPayment(NamedTuple):
    """One payment of a claim just settled (the stored row is a ``claim_payments`` row)."""

    kind: PaymentKind
    item_id: str
    payer: str
    amount: int


@dataclass(slots=True)
class SettledClaim:
    """A claim this call just stored, as its row reads (the ``claims`` columns) and with its
    payments. Not an ORM object: building one of those per claim costs more than settling it.
    Read a claim through the service (``get_claim``) to change it."""

    id: int
    claim_id: str
    person_id: int
    provider_id: int
    policy_version_id: int | None
    service_date: dt.date
    provider_level: str
    designated: bool
    in_area: bool
    referred: bool
    care_type: str
    diagnosis: str
    days: int
    total: int
    eligible: int
    categories: str
    status: ClaimStatus
    allowed: int
    provider_writeoff: int
    member_oop: int
    fixed_fee: int | None
    trail: str
    zero_reason: str | None
    submitted_at: dt.datetime
    submitted_by: str
    reversed_at: dt.datetime | None
    reversed_by: str | None
    reversal_reason: str | None
    settled_payments: list[SettledPayment]


SubmitResult = tuple[Claim | SettledClaim, bool] | EquicoverError


@dataclass(frozen=True, slots=True)
class _Context:
    """What a claim is settled with, read under the member lock."""

    provider_id: int
    provider_level: str
    provider_designated: bool
    provider_district: int
    birth_date: dt.date
    death_date: dt.date | None
    person_district: int
    existing_pk: int | None  # a stored claim with this claim_id
    existing_provider_id: int | None
    categories: list[str]  # held on the service date, sorted
    provider_province: int | None = None
    person_province: int | None = None


@dataclass(slots=True)
class _Coverage:
    scheme_id: int | None
    version_id: int | None
    version_sha256: str | None
    zero_reason: str | None
    # The member's stored accumulators under the chosen version's policy, by (layer id, benefit year).
    accumulators: dict[tuple[str, int], Accumulator] = field(default_factory=dict)


@dataclass(slots=True)
class _Settled:
    """A claim ready to be written."""

    slot: int
    values: dict[str, Any]
    payments: list[SettledPayment]
    deltas: list[tuple[str, str, int, str, Accumulator]]  # (policy id, member id, year, layer id, delta)
    actor: str


# --------------------------------------------------------------------------------------------
# Statements (built once)


def _district_of(location: Any) -> Any:
    """The district of a location (itself for locations above district level)."""
    return func.coalesce(location.district_id, location.id)


def _province_of(location: Any) -> Any:
    """The province of a location (itself for locations above province level)."""
    return func.coalesce(location.province_id, location.id)


@functools.cache
def _context_statement() -> Select[Any]:
    """The locked read of one claim's context (SQLite, and the reference for the PostgreSQL batch read)."""
    person_location = aliased(Location)
    provider_location = aliased(Location)
    provider = (
        select(
            Provider.id.label("id"),
            Provider.level.label("level"),
            Provider.designated.label("designated"),
            _district_of(provider_location).label("district"),
            _province_of(provider_location).label("province"),
        )
        .join(provider_location, provider_location.id == Provider.location_id)
        .where(Provider.code == bindparam("provider_code", type_=String))
        .subquery("provider")
    )
    categories = (
        select(func.aggregate_strings(PersonCategory.category, ";"))
        .where(PersonCategory.person_id == Person.id, *holds_on(bindparam("on", type_=Date)))
        .scalar_subquery()
    )
    return (
        select(
            provider.c.id,
            provider.c.level,
            provider.c.designated,
            provider.c.district,
            Person.birth_date,
            Person.death_date,
            _district_of(person_location),
            Claim.id,
            Claim.provider_id,
            categories,
            provider.c.province,
            _province_of(person_location),
        )
        .select_from(Person)
        .join(person_location, person_location.id == Person.location_id)
        .outerjoin(provider, true())
        .outerjoin(
            Claim, and_(Claim.claim_id == bindparam("claim_id", type_=String), Claim.provider_id == provider.c.id)
        )
        .where(Person.id == bindparam("person_id", type_=Integer))
        .with_for_update(of=Person)
    )


# The same read for a whole batch: one row per claim (its slot), members locked in id order. The
# PostgreSQL statements take their rows as one JSON document each: one parameter to send instead
# of an array per column (psycopg dumps arrays in Python, the JSON in C).
_POSTGRESQL_CONTEXTS = """
SELECT wanted.slot, provider.id, provider.level, provider.designated,
    COALESCE(provider_location.district_id, provider_location.id),
    person.birth_date, person.death_date, COALESCE(person_location.district_id, person_location.id),
    stored.id, stored.provider_id,
    (SELECT string_agg(held.category, ';') FROM person_categories AS held
     WHERE held.person_id = person.id AND held.valid_from <= wanted.service_date
       AND (held.valid_to IS NULL OR held.valid_to >= wanted.service_date)),
    COALESCE(provider_location.province_id, provider_location.id),
    COALESCE(person_location.province_id, person_location.id)
FROM json_to_recordset(%(wanted)s::json)
    AS wanted(slot integer, person_id integer, provider_code text, claim_id text, service_date date)
JOIN persons AS person ON person.id = wanted.person_id
JOIN locations AS person_location ON person_location.id = person.location_id
LEFT JOIN providers AS provider ON provider.code = wanted.provider_code
LEFT JOIN locations AS provider_location ON provider_location.id = provider.location_id
-- LATERAL with LIMIT ((claim_id, provider) is unique; the LIMIT keeps the subquery from being merged into a
-- plain join): one index probe per wanted claim. A plain join lets the planner, who guesses 100
-- rows from json_to_recordset, hash the whole claims table instead, once per batch.
LEFT JOIN LATERAL (
    SELECT claims.id, claims.provider_id FROM claims
    WHERE claims.claim_id = wanted.claim_id AND claims.provider_id = provider.id LIMIT 1
) AS stored ON true
ORDER BY person.id
FOR UPDATE OF person
"""


@functools.cache
def _coverage_statement(by_scheme: bool) -> Select[Any]:
    """Coverage and accumulators of one claim (SQLite; the reference for the PostgreSQL batch read)."""
    on = bindparam("on", type_=Date)
    in_force = and_(
        PolicyVersion.scheme_id == Enrolment.scheme_id,
        PolicyVersion.effective_from <= on,
        or_(PolicyVersion.effective_to.is_(None), PolicyVersion.effective_to >= on),
    )
    contracted = (
        select(func.coalesce(Contract.designated_services, ""))
        .where(
            Contract.scheme_id == Enrolment.scheme_id,
            Contract.provider_id == bindparam("provider_id", type_=Integer),
            Contract.starts <= on,
            Contract.ends >= on,
        )
        .limit(1)
        .scalar_subquery()
    )
    # A benefit year starts on the policy's year_start: a date falls in the year labelled with its
    # year or the one before.
    stored = and_(
        StoredAccumulator.policy_id == PolicyVersion.policy_id,
        StoredAccumulator.member_id == bindparam("member_id", type_=String),
        or_(
            StoredAccumulator.benefit_year == bindparam("year", type_=Integer),
            StoredAccumulator.benefit_year == bindparam("year_before", type_=Integer),
        ),
    )
    query = (
        select(
            Enrolment.scheme_id,
            PolicyVersion.id,
            PolicyVersion.sha256,
            contracted,
            StoredAccumulator.layer_id,
            StoredAccumulator.benefit_year,
            StoredAccumulator.position,
            StoredAccumulator.paid,
            StoredAccumulator.member_share,
        )
        .select_from(Enrolment)
        .outerjoin(PolicyVersion, in_force)
        .outerjoin(StoredAccumulator, stored)
        .where(
            Enrolment.person_id == bindparam("person_id", type_=Integer),
            Enrolment.status == "active",
            Enrolment.starts <= on,
            Enrolment.ends >= on,
        )
        .order_by(Enrolment.scheme_id, PolicyVersion.effective_from.desc())
    )
    if by_scheme:
        scheme = select(Scheme.id).where(Scheme.code == bindparam("scheme_code", type_=String)).scalar_subquery()
        query = query.where(Enrolment.scheme_id == scheme)
    return query


_POSTGRESQL_COVERAGES = """
SELECT wanted.slot, enrolment.scheme_id, version.id, version.sha256,
    (SELECT COALESCE(contract.designated_services, '') FROM contracts AS contract
     WHERE contract.scheme_id = enrolment.scheme_id AND contract.provider_id = wanted.provider_id
       AND contract.starts <= wanted.service_date AND contract.ends >= wanted.service_date LIMIT 1),
    stored.layer_id, stored.benefit_year, stored.position, stored.paid, stored.member_share
FROM json_to_recordset(%(wanted)s::json)
    AS wanted(slot integer, person_id integer, provider_id integer, service_date date, scheme_code text)
JOIN enrolments AS enrolment ON enrolment.person_id = wanted.person_id AND enrolment.status = 'active'
    AND enrolment.starts <= wanted.service_date AND enrolment.ends >= wanted.service_date
    AND (wanted.scheme_code IS NULL
         OR enrolment.scheme_id = (SELECT scheme.id FROM schemes AS scheme WHERE scheme.code = wanted.scheme_code))
LEFT JOIN policy_versions AS version ON version.scheme_id = enrolment.scheme_id
    AND version.effective_from <= wanted.service_date
    AND (version.effective_to IS NULL OR version.effective_to >= wanted.service_date)
LEFT JOIN accumulators AS stored ON stored.policy_id = version.policy_id
    AND stored.member_id = wanted.person_id::text
    AND stored.benefit_year IN (EXTRACT(YEAR FROM wanted.service_date)::integer,
                                EXTRACT(YEAR FROM wanted.service_date)::integer - 1)
ORDER BY wanted.slot, enrolment.scheme_id, version.effective_from DESC
"""

# Every write of a batch of settled claims in one statement. Payments, deltas and change-log rows
# join new_claims on (claim_id, provider_id): a claim whose bill number the facility already
# stored writes nothing. The accumulators
# (one row per member, policy, layer and year: the batch's final values) are written only if
# every claim of the batch was inserted; otherwise the caller rolls back (ConcurrentClaimIds).
_POSTGRESQL_WRITE = """
WITH incoming AS (
    SELECT * FROM json_to_recordset(%(claims)s::json) AS c(
        claim_id text, person_id integer, provider_id integer, policy_version_id integer, service_date date,
        provider_level text, designated boolean, in_area boolean, referred boolean, care_type text, diagnosis text,
        days integer, total bigint, eligible bigint, categories text, allowed bigint, provider_writeoff bigint,
        member_oop bigint, fixed_fee integer, trail text, zero_reason text, submitted_at timestamptz, submitted_by text,
        change_at timestamptz, change_after json)
), new_claims AS (
    INSERT INTO claims (claim_id, person_id, provider_id, policy_version_id, service_date, provider_level,
        designated, in_area, referred, care_type, diagnosis, days, total, eligible, categories, status,
        allowed, provider_writeoff, member_oop, fixed_fee, trail, zero_reason, submitted_at, submitted_by,
        reversed_at, reversed_by, reversal_reason)
    SELECT claim_id, person_id, provider_id, policy_version_id, service_date, provider_level,
        designated, in_area, referred, care_type, diagnosis, days, total, eligible, categories, 'settled',
        allowed, provider_writeoff, member_oop, fixed_fee, trail, zero_reason, submitted_at, submitted_by,
        NULL, NULL, NULL
    FROM incoming
    ON CONFLICT (claim_id, provider_id) DO NOTHING
    RETURNING id, claim_id, provider_id
), payments AS (
    INSERT INTO claim_payments (claim_pk, kind, item_id, payer, amount)
    SELECT new_claims.id, paid.kind, paid.item_id, paid.payer, paid.amount
    FROM json_to_recordset(%(payments)s::json) AS paid(
        claim_id text, provider_id integer, kind text, item_id text, payer text, amount bigint)
    JOIN new_claims ON new_claims.claim_id = paid.claim_id AND new_claims.provider_id = paid.provider_id
), moved AS (
    INSERT INTO accumulators (policy_id, member_id, layer_id, benefit_year, position, paid, member_share)
    SELECT moved.policy_id, moved.member_id, moved.layer_id, moved.benefit_year,
        moved.position, moved.paid, moved.member_share
    FROM json_to_recordset(%(accumulators)s::json) AS moved(
        policy_id text, member_id text, layer_id text, benefit_year integer,
        position bigint, paid bigint, member_share bigint)
    WHERE (SELECT count(*) FROM new_claims) = %(expected)s
    ON CONFLICT (policy_id, member_id, layer_id, benefit_year)
    DO UPDATE SET position = EXCLUDED.position, paid = EXCLUDED.paid, member_share = EXCLUDED.member_share
), deltas AS (
    INSERT INTO claim_accumulator_deltas (claim_pk, policy_id, member_id, layer_id, benefit_year,
        position, paid, member_share)
    SELECT new_claims.id, delta.policy_id, delta.member_id, delta.layer_id, delta.benefit_year,
        delta.position, delta.paid, delta.member_share
    FROM json_to_recordset(%(deltas)s::json) AS delta(
        claim_id text, provider_id integer, policy_id text, member_id text, layer_id text, benefit_year integer,
        position bigint, paid bigint, member_share bigint)
    JOIN new_claims ON new_claims.claim_id = delta.claim_id AND new_claims.provider_id = delta.provider_id
), logged AS (
    INSERT INTO change_log (at, actor, entity, entity_id, action, before, after)
    SELECT incoming.change_at, incoming.submitted_by, 'claims', new_claims.id, 'submit', NULL, incoming.change_after
    FROM incoming JOIN new_claims
        ON new_claims.claim_id = incoming.claim_id AND new_claims.provider_id = incoming.provider_id
)
SELECT claim_id, provider_id, id FROM new_claims
"""


@dataclass(frozen=True, slots=True)
class _SqliteWrites:
    claim: Any
    payments: Any
    accumulators: Any
    deltas: Any


@functools.cache
def _sqlite_writes() -> _SqliteWrites:
    claims = Claim.__table__
    upsert = sqlite_insert(StoredAccumulator.__table__)
    return _SqliteWrites(
        claim=sqlite_insert(claims)
        .on_conflict_do_nothing(index_elements=["claim_id", "provider_id"])
        .returning(claims.c.id),
        payments=insert(ClaimPayment.__table__),
        accumulators=upsert.on_conflict_do_update(
            index_elements=["policy_id", "member_id", "layer_id", "benefit_year"],
            set_={name: upsert.excluded[name] for name in ("position", "paid", "member_share")},
        ),
        deltas=insert(ClaimAccumulatorDelta.__table__),
    )


# --------------------------------------------------------------------------------------------
# Reads


def _record(claim: ClaimIn) -> str:
    return f"claim {claim.claim_id}"


def _read_contexts(connection: Connection, submissions: Sequence[ClaimSubmission]) -> dict[int, tuple[Any, ...]]:
    """The locked context row of each submission, by slot (missing: unknown person)."""
    claims = [submission.claim for submission in submissions]
    if connection.dialect.name == "postgresql":
        wanted = [
            {"slot": slot, "person_id": claim.person_id, "provider_code": claim.provider_code,
             "claim_id": claim.claim_id, "service_date": claim.service_date}
            for slot, claim in enumerate(claims)
        ]  # fmt: skip
        return {
            row[0]: tuple(row[1:])
            for row in _run_postgresql(connection, _POSTGRESQL_CONTEXTS, {"wanted": _json(wanted)})
        }
    found = {}
    for slot, claim in enumerate(claims):
        row = connection.execute(
            _context_statement(),
            {
                "provider_code": claim.provider_code,
                "person_id": claim.person_id,
                "claim_id": claim.claim_id,
                "on": claim.service_date,
            },
        ).first()
        if row is not None:
            found[slot] = tuple(row)
    return found


def _context(connection: Connection, submission: ClaimSubmission, row: tuple[Any, ...] | None) -> _Context:
    """A submission's context, or the typed refusal: unknown provider, another facility's
    provider (for a clerk) and unknown person, in that order."""
    claim = submission.claim
    record = _record(claim)
    provider_id = (
        row[0]
        if row is not None
        else connection.scalar(select(Provider.id).where(Provider.code == claim.provider_code))
    )
    if provider_id is None:
        raise ValidationFailed(record, "provider_code", "unknown provider")
    if submission.only_provider_id is not None and provider_id != submission.only_provider_id:
        raise Forbidden(record, "provider_code", "you may submit claims of your own facility only")
    if row is None:
        raise ValidationFailed(record, "person_id", "unknown person")
    held = row[9]
    return _Context(
        provider_id=row[0],
        provider_level=row[1],
        provider_designated=row[2],
        provider_district=row[3],
        birth_date=row[4],
        death_date=row[5],
        person_district=row[6],
        existing_pk=row[7],
        existing_provider_id=row[8],
        categories=sorted(set(held.split(";"))) if held else [],
        provider_province=row[10],
        person_province=row[11],
    )


def _read_coverages(connection: Connection, wanted: dict[int, tuple[ClaimIn, int]]) -> dict[int, list[tuple[Any, ...]]]:
    """Coverage rows (scheme, version, contract, one stored accumulator) of each claim, by slot."""
    rows_of: dict[int, list[tuple[Any, ...]]] = {slot: [] for slot in wanted}
    if not wanted:
        return rows_of
    if connection.dialect.name == "postgresql":
        document = [
            {"slot": slot, "person_id": claim.person_id, "provider_id": provider_id, "service_date": claim.service_date,
             "scheme_code": claim.scheme_code}
            for slot, (claim, provider_id) in wanted.items()
        ]  # fmt: skip
        for row in _run_postgresql(connection, _POSTGRESQL_COVERAGES, {"wanted": _json(document)}):
            rows_of[row[0]].append(tuple(row[1:]))
        return rows_of
    for slot, (claim, provider_id) in wanted.items():
        on = claim.service_date
        parameters = {
            "person_id": claim.person_id,
            "member_id": str(claim.person_id),
            "provider_id": provider_id,
            "on": on,
            "year": on.year,
            "year_before": on.year - 1,
            "scheme_code": claim.scheme_code,
        }
        rows_of[slot] = [
            tuple(row) for row in connection.execute(_coverage_statement(claim.scheme_code is not None), parameters)
        ]
    return rows_of


def _coverage(connection: Connection, claim: ClaimIn, rows: list[tuple[Any, ...]]) -> _Coverage:
    """The first scheme (by id) with a policy version in force and a contract with the provider
    wins; else the zero-payment reason of the best one. Unknown ``scheme_code``: refused."""
    if not rows:
        if (
            claim.scheme_code is not None
            and connection.scalar(select(Scheme.id).where(Scheme.code == claim.scheme_code)) is None
        ):
            raise ValidationFailed(_record(claim), "scheme_code", "unknown scheme")
        return _Coverage(None, None, None, ZERO_NOT_COVERED)
    best = _Coverage(rows[0][0], None, None, ZERO_NO_POLICY)
    for scheme_id, version_id, sha256, services, *_ in rows:
        if version_id is None:
            continue
        if services is None:  # no contract in force between the scheme and the provider
            if best.zero_reason == ZERO_NO_POLICY:
                best = _Coverage(scheme_id, version_id, sha256, ZERO_NO_CONTRACT)
            continue
        if not designates(services, care_type=claim.care_type, diagnosis=claim.diagnosis):
            if best.zero_reason in (ZERO_NO_POLICY, ZERO_NO_CONTRACT):
                best = _Coverage(scheme_id, version_id, sha256, ZERO_SERVICE_NOT_DESIGNATED)
            continue
        best = _Coverage(scheme_id, version_id, sha256, None)
        break
    if best.zero_reason is None:
        best.accumulators = {
            (layer_id, year): Accumulator(position, paid, member_share)
            for _, version_id, _, _, layer_id, year, position, paid, member_share in rows
            if version_id == best.version_id and layer_id is not None
        }
    return best


def _refuse_unbillable(connection: Connection, claim: ClaimIn, coverage: _Coverage) -> None:
    """Refuse a bill dated after the scheme's today, on a date no policy covers, or with days of
    stay its care type does not allow; a bill only lacking enrolment or contract is settled at zero."""
    record, on = _record(claim), claim.service_date
    if coverage.version_id is not None and coverage.version_sha256 is not None:
        policy = _compiled_version(connection, coverage.version_id, coverage.version_sha256).policy
        if on > policy.today():
            raise ValidationFailed(record, "service_date", SERVICE_DATE_AFTER_TODAY)
        refusal = policy.days_refusal(claim.care_type, claim.days)
        if refusal is not None:
            raise ValidationFailed(record, "days", refusal)
        return
    if on > _programme_today(connection):
        raise ValidationFailed(record, "service_date", SERVICE_DATE_AFTER_TODAY)
    if coverage.zero_reason == ZERO_NO_POLICY or not _any_policy_on(connection, on, claim.scheme_code):
        raise ValidationFailed(record, "service_date", NO_POLICY_ON_DATE)


def _referral_letter(connection: Connection, claim: ClaimIn, context: _Context, coverage: _Coverage) -> int | None:
    """The id of the referral letter the claim names, once it holds for this care (see
    :func:`equicover.referrals.service.letter_refusal`; its validity is the settling policy's); a
    letter that does not hold refuses the claim, with the reason."""
    if claim.referral_letter is None:
        return None
    letter = letter_for_claims(connection, claim.referral_letter)
    if letter is None:
        raise ValidationFailed(_record(claim), "referral_letter", UNKNOWN_LETTER)
    valid_days = DEFAULT_REFERRAL_LETTER_VALID_DAYS
    if coverage.version_id is not None and coverage.version_sha256 is not None:
        valid_days = _compiled_version(
            connection, coverage.version_id, coverage.version_sha256
        ).policy.referral_letter_valid_days
    refusal = letter_refusal(
        letter,
        person_id=claim.person_id,
        provider_id=context.provider_id,
        provider_level=context.provider_level,
        service_date=claim.service_date,
        valid_days=valid_days,
    )
    if refusal is not None:
        raise ValidationFailed(_record(claim), "referral_letter", refusal)
    return letter.id


def _programme_today(connection: Connection) -> dt.date:
    """Today for a bill no scheme covers: the latest date among the time zones of the policies in
    force around now (a date is after today only once it is after today everywhere); UTC without any."""
    now = _now()
    near = now.date()
    versions = connection.execute(
        select(PolicyVersion.id, PolicyVersion.sha256).where(
            PolicyVersion.effective_from <= near + dt.timedelta(days=1),
            or_(PolicyVersion.effective_to.is_(None), PolicyVersion.effective_to >= near - dt.timedelta(days=1)),
        )
    ).all()
    days = [_compiled_version(connection, version_id, sha256).policy.today(now) for version_id, sha256 in versions]
    return max(days, default=near)


def _any_policy_on(connection: Connection, on: dt.date, scheme_code: str | None) -> bool:
    query = select(PolicyVersion.id).where(
        PolicyVersion.effective_from <= on,
        or_(PolicyVersion.effective_to.is_(None), PolicyVersion.effective_to >= on),
    )
    if scheme_code is not None:
        query = query.where(PolicyVersion.scheme_id.in_(select(Scheme.id).where(Scheme.code == scheme_code)))
    return connection.scalar(query.limit(1)) is not None


# --------------------------------------------------------------------------------------------
# Settling


def submit_claims(*, session: Session, submissions: Sequence[ClaimSubmission]) -> list[SubmitResult]:
    """Settle and store claims submitted together; for each, (stored claim, created) or the typed
    error that refused it. See the module docstring. Never commits.

    Raises :class:`ConcurrentClaimIds` (a batch of more than one claim only) when a claim_id was
    stored by a concurrent transaction after the read: the caller must roll back.
    """
    connection = session.connection()
    results: list[SubmitResult | None] = [None] * len(submissions)
    contexts: dict[int, _Context] = {}
    rows = _read_contexts(connection, submissions)
    for slot, submission in enumerate(submissions):
        claim = submission.claim
        try:
            context = _context(connection, submission, rows.get(slot))
            if context.existing_pk is not None:
                if (
                    submission.only_provider_id is not None
                    and context.existing_provider_id != submission.only_provider_id
                ):
                    raise Forbidden(_record(claim), "claim_id", "this claim belongs to another facility")
                existing = session.get(Claim, context.existing_pk)
                assert existing is not None
                results[slot] = (existing, False)
                continue
        except EquicoverError as error:
            results[slot] = error
            continue
        contexts[slot] = context

    # In submission order, as if each claim came a moment after the previous one: a claim_id
    # settled earlier in the batch answers as stored; one refused earlier is looked at afresh.
    coverage_rows = _read_coverages(
        connection, {slot: (submissions[slot].claim, context.provider_id) for slot, context in contexts.items()}
    )
    running: dict[tuple[str, str, int], dict[str, Accumulator]] = {}  # (policy, member, year) -> layer -> value
    settled: list[_Settled] = []
    settled_slot_of: dict[tuple[str, int], int] = {}
    same_as: dict[int, int] = {}  # slot -> earlier slot of the batch that settled the same bill of the same facility
    letters: dict[int, int] = {}  # slot -> the referral letter the claim carried, checked
    for slot, context in contexts.items():
        submission = submissions[slot]
        claim = submission.claim
        bill = (claim.claim_id, context.provider_id)
        if bill in settled_slot_of:
            same_as[slot] = settled_slot_of[bill]
            continue
        try:
            on = claim.service_date
            if on < context.birth_date or (context.death_date is not None and on > context.death_date):
                raise ValidationFailed(_record(claim), "service_date", "outside the person's lifetime")
            coverage = _coverage(connection, claim, coverage_rows[slot])
            _refuse_unbillable(connection, claim, coverage)
            letter_id = _referral_letter(connection, claim, context, coverage)
            referred = claim.referred if letter_id is None else True
            settled.append(_settle(slot, connection, submission, context, coverage, running, referred))
            if letter_id is not None:
                letters[slot] = letter_id
        except EquicoverError as error:
            results[slot] = error
            continue
        settled_slot_of[bill] = slot

    written = _write(connection, settled, running)
    if len(written) < len(settled) and len(settled) > 1:
        raise ConcurrentClaimIds()
    record_uses(
        connection,
        [
            (row_pk, letters[item.slot])
            for item in settled
            if item.slot in letters
            and (row_pk := written.get((submissions[item.slot].claim.claim_id, item.values["provider_id"]))) is not None
        ],
    )
    for item in settled:
        submission = submissions[item.slot]
        provider_id = item.values["provider_id"]
        row_pk = written.get((submission.claim.claim_id, provider_id))
        if row_pk is None:  # a lone claim lost the race on its bill number: nothing was written, return the winner's
            results[item.slot] = _winner(session, submission, provider_id)
            continue
        # Not in the session: a reversal in the same unit of work reads the row back, and a
        # rolled-back attempt leaves no stale identity behind.
        results[item.slot] = (SettledClaim(id=row_pk, settled_payments=item.payments, **item.values), True)
    for slot, first in same_as.items():
        results[slot] = _same_claim_again(submissions[slot], results[first])
    answers = [result for result in results if result is not None]
    assert len(answers) == len(results), "every submission has its answer"
    return answers


def _in_area(connection: Connection, context: _Context, provider_code: str, coverage: _Coverage) -> bool:
    """The claim's ``in_area`` by the ``[area]`` rule of the policy version that settles it (the
    default rule, same district, for a claim no version settles)."""
    same_district = context.person_district == context.provider_district
    if coverage.version_id is None or coverage.version_sha256 is None:
        return same_district
    policy = _compiled_version(connection, coverage.version_id, coverage.version_sha256).policy
    return policy.in_area(
        same_district=same_district,
        same_province=context.person_province == context.provider_province,
        provider_code=provider_code,
        provider_level=context.provider_level,
    )


def _settle(
    slot: int,
    connection: Connection,
    submission: ClaimSubmission,
    context: _Context,
    coverage: _Coverage,
    running: dict[tuple[str, str, int], dict[str, Accumulator]],
    referred: bool,
) -> _Settled:
    claim = submission.claim
    record = _record(claim)
    on = claim.service_date
    eligible = claim.total if claim.eligible is None else claim.eligible
    in_area = _in_area(connection, context, claim.provider_code, coverage)
    values: dict[str, Any] = {
        "claim_id": claim.claim_id,
        "person_id": claim.person_id,
        "provider_id": context.provider_id,
        "policy_version_id": coverage.version_id,
        "service_date": on,
        "provider_level": context.provider_level,
        "designated": context.provider_designated,
        "in_area": in_area,
        "referred": referred,
        "care_type": claim.care_type,
        "diagnosis": claim.diagnosis,
        "days": claim.days,
        "total": claim.total,
        "eligible": eligible,
        "categories": ";".join(context.categories),
        "status": "settled",
        "fixed_fee": None,
        "zero_reason": None,
        "submitted_at": _now(),
        "submitted_by": submission.actor,
        "reversed_at": None,
        "reversed_by": None,
        "reversal_reason": None,
    }
    if coverage.zero_reason is not None or coverage.version_id is None or coverage.version_sha256 is None:
        values.update(
            allowed=claim.total, provider_writeoff=0, member_oop=claim.total, trail="", zero_reason=coverage.zero_reason
        )
        return _Settled(slot, values, [], [], submission.actor)

    compiled = _compiled_version(connection, coverage.version_id, coverage.version_sha256)
    policy = compiled.policy
    if claim.care_type not in policy.care_types:
        raise ValidationFailed(
            record, "care_type", f"not a care type of policy {policy.id}: {', '.join(policy.care_types)}"
        )
    if context.provider_level not in policy.provider_levels:
        raise ValidationFailed(record, "provider_code", f"the provider's level is not a level of policy {policy.id}")
    member_id = str(claim.person_id)
    year = policy.benefit_year(on)
    key = (policy.id, member_id, year)
    if key not in running:  # the first claim of this member, policy and year in the batch starts from the stored values
        running[key] = {
            layer_id: value for (layer_id, stored_year), value in coverage.accumulators.items() if stored_year == year
        }
    store = DatabaseAccumulatorStore(policy.id, member_id, year, dict(running[key]))
    engine_claim = model.Claim(
        claim_id=claim.claim_id,
        member_id=member_id,
        service_date=on,
        provider_id=claim.provider_code,
        provider_level=context.provider_level,
        designated=context.provider_designated,
        in_area=in_area,
        referred=referred,
        care_type=claim.care_type,
        diagnosis=claim.diagnosis,
        days=claim.days,
        total=claim.total,
        eligible=eligible,
        categories=frozenset(context.categories),
    )
    settlement = compiled.engine.with_store(store).settle(engine_claim)
    values.update(
        allowed=settlement.allowed,
        provider_writeoff=settlement.provider_writeoff,
        member_oop=settlement.member_oop,
        fixed_fee=settlement.fixed_fee,
        trail=settlement.trail,
    )
    payments = [
        SettledPayment("layer", layer_id, compiled.payers[layer_id], amount)
        for layer_id, amount in settlement.paid.items()
    ]
    payments += [
        SettledPayment("allowance", item, ALLOWANCE_PAYER, amount) for item, amount in settlement.allowances.items()
    ]
    deltas = []
    for layer_id, old, new in store.changes():
        running[key][layer_id] = new
        delta = Accumulator(new.position - old.position, new.paid - old.paid, new.member_share - old.member_share)
        deltas.append((policy.id, member_id, year, layer_id, delta))
    return _Settled(slot, values, payments, deltas, submission.actor)


def _write(
    connection: Connection, settled: list[_Settled], running: dict[tuple[str, str, int], dict[str, Accumulator]]
) -> dict[tuple[str, int], int]:
    """Store the settled claims; their new ids by (claim_id, provider_id) (a bill already stored is missing)."""
    if not settled:
        return {}
    # Only accumulators some claim moved are written (their final value in the batch).
    moved = {
        (policy_id, member_id, year, layer_id)
        for item in settled
        for policy_id, member_id, year, layer_id, _ in item.deltas
    }
    accumulators = sorted((*key, running[key[:3]][key[3]]) for key in moved)
    logs = [
        change_log_values(
            actor=item.actor,
            entity="claims",
            entity_id=None,
            action="submit",
            after={name: item.values[name] for name in _CHANGE_LOGGED},
        )
        for item in settled
    ]
    if connection.dialect.name == "postgresql":
        return _write_postgresql(connection, settled, accumulators, logs)

    statements = _sqlite_writes()
    written: dict[tuple[str, int], int] = {}
    for item, log in zip(settled, logs, strict=True):
        row_pk = connection.execute(statements.claim, item.values).scalar()
        if row_pk is None:
            continue
        written[(item.values["claim_id"], item.values["provider_id"])] = row_pk
        if item.payments:
            connection.execute(
                statements.payments, [{"claim_pk": row_pk, **payment._asdict()} for payment in item.payments]
            )
        if item.deltas:
            connection.execute(
                statements.deltas,
                [{"claim_pk": row_pk,
                  "policy_id": policy_id, "member_id": member_id, "benefit_year": year, "layer_id": layer_id,
                  "position": delta.position, "paid": delta.paid, "member_share": delta.member_share}
                 for policy_id, member_id, year, layer_id, delta in item.deltas],
            )  # fmt: skip
        insert_change_now(connection=connection, values={**log, "entity_id": row_pk})
    if accumulators and len(written) == len(settled):
        connection.execute(
            statements.accumulators,
            [{"policy_id": policy_id, "member_id": member_id, "benefit_year": year, "layer_id": layer_id,
              "position": value.position, "paid": value.paid, "member_share": value.member_share}
             for policy_id, member_id, year, layer_id, value in accumulators],
        )  # fmt: skip
    return written


def _write_postgresql(
    connection: Connection,
    settled: list[_Settled],
    accumulators: list[tuple[str, str, int, str, Accumulator]],
    logs: list[dict[str, Any]],
) -> dict[tuple[str, int], int]:
    claims = [
        {**item.values, "change_at": log["at"], "change_after": log["after"]}
        for item, log in zip(settled, logs, strict=True)
    ]
    payments = [
        {
            "claim_id": item.values["claim_id"],
            "provider_id": item.values["provider_id"],
            "kind": kind,
            "item_id": item_id,
            "payer": payer,
            "amount": amount,
        }
        for item in settled
        for kind, item_id, payer, amount in item.payments
    ]
    moved = [
        {"policy_id": policy_id, "member_id": member_id, "benefit_year": year, "layer_id": layer_id,
         "position": value.position, "paid": value.paid, "member_share": value.member_share}
        for policy_id, member_id, year, layer_id, value in accumulators
    ]  # fmt: skip
    deltas = [
        {"claim_id": item.values["claim_id"], "provider_id": item.values["provider_id"], "policy_id": policy_id,
         "member_id": member_id, "benefit_year": year, "layer_id": layer_id,
         "position": delta.position, "paid": delta.paid, "member_share": delta.member_share}
        for item in settled
        for policy_id, member_id, year, layer_id, delta in item.deltas
    ]  # fmt: skip
    parameters = {
        "claims": _json(claims),
        "payments": _json(payments),
        "accumulators": _json(moved),
        "deltas": _json(deltas),
        "expected": len(settled),
    }
    return {
        (claim_id, provider_id): row_pk
        for claim_id, provider_id, row_pk in _run_postgresql(connection, _POSTGRESQL_WRITE, parameters)
    }


def _json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, default=_iso, separators=(",", ":"))


def _iso(value: object) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def _run_postgresql(connection: Connection, statement: str, parameters: dict[str, Any]) -> Sequence[tuple[Any, ...]]:
    """Run one of this module's PostgreSQL statements on the driver's cursor, inside the
    connection's transaction: SQLAlchemy's statement and result layers cost more than the
    statement itself here, and these three run for every claim the service settles."""
    import psycopg

    cursor = connection.connection.cursor()
    try:
        cursor.execute(statement, parameters)
        return cursor.fetchall()
    except psycopg.Error as error:
        # As SQLAlchemy would raise it (retries look at DBAPIError.orig); never with the parameters.
        # A connection the server ended is invalidated as SQLAlchemy does for its own statements,
        # so that the caller's retry runs on a fresh one.
        original: Any = error  # psycopg's own error class, which SQLAlchemy's stubs do not name
        lost = connection.dialect.is_disconnect(original, connection.connection.dbapi_connection, cursor)
        if lost:
            connection.invalidate(error)
        raise DBAPIError.instance(
            statement,
            None,
            error,
            psycopg.Error,
            hide_parameters=True,
            connection_invalidated=lost,
            dialect=connection.dialect,
        ) from error
    finally:
        cursor.close()


def _stored_claim(session: Session, claim_id: str, provider_id: int | None = None) -> Claim | None:
    """The stored claim with this bill number (of this facility, when given), read afresh."""
    query = select(Claim).where(Claim.claim_id == claim_id)
    if provider_id is not None:
        query = query.where(Claim.provider_id == provider_id)
    return session.scalars(query.order_by(Claim.id).execution_options(populate_existing=True)).first()


def _winner(session: Session, submission: ClaimSubmission, provider_id: int) -> SubmitResult:
    claim = submission.claim
    winner = _stored_claim(session, claim.claim_id, provider_id)
    if winner is None:  # pragma: no cover - the conflicting row is committed when ON CONFLICT reports it
        return Conflict(_record(claim), "claim_id", "a concurrent submission with this claim_id failed, retry")
    if submission.only_provider_id is not None and winner.provider_id != submission.only_provider_id:
        return Forbidden(_record(claim), "claim_id", "this claim belongs to another facility")
    return winner, False


def _same_claim_again(submission: ClaimSubmission, first: SubmitResult | None) -> SubmitResult:
    """A claim_id settled earlier in the same batch: the stored claim, as a moment later."""
    if first is None or isinstance(first, EquicoverError):  # pragma: no cover - same_as points at settled claims only
        return Conflict(
            _record(submission.claim), "claim_id", "a concurrent submission with this claim_id failed, retry"
        )
    row, _ = first
    if submission.only_provider_id is not None and row.provider_id != submission.only_provider_id:
        return Forbidden(_record(submission.claim), "claim_id", "this claim belongs to another facility")
    return row, False


def submit_claim(
    *, session: Session, claim: ClaimIn, actor: str = SYSTEM_ACTOR, only_provider_id: int | None = None
) -> tuple[Claim | SettledClaim, bool]:
    """Settle and store one claim; returns (stored claim, created) or raises its typed refusal.

    ``only_provider_id``: the caller may only submit (and see) claims of this provider (a clerk's
    facility): another provider's code, or an existing claim of another provider, gives 403.
    """
    (result,) = submit_claims(session=session, submissions=[ClaimSubmission(claim, actor, only_provider_id)])
    if isinstance(result, EquicoverError):
        raise result
    return result
