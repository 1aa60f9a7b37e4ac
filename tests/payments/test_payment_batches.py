"""Payment batches: maker-checker approval, ledger postings, capitation, CSV / PDF / FHIR exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from equicover.errors import Conflict, Forbidden
from equicover.ledger import service as ledger
from equicover.payments import service as payments
from equicover.providers.schemas import ContractIn
from equicover.providers.service import sign_contract
from tests.factories import vn_claims_world

STARTS, ENDS = dt.date(2024, 8, 1), dt.date(2024, 9, 30)
PA_PAID = 320_000 + 450_000 + 400_000 + 550_000 + 6_000_000 + 7_200_000


def test_maker_cannot_approve_and_only_a_fund_manager_can(session) -> None:
    world = vn_claims_world(session)
    ledger.post_claim_settlements(session=session, up_to=ENDS, currency="VND", minor_digits=0)
    batch = payments.draft_batch(
        session=session, provider_code="PA", period_starts=STARTS, period_ends=ENDS, actor="alice", currency="VND"
    )
    assert (batch.claim_count, batch.net_amount) == (6, PA_PAID)
    with pytest.raises(Forbidden, match="maker"):
        payments.approve_batch(session=session, batch_id=batch.id, actor="alice", actor_role="fund_manager")
    with pytest.raises(Forbidden, match="fund manager"):
        payments.approve_batch(session=session, batch_id=batch.id, actor="bob", actor_role="verifier")
    assert batch.status == "draft"
    cash_before = {b.account: b.balance for b in ledger.balances(session=session, fund_code="shi")}.get("cash", 0)
    payments.approve_batch(
        session=session, batch_id=batch.id, actor="carol", actor_role="fund_manager", paid_on=dt.date(2024, 10, 10)
    )
    assert batch.status == "approved" and batch.approved_by == "carol"
    assert ledger.provider_payable(session=session, provider_id=world.provider_a) == 0
    cash_after = {b.account: b.balance for b in ledger.balances(session=session, fund_code="shi")}["cash"]
    assert cash_before - cash_after == PA_PAID
    with pytest.raises(Conflict):
        payments.approve_batch(session=session, batch_id=batch.id, actor="dave", actor_role="fund_manager")
    # The same claims are never paid twice.
    with pytest.raises(Conflict, match="overlaps"):
        payments.draft_batch(
            session=session,
            provider_code="PA",
            period_starts=dt.date(2024, 9, 1),
            period_ends=ENDS,
            actor="alice",
            currency="VND",
        )
    later = payments.draft_batch(
        session=session,
        provider_code="PA",
        period_starts=dt.date(2024, 7, 1),
        period_ends=dt.date(2024, 7, 31),
        actor="alice",
        currency="VND",
    )
    assert later.claim_count == 0 and later.net_amount == 0


def test_cancelled_draft_releases_its_claims(session) -> None:
    vn_claims_world(session)
    batch = payments.draft_batch(
        session=session, provider_code="PB", period_starts=STARTS, period_ends=ENDS, actor="alice", currency="VND"
    )
    payments.cancel_batch(session=session, batch_id=batch.id, actor="alice")
    again = payments.draft_batch(
        session=session, provider_code="PB", period_starts=STARTS, period_ends=ENDS, actor="alice", currency="VND"
    )
    assert again.claim_count == 2 and again.net_amount == 9_900_000


def test_capitation_per_enrolled_person_month(session) -> None:
    world = vn_claims_world(session)
    # PC (placed in district D1) gets a capitation contract: D1 has two enrolled persons.
    sign_contract(
        session=session,
        contract=ContractIn(
            scheme_code="VN-SHI",
            provider_code="PC",
            starts=dt.date(2024, 9, 1),
            ends=dt.date(2025, 6, 30),
            payment_method="capitation",
        ),
    )
    ledger.ensure_fund(session=session, code="shi", name="shi", currency="VND", minor_digits=0)
    batch = payments.draft_batch(
        session=session,
        provider_code="PC",
        period_starts=STARTS,
        period_ends=ENDS,
        actor="alice",
        currency="VND",
        capitation_per_person_month=25_000,
        capitation_fund="shi",
    )
    assert batch.claim_count == 0  # its August claim was outside any contract: paid nothing
    assert batch.capitation_amount == 2 * 1 * 25_000  # September only (the contract starts then)
    payments.approve_batch(session=session, batch_id=batch.id, actor="carol", actor_role="fund_manager", paid_on=ENDS)
    assert ledger.provider_payable(session=session, provider_id=world.provider_c) == 0
    shi = {b.account: b.balance for b in ledger.balances(session=session, fund_code="shi")}
    assert shi["provider_payments"] == 50_000 and shi["cash"] == -50_000


def test_exports_add_up_to_the_net_amount(session) -> None:
    vn_claims_world(session)
    batch = payments.draft_batch(
        session=session, provider_code="PA", period_starts=STARTS, period_ends=ENDS, actor="alice", currency="VND"
    )
    rows = list(csv.DictReader(io.StringIO(payments.batch_csv(session=session, batch_id=batch.id))))
    assert sum(int(row["amount"]) for row in rows if row["line"] != "net") == batch.net_amount
    assert [row for row in rows if row["line"] == "net"][0]["amount"] == str(PA_PAID)
    pdf = payments.batch_pdf(session=session, batch_id=batch.id)
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000
    resource = payments.payment_reconciliation(session=session, batch_id=batch.id)
    assert resource["resourceType"] == "PaymentReconciliation" and resource["status"] == "draft"
    assert Decimal(str(resource["paymentAmount"]["value"])) == PA_PAID
    assert len(resource["detail"]) == 6
