"""A stored year re-settled: the stored claims with the registry's households, the same payments."""

from __future__ import annotations

import pytest

from equicover.claims.service import payments_of
from equicover.errors import EquicoverError
from equicover.settlement.loader import load_policy
from equicover.simulation.engine import simulate
from equicover.simulation.stored import enrolled_by_group, parse_stored, stored_year_claims
from tests import factories as make
from tests.simulation.yaan_claims import POLICIES


def test_the_stored_year_settles_as_it_was_stored(session):
    world = make.vn_claims_world(session)
    stored = stored_year_claims(session=session, year=2024, default_minor_digits=0)
    # C-OP0 (a facility without a contract) was stored paid nothing: no policy would pay it
    assert (stored.claims, stored.set_aside, stored.reversed) == (8, 1, 0)
    rows = {row["claim_id"]: row for row in stored.table.to_pylist()}
    assert "C-OP0" not in rows
    assert rows["A-IP0"]["household_size"] == "3" and rows["B-IP0"]["household_size"] == "1"
    assert rows["A-IP0"]["household_id"] == str(world.household_id)
    assert rows["A-IP0"]["district"].startswith("D1 ") and rows["B-OP0"]["district"].startswith("D2 ")
    assert rows["A-IP0"]["total"] == "6000000" and rows["A-IP0"]["categories"] == "registered_poor"

    policy = load_policy(POLICIES / "vn-shi-2024.toml")
    result = simulate([policy], stored.table, keep_records=True)
    assert result.figures[0].settled == 8
    for record in result.figures[0].records:
        pk = world.claim_pks[record["claim_id"]]
        paid = {payment.item_id: payment.amount for payment in payments_of(session=session, claim_pk=pk)}
        for layer in policy.layers:
            assert record[f"paid_{layer.id}"] == paid[layer.id]
    assert {record["claim_id"]: record["paid_shi"] for record in result.figures[0].records} == {
        "A-OP0": 320_000,
        "A-OP1": 450_000,
        "A-OP2": 400_000,
        "A-OP3": 550_000,
        "A-IP0": 6_000_000,
        "A-IP1": 7_200_000,
        "B-OP0": 300_000,
        "B-IP0": 9_600_000,
    }
    # two households with claims: H1 (three persons) and H2
    assert result.figures[0].households == 2


def test_enrolment_of_the_base_year_by_group(session):
    make.vn_world(session)
    # the registered-poor woman; the man of five years and the man of H2; the girl is not enrolled
    assert enrolled_by_group(session=session, year=2024, groups=[("registered_poor",), ()]) == [1, 2]
    assert enrolled_by_group(session=session, year=2024, groups=[("registered_poor",)]) == [1]
    assert enrolled_by_group(session=session, year=2023, groups=[()]) == [0]


def test_a_year_without_claims_is_empty_and_a_bad_year_refused(session):
    make.vn_claims_world(session)
    assert stored_year_claims(session=session, year=2019, default_minor_digits=0).claims == 0
    assert parse_stored("stored:2024") == 2024 and parse_stored("claims.csv") is None
    with pytest.raises(EquicoverError, match="four-digit year"):
        parse_stored("stored:last")


def _catastrophic(figures):
    return (figures.households, figures.measured, figures.catastrophic_10, figures.catastrophic_25, figures.left_out)


def test_the_households_consumption_of_the_year_gives_the_catastrophic_shares(session):
    from equicover.reports.service import record_household_consumption

    make.vn_claims_world(session)
    # Out-of-pocket of 2024 (total minus what the fund pays, vn_claims_world):
    #   H1: A-OP0 80,000 + A-OP2 100,000 + A-IP1 1,800,000 = 1,980,000
    #   H2: B-IP0 2,400,000
    # H1 spends 7,000,000 a year: 28.3%, above 10% and 25%; H2 20,000,000: 12%, above 10% only.
    record_household_consumption(session=session, household_code="H1", year=2024, amount=7_000_000)
    record_household_consumption(session=session, household_code="H2", year=2024, amount=20_000_000)
    record_household_consumption(session=session, household_code="H2", year=2023, amount=1)  # another year
    stored = stored_year_claims(session=session, year=2024, default_minor_digits=0)
    rows = {row["claim_id"]: row for row in stored.table.to_pylist()}
    assert rows["A-IP0"]["household_consumption"] == "7000000"
    assert rows["B-IP0"]["household_consumption"] == "20000000"

    result = simulate([load_policy(POLICIES / "vn-shi-2024.toml")], stored.table)
    figures = result.figures[0]
    assert figures.member_oop == 1_980_000 + 2_400_000
    assert _catastrophic(figures) == (2, 2, 2, 1, 0)
    by_district = {row.key.split(" ")[0]: _catastrophic(row.figures[0]) for row in result.by_district}
    assert by_district == {"D1": (1, 1, 1, 1, 0), "D2": (1, 1, 1, 0, 0)}
    by_category = {row.key: _catastrophic(row.figures[0]) for row in result.by_category}
    assert by_category["registered_poor"] == (1, 1, 1, 1, 0)
    assert by_category["(none)"] == (1, 1, 1, 0, 0)


def test_a_household_without_consumption_is_left_out_of_the_shares(session):
    from equicover.reports.service import record_household_consumption

    make.vn_claims_world(session)
    # H1 only (1,980,000 of 15,000,000: 13.2%); H2 has a figure for 2023 only: left out of 2024.
    record_household_consumption(session=session, household_code="H1", year=2024, amount=15_000_000)
    record_household_consumption(session=session, household_code="H2", year=2023, amount=20_000_000)
    stored = stored_year_claims(session=session, year=2024, default_minor_digits=0)
    assert {row["claim_id"]: row["household_consumption"] for row in stored.table.to_pylist()}["B-IP0"] == ""
    result = simulate([load_policy(POLICIES / "vn-shi-2024.toml")], stored.table)
    assert _catastrophic(result.figures[0]) == (2, 1, 1, 0, 1)
    by_district = {row.key.split(" ")[0]: _catastrophic(row.figures[0]) for row in result.by_district}
    assert by_district == {"D1": (1, 1, 1, 0, 0), "D2": (1, 0, 0, 0, 1)}


def test_a_year_without_any_consumption_is_not_computed(session):
    make.vn_claims_world(session)
    stored = stored_year_claims(session=session, year=2024, default_minor_digits=0)
    assert "household_consumption" not in stored.table.column_names
    figures = simulate([load_policy(POLICIES / "vn-shi-2024.toml")], stored.table).figures[0]
    assert (figures.catastrophic_10, figures.catastrophic_25, figures.measured, figures.left_out) == (
        None,
        None,
        None,
        None,
    )
    # a projection reads no consumption at all
    assert "household_consumption" not in (
        stored_year_claims(
            session=session, year=2024, default_minor_digits=0, with_consumption=False
        ).table.column_names
    )
