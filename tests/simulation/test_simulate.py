"""Simulation: the same claims under several policies, figures equal to settling each policy alone."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from equicover.settlement.batch_engine import settle_records
from equicover.settlement.claims_file import read_claims_csv, settlement_record
from equicover.settlement.loader import load_policy, load_policy_text
from equicover.settlement.realtime_engine import settle_claims
from equicover.simulation.consumption import load_consumption
from equicover.simulation.engine import SimulationError, simulate
from tests.settlement.strategies import claim_row, policies_with_claims, rows_to_csv
from tests.simulation.yaan_claims import (
    COLUMNS,
    POLICIES,
    TILT_TEXT,
    YAAN,
    near_poor_threshold,
    yaan_claims,
    yaan_variant,
)

SLOW = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _by_claim(records):
    return {record["claim_id"]: record for record in records}


@settings(SLOW, max_examples=25)
@given(policies_with_claims(max_claims=40))
def test_simulating_one_policy_gives_every_column_of_both_engines(drawn):
    case, claims = drawn
    policy = load_policy_text(case.text)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "claims.csv"
        path.write_text(rows_to_csv([claim_row(claim, case.minor_digits) for claim in claims]), encoding="utf-8")
        if not claims:
            with pytest.raises(SimulationError, match="no claims to settle"):
                simulate([policy], path)
            return
        result = simulate([policy], path, keep_records=True)
    simulated = _by_claim(result.figures[0].records)
    batch = _by_claim(settle_records(policy, claims))
    realtime = _by_claim(settlement_record(policy, s) for s in settle_claims(policy, claims))
    assert simulated == batch == realtime
    figures = result.figures[0]
    assert figures.settled == len(claims) and figures.rejected == 0
    assert figures.member_oop == sum(record["member_oop"] for record in batch.values())
    for layer in policy.layers:
        assert figures.paid[layer.id] == sum(record[f"paid_{layer.id}"] for record in batch.values())


@pytest.fixture(scope="module")
def yaan_year(tmp_path_factory):
    return yaan_claims(tmp_path_factory.mktemp("claims") / "claims.csv", claims=300, members=40, households=12)


def test_a_policy_against_itself_differs_nowhere(yaan_year):
    policy = load_policy(YAAN)
    result = simulate([policy, policy], yaan_year)
    first, second = result.figures
    assert first == second
    assert first.settled == 300 and result.settled_by_all == 300
    assert result.changed == []
    for row in result.by_category + result.by_district:
        assert row.figures[0] == row.figures[1]
    assert {row.key for row in result.by_district} == {"D0", "D1", "D2"}


def test_policies_sharing_one_sort_settle_member_ranges_side_by_side_as_alone(yaan_year, tmp_path, monkeypatch):
    """Policies that read claims alike settle one sorted table, cut into member ranges settled at
    the same time; bad and repeated rows are refused once and written for each policy."""
    from equicover.settlement import batch_engine

    monkeypatch.setattr(batch_engine, "PARALLEL_SETTLE_MIN_ROWS", 20)
    monkeypatch.setattr(batch_engine, "_cores", lambda: 4)
    lines = yaan_year.read_text(encoding="utf-8").splitlines()
    fields = lines[5].split(",")
    fields[COLUMNS.index("provider_level")] = "village"  # not a level of the policy
    lines[5] = ",".join(fields)
    lines.append(lines[9])  # a repeated claim id
    path = tmp_path / "claims.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    base = load_policy(YAAN)
    tilt = load_policy(yaan_variant(tmp_path / "tilt.toml", {TILT_TEXT: TILT_TEXT.replace("0.10", "0.15")}))
    near_poor = load_policy(near_poor_threshold(tmp_path))
    out = tmp_path / "rejected"
    out.mkdir()
    result = simulate([base, tilt, near_poor], path, keep_records=True, errors_dir=out)
    claims, errors = read_claims_csv(path, base)
    assert len(errors) == 2
    for policy, figures in zip((base, tilt, near_poor), result.figures):
        assert _by_claim(figures.records) == _by_claim(settle_records(policy, claims))
        assert (figures.settled, figures.rejected) == (len(claims), 2)
    written = [(out / f"rejected-{p.id}-{n}.csv").read_text(encoding="utf-8") for n, p in enumerate(result.policies, 1)]
    assert written[0] == written[1] == written[2]
    assert "provider_level" in written[0] and "claim_id" in written[0]


TILT = TILT_TEXT
ASSISTANCE = "  [[layer.variant]]\n  bands = [ { ratio = 0.70 } ]\n\n# ----"
BASIC_CAP = 'cap_per_year = "150000.00"'
THRESHOLD = '{ upto = "6000.00", ratio = 0 },        # threshold halved for the poor (source 2)'
variants = st.fixed_dictionaries(
    {
        TILT: st.sampled_from(("0.05", "0.10", "0.15", "0.2", "0.333333")).map(
            lambda share: f'base = "eligible"\nmax_share = {share}\n'
        ),
        ASSISTANCE: st.sampled_from(("0", "0.5", "0.70", "0.9", "1")).map(
            lambda ratio: "  [[layer.variant]]\n  bands = [ { ratio = " + ratio + " } ]\n\n# ----"
        ),
        BASIC_CAP: st.sampled_from(("500.00", "20000.00", "150000.00")).map(lambda cap: f'cap_per_year = "{cap}"'),
        THRESHOLD: st.sampled_from(("1.00", "3000.00", "6000.00", "12000.00")).map(
            lambda upto: '{ upto = "' + upto + '", ratio = 0 },'
        ),
    }
)


@settings(SLOW, max_examples=12)
@given(variants, variants)
def test_each_policy_of_a_pair_is_settled_as_alone_and_the_differences_are_theirs(yaan_year, first, second):
    claims, errors = read_claims_csv(yaan_year, load_policy(YAAN))
    assert not errors
    with tempfile.TemporaryDirectory() as folder:
        policies = [
            load_policy(yaan_variant(Path(folder) / f"variant{i}.toml", replacements))
            for i, replacements in enumerate((first, second))
        ]
        result = simulate(policies, yaan_year, keep_records=True, top=1000)
    alone = [_by_claim(settle_records(policy, claims)) for policy in policies]
    for policy, figures, separate in zip(policies, result.figures, alone):
        assert _by_claim(figures.records) == separate
        for record in separate.values():
            paid = sum(record[f"paid_{layer.id}"] for layer in policy.layers)
            assert paid + record["member_oop"] == record["allowed"]
        assert figures.member_oop == sum(r["member_oop"] for r in separate.values())
        for layer in policy.layers:
            assert figures.paid[layer.id] == sum(r[f"paid_{layer.id}"] for r in separate.values())
    assert result.figures[1].member_oop - result.figures[0].member_oop == sum(
        alone[1][c]["member_oop"] - alone[0][c]["member_oop"] for c in alone[0]
    )
    moved = {
        claim_id
        for claim_id in alone[0]
        if any(
            alone[0][claim_id][key] != alone[1][claim_id][key] for key in alone[0][claim_id] if key.startswith("paid_")
        )
        or alone[0][claim_id]["member_oop"] != alone[1][claim_id]["member_oop"]
    }
    assert {claim.claim_id for claim in result.changed} == moved
    for claim in result.changed:
        before, after = alone[0][claim.claim_id], alone[1][claim.claim_id]
        assert claim.member_oop == (before["member_oop"], after["member_oop"])
    oop_changes = [abs(c.member_oop[1] - c.member_oop[0]) for c in result.changed]
    assert oop_changes == sorted(oop_changes, reverse=True)


HALF = """
[policy]
id = "half"
name = "Half of every bill, the poor's inpatient share at most 20%"
currency = "CNY"
effective_from = 2018-01-01
effective_to = 2018-12-31
provider_levels = ["county"]
care_types = ["inpatient", "outpatient"]
source = "a test"

