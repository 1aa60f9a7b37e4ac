"""Provider services: the only door to providers and contracts.

Keyword-only, never commit, validate before writing; periods inclusive at both ends.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.audit.service import SYSTEM_ACTOR, record_change
from equicover.db.bulk import DEFAULT_CHUNK_SIZE, Rows, bulk_insert_rows
from equicover.enrolment.models import Scheme
from equicover.errors import Conflict, NotFound, ValidationFailed
from equicover.providers.models import Contract, Provider
from equicover.providers.schemas import ContractIn, ProviderIn
from equicover.registry.models import Location


def register_provider(*, session: Session, provider: ProviderIn, actor: str = SYSTEM_ACTOR) -> Provider:
    record = f"provider {provider.code}"
    if session.scalar(select(Provider.id).where(Provider.code == provider.code)) is not None:
        raise Conflict(record, "code", "a provider with this code exists")
    location_id = session.scalar(select(Location.id).where(Location.code == provider.location_code))
    if location_id is None:
        raise ValidationFailed(record, "location_code", "unknown location")
    row = Provider(
        code=provider.code,
        name=provider.name,
        level=provider.level,
        location_id=location_id,
        designated=provider.designated,
        ownership=provider.ownership,
    )
    session.add(row)
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="providers",
        entity_id=row.id,
        action="create",
        after={
            "code": row.code,
            "level": row.level,
            "location_id": location_id,
            "designated": row.designated,
            "ownership": row.ownership,
        },
    )
    return row


def get_provider(*, session: Session, code: str) -> Provider:
    row = session.scalar(select(Provider).where(Provider.code == code))
    if row is None:
        raise NotFound(f"provider {code}", "code", "unknown provider")
    return row


def set_designated(*, session: Session, provider_id: int, designated: bool, actor: str = SYSTEM_ACTOR) -> Provider:
    record = f"provider {provider_id}"
    row = session.get(Provider, provider_id)
    if row is None:
        raise NotFound(record, "provider_id", "unknown provider")
    if row.designated != designated:
        record_change(
            session=session,
            actor=actor,
            entity="providers",
            entity_id=row.id,
            action="update",
            before={"designated": row.designated},
            after={"designated": designated},
        )
        row.designated = designated
        session.flush()
    return row


def sign_contract(*, session: Session, contract: ContractIn, actor: str = SYSTEM_ACTOR) -> Contract:
    """Sign a contract between a scheme and a provider.

    Refused: unknown scheme or provider, ``ends`` before ``starts``, an overlap with another
    contract between the same scheme and provider.
    """
    record = f"contract {contract.scheme_code}/{contract.provider_code}"
    scheme_id = session.scalar(select(Scheme.id).where(Scheme.code == contract.scheme_code))
    if scheme_id is None:
        raise ValidationFailed(record, "scheme_code", "unknown scheme")
    provider_id = session.scalar(select(Provider.id).where(Provider.code == contract.provider_code))
    if provider_id is None:
        raise ValidationFailed(record, "provider_code", "unknown provider")
    if contract.ends < contract.starts:
        raise ValidationFailed(record, "ends", "is before starts")
    clash = session.scalar(
        select(Contract.id).where(
            Contract.scheme_id == scheme_id,
            Contract.provider_id == provider_id,
            Contract.starts <= contract.ends,
            Contract.ends >= contract.starts,
        )
    )
    if clash is not None:
        raise Conflict(record, "starts", f"overlaps contract {clash}")
    row = Contract(
        scheme_id=scheme_id,
        provider_id=provider_id,
        starts=contract.starts,
        ends=contract.ends,
        payment_method=contract.payment_method,
        designated_services=contract.designated_services,
    )
    session.add(row)
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="contracts",
        entity_id=row.id,
        action="create",
        after={
            "scheme_id": scheme_id,
            "provider_id": provider_id,
            "starts": row.starts,
            "ends": row.ends,
            "payment_method": row.payment_method,
        },
    )
    return row


def contract_on(*, session: Session, scheme_id: int, provider_id: int, on: dt.date) -> Contract | None:
    """The contract between the scheme and the provider in force on ``on``, if any."""
    return session.scalar(
        select(Contract).where(
            Contract.scheme_id == scheme_id,
            Contract.provider_id == provider_id,
            Contract.starts <= on,
            Contract.ends >= on,
        )
    )


def bulk_insert_providers(
    *, session: Session, rows: Rows, actor: str = SYSTEM_ACTOR, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> int:
    """Insert providers. Each row: ``id`` (recommended), ``code``, ``name``, ``level``,
    ``location_id``; optional ``designated`` (default False) and ``ownership`` (public, private,
    non_profit; default public). Returns the number of rows written."""

    written = bulk_insert_rows(
        session, Provider.__table__, rows, chunk_size=chunk_size, defaults={"designated": False, "ownership": "public"}
    )
    if written:
        record_change(
            session=session,
            actor=actor,
            entity="providers",
            entity_id=None,
            action="bulk_load",
            after={"rows": written},
        )
    return written


def bulk_insert_contracts(
    *, session: Session, rows: Rows, actor: str = SYSTEM_ACTOR, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> int:
    """Insert contracts. Each row: ``scheme_id``, ``provider_id``, ``starts``, ``ends``,
    ``payment_method`` (fee_for_service, fixed_fee, capitation); optional
    ``designated_services``. Overlaps are not checked here. Returns the number of rows written."""

    written = bulk_insert_rows(
        session, Contract.__table__, rows, chunk_size=chunk_size, defaults={"designated_services": None}
    )
    if written:
        record_change(
            session=session,
            actor=actor,
            entity="contracts",
            entity_id=None,
            action="bulk_load",
            after={"rows": written},
        )
    return written


# Contract enforcement. A claim is payable only if its provider has a contract with the
# claim's scheme in force on the service date and, when the contract lists designated services,
# the claim's service is one of them. The reasons are the stable codes stored in
# ``claims.zero_reason``.
NO_CONTRACT = "no_contract"
SERVICE_NOT_DESIGNATED = "service_not_designated"


def designated_services(contract: Contract) -> frozenset[str]:
    """The contract's designated services: care types and ICD-10 code prefixes, upper-cased for
    codes; empty means every service. Written ";"-separated in ``designated_services``."""
    if not contract.designated_services:
        return frozenset()
    return frozenset(token.strip() for token in contract.designated_services.split(";") if token.strip())


def service_is_designated(contract: Contract, *, care_type: str, diagnosis: str) -> bool:
    return designates(contract.designated_services, care_type=care_type, diagnosis=diagnosis)


def designates(designated_services: str | None, *, care_type: str, diagnosis: str) -> bool:
    """Whether a contract's ``designated_services`` column (care types and ICD-10 code
    prefixes, ";"-separated; empty or NULL: every service) covers this service."""
    services = [token.strip() for token in (designated_services or "").split(";") if token.strip()]
    if not services:
        return True
    code = diagnosis.strip().upper().replace(".", "")
    return care_type in services or any(code.startswith(token.upper().replace(".", "")) for token in services)


def contract_refusal(
    *, session: Session, scheme_id: int, provider_id: int, on: dt.date, care_type: str, diagnosis: str
) -> str | None:
    """Why a claim from ``provider_id`` under ``scheme_id`` on ``on`` must be paid nothing, or None."""
    contract = contract_on(session=session, scheme_id=scheme_id, provider_id=provider_id, on=on)
    if contract is None:
        return NO_CONTRACT
    if not service_is_designated(contract, care_type=care_type, diagnosis=diagnosis):
        return SERVICE_NOT_DESIGNATED
    return None


def contracts_of_provider(*, session: Session, provider_id: int) -> list[Contract]:
    return list(session.scalars(select(Contract).where(Contract.provider_id == provider_id).order_by(Contract.starts)))
