"""Reversing a claim wherever it is in the payment cycle: paid (recovered from the provider in its
next batch, with the ledger entries), in a draft batch (taken out of the draft), not batched."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import select

from equicover.claims import service as claims
from equicover.errors import Conflict
from equicover.ledger import service as ledger
from equicover.ledger.models import LedgerEntry
from equicover.payments import corrections
from equicover.payments import service as payments
from tests.factories import claim, vn_claims_world

STARTS, ENDS = dt.date(2024, 8, 1), dt.date(2024, 9, 30)
PAID_ON = dt.date(2024, 10, 10)
PA_PAID = 320_000 + 450_000 + 400_000 + 550_000 + 6_000_000 + 7_200_000


def _approved_batch(session, provider_code: str = "PA"):
    ledger.post_claim_settlements(session=session, up_to=ENDS, currency="VND", minor_digits=0)
    batch = payments.draft_batch(
        session=session, provider_code=provider_code, period_starts=STARTS, period_ends=ENDS, actor="alice",
        currency="VND",
    )  # fmt: skip
    payments.approve_batch(
        session=session, batch_id=batch.id, actor="carol", actor_role="fund_manager", paid_on=PAID_ON
    )
    return batch


def _csv_rows(session, batch_id: int) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(payments.batch_csv(session=session, batch_id=batch_id))))


def test_a_paid_claim_reversed_is_recovered_in_the_next_batch_and_the_ledger_balances(session) -> None:
    world = vn_claims_world(session)
    first = _approved_batch(session)
    assert first.net_amount == PA_PAID
    assert ledger.provider_payable(session=session, provider_id=world.provider_a) == 0

    reversal = corrections.reverse_claim(
        session=session, claim_id="A-OP1", reason="billed for a visit that did not happen", actor="verifier-1",
        on=dt.date(2024, 10, 20),
    )  # fmt: skip
    assert reversal.paid and reversal.batch_id == first.id and reversal.claim.status == "reversed"
    assert [(line.kind, line.item_id, line.amount, line.reason, line.cause) for line in reversal.recoveries] == [
        ("layer", "shi", -450_000, "payer_recovery", "reversal")
    ]
    # The provider owes the payment back at once; the ledger stays balanced.
    assert ledger.provider_payable(session=session, provider_id=world.provider_a) == -450_000
    debits, credits = ledger.trial_balance(session=session)
    assert debits == credits and ledger.unbalanced_entries(session=session) == []
    entry = session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "reversal")).one()
    assert entry.posted_on == dt.date(2024, 10, 20)
    # The month's claims posting does not take the reversal in a second time.
    again = ledger.post_claim_settlements(session=session, up_to=ENDS, currency="VND", minor_digits=0)
    assert again["reversal"] == 0 and again["entries"] == 0
    # A second reversal is refused and recovers nothing more.
    with pytest.raises(Conflict):
        corrections.reverse_claim(session=session, claim_id="A-OP1", reason="again", actor="verifier-1")

    # The next batch nets the recovery against the provider's new claim.
    claim(session, claim_id="A-OP9", person_id=world.person_ids[0], service_date=dt.date(2024, 10, 3), total=500_000)
    ledger.post_claim_settlements(session=session, up_to=dt.date(2024, 10, 31), currency="VND", minor_digits=0)
    following = payments.draft_batch(
        session=session, provider_code="PA", period_starts=dt.date(2024, 10, 1), period_ends=dt.date(2024, 10, 31),
        actor="alice", currency="VND",
    )  # fmt: skip
    assert (following.claims_amount, following.recoveries_amount, following.net_amount) == (500_000, 450_000, 50_000)
    rows = _csv_rows(session, following.id)
    assert [(row["line"], row["reference"], row["amount"]) for row in rows] == [
        ("claim", "A-OP9", "500000"),
        ("reversal_recovery", "A-OP1", "-450000"),
        ("net", "draft", "50000"),
    ]
    fhir = payments.payment_reconciliation(session=session, batch_id=following.id)
    assert sorted(int(detail["amount"]["value"]) for detail in fhir["detail"]) == [-450_000, 500_000]
    assert int(fhir["paymentAmount"]["value"]) == 50_000
    assert payments.batch_pdf(session=session, batch_id=following.id).startswith(b"%PDF")
    payments.approve_batch(session=session, batch_id=following.id, actor="carol", actor_role="fund_manager")
    assert ledger.provider_payable(session=session, provider_id=world.provider_a) == 0
    assert ledger.unbalanced_entries(session=session) == []
    # Netted once: a later batch recovers nothing more.
    last = payments.draft_batch(
        session=session, provider_code="PA", period_starts=dt.date(2024, 11, 1), period_ends=dt.date(2024, 11, 30),
        actor="alice", currency="VND",
    )  # fmt: skip
    assert (last.recoveries_amount, last.net_amount) == (0, 0)


def test_a_cancelled_draft_gives_the_recovery_back_to_the_next_batch(session) -> None:
    vn_claims_world(session)
    _approved_batch(session)
    corrections.reverse_claim(session=session, claim_id="A-IP0", reason="duplicate bill", actor="verifier-1")
    october = (dt.date(2024, 10, 1), dt.date(2024, 10, 31))
    draft = payments.draft_batch(
        session=session, provider_code="PA", period_starts=october[0], period_ends=october[1], actor="alice",
        currency="VND",
    )  # fmt: skip
    assert draft.recoveries_amount == 6_000_000
    payments.cancel_batch(session=session, batch_id=draft.id, actor="alice")
    again = payments.draft_batch(
        session=session, provider_code="PA", period_starts=october[0], period_ends=october[1], actor="alice",
        currency="VND",
    )  # fmt: skip
    assert (again.recoveries_amount, again.net_amount) == (6_000_000, -6_000_000)


def test_a_claim_in_a_draft_batch_is_taken_out_of_the_draft(session) -> None:
    world = vn_claims_world(session)
    ledger.post_claim_settlements(session=session, up_to=ENDS, currency="VND", minor_digits=0)
    draft = payments.draft_batch(
        session=session, provider_code="PA", period_starts=STARTS, period_ends=ENDS, actor="alice", currency="VND"
    )
    assert (draft.claim_count, draft.net_amount) == (6, PA_PAID)
    reversal = corrections.reverse_claim(session=session, claim_id="A-IP0", reason="duplicate bill", actor="verifier")
    assert reversal.batch_id == draft.id and not reversal.paid and reversal.recoveries == []
    assert (draft.claim_count, draft.claims_amount, draft.net_amount) == (5, PA_PAID - 6_000_000, PA_PAID - 6_000_000)
    lines = payments.batch_lines(session=session, batch_id=draft.id)
    assert [(line.fund_code, line.kind, line.amount) for line in lines] == [("shi", "claims", PA_PAID - 6_000_000)]
    assert "A-IP0" not in {row["reference"] for row in _csv_rows(session, draft.id)}
    assert corrections.batch_of_claim(session=session, claim_pk=world.claim_pks["A-IP0"]) is None
    # The ledger takes the reversal in with the month's claims; the approved draft pays what is owed.
    ledger.post_claim_settlements(session=session, up_to=ENDS, currency="VND", minor_digits=0)
    payments.approve_batch(session=session, batch_id=draft.id, actor="carol", actor_role="fund_manager")
    assert ledger.provider_payable(session=session, provider_id=world.provider_a) == 0
    assert ledger.unbalanced_entries(session=session) == []
    assert claims.adjustments_of(session=session, claim_pk=world.claim_pks["A-IP0"]) == []


def test_a_claim_never_batched_is_reversed_without_a_recovery(session) -> None:
    world = vn_claims_world(session)
    reversal = corrections.reverse_claim(session=session, claim_id="B-OP0", reason="wrong patient", actor="verifier")
    assert reversal.batch_id is None and not reversal.paid and reversal.recoveries == []
    batch = payments.draft_batch(
        session=session, provider_code="PB", period_starts=STARTS, period_ends=ENDS, actor="alice", currency="VND"
    )
    assert (batch.claim_count, batch.recoveries_amount, batch.net_amount) == (1, 0, 9_600_000)
    assert ledger.provider_payable(session=session, provider_id=world.provider_b) == 0
