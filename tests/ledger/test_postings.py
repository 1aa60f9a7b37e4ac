"""The fund ledger, one behaviour per test: what each posting does to the accounts, and what it refuses."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from equicover.errors import Conflict, NotFound, ValidationFailed
from equicover.ledger import service as ledger
from equicover.ledger.models import LedgerEntry
from tests import factories as make

JAN_15, FEB_1 = dt.date(2024, 1, 15), dt.date(2024, 2, 1)


def _fund(session, code: str = "basic", currency: str = "CNY"):
    return ledger.ensure_fund(session=session, code=code, name=code, currency=currency, minor_digits=2)


def _balances(session, fund: str = "basic") -> dict[str, int]:
    return {row.account: row.balance for row in ledger.balances(session=session, fund_code=fund)}


def _lines(session, entry_id: int) -> list[tuple[str, int, int, int | None]]:
    from equicover.ledger.models import LedgerAccount, LedgerLine

    return [
        tuple(row)
        for row in session.execute(
            select(LedgerAccount.code, LedgerLine.debit, LedgerLine.credit, LedgerLine.provider_id)
            .join(LedgerAccount, LedgerAccount.id == LedgerLine.account_id)
            .where(LedgerLine.entry_id == entry_id)
            .order_by(LedgerLine.id)
        ).all()
    ]


def test_a_contribution_debits_cash_and_credits_its_source(session) -> None:
    _fund(session)
    ledger.record_contribution(session=session, fund_code="basic", source="donors", amount=1_000, received_on=JAN_15)
    assert [(b.account, b.kind, b.debit, b.credit, b.balance) for b in ledger.balances(session=session)] == [
        ("cash", "cash", 1_000, 0, 1_000),
        ("donors", "source", 0, 1_000, 1_000),
    ]


def test_spending_debits_the_use_and_credits_cash(session) -> None:
    _fund(session)
    ledger.record_contribution(
        session=session, fund_code="basic", source="state_budget", amount=1_000, received_on=JAN_15
    )
    ledger.record_transfer(session=session, fund_code="basic", use="transplants", amount=300, paid_on=FEB_1)
    assert _balances(session) == {"cash": 700, "transplants": 300, "state_budget": 1_000}


def test_balances_as_of_a_date_leave_out_later_entries(session) -> None:
    _fund(session)
    ledger.record_contribution(session=session, fund_code="basic", source="donors", amount=1_000, received_on=JAN_15)
    ledger.record_transfer(session=session, fund_code="basic", use="administration", amount=250, paid_on=FEB_1)
    before = {b.account: b.balance for b in ledger.balances(session=session, as_of=dt.date(2024, 1, 31))}
    on_the_day = {b.account: b.balance for b in ledger.balances(session=session, as_of=FEB_1)}
    assert before == {"cash": 1_000, "donors": 1_000}
    assert on_the_day == {"cash": 750, "administration": 250, "donors": 1_000}


def test_each_fund_keeps_its_own_accounts(session) -> None:
    _fund(session, "basic")
    _fund(session, "assistance")
    ledger.record_contribution(session=session, fund_code="basic", source="donors", amount=400, received_on=JAN_15)
    ledger.record_contribution(session=session, fund_code="assistance", source="charity", amount=90, received_on=JAN_15)
    assert _balances(session, "basic") == {"cash": 400, "donors": 400}
    assert _balances(session, "assistance") == {"cash": 90, "charity": 90}
    assert ledger.trial_balance(session=session) == (490, 490)


def test_a_fund_keeps_its_books_in_one_currency(session) -> None:
    first = _fund(session, "basic", "CNY")
    assert _fund(session, "basic", "CNY").id == first.id
    with pytest.raises(Conflict, match="keeps its books in CNY"):
        _fund(session, "basic", "VND")


def test_a_reversed_ledger_entry_nets_to_zero(session) -> None:
    make.locations(session)
    hospital = make.provider(session, code="PA")
    _fund(session)
    entry = ledger.post_entry(
        session=session,
        fund_code="basic",
        posted_on=JAN_15,
        kind="settlement",
        lines=[
            ledger.Line("provider_payments", debit=700),
            ledger.Line("payable", credit=700, provider_id=hospital.id),
        ],
    )
    assert ledger.provider_payable(session=session, provider_id=hospital.id) == 700
    reversal = ledger.reverse_entry(session=session, entry_id=entry.id, posted_on=FEB_1, memo="wrong month")
    assert _lines(session, reversal.id) == [("provider_payments", 0, 700, None), ("payable", 700, 0, hospital.id)]
    assert (reversal.kind, reversal.reverses_id, reversal.reference) == ("reversal", entry.id, f"reverses {entry.id}")
    assert _balances(session) == {"provider_payments": 0, "payable": 0}
    assert ledger.provider_payable(session=session, provider_id=hospital.id) == 0


def test_an_entry_can_be_reversed_only_once(session) -> None:
    _fund(session)
    entry = ledger.record_contribution(
        session=session, fund_code="basic", source="donors", amount=50, received_on=JAN_15
    )
    ledger.reverse_entry(session=session, entry_id=entry.id, posted_on=JAN_15, memo="duplicate")
    with pytest.raises(Conflict, match="already reversed"):
        ledger.reverse_entry(session=session, entry_id=entry.id, posted_on=JAN_15, memo="again")
    assert _balances(session) == {"cash": 0, "donors": 0}


def test_a_reversal_is_corrected_by_a_new_entry_not_by_reversing_it(session) -> None:
    _fund(session)
    entry = ledger.record_contribution(
        session=session, fund_code="basic", source="donors", amount=50, received_on=JAN_15
    )
    reversal = ledger.reverse_entry(session=session, entry_id=entry.id, posted_on=JAN_15, memo="duplicate")
    with pytest.raises(ValidationFailed, match="a reversal is corrected by a new entry"):
        ledger.reverse_entry(session=session, entry_id=reversal.id, posted_on=JAN_15, memo="undo")


def test_reversing_an_unknown_entry_is_refused(session) -> None:
    with pytest.raises(NotFound, match="unknown entry"):
        ledger.reverse_entry(session=session, entry_id=424242, posted_on=JAN_15, memo="nothing")


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([ledger.Line("cash", debit=-5), ledger.Line("donors", credit=-5)], "never negative"),
        ([ledger.Line("cash", debit=5, credit=5)], "either a debit or a credit"),
        ([ledger.Line("cash", debit=0), ledger.Line("donors", credit=0)], "at least one non-zero line"),
    ],
    ids=["negative", "two-sided", "all-zero"],
)
def test_an_entry_with_a_malformed_line_is_refused_and_nothing_is_written(session, lines, message) -> None:
    _fund(session)
    with pytest.raises(ValidationFailed, match=message):
        ledger.post_entry(session=session, fund_code="basic", posted_on=JAN_15, kind="transfer", lines=lines)
    assert session.scalars(select(LedgerEntry)).all() == []


def test_a_contribution_must_come_from_a_source_account_and_be_positive(session) -> None:
    _fund(session)
    with pytest.raises(ValidationFailed, match="'transplants' is not a source account"):
        ledger.record_contribution(
            session=session, fund_code="basic", source="transplants", amount=10, received_on=JAN_15
        )
    with pytest.raises(ValidationFailed, match="must be positive"):
        ledger.record_contribution(session=session, fund_code="basic", source="donors", amount=0, received_on=JAN_15)
    assert ledger.trial_balance(session=session) == (0, 0)


def test_spending_must_go_to_a_use_account(session) -> None:
    _fund(session)
    with pytest.raises(ValidationFailed, match="'donors' is not a use account"):
        ledger.record_transfer(session=session, fund_code="basic", use="donors", amount=10, paid_on=JAN_15)


def test_paid_enrolment_contributions_are_posted_once_per_period_start(session) -> None:
    # Two members of VN-SHI: the state pays 450,000 for one; the other pays 135,000 herself and
    # owes 20,000 more (due, not paid: not money received).
    make.locations(session)
    year = make.scheme_year(session)
    poor = make.enrolled_person(session, scheme=year, categories=["registered_poor"])
    other = make.enrolled_person(session, scheme=year)
    make.contribution(session, person_id=poor.id, scheme_id=year.scheme_id, amount_minor=450_000)
    make.contribution(session, person_id=other.id, scheme_id=year.scheme_id, payer_kind="member", amount_minor=135_000)
    make.contribution(
        session, person_id=other.id, scheme_id=year.scheme_id, payer_kind="member", amount_minor=20_000, status="due"
    )
    _fund(session, "shi", "VND")
    assert ledger.post_enrolment_contributions(session=session, fund_code="shi", scheme_id=year.scheme_id) == 1
    assert ledger.post_enrolment_contributions(session=session, fund_code="shi", scheme_id=year.scheme_id) == 0
    (entry,) = session.scalars(select(LedgerEntry)).all()
    assert entry.posted_on == year.starts and entry.kind == "contribution"
    assert sorted(_lines(session, entry.id)) == [
        ("cash", 585_000, 0, None),
        ("member_contributions", 0, 135_000, None),
        ("state_budget", 0, 450_000, None),
    ]


def test_claims_are_taken_into_the_ledger_up_to_a_date_in_the_month_of_service(session) -> None:
    # A registered-poor member is paid 100%: the fund owes PA each bill in full.
    make.locations(session)
    year = make.scheme_year(session)
    hospital = make.provider(session, code="PA")
    make.contract(session, provider_code="PA")
    poor = make.enrolled_person(session, scheme=year, categories=["registered_poor"])
    make.claim(session, claim_id="AUG", person_id=poor.id, service_date=dt.date(2024, 8, 3), total=200_000)
    make.claim(session, claim_id="SEP", person_id=poor.id, service_date=dt.date(2024, 9, 10), total=300_000)

    august = ledger.post_claim_settlements(session=session, up_to=dt.date(2024, 8, 31), currency="VND", minor_digits=0)
    assert august == {"settlement": 1, "reversal": 0, "entries": 1}
    assert ledger.provider_payable(session=session, provider_id=hospital.id) == 200_000
    september = ledger.post_claim_settlements(
        session=session, up_to=dt.date(2024, 9, 30), currency="VND", minor_digits=0
    )
    assert september == {"settlement": 1, "reversal": 0, "entries": 1}
    assert ledger.provider_payable(session=session, provider_id=hospital.id) == 500_000
    assert sorted(entry.posted_on for entry in session.scalars(select(LedgerEntry))) == [
        dt.date(2024, 8, 31),
        dt.date(2024, 9, 30),
    ]


def test_a_reversed_claim_is_taken_back_out_of_what_the_provider_is_owed(session) -> None:
    from equicover.claims.service import reverse_claim

    make.locations(session)
    year = make.scheme_year(session)
    hospital = make.provider(session, code="PA")
    make.contract(session, provider_code="PA")
    member = make.enrolled_person(session, scheme=year)  # paid 80% of a bill from 351,000 on
    make.claim(session, claim_id="KEEP", person_id=member.id, service_date=dt.date(2024, 8, 3), total=1_000_000)
    make.claim(session, claim_id="DROP", person_id=member.id, service_date=dt.date(2024, 8, 9), total=2_000_000)
    ledger.post_claim_settlements(session=session, up_to=dt.date(2024, 8, 31), currency="VND", minor_digits=0)
    assert ledger.provider_payable(session=session, provider_id=hospital.id) == 800_000 + 1_600_000
    reverse_claim(session=session, claim_id="DROP", reason="billed twice", actor="test")
    counts = ledger.post_claim_settlements(session=session, up_to=dt.date(2024, 8, 31), currency="VND", minor_digits=0)
    assert counts == {"settlement": 0, "reversal": 1, "entries": 1}
    assert ledger.provider_payable(session=session, provider_id=hospital.id) == 800_000
    assert _balances(session, "shi")["provider_payments"] == 800_000
