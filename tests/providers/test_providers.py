"""Providers and contracts."""

from __future__ import annotations

import datetime as dt

import pytest

from equicover.audit.service import history
from equicover.db.session import session_scope
from equicover.errors import Conflict, ValidationFailed
from equicover.providers.schemas import ContractIn, ProviderIn
from equicover.providers.service import (
    bulk_insert_providers,
    contract_on,
    get_provider,
    register_provider,
    set_designated,
    sign_contract,
)
from tests import factories as make


@pytest.fixture
def hospital(session, geo):
    """Scheme HEF (KHR) and the designated referral hospital RH-01 in district D1. Committed."""
    make.scheme(session, code="HEF", name="Health Equity Fund", currency="KHR", minor_digits=0)
    provider = make.provider(session, code="RH-01", name="Referral hospital", level="referral", location_code="D1")
    session.commit()
    return provider


def test_register_provider_and_sign_contracts(session, hospital) -> None:
    assert get_provider(session=session, code="RH-01").designated is True
    first = sign_contract(
        session=session,
        contract=ContractIn(
            scheme_code="HEF",
            provider_code="RH-01",
            starts=dt.date(2024, 1, 1),
            ends=dt.date(2024, 12, 31),
            payment_method="fixed_fee",
            designated_services="appendectomy; delivery",
        ),
    )
    second = sign_contract(
        session=session,
        contract=ContractIn(
            scheme_code="HEF",
            provider_code="RH-01",
            starts=dt.date(2025, 1, 1),
            ends=dt.date(2025, 12, 31),
            payment_method="capitation",
        ),
    )
    assert (
        contract_on(session=session, scheme_id=first.scheme_id, provider_id=hospital.id, on=dt.date(2024, 12, 31)).id
        == first.id
    )
    assert (
        contract_on(session=session, scheme_id=first.scheme_id, provider_id=hospital.id, on=dt.date(2025, 1, 1)).id
        == second.id
    )
    assert (
        contract_on(session=session, scheme_id=first.scheme_id, provider_id=hospital.id, on=dt.date(2023, 12, 31))
        is None
    )
    set_designated(session=session, provider_id=hospital.id, designated=False)
    assert [row.action for row in history(session=session, entity="providers", entity_id=hospital.id)] == [
        "create",
        "update",
    ]


def test_contract_refusals_write_nothing(session_factory, row_counts, hospital) -> None:
    with session_scope(session_factory) as writer:
        sign_contract(
            session=writer,
            contract=ContractIn(
                scheme_code="HEF",
                provider_code="RH-01",
                starts=dt.date(2024, 1, 1),
                ends=dt.date(2024, 12, 31),
                payment_method="fee_for_service",
            ),
        )
    before = row_counts("contracts", "change_log")
    cases = [
        (
            ContractIn(
                scheme_code="HEF",
                provider_code="RH-01",
                starts=dt.date(2024, 12, 31),
                ends=dt.date(2025, 6, 30),
                payment_method="fixed_fee",
            ),
            Conflict,
            "starts",
        ),
        (
            ContractIn(
                scheme_code="HEF",
                provider_code="NOPE",
                starts=dt.date(2025, 1, 1),
                ends=dt.date(2025, 6, 30),
                payment_method="fixed_fee",
            ),
            ValidationFailed,
            "provider_code",
        ),
        (
            ContractIn(
                scheme_code="NOPE",
                provider_code="RH-01",
                starts=dt.date(2025, 1, 1),
                ends=dt.date(2025, 6, 30),
                payment_method="fixed_fee",
            ),
            ValidationFailed,
            "scheme_code",
        ),
        (
            ContractIn(
                scheme_code="HEF",
                provider_code="RH-01",
                starts=dt.date(2025, 6, 30),
                ends=dt.date(2025, 1, 1),
                payment_method="fixed_fee",
            ),
            ValidationFailed,
            "ends",
        ),
    ]
    for contract, error_type, field in cases:
        with pytest.raises(error_type) as caught:
            with session_scope(session_factory) as writer:
                sign_contract(session=writer, contract=contract)
        assert caught.value.field == field
        assert caught.value.record == f"contract {contract.scheme_code}/{contract.provider_code}"
    assert row_counts("contracts", "change_log") == before


def test_provider_refusals(session, hospital) -> None:
    with pytest.raises(Conflict):
        register_provider(
            session=session, provider=ProviderIn(code="RH-01", name="x", level="referral", location_code="D1")
        )
    with pytest.raises(ValidationFailed) as caught:
        register_provider(
            session=session, provider=ProviderIn(code="HC-9", name="x", level="health_centre", location_code="NOWHERE")
        )
    assert (caught.value.record, caught.value.field) == ("provider HC-9", "location_code")


def test_bulk_insert_providers_defaults(session, geo) -> None:
    assert (
        bulk_insert_providers(
            session=session,
            rows=[{"code": "HC-1", "name": "Health centre 1", "level": "health_centre", "location_id": geo["C11"].id}],
        )
        == 1
    )
    stored = get_provider(session=session, code="HC-1")
    assert (stored.designated, stored.ownership) == (False, "public")
