"""The fund ledger: balanced entries, append-only rows, claim postings, balances and flows."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from equicover.errors import NotFound, ValidationFailed
from equicover.ledger import service as ledger
from equicover.ledger.models import SOURCE_ACCOUNTS, USE_ACCOUNTS, AppendOnlyViolation, LedgerEntry
from tests.factories import vn_claims_world

DAY = dt.date(2024, 1, 15)


def _natural_identity_holds(session) -> bool:
    """cash + uses = sources + payables, fund by fund (the accounting equation of a fund)."""
    per_fund: dict[str, int] = {}
    for balance in ledger.balances(session=session):
        sign = 1 if balance.kind in ("cash", "use") else -1
        per_fund[balance.fund] = per_fund.get(balance.fund, 0) + sign * balance.balance
    return all(value == 0 for value in per_fund.values())


def test_unbalanced_or_empty_entries_are_refused(session) -> None:
    ledger.ensure_fund(session=session, code="basic", name="Basic", currency="CNY", minor_digits=2)
    with pytest.raises(ValidationFailed, match="not balanced"):
        ledger.post_entry(
            session=session,
            fund_code="basic",
            posted_on=DAY,
            kind="transfer",
            lines=[ledger.Line("cash", debit=5), ledger.Line("state_budget", credit=4)],
        )
    with pytest.raises(ValidationFailed, match="at least one"):
        ledger.post_entry(session=session, fund_code="basic", posted_on=DAY, kind="transfer", lines=[])
    with pytest.raises(ValidationFailed, match="unknown account"):
        ledger.post_entry(
            session=session,
            fund_code="basic",
            posted_on=DAY,
            kind="transfer",
            lines=[ledger.Line("bank", debit=5), ledger.Line("cash", credit=5)],
        )
    with pytest.raises(NotFound):
        ledger.record_contribution(session=session, fund_code="nope", source="donors", amount=5, received_on=DAY)
    assert ledger.trial_balance(session=session) == (0, 0)


def test_entries_are_append_only_and_corrected_by_reversal(session) -> None:
    ledger.ensure_fund(session=session, code="basic", name="Basic", currency="CNY", minor_digits=2)
    entry = ledger.record_contribution(
        session=session, fund_code="basic", source="state_budget", amount=1_000, received_on=DAY
    )
    entry.memo = "changed"
    with pytest.raises(AppendOnlyViolation):
        session.flush()
    session.rollback()
    ledger.ensure_fund(session=session, code="basic", name="Basic", currency="CNY", minor_digits=2)
    entry = ledger.record_contribution(
        session=session, fund_code="basic", source="state_budget", amount=1_000, received_on=DAY
    )
    session.flush()
    for statement in ("UPDATE ledger_lines SET debit = debit + 1", "DELETE FROM ledger_entries"):
        nested = session.begin_nested()
        with pytest.raises(Exception, match="append-only"):
            session.execute(text(statement))
        nested.rollback()
    reversal = ledger.reverse_entry(session=session, entry_id=entry.id, posted_on=DAY, memo="wrong source")
    assert reversal.reverses_id == entry.id and reversal.kind == "reversal"
    cash = {b.account: b.balance for b in ledger.balances(session=session, fund_code="basic")}
    assert cash["cash"] == 0 and cash["state_budget"] == 0
    assert session.get(LedgerEntry, entry.id).memo == ""
    with pytest.raises(Exception, match="already reversed"):
        ledger.reverse_entry(session=session, entry_id=entry.id, posted_on=DAY, memo="twice")


operation = st.one_of(
    st.tuples(st.just("contribution"), st.sampled_from(SOURCE_ACCOUNTS), st.integers(1, 10**9)),
    st.tuples(st.just("transfer"), st.sampled_from(USE_ACCOUNTS), st.integers(1, 10**9)),
    st.tuples(st.just("settle"), st.lists(st.integers(0, 10**7), min_size=1, max_size=4), st.integers(0, 3)),
    st.tuples(st.just("reverse"), st.integers(0, 50), st.just(0)),
    st.tuples(st.just("bad"), st.integers(1, 10**6), st.integers(1, 10)),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(st.tuples(st.sampled_from(["basic", "assistance"]), operation), min_size=1, max_size=12))
def test_ledger_is_always_balanced(session, operations) -> None:
    nested = session.begin_nested()
    try:
        for fund in ("basic", "assistance"):
            ledger.ensure_fund(session=session, code=fund, name=fund, currency="CNY", minor_digits=2)
        posted: list[int] = []
        for fund, (kind, first, second) in operations:
            if kind == "contribution":
                posted.append(
                    ledger.record_contribution(
                        session=session, fund_code=fund, source=first, amount=second, received_on=DAY
                    ).id
                )
            elif kind == "transfer":
                posted.append(
                    ledger.record_transfer(session=session, fund_code=fund, use=first, amount=second, paid_on=DAY).id
                )
            elif kind == "settle":
                lines = [ledger.Line("payable", credit=amount, provider_id=None) for amount in first]
                lines.append(ledger.Line("provider_payments", debit=sum(first)))
                if sum(first):
                    posted.append(
                        ledger.post_entry(
                            session=session, fund_code=fund, posted_on=DAY, kind="settlement", lines=lines
                        ).id
                    )
            elif kind == "reverse" and posted:
                target = posted.pop(first % len(posted))
                ledger.reverse_entry(session=session, entry_id=target, posted_on=DAY, memo="correction")
            elif kind == "bad":
                with pytest.raises(ValidationFailed):
                    ledger.post_entry(
                        session=session,
                        fund_code=fund,
                        posted_on=DAY,
                        kind="transfer",
                        lines=[ledger.Line("cash", debit=first), ledger.Line("donors", credit=first + second)],
                    )
            debit, credit = ledger.trial_balance(session=session)
            assert debit == credit
            assert ledger.unbalanced_entries(session=session) == []
            assert _natural_identity_holds(session)
    finally:
        nested.rollback()


def test_claim_settlements_post_once_and_reversals_mirror(session) -> None:
    from equicover.claims.service import reverse_claim

    world = vn_claims_world(session)
    counts = ledger.post_claim_settlements(session=session, up_to=dt.date(2024, 12, 31), currency="VND", minor_digits=0)
    assert counts["settlement"] == 9  # every stored claim, the no-contract one included (it posts nothing)
    again = ledger.post_claim_settlements(session=session, up_to=dt.date(2024, 12, 31), currency="VND", minor_digits=0)
    assert again == {"settlement": 0, "reversal": 0, "entries": 0}
    shi = {b.account: b.balance for b in ledger.balances(session=session, fund_code="shi")}
    paid_by_fund = 320_000 + 450_000 + 400_000 + 550_000 + 6_000_000 + 7_200_000 + 300_000 + 9_600_000
    assert shi["provider_payments"] == paid_by_fund == shi["payable"]
    assert ledger.provider_payable(session=session, provider_id=world.provider_b) == 9_900_000
    reverse_claim(session=session, claim_id="B-IP0", reason="duplicate bill", actor="test")
    counts = ledger.post_claim_settlements(session=session, up_to=dt.date(2024, 12, 31), currency="VND", minor_digits=0)
    assert counts["reversal"] == 1
    assert ledger.provider_payable(session=session, provider_id=world.provider_b) == 300_000
    flows = ledger.flows_by_month(
        session=session, starts=dt.date(2024, 1, 1), ends=dt.date(2024, 12, 31), fund_code="shi"
    )
    months = {(flow.month, flow.account): flow for flow in flows}
    assert months[("2024-08", "provider_payments")].debit == 320_000 + 450_000 + 400_000 + 550_000 + 300_000
    assert months[("2024-09", "provider_payments")].credit == 9_600_000  # the reversal, in the claim's month
    assert _natural_identity_holds(session)
