"""``equicover demo --policy P`` for every shipped programme: a province of the programme's country,
settled, stored, financed, paid and reported in its currency."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import func, select

from equicover.claims.models import Claim, ClaimPayment
from equicover.db.engine import make_engine
from equicover.db.session import make_session_factory
from equicover.demo.funds import demo_calendar
from equicover.demo.province import SHIPPED_POLICIES, demo
from equicover.enrolment.models import Enrolment, Scheme
from equicover.ledger import service as ledger
from equicover.ledger.models import Fund
from equicover.organisations import service as organisations
from equicover.payments.models import PaymentBatch, PaymentBatchClaim, PaymentBatchLine
from equicover.registry.models import Location, Person, PersonCategory
from equicover.settlement.loader import load_policy
from equicover.synth.cli import policy_period
from equicover.synth.profile import profile_for_policy
from equicover.verification.models import ClaimReview

PEOPLE = 300
POLICIES = sorted(path.name for path in SHIPPED_POLICIES.glob("*.toml"))


def test_every_shipped_policy_has_a_province_of_its_country():
    for name in POLICIES:
        policy = load_policy(SHIPPED_POLICIES / name)
        profile = profile_for_policy(policy.id)
        assert policy.id in profile.policies
        assert (profile.currency, profile.minor_digits) == (policy.currency, policy.minor_digits)
    # five programmes, five countries (Viet Nam's two policy versions share Lào Cai)
    assert len({profile_for_policy(load_policy(SHIPPED_POLICIES / name).id).id for name in POLICIES}) == 5


@pytest.mark.parametrize("policy_file", POLICIES)
def test_the_demo_runs_the_whole_chain_in_the_programmes_country(
    policy_file: str, empty_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    policy_path = SHIPPED_POLICIES / policy_file
    policy = load_policy(policy_path)
    profile = profile_for_policy(policy.id)
    calendar = demo_calendar(*policy_period(policy))
    monkeypatch.setenv("EQUICOVER_DATABASE_URL", empty_db_url)
    monkeypatch.setenv("COLUMNS", "200")

    demo(
        people=PEOPLE,
        seed=3,
        policy=policy_path,
        output=tmp_path / "out",
        fresh=False,
        funds=True,
        serve=False,
        host="127.0.0.1",
        port=8000,
    )

    engine = make_engine(empty_db_url)
    try:
        with make_session_factory(engine)() as session:
            # The province is of one country: its districts, its peoples' scripts.
            districts = set(session.scalars(select(Location.name).where(Location.level == "district")))
            assert districts and districts <= set(profile.district_names)
            scripts = set(session.scalars(select(Person.name_script).distinct()))
            assert scripts == {people.script for people in profile.peoples}
            held = set(session.scalars(select(PersonCategory.category).distinct()))
            assert held <= set(profile.category_words)

            # Enrolled in the programme's scheme, in its currency.
            scheme = session.scalars(select(Scheme)).one()
            assert (scheme.code, scheme.currency, scheme.minor_digits) == (
                profile.scheme_code,
                policy.currency,
                policy.minor_digits,
            )
            enrolled = session.scalar(select(func.count(func.distinct(Enrolment.person_id)))) or 0
            assert 0 < enrolled <= PEOPLE

            # The organisations of the programme answer for their areas (Iran's neighbourhoods by
            # the seed's four organisations, Cambodia's districts by their HEF operator).
            for role, named in (
                ("responsible_organisation", profile.area_organisations),
                ("hef_operator", profile.district_organisations),
            ):
                rows = organisations.coverage(session=session, on=calendar.half_ends, role=role)
                assert {row.code for row in rows} == {code for code, _, _ in named}
                if named:
                    assert sum(row.areas for row in rows) > 0
                    assert all(row.enrolled <= row.population for row in rows)

            # Claims in the policy's words, every one stored settled; the funds paid some.
            levels = set(session.scalars(select(Claim.provider_level).distinct()))
            care_types = set(session.scalars(select(Claim.care_type).distinct()))
            assert levels <= set(policy.provider_levels) and care_types <= set(policy.care_types)
            assert session.scalar(select(func.count()).select_from(Claim).where(Claim.status != "settled")) == 0
            assert session.scalar(select(func.sum(ClaimPayment.amount))) > 0

            # Payment batches: each pays, fund by fund, exactly the funds' shares of its claims.
            batches = session.scalars(select(PaymentBatch)).all()
            assert batches and {batch.currency for batch in batches} == {policy.currency}
            assert {batch.status for batch in batches} == {"approved"}
            for batch in batches:
                expected: dict[str, int] = defaultdict(int)
                for kind, item_id, payer, amount in session.execute(
                    select(ClaimPayment.kind, ClaimPayment.item_id, ClaimPayment.payer, ClaimPayment.amount)
                    .join(PaymentBatchClaim, PaymentBatchClaim.claim_pk == ClaimPayment.claim_pk)
                    .where(PaymentBatchClaim.batch_id == batch.id, ClaimPayment.amount != 0)
                ):
                    expected[ledger.fund_code_of_payment(kind, item_id, payer)] += amount
                lines = {
                    line.fund_code: line.amount
                    for line in session.scalars(
                        select(PaymentBatchLine).where(
                            PaymentBatchLine.batch_id == batch.id, PaymentBatchLine.kind == "claims"
                        )
                    )
                }
                assert lines == dict(expected), batch.id
                assert batch.claims_amount == sum(expected.values())
            # ... and every claim the funds pay up to the half-year's end is in a batch (earlier
            # ones of the programme's year are caught up), unless it is under review.
            paid_claims = set(
                session.scalars(
                    select(ClaimPayment.claim_pk)
                    .join(Claim, Claim.id == ClaimPayment.claim_pk)
                    .where(Claim.service_date <= calendar.half_ends, ClaimPayment.amount != 0)
                )
            )
            in_batches = set(session.scalars(select(PaymentBatchClaim.claim_pk)))
            under_review = set(session.scalars(select(ClaimReview.claim_pk)))
            assert paid_claims - under_review <= in_batches <= paid_claims

            # The ledger balances, in the programme's currency, and every fund that pays was
            # financed for the year: what it received is of the order of what it paid out (a
            # province of 300 people has a few large stays, so not always more).
            debit, credit = ledger.trial_balance(session=session)
            assert debit == credit
            assert {fund.currency for fund in session.scalars(select(Fund))} == {policy.currency}
            cash = [row for row in ledger.balances(session=session) if row.account == "cash"]
            assert cash
            for row in cash:
                assert row.debit * 2 >= row.credit, (row.fund, row.debit, row.credit)
    finally:
        engine.dispose()
