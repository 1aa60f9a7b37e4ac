"""Contributions (docs/settlement.md, "Contributions"): RAMED's flat amount with a household cap, Vietnam's ladder."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from equicover.money import RATIO_SCALE
from equicover.settlement.contributions import (
    ContributionMember,
    ContributionRow,
    MembersFileError,
    compute_contributions,
    read_members_csv,
    write_contributions_csv,
)
from equicover.settlement.model import Condition, ContributionRules, SubsidyRule

RAMED = ContributionRules(kind="flat", amount=12000, household_cap=60000)  # 120 / 600 MAD
VIETNAM = ContributionRules(
    kind="wage_share",
    reference_wage=2_340_000,  # VND, no minor digits
    share=45_000,  # 4.5 %
    rank_factors=(RATIO_SCALE, 700_000, 600_000, 500_000, 400_000),
    subsidies=(
        SubsidyRule(when=(Condition(member_category=frozenset({"poor"})),), shares=(("state_budget", RATIO_SCALE),)),
        SubsidyRule(when=(Condition(member_category=frozenset({"near_poor"})),), shares=(("state_budget", 700_000),)),
    ),
)


def member(household: str, member_id: str, *categories: str) -> ContributionMember:
    return ContributionMember(household, member_id, frozenset(categories))


def amounts_by_member(rows: list[ContributionRow]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.member_id] = totals.get(row.member_id, 0) + row.amount
    return totals


def test_ramed_flat_amount_capped_per_household() -> None:
    members = (
        [member("H1", f"A{i}") for i in range(1, 5)]
        + [member("H2", "B1")]
        + [member("H1", f"A{i}") for i in range(5, 8)]
    )
    rows = compute_contributions(RAMED, members)
    assert all(row.payer == "member" for row in rows)
    assert [(row.member_id, row.amount) for row in rows] == [
        ("A1", 12000), ("A2", 12000), ("A3", 12000), ("A4", 12000),
        ("B1", 12000),
        ("A5", 12000), ("A6", 0), ("A7", 0),
    ]  # fmt: skip


def test_flat_cap_that_is_not_a_multiple_of_the_amount() -> None:
    rules = ContributionRules(kind="flat", amount=12000, household_cap=30000)
    rows = compute_contributions(rules, [member("H", f"M{i}") for i in range(4)])
    assert [row.amount for row in rows] == [12000, 12000, 6000, 0]


def test_flat_without_cap_everyone_pays_the_amount() -> None:
    rows = compute_contributions(ContributionRules(kind="flat", amount=500), [member("H", f"M{i}") for i in range(7)])
    assert [row.amount for row in rows] == [500] * 7


def test_vietnam_ladder_and_subsidies() -> None:
    household = [
        member("H", "M1"),
        member("H", "M2", "near_poor"),
        member("H", "M3", "poor", "elderly"),
        member("H", "M4"),
        member("H", "M5"),
        member("H", "M6", "student"),
    ]
    rows = compute_contributions(VIETNAM, household)
    # 4.5% x 2,340,000 = 105,300; then 70%, 60%, 50%, 40%, and 40% again
    assert amounts_by_member(rows) == {"M1": 105300, "M2": 73710, "M3": 63180, "M4": 52650, "M5": 42120, "M6": 42120}
    assert [(row.member_id, row.payer, row.amount) for row in rows] == [
        ("M1", "member", 105300),
        ("M2", "state_budget", 51597),  # 70% of 73,710
        ("M2", "member", 22113),
        ("M3", "state_budget", 63180),
        ("M3", "member", 0),
        ("M4", "member", 52650),
        ("M5", "member", 42120),
        ("M6", "member", 42120),
    ]


def test_ladder_is_rounded_once_and_half_up() -> None:
    rules = ContributionRules(kind="wage_share", reference_wage=101, share=500_000, rank_factors=(RATIO_SCALE, 700_000))
    rows = compute_contributions(rules, [member("H", "A"), member("H", "B")])
    # 101 x 0.5 = 50.5 -> 51 ; 101 x 0.5 x 0.7 = 35.35 -> 35 (rounding 50.5 first would give 36)
    assert [row.amount for row in rows] == [51, 35]


def test_payer_parts_round_half_up_and_never_exceed_the_amount() -> None:
    halves = (SubsidyRule(when=(), shares=(("a", 500_000), ("b", 500_000))),)
    rules = ContributionRules(kind="flat", amount=51, subsidies=halves)
    assert [(r.payer, r.amount) for r in compute_contributions(rules, [member("H", "M")])] == [
        ("a", 26), ("b", 25), ("member", 0),
    ]  # fmt: skip
    tiny = ContributionRules(kind="flat", amount=1, subsidies=halves)
    assert [(r.payer, r.amount) for r in compute_contributions(tiny, [member("H", "M")])] == [
        ("a", 1), ("b", 0), ("member", 0),
    ]  # fmt: skip


def test_first_matching_subsidy_rule_applies() -> None:
    rules = ContributionRules(
        kind="flat",
        amount=1000,
        subsidies=(
            SubsidyRule(when=(Condition(member_category=frozenset({"poor"})),), shares=(("state", RATIO_SCALE),)),
            SubsidyRule(when=(), shares=(("province", 300_000), ("district", 0))),
        ),
    )
    rows = compute_contributions(rules, [member("H", "P", "poor", "elderly"), member("H", "Q", "elderly")])
    assert [(r.member_id, r.payer, r.amount) for r in rows] == [
        ("P", "state", 1000), ("P", "member", 0),
        ("Q", "province", 300), ("Q", "district", 0), ("Q", "member", 700),
    ]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 10**9),
    st.integers(0, RATIO_SCALE),
    st.lists(st.integers(0, RATIO_SCALE), min_size=1, max_size=5),
    st.lists(st.integers(0, RATIO_SCALE // 3), max_size=3),
    st.lists(st.sampled_from(("H1", "H2", "H3")), min_size=1, max_size=12),
)
def test_parts_add_up_and_none_is_negative(
    wage: int, share: int, factors: list[int], shares: list[int], households: list[str]
) -> None:
    rules = ContributionRules(
        kind="wage_share",
        reference_wage=wage,
        share=share,
        rank_factors=tuple(factors),
        subsidies=(SubsidyRule(when=(), shares=tuple((f"payer{i}", s) for i, s in enumerate(shares))),),
    )
    members = [member(h, f"M{i}") for i, h in enumerate(households)]
    rows = compute_contributions(rules, members)
    assert len(rows) == len(members) * (len(shares) + 1)
    assert all(row.amount >= 0 for row in rows)
    rank: dict[str, int] = {}
    totals = amounts_by_member(rows)
    for m in members:
        k = rank.get(m.household_id, 0)
        rank[m.household_id] = k + 1
        exact = wage * share * factors[min(k, len(factors) - 1)]
        # the member's total is the exact product rounded half up
        assert abs(2 * totals[m.member_id] * RATIO_SCALE**2 - 2 * exact) <= RATIO_SCALE**2


def test_members_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    path.write_text("household_id,member_id,categories\nH1,A, poor ;elderly\nH2,B,\n\nH1,C,\n", encoding="utf-8")
    members = read_members_csv(path)
    assert members == [member("H1", "A", "poor", "elderly"), member("H2", "B"), member("H1", "C")]
    out = tmp_path / "out.csv"
    write_contributions_csv(out, compute_contributions(RAMED, members), 2)
    assert out.read_text(encoding="utf-8") == (
        "member_id,payer,amount\nA,member,120.00\nB,member,120.00\nC,member,120.00\n"
    )


def test_members_file_errors_are_all_listed(tmp_path: Path) -> None:
    path = tmp_path / "members.csv"
    path.write_text("household_id,member_id,categories\n,A,\nH1,,\nH1,A,\n", encoding="utf-8")
    with pytest.raises(MembersFileError) as raised:
        read_members_csv(path)
    assert [(e.line, e.field, e.reason) for e in raised.value.errors] == [
        (2, "household_id", "required"),
        (3, "member_id", "required"),
        (4, "member_id", "duplicate member_id, first at line 2"),
    ]
    missing = tmp_path / "missing_columns.csv"
    missing.write_text("member_id\nA\n", encoding="utf-8")
    with pytest.raises(MembersFileError) as raised:
        read_members_csv(missing)
    assert "household_id" in str(raised.value)
