"""Payment batches, one behaviour per test: which claims a batch pays, maker-checker, recoveries,
capitation and what approval books in the fund ledger.

Every test stands on the same few records: the VN-SHI scheme year, the district hospital PA
(district D1) under a fee-for-service contract, and registered-poor members, whom the fund pays
in full, so that what PA is owed for a claim is its bill.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import select

from equicover.errors import Conflict, Forbidden, NotFound, ValidationFailed
from equicover.ledger import service as ledger
from equicover.payments import service as payments
from equicover.verification import service as verification
from equicover.verification.models import Recovery
from tests import factories as make
from tests.factories import SchemeYear

AUGUST = (dt.date(2024, 8, 1), dt.date(2024, 8, 31))
SEPTEMBER = (dt.date(2024, 9, 1), dt.date(2024, 9, 30))


@pytest.fixture
def year(session) -> SchemeYear:
    """The VN-SHI scheme year and the district hospital PA under contract for it."""
    make.locations(session)
    scheme = make.scheme_year(session)
    make.provider(session, code="PA", location_code="D1")
    make.contract(session, provider_code="PA")
    return scheme


def _poor(session, year: SchemeYear, **fields):
    return make.enrolled_person(session, scheme=year, categories=["registered_poor"], **fields)


def _draft(session, period=AUGUST, *, maker: str = "maker", **options):
    starts, ends = period
    return payments.draft_batch(
        session=session,
        provider_code=options.pop("provider_code", "PA"),
        period_starts=starts,
        period_ends=ends,
        actor=maker,
        currency="VND",
        **options,
    )


def _approve(session, batch, *, by: str = "checker", on: dt.date = dt.date(2024, 9, 10)):
    return payments.approve_batch(session=session, batch_id=batch.id, actor=by, actor_role="fund_manager", paid_on=on)


def _review_of(session, claim_id: str) -> int:
    """Put every paid claim of August not yet reviewed under review; the review of ``claim_id``."""
    verification.draw_sample(
        session=session, period_starts=AUGUST[0], period_ends=AUGUST[1], random_count=50, risk_count=0, seed=1
    )
    return next(item.review_id for item in verification.verifier_queue(session=session) if item.claim_id == claim_id)


def test_a_batch_pays_the_claims_served_up_to_its_end(session, year) -> None:
    member = _poor(session, year)
    make.claim(session, claim_id="JUL", person_id=member.id, service_date=dt.date(2024, 7, 20), total=100_000)
    make.claim(session, claim_id="AUG", person_id=member.id, service_date=dt.date(2024, 8, 3), total=200_000)
    make.claim(session, claim_id="SEP", person_id=member.id, service_date=dt.date(2024, 9, 5), total=300_000)
    batch = _draft(session)
    assert (batch.claim_count, batch.claims_amount, batch.recoveries_amount, batch.net_amount) == (
        2,
        100_000 + 200_000,
        0,
        300_000,
    )
    assert [
        (line.fund_code, line.kind, line.amount) for line in payments.batch_lines(session=session, batch_id=batch.id)
    ] == [("shi", "claims", 300_000)]


def test_a_claim_paid_nothing_is_not_in_a_batch(session, year) -> None:
    unenrolled = make.person(session)  # not covered: the claim is stored with nothing paid
    make.claim(session, claim_id="NOT-COVERED", person_id=unenrolled.id, service_date=dt.date(2024, 8, 3))
    batch = _draft(session)
    assert (batch.claim_count, batch.net_amount) == (0, 0)


def test_a_claim_in_one_batch_is_not_paid_again_by_the_next(session, year) -> None:
    member = _poor(session, year)
    make.claim(session, claim_id="AUG", person_id=member.id, service_date=dt.date(2024, 8, 3), total=200_000)
    make.claim(session, claim_id="SEP", person_id=member.id, service_date=dt.date(2024, 9, 5), total=300_000)
    _approve(session, _draft(session, AUGUST))
    following = _draft(session, SEPTEMBER)
    assert (following.claim_count, following.net_amount) == (1, 300_000)


def test_a_late_claim_of_an_earlier_month_is_caught_up_in_the_next_batch(session, year) -> None:
    member = _poor(session, year)
    make.claim(session, claim_id="AUG", person_id=member.id, service_date=dt.date(2024, 8, 3), total=200_000)
    _draft(session, AUGUST)
    make.claim(session, claim_id="AUG-LATE", person_id=member.id, service_date=dt.date(2024, 8, 30), total=70_000)
    following = _draft(session, SEPTEMBER)
    assert (following.claim_count, following.net_amount) == (1, 70_000)


def test_batches_of_one_provider_may_not_overlap(session, year) -> None:
    first = _draft(session, AUGUST)
    with pytest.raises(Conflict, match=f"overlaps batch {first.id}"):
        _draft(session, (dt.date(2024, 8, 31), dt.date(2024, 9, 30)))


def test_a_cancelled_batch_frees_its_period_and_its_claims(session, year) -> None:
    member = _poor(session, year)
    make.claim(session, claim_id="AUG", person_id=member.id, service_date=dt.date(2024, 8, 3), total=200_000)
    payments.cancel_batch(session=session, batch_id=_draft(session).id, actor="maker")
    again = _draft(session)
    assert (again.claim_count, again.net_amount) == (1, 200_000)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (dict(period=(dt.date(2024, 8, 31), dt.date(2024, 8, 1))), ValidationFailed, "is before period_starts"),
        (dict(capitation_per_person_month=-1), ValidationFailed, "must not be negative"),
        (dict(provider_code="NOPE"), NotFound, "unknown provider"),
    ],
    ids=["period-ends-first", "negative-capitation", "unknown-provider"],
)
def test_a_batch_with_impossible_terms_is_refused(session, year, options, error, message) -> None:
    with pytest.raises(error, match=message):
        _draft(session, **options)


def test_the_maker_of_a_batch_cannot_approve_it(session, year) -> None:
    batch = _draft(session, maker="alice")
    with pytest.raises(Forbidden, match="the maker of a batch cannot approve it"):
        _approve(session, batch, by="alice")
    assert batch.status == "draft" and batch.approved_by is None


def test_only_a_fund_manager_approves_a_batch(session, year) -> None:
    batch = _draft(session)
    for role in ("verifier", "clerk", "registrar", "admin"):
        with pytest.raises(Forbidden, match="only a fund manager approves"):
            payments.approve_batch(session=session, batch_id=batch.id, actor="someone", actor_role=role)
    assert batch.status == "draft"


def test_an_approved_batch_cannot_be_approved_again(session, year) -> None:
    batch = _approve(session, _draft(session))
    with pytest.raises(Conflict, match="is approved, not draft"):
        _approve(session, batch, by="another-checker")


def test_only_a_draft_can_be_cancelled(session, year) -> None:
    batch = _approve(session, _draft(session))
    with pytest.raises(Conflict, match="only a draft can be cancelled"):
        payments.cancel_batch(session=session, batch_id=batch.id, actor="maker")
    assert batch.status == "approved"


def test_a_cancelled_batch_cannot_be_approved(session, year) -> None:
    batch = payments.cancel_batch(session=session, batch_id=_draft(session).id, actor="maker")
    with pytest.raises(Conflict, match="is cancelled, not draft"):
        _approve(session, batch)


def test_approval_pays_what_the_fund_owes_the_provider_from_cash(session, year) -> None:
    member = _poor(session, year)
    make.claim(session, claim_id="AUG-1", person_id=member.id, service_date=dt.date(2024, 8, 3), total=200_000)
    make.claim(session, claim_id="AUG-2", person_id=member.id, service_date=dt.date(2024, 8, 9), total=450_000)
    ledger.post_claim_settlements(session=session, up_to=AUGUST[1], currency="VND", minor_digits=0)
    batch = _draft(session)
    assert ledger.provider_payable(session=session, provider_id=batch.provider_id) == 650_000
    _approve(session, batch, on=dt.date(2024, 9, 10))
    assert batch.status == "approved" and batch.approved_by == "checker"
    assert ledger.provider_payable(session=session, provider_id=batch.provider_id) == 0
    shi = {b.account: b.balance for b in ledger.balances(session=session, fund_code="shi")}
    assert shi == {"cash": -650_000, "provider_payments": 650_000, "payable": 0}


def test_a_disallowed_amount_is_recovered_in_the_next_batch(session, year) -> None:
    member = _poor(session, year)
    make.claim(session, claim_id="AUG", person_id=member.id, service_date=dt.date(2024, 8, 3), total=2_000_000)
    make.claim(session, claim_id="SEP", person_id=member.id, service_date=dt.date(2024, 9, 5), total=800_000)
    _approve(session, _draft(session, AUGUST))  # AUG paid in full: 2,000,000
    verification.decide(
        session=session,
        review_id=_review_of(session, "AUG"),
        decision="disallow",
        amount=500_000,
        reason="two days not documented",
        on=dt.date(2024, 9, 20),
    )
    following = _draft(session, SEPTEMBER)
    assert (following.claims_amount, following.recoveries_amount, following.net_amount) == (
        800_000,
        500_000,
        800_000 - 500_000,
    )
    assert {(line.kind, line.amount) for line in payments.batch_lines(session=session, batch_id=following.id)} == {
        ("claims", 800_000),
        ("recoveries", 500_000),
    }
    # Netted once: the batch after it deducts nothing more.
    _approve(session, following)
    assert _draft(session, (dt.date(2024, 10, 1), dt.date(2024, 10, 31))).recoveries_amount == 0


def test_recoveries_above_what_is_due_make_a_negative_net_the_provider_pays_back(session, year) -> None:
    member = _poor(session, year)
    make.claim(session, claim_id="AUG", person_id=member.id, service_date=dt.date(2024, 8, 3), total=2_000_000)
    make.claim(session, claim_id="SEP", person_id=member.id, service_date=dt.date(2024, 9, 5), total=300_000)
    _approve(session, _draft(session, AUGUST))
    verification.decide(session=session, review_id=_review_of(session, "AUG"), decision="reject", reason="phantom")
    following = _draft(session, SEPTEMBER)
    assert following.net_amount == 300_000 - 2_000_000
    _approve(session, following, on=dt.date(2024, 10, 10))
    # The fund paid 2,000,000 in August and gets back 1,700,000 in October: 300,000 out in all.
    assert {b.account: b.balance for b in ledger.balances(session=session, fund_code="shi")}["cash"] == -300_000


def test_a_cancelled_draft_gives_its_recoveries_back_to_the_next_batch(session, year) -> None:
    member = _poor(session, year)
    make.claim(session, claim_id="AUG", person_id=member.id, service_date=dt.date(2024, 8, 3), total=1_000_000)
    _approve(session, _draft(session, AUGUST))
    verification.decide(
        session=session, review_id=_review_of(session, "AUG"), decision="disallow", amount=100_000, reason="x"
    )
    draft = _draft(session, SEPTEMBER)
    assert draft.recoveries_amount == 100_000
    payments.cancel_batch(session=session, batch_id=draft.id, actor="maker")
    assert session.scalars(select(Recovery.payment_batch_id)).all() == [None]
    assert _draft(session, SEPTEMBER).recoveries_amount == 100_000


def test_a_claim_under_open_review_waits_for_the_decision(session, year) -> None:
    member = _poor(session, year)
    make.claim(session, claim_id="AUG", person_id=member.id, service_date=dt.date(2024, 8, 3), total=200_000)
    review = _review_of(session, "AUG")
    assert _draft(session, AUGUST).claim_count == 0
    verification.decide(session=session, review_id=review, decision="accept")
    assert _draft(session, SEPTEMBER).claim_count == 1


def test_capitation_counts_enrolled_residents_on_the_first_day_of_each_month(session, year) -> None:
    # A commune station in C11 paid per enrolled resident of C11 and month.
    make.provider(session, code="HC11", level="commune", location_code="C11")
    make.contract(session, provider_code="HC11", payment_method="capitation")
    make.enrolled_person(session, scheme=year, location_code="C11")  # Aug 1 and Sep 1
    make.enrolled_person(session, scheme=year, location_code="C11")  # Aug 1 and Sep 1
    make.enrolled_person(session, scheme=year, location_code="C11", starts=dt.date(2024, 8, 15))  # Sep 1 only
    make.enrolled_person(session, scheme=year, location_code="C12")  # another commune: never
    make.person(session, location_code="C11")  # not enrolled: never
    ledger.ensure_fund(session=session, code="shi", name="shi", currency="VND", minor_digits=0)
    batch = _draft(
        session,
        (dt.date(2024, 8, 1), dt.date(2024, 9, 30)),
        provider_code="HC11",
        capitation_per_person_month=10_000,
        capitation_fund="shi",
    )
    assert batch.capitation_amount == (2 + 3) * 10_000
    assert batch.net_amount == 50_000


def test_the_csv_lists_each_claim_each_recovery_negative_and_the_net(session, year) -> None:
    member = _poor(session, year)
    make.claim(session, claim_id="AUG", person_id=member.id, service_date=dt.date(2024, 8, 3), total=1_000_000)
    make.claim(session, claim_id="SEP", person_id=member.id, service_date=dt.date(2024, 9, 5), total=400_000)
    _approve(session, _draft(session, AUGUST))
    verification.decide(
        session=session, review_id=_review_of(session, "AUG"), decision="disallow", amount=250_000, reason="x"
    )
    batch = _draft(session, SEPTEMBER)
    rows = list(csv.DictReader(io.StringIO(payments.batch_csv(session=session, batch_id=batch.id))))
    assert [(row["line"], row["reference"], row["amount"]) for row in rows] == [
        ("claim", "SEP", "400000"),
        ("recovery", "AUG", "-250000"),
        ("net", "draft", "150000"),
    ]
