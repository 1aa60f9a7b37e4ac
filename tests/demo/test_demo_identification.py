"""The demo's round of identification: the synthetic province stores its households' true consumption,
its poverty categories come from approved rounds under the programme's rules (none from the generator),
run before anybody is enrolled; the errors are measured against that consumption, and a household the
round categorised poor is enrolled and pays the subsidised contribution stored in the province."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import func, select

from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory
from equicover.demo.funds import demo_calendar
from equicover.demo.province import SHIPPED_POLICIES
from equicover.demo.targeting_round import IdentificationSummary, identified_categories, run_identification
from equicover.enrolment.models import Contribution, Enrolment
from equicover.registry.models import Household, Person, PersonCategory
from equicover.registry.service import categories_at
from equicover.reports.models import HouseholdConsumption
from equicover.settlement.contributions import ContributionMember, compute_contributions
from equicover.settlement.loader import load_policy
from equicover.synth.cli import generate_identified, policy_period
from equicover.synth.profile import profile_for_policy
from equicover.targeting.models import TargetingDecision, TargetingRound

POLICY = SHIPPED_POLICIES / "vn-shi-2024.toml"


def test_the_provinces_poor_come_from_its_rounds_and_pay_the_subsidised_contribution(
    empty_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = load_policy(POLICY)
    profile = profile_for_policy(policy.id)
    starts = demo_calendar(*policy_period(policy)).starts
    monkeypatch.setenv("EQUICOVER_DATABASE_URL", empty_db_url)
    upgrade(empty_db_url)
    targeted = identified_categories(profile)
    assert targeted == {"registered_poor", "near_poor"}
    console = Console(record=True, width=200)
    summaries: list[IdentificationSummary | None] = []
    generate_identified(
        people=400,
        seed=5,
        claims=tmp_path / "claims.csv",
        database_url=empty_db_url,
        policy=POLICY,
        identified_by_round=targeted,
        identify=lambda session: summaries.append(
            run_identification(profile=profile, programme_starts=starts, seed=5, console=console, session=session)
        ),
    )
    [summary] = summaries
    assert summary is not None
    printed = console.export_text()
    assert "Inclusion error" in printed and "After village decisions" in printed

    engine = make_engine(empty_db_url)
    try:
        with make_session_factory(engine)() as session:
            households = session.scalar(select(func.count()).select_from(Household))
            stored = session.scalar(
                select(func.count()).select_from(HouseholdConsumption).where(HouseholdConsumption.year == starts.year)
            )
            assert summary.households == households == stored  # every household's true consumption, interviewed
            rounds = session.scalars(select(TargetingRound)).all()
            assert len(rounds) == summary.rounds and {r.status for r in rounds} == {"approved"}
            assert {r.approved_on for r in rounds} == {starts}
            assert session.scalar(select(func.count()).select_from(TargetingDecision)) == summary.decisions > 0
            sources = set(
                session.scalars(select(PersonCategory.source).where(PersonCategory.category.in_(targeted)).distinct())
            )
            assert sources and all((source or "").startswith("targeting round ") for source in sources)
            written = session.scalar(
                select(func.count()).select_from(PersonCategory).where(PersonCategory.category.in_(targeted))
            )
            assert written == summary.categories_written > 0
            # errors against the truth are counted over the interviewed households
            assert summary.final.households == households
            assert summary.final.identified == sum(
                count for category, count in summary.by_category.items() if category != "none"
            )

            # a household the round categorised poor: its members' contribution is the state's
            poor_member = session.scalar(
                select(Person)
                .join(PersonCategory, PersonCategory.person_id == Person.id)
                .where(PersonCategory.category == "registered_poor")
                .order_by(Person.id)
                .limit(1)
            )
            other = session.scalar(
                select(Person)
                .where(~Person.id.in_(select(PersonCategory.person_id)))  # no category at all: pays in full
                .order_by(Person.id)
                .limit(1)
            )
            rules = policy.contribution
            assert rules is not None and poor_member is not None and other is not None
            on = starts + dt.timedelta(days=1)
            members = [
                ContributionMember(
                    household_id=str(person.household_id),
                    member_id=str(person.id),
                    categories=frozenset(categories_at(session=session, person_id=person.id, on=on)),
                )
                for person in (poor_member, other)
            ]
            assert "registered_poor" in members[0].categories
            paid = {(row.member_id, row.payer): row.amount for row in compute_contributions(rules, members)}
            assert paid[(str(poor_member.id), "member")] == 0 < paid[(str(poor_member.id), "state_budget")]
            assert paid.get((str(other.id), "member"), 0) > 0

            # ... and what the province stored follows the round: every member of a household it
            # found poor is enrolled and pays nothing, the state pays for them; the others pay
            round_poor = set(
                session.scalars(select(PersonCategory.person_id).where(PersonCategory.category == "registered_poor"))
            )
            stored_payers: dict[int, dict[str, int]] = {}
            for person_id, payer, amount in session.execute(
                select(Enrolment.person_id, Contribution.payer_kind, Contribution.amount_minor).join(
                    Contribution, Contribution.enrolment_id == Enrolment.id
                )
            ):
                stored_payers.setdefault(person_id, {})
                stored_payers[person_id][payer] = stored_payers[person_id].get(payer, 0) + amount
            assert round_poor and round_poor <= set(stored_payers)
            for person_id in round_poor:
                assert stored_payers[person_id].get("member", 0) == 0 < stored_payers[person_id]["state_budget"]
            uncategorised = set(stored_payers) - set(session.scalars(select(PersonCategory.person_id)))
            assert uncategorised and all(stored_payers[person].get("member", 0) > 0 for person in uncategorised)
    finally:
        engine.dispose()
