"""Load a batch-settled year of claims into the stored-claims tables, fast.

Input: a claims file (``docs/settlement.md`` section 1, CSV or Parquet) and the settlements file
the batch engine wrote for it with ``policy`` (``equicover settle --engine batch``). The two are
joined on ``claim_id`` in DuckDB, money becomes integer minor units there (through DECIMAL, never
a float), and rows go to ``claims`` and ``claim_payments`` through :mod:`equicover.db.bulk`
(COPY on PostgreSQL), in the caller's transaction (nothing is committed here).

Contracts are enforced as in the real-time service: when the policy version names a scheme, a
claim from a provider without a contract with that scheme on the service date is stored with
zero payments, ``member_oop = allowed`` and ``zero_reason = "no_contract"``.

The claims service (``equicover.claims.service``) remains the only writer of single claims; this
is its bulk path for a year settled in the batch engine (the demo and the reports need one).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.claims.models import Claim, ClaimPayment, PolicyVersion
from equicover.claims.service import store_policy_version
from equicover.db.bulk import bulk_insert_rows, next_id, sync_id_sequence
from equicover.errors import ValidationFailed
from equicover.providers.models import Contract, Provider
from equicover.providers.service import NO_CONTRACT, SERVICE_NOT_DESIGNATED
from equicover.registry.models import Person
from equicover.registry.service import SYSTEM_ACTOR, record_change
from equicover.settlement.model import Policy

ALLOWANCE_PAYER = "allowance"  # as equicover.claims.service records allowance rows
# Synthetic submission delay (days after discharge), for provinces whose claims file has no
# submission time: 0-14 days from a hash of the claim id, so the same file gives the same dates.
SYNTHETIC_LAG_DAYS = 15


@dataclass(frozen=True, slots=True)
class BulkLoadReport:
    claims: int
    payments: int
    zero_outside_contract: int
    policy_version_id: int


def ensure_policy_version(*, session: Session, policy: Policy, scheme_code: str | None, actor: str = SYSTEM_ACTOR) -> PolicyVersion:
    """The stored version of ``policy`` (same id and start), created from its file if absent.

    With a scheme, the version is stored as an upload is (``claims.service.store_policy_version``:
    the same checks of currency and overlapping periods, the same change-log row), so that the
    real-time window settles later claims of the scheme with it. Without one, it is kept only as
    the record of which rules settled the loaded claims.
    """
    found = session.scalar(
        select(PolicyVersion).where(
            PolicyVersion.policy_id == policy.id, PolicyVersion.effective_from == policy.effective_from
        )
    )
    if found is not None:
        return found
    source = Path(policy.path).read_text(encoding="utf-8") if policy.path else ""
    if scheme_code is not None:
        return store_policy_version(session=session, source_text=source, scheme_code=scheme_code, actor=actor)
    version = PolicyVersion(
        policy_id=policy.id,
        name=policy.name[:200],
        currency=policy.currency,
        effective_from=policy.effective_from,
        effective_to=policy.effective_to,
        scheme_id=None,
        source_text=source,
        sha256=hashlib.sha256(source.encode("utf-8")).hexdigest(),
        uploaded_at=dt.datetime.now(dt.timezone.utc),
        uploaded_by=actor,
    )
    session.add(version)
    session.flush()
    return version


def _reader(path: Path) -> str:
    literal = "'" + str(path).replace("'", "''") + "'"
    if path.suffix.lower() == ".parquet":
        return f"read_parquet({literal})"
    return f"read_csv({literal}, header = true, all_varchar = true)"


def _money(column: str, digits: int) -> str:
    # DECIMAL keeps the text exact; the product is a whole number of minor units.
    return f"CAST(CAST(trim({column}) AS DECIMAL(38, {digits})) * {10**digits} AS BIGINT)"


def _boolean(column: str) -> str:
    return f"(lower(trim({column})) IN ('true', '1', 'yes'))"


def load_settled_claims(
    *,
    session: Session,
    policy: Policy,
    claims_path: str | Path,
    settlements_path: str | Path,
    scheme_code: str | None = None,
    actor: str = SYSTEM_ACTOR,
    synthetic_submission: bool = False,
) -> BulkLoadReport:
    """Store a batch-settled file of claims; returns counts. Refused: a claim whose provider
    code or member id is not in the database, or a claim id already stored (nothing is written)."""
    from equicover.enrolment.models import Scheme

    claims_path, settlements_path = Path(claims_path), Path(settlements_path)
    scheme_id = None
    if scheme_code is not None:
        scheme_id = session.scalar(select(Scheme.id).where(Scheme.code == scheme_code))
        if scheme_id is None:
            raise ValidationFailed(f"scheme {scheme_code}", "scheme_code", "unknown scheme")
    version = ensure_policy_version(session=session, policy=policy, scheme_code=scheme_code, actor=actor)
    scheme_id = scheme_id if scheme_id is not None else version.scheme_id

    providers = session.execute(select(Provider.code, Provider.id)).all()
    contracts = (
        session.execute(
            select(Contract.provider_id, Contract.starts, Contract.ends, Contract.designated_services).where(Contract.scheme_id == scheme_id)
        ).all()
        if scheme_id is not None
        else []
    )
    digits = policy.minor_digits
    layers = [layer.id for layer in policy.layers]
    allowances = [allowance.id for allowance in policy.allowances]
    enforce = scheme_id is not None
    # The same rules as providers.service.contract_refusal: a contract in force on the date, and
    # the service among its designated services (care types, ICD-10 prefixes) when it lists any.
    refusal = (
        f"""CASE WHEN k.provider_id IS NULL THEN '{NO_CONTRACT}'
                 WHEN k.services IS NOT NULL AND NOT (
                     list_contains(k.services, trim(c.care_type))
                     OR len(list_filter(k.services, lambda t: starts_with(replace(upper(trim(c.diagnosis)), '.', ''), replace(upper(t), '.', '')))) > 0)
                 THEN '{SERVICE_NOT_DESIGNATED}' END"""
        if enforce
        else "NULL"
    )
    paid = ", ".join(
        f"CASE WHEN has_contract THEN {_money('paid_' + layer, digits)} ELSE 0 END AS paid_{i}" for i, layer in enumerate(layers)
    )
    granted = ", ".join(
        f"CASE WHEN has_contract THEN {_money('allowance_' + a, digits)} ELSE 0 END AS allowance_{i}"
        for i, a in enumerate(allowances)
    )
    lag = (
        f"(hash(claim_id) % {SYNTHETIC_LAG_DAYS})::INTEGER + CAST(trim(days) AS INTEGER)"
        if synthetic_submission
        else "NULL"
    )
    with tempfile.TemporaryDirectory(prefix="equicover-load-") as spill:
        connection = duckdb.connect(config={"temp_directory": spill})
        try:
            connection.register(
                "provider_codes",
                pa.table({"code": [code for code, _ in providers], "id": pa.array([pk for _, pk in providers], pa.int64())}),
            )
            connection.register(
                "provider_contracts",
                pa.table({
                    "provider_id": pa.array([row[0] for row in contracts], pa.int64()),
                    "starts": pa.array([row[1] for row in contracts], pa.date32()),
                    "ends": pa.array([row[2] for row in contracts], pa.date32()),
                    "designated_services": pa.array([row[3] for row in contracts], pa.string()),
                }),
            )
            query = f"""
                WITH joined AS (
                    SELECT c.*, s.* EXCLUDE (claim_id), p.id AS provider_pk, CAST(trim(c.service_date) AS DATE) AS served,
                           {refusal} AS refusal, ({refusal}) IS NULL AS has_contract
                    FROM {_reader(claims_path)} c
                    JOIN {_reader(settlements_path)} s ON trim(s.claim_id) = trim(c.claim_id)
                    LEFT JOIN provider_codes p ON p.code = trim(c.provider_id)
                    LEFT JOIN (
                        SELECT provider_id, starts, ends,
                               CASE WHEN trim(coalesce(designated_services, '')) = '' THEN NULL
                                    ELSE list_filter(list_transform(string_split(designated_services, ';'), lambda t: trim(t)), lambda t: t <> '') END
                               AS services
                        FROM provider_contracts
                    ) k ON k.provider_id = p.id AND CAST(trim(c.service_date) AS DATE) BETWEEN k.starts AND k.ends
                    -- overlapping contracts (not refused by the bulk contract loader): one row per claim
                    QUALIFY row_number() OVER (PARTITION BY c.claim_id ORDER BY k.starts NULLS LAST) = 1
                )
                SELECT trim(claim_id) AS claim_id, CAST(trim(member_id) AS BIGINT) AS person_id, provider_pk,
                       served, trim(provider_level) AS provider_level,
                       {_boolean('designated')} AS designated, {_boolean('in_area')} AS in_area,
                       {_boolean('referred')} AS referred, trim(care_type) AS care_type,
                       upper(trim(diagnosis)) AS diagnosis, CAST(trim(days) AS BIGINT) AS days,
                       {_money('total', digits)} AS total, {_money('eligible', digits)} AS eligible,
                       coalesce(trim(categories), '') AS categories,
                       {_money('allowed', digits)} AS allowed, {_money('provider_writeoff', digits)} AS provider_writeoff,
                       CASE WHEN has_contract THEN {_money('member_oop', digits)} ELSE {_money('allowed', digits)} END AS member_oop,
                       CASE WHEN has_contract THEN trail ELSE trail || '; ' || refusal END AS trail,
                       refusal AS zero_reason,
                       served + {lag} AS submitted_on
                       {', ' + paid if paid else ''}{', ' + granted if granted else ''}
                FROM joined ORDER BY served, claim_id
            """
            columns = connection.execute(query).fetchnumpy()
        finally:
            connection.close()

    count = len(columns["claim_id"])
    if count == 0:
        return BulkLoadReport(0, 0, 0, version.id)
    if _has_mask(columns["provider_pk"]):
        raise ValidationFailed(f"claims file {claims_path.name}", "provider_id", "a provider code is not in the database")
    person_ids = np.asarray(columns["person_id"], dtype=np.int64)
    known = np.fromiter(session.scalars(select(Person.id)), dtype=np.int64)
    if not np.isin(np.unique(person_ids), known).all():
        raise ValidationFailed(f"claims file {claims_path.name}", "member_id", "a member id is not a person in the registry")

    now = dt.datetime.now(dt.timezone.utc)
    if synthetic_submission:
        submitted = [dt.datetime.combine(day, dt.time(12), tzinfo=dt.timezone.utc) for day in _dates(columns["submitted_on"])]
    else:
        submitted = [now] * count
    if session.connection().dialect.name == "sqlite":
        # As SQLAlchemy's SQLite DateTime stores them (UTC, no offset), so ORM reads see the same values.
        submitted = [moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f") for moment in submitted]
    first_id = next_id(session, Claim.__table__)
    claim_pks = np.arange(first_id, first_id + count, dtype=np.int64)
    bulk_insert_rows(
        session,
        Claim.__table__,
        {
            "id": claim_pks.tolist(),
            "claim_id": columns["claim_id"].tolist(),
            "person_id": person_ids.tolist(),
            "provider_id": np.asarray(columns["provider_pk"], dtype=np.int64).tolist(),
            "policy_version_id": [version.id] * count,
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
            "zero_reason": [None if value is None else str(value) for value in _objects(columns["zero_reason"])],
            "submitted_at": submitted,
            "submitted_by": [actor] * count,
        },
    )
    sync_id_sequence(session, Claim.__table__)

    # One payment row per claim per layer and allowance (zero rows kept, as the service does).
    payer_of = {layer.id: layer.payer for layer in policy.layers}
    items = [("layer", layer, payer_of[layer], f"paid_{i}") for i, layer in enumerate(layers)]
    # An allowance has no payer of its own: recorded as the claims service records it.
    items += [("allowance", a, ALLOWANCE_PAYER, f"allowance_{i}") for i, a in enumerate(allowances)]
    width = len(items)
    payments = count * width
    if payments:
        first_payment = next_id(session, ClaimPayment.__table__)
        bulk_insert_rows(
            session,
            ClaimPayment.__table__,
            {
                "id": list(range(first_payment, first_payment + payments)),
                "claim_pk": np.repeat(claim_pks, width).tolist(),
                "kind": [kind for kind, _, _, _ in items] * count,
                "item_id": [item for _, item, _, _ in items] * count,
                "payer": [payer for _, _, payer, _ in items] * count,
                "amount": np.column_stack([np.asarray(columns[name], dtype=np.int64) for *_, name in items]).ravel().tolist(),
            },
        )
        sync_id_sequence(session, ClaimPayment.__table__)
    zeroed = sum(1 for value in _objects(columns["zero_reason"]) if value is not None)
    record_change(
        session=session, actor=actor, entity="claims", entity_id=None, action="bulk_load",
        after={"rows": count, "payments": payments, "outside_contract": zeroed, "policy_version_id": version.id},
    )
    return BulkLoadReport(claims=count, payments=payments, zero_outside_contract=zeroed, policy_version_id=version.id)


def _objects(values: np.ndarray) -> list[object]:
    if isinstance(values, np.ma.MaskedArray):
        return [None if masked else value for value, masked in zip(values.data.tolist(), np.ma.getmaskarray(values).tolist())]
    return values.tolist()


def _has_mask(values: np.ndarray) -> bool:
    return bool(isinstance(values, np.ma.MaskedArray) and np.ma.getmaskarray(values).any())


def _dates(values: np.ndarray) -> list[dt.date]:
    days = np.asarray(values).astype("datetime64[D]")
    return days.astype(object).tolist()