[[layer]]
id = "fund"
payer = "Fund"
base = "total"
  [[layer.variant]]
  bands = [ { ratio = 0.5 } ]

[[layer]]
id = "ceiling"
payer = "Ceiling"
kind = "oop_cap"
max_share = 0.2
when = [ { member_category = ["registered_poor"], care_type = ["inpatient"] } ]
"""

HEADER = ",".join(COLUMNS)
ROWS = (
    # M1 (poor, H1): fund 300, OOP 300 above 20% of 600: the ceiling pays 180, OOP 120
    "C1,M1,2018-03-01,P,county,true,true,false,inpatient,K35.8,3,600.00,600.00,registered_poor",
    # M2 (H1): OOP 50; H1 pays 170 of 1,000: above 10%, not 25%
    "C2,M2,2018-03-02,P,county,true,true,false,outpatient,J06.9,0,100.00,100.00,",
    # M3 (near-poor, H2): OOP 60 of 200: above 25%
    "C3,M3,2018-04-01,P,county,true,true,false,outpatient,J06.9,0,120.00,120.00,near_poor",
    # M4 (H3): OOP 50 of 10,000
    "C4,M4,2018-05-01,P,county,true,true,false,outpatient,J06.9,0,100.00,100.00,",
)
HOUSEHOLDS = (("H1", "1000.00", "D1"), ("H1", "1000.00", "D1"), ("H2", "200.00", "D1"), ("H3", "10000.00", "D2"))


def test_poor_inpatients_and_catastrophic_spending_by_hand(tmp_path):
    path = tmp_path / "claims.csv"
    lines = [HEADER + ",household_id,household_consumption,district"]
    lines += [f"{row},{h},{c},{d}" for row, (h, c, d) in zip(ROWS, HOUSEHOLDS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = simulate([load_policy_text(HALF)], path)
    figures = result.figures[0]
    assert figures.paid == {"fund": 46000, "ceiling": 18000}
    assert figures.member_oop == 12000 + 5000 + 6000 + 5000
    assert (figures.poor_inpatient_stays, figures.above_target, figures.above_ceiling) == (1, 1, 0)
    assert (figures.households, figures.catastrophic_10, figures.catastrophic_25) == (3, 2, 1)
    by_category = {row.key: row.figures[0] for row in result.by_category}
    assert (by_category["registered_poor"].households, by_category["registered_poor"].catastrophic_10) == (1, 1)
    assert by_category["registered_poor"].catastrophic_25 == 0
    assert (by_category["near_poor"].catastrophic_10, by_category["near_poor"].catastrophic_25) == (1, 1)
    # M2's claim counts under "(none)"; its household H1 counts under registered_poor, a claimant's category
    assert (by_category["(none)"].households, by_category["(none)"].claims) == (1, 2)
    by_district = {row.key: row.figures[0] for row in result.by_district}
    assert (by_district["D1"].households, by_district["D1"].catastrophic_10, by_district["D2"].catastrophic_10) == (
        2,
        2,
        0,
    )
    assert by_district["D1"].member_oop == 23000 and by_district["D1"].paid == 59000
    assert "household_consumption column" in result.consumption_note


def test_consumption_from_assumptions_counts_each_member_alone_without_households(tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text("\n".join((HEADER, *ROWS)) + "\n", encoding="utf-8")
    assumptions = tmp_path / "consumption.toml"
    assumptions.write_text(
        '[consumption]\nid = "test"\ncurrency = "CNY"\nyear = 2018\nsource = "a test"\n'
        '[[per_person]]\ncategory = "registered_poor"\namount = "500.00"\n[[per_person]]\namount = "1000.00"\n',
        encoding="utf-8",
    )
    result = simulate([load_policy_text(HALF)], path, consumption=load_consumption(assumptions))
    figures = result.figures[0]
    # M1 120 of 500 (24%), M2 50, M3 60 and M4 50 of 1,000
    assert (figures.households, figures.catastrophic_10, figures.catastrophic_25) == (4, 1, 0)
    assert result.consumption_note.startswith("ASSUMPTION") and "one-person household" in result.consumption_note
    no_consumption = simulate([load_policy_text(HALF)], path)
    assert no_consumption.figures[0].catastrophic_10 is None
    assert no_consumption.consumption_note.startswith("not computed")


def test_a_bad_household_column_is_refused_with_its_line(tmp_path):
    path = tmp_path / "claims.csv"
    lines = [HEADER + ",household_id,household_consumption", f"{ROWS[0]},H1,1000.00", f"{ROWS[1]},H1,a lot"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SimulationError, match=r"line 3: household_consumption: not an amount"):
        simulate([load_policy_text(HALF)], path)


def test_policies_in_two_currencies_are_not_compared(tmp_path):
    vietnam = load_policy(POLICIES / "vn-shi-2024.toml")
    with pytest.raises(SimulationError, match="currency VND"):
        simulate([load_policy(YAAN), vietnam], tmp_path / "unused.csv")


def test_a_money_difference_is_exact(yaan_year, tmp_path):
    lower = yaan_variant(tmp_path / "tilt.toml", {TILT: 'base = "eligible"\nmax_share = 0.15\n'})
    result = simulate([load_policy(YAAN), load_policy(lower)], yaan_year)
    tilt_change = result.figures[1].paid["tilt"] - result.figures[0].paid["tilt"]
    assert tilt_change < 0
    assert isinstance(tilt_change, int)
    assert Decimal(result.figures[1].member_oop - result.figures[0].member_oop) == -Decimal(
        result.figures[1].paid_total - result.figures[0].paid_total
    )


def test_policies_naming_other_categories_or_reading_claims_otherwise_are_settled_as_alone(yaan_year, tmp_path):
    base = load_policy(YAAN)
    near_poor = load_policy(near_poor_threshold(tmp_path))
    other_levels = load_policy(
        yaan_variant(
            tmp_path / "levels.toml",
            {
                'provider_levels = ["township", "county", "city", "province"]': (
                    'provider_levels = ["village", "township", "county", "city", "province"]'
                )
            },
        )
    )
    claims, _ = read_claims_csv(yaan_year, base)
    result = simulate([base, near_poor, other_levels], yaan_year, keep_records=True)
    for policy, figures in zip((base, near_poor, other_levels), result.figures):
        assert _by_claim(figures.records) == _by_claim(settle_records(policy, claims))
    near = {claim.claim_id for claim in claims if "near_poor" in claim.categories}
    assert result.figures[1].paid["critical_illness"] >= result.figures[0].paid["critical_illness"]
    assert {c.claim_id for c in result.changed} <= near


def test_a_household_without_a_size_counts_its_members_with_claims(tmp_path):
    path = tmp_path / "claims.csv"
    lines = [HEADER + ",household_id"] + [f"{row},{h}" for row, (h, _, _) in zip(ROWS, HOUSEHOLDS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assumptions = tmp_path / "consumption.toml"
    assumptions.write_text(
        '[consumption]\nid = "test"\ncurrency = "CNY"\nyear = 2018\nsource = "a test"\n'
        '[[per_person]]\ncategory = "registered_poor"\namount = "500.00"\n[[per_person]]\namount = "1000.00"\n',
        encoding="utf-8",
    )
    result = simulate([load_policy_text(HALF)], path, consumption=load_consumption(assumptions))
    figures = result.figures[0]
    # H1: two members with claims, a poor one: 2 x 500.00; its 170.00 is 17%. H2 6%, H3 5%.
    assert (figures.households, figures.catastrophic_10, figures.catastrophic_25) == (3, 1, 0)
    assert "its members with claims" in result.consumption_note
