"""The batch engine on hand-worked cases: every number below is computed by hand in the comments.

Amounts are in minor units (fen) unless written as CSV text. The random comparison with the
real-time engine is in test_engines_agree.py; here a few fixed cases are compared as well.
"""

from __future__ import annotations

import csv
import random
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from equicover.settlement.batch_engine import BatchReport, settle_file, settle_records
from equicover.settlement.claims_file import (
    ClaimFileError,
    read_claims_csv,
    settlement_record,
    write_errors_csv,
    write_settlements_csv,
)
from equicover.settlement.loader import load_policy_text
from equicover.settlement.model import Claim, Policy
from equicover.settlement.realtime_engine import ClaimOutsidePolicyError, settle_claims

HEADER = """
[policy]
id = "test-batch"
name = "Hand-worked batch cases"
currency = "{currency}"
effective_from = 2018-01-01
effective_to = 2019-12-31
year_start = "{year_start}"
provider_levels = ["township", "county"]
care_types = ["outpatient", "inpatient"]
source = "tests/settlement/test_batch.py"
"""


def policy(body: str, *, year_start: str = "01-01", currency: str = "CNY") -> Policy:
    return load_policy_text(HEADER.format(year_start=year_start, currency=currency) + body, path="<test>")


def claim(
    claim_id: str,
    total: int,
    eligible: int | None = None,
    *,
    member: str = "m1",
    day: date = date(2018, 3, 1),
    level: str = "township",
    care: str = "inpatient",
    diagnosis: str = "J18.9",
    days: int = 0,
    categories: frozenset[str] = frozenset(),
    designated: bool = True,
    in_area: bool = True,
    referred: bool = False,
) -> Claim:
    return Claim(
        claim_id=claim_id,
        member_id=member,
        service_date=day,
        provider_id="p1",
        provider_level=level,
        designated=designated,
        in_area=in_area,
        referred=referred,
        care_type=care,
        diagnosis=diagnosis,
        days=days,
        total=total,
        eligible=total if eligible is None else eligible,
        categories=categories,
    )


def by_id(records: list[dict]) -> dict[str, dict]:
    return {record["claim_id"]: record for record in records}


# --------------------------------------------------------------------------------------------
# Fixed fees


FIXED_FEE = """
[diagnosis_groups]
appendicitis = ["K35"]

[[fixed_fee]]
when = { diagnosis_group = ["appendicitis"], provider_level = ["county"] }
fee = "3800.00"

[[layer]]
id = "basic"
payer = "Basic"
  [[layer.variant]]
  bands = [{ upto = "500.00", ratio = 0 }, { ratio = 0.8 }]
"""


def test_fixed_fee_sets_allowed_writeoff_and_eligible() -> None:
    records = by_id(
        settle_records(
            policy(FIXED_FEE),
            [
                claim("c1", 500000, 450000, level="county", diagnosis="K35.8", member="a"),
                claim("c2", 300000, 300000, level="county", diagnosis="K35", member="b"),
                claim("c3", 100000, level="township", diagnosis="K35.8", member="c"),
                claim("c4", 30000, 20000, level="county", diagnosis="I10", member="d"),
                claim("c5", 30000, 0, level="county", diagnosis="I10", member="e"),
            ],
        )
    )
    # c1: allowed = fee 380000, write-off 500000 - 380000 = 120000, eligible min(450000, 380000)
    # = 380000; bands: [0, 50000) x 0 + [50000, 380000) = 330000 x 0.8 = 264000; oop 116000
    assert records["c1"] == {
        "claim_id": "c1",
        "allowed": 380000,
        "provider_writeoff": 120000,
        "paid_basic": 264000,
        "member_oop": 116000,
        "trail": "fixed_fee=1; basic=v1 b1-2",
    }
    # c2: the fee is above the bill: write-off 300000 - 380000 = -80000 (the provider is paid
    # more); eligible min(300000, 380000) = 300000 -> 250000 x 0.8 = 200000; oop 180000
    assert (records["c2"]["allowed"], records["c2"]["provider_writeoff"]) == (380000, -80000)
    assert (records["c2"]["paid_basic"], records["c2"]["member_oop"]) == (200000, 180000)
    # c3: appendicitis but township: no fee; 50000 over the deductible x 0.8 = 40000
    assert records["c3"] == {
        "claim_id": "c3",
        "allowed": 100000,
        "provider_writeoff": 0,
        "paid_basic": 40000,
        "member_oop": 60000,
        "trail": "basic=v1 b1-2",
    }
    # c4: eligible 20000 lies inside the deductible band only; c5: nothing to place in a band
    assert (records["c4"]["paid_basic"], records["c4"]["trail"]) == (0, "basic=v1 b1-1")
    assert (records["c5"]["paid_basic"], records["c5"]["trail"]) == (0, "basic=v1 b-")


# --------------------------------------------------------------------------------------------
# Conditions: layers with a ratio-0 band pay nothing, so the trail shows what matched


CONDITIONS = """
[diagnosis_groups]
chronic = ["I10", "N18"]

[[layer]]
id = "cat"
payer = "P"
when = { member_category = ["registered_poor", "elderly"] }
  [[layer.variant]]
  bands = [{ ratio = 0 }]

[[layer]]
id = "diag"
payer = "P"
when = { diagnosis = ["E11"] }
  [[layer.variant]]
  bands = [{ ratio = 0 }]

[[layer]]
id = "group"
payer = "P"
when = { diagnosis_group = ["chronic"] }
  [[layer.variant]]
  bands = [{ ratio = 0 }]

[[layer]]
id = "below"
payer = "P"
when = { allowed_below = "100.00" }
  [[layer.variant]]
  bands = [{ ratio = 0 }]

[[layer]]
id = "orand"
payer = "P"
when = [{ care_type = ["inpatient"], in_area = true }, { referred = true }]
  [[layer.variant]]
  bands = [{ ratio = 0 }]

[[layer]]
id = "variants"
payer = "P"
  [[layer.variant]]
  when = { provider_level = ["county"] }
  bands = [{ ratio = 0 }]
  [[layer.variant]]
  when = { designated = false }
  bands = [{ ratio = 0 }]
"""


def test_conditions_and_variants_match_as_specified() -> None:
    records = by_id(
        settle_records(
            policy(CONDITIONS),
            [
                # elderly (any listed category), E11.9 starts with E11, allowed 10000 is not
                # strictly below 10000, inpatient but not in area and not referred, township and
                # designated: no variant
                claim("a", 10000, diagnosis="E11.9", categories=frozenset({"elderly"}), in_area=False),
                # near_poor only; N18.3 is in the chronic group; 9999 < 10000; referred; county
                claim(
                    "b",
                    9999,
                    diagnosis="N18.3",
                    care="outpatient",
                    level="county",
                    designated=False,
                    referred=True,
                    categories=frozenset({"near_poor"}),
                ),
                # township, not designated: the second variant; inpatient in area: first AND-table
                claim("c", 500, diagnosis="I10", designated=False),
            ],
        )
    )
    assert records["a"]["trail"] == "cat=v1 b1-1; diag=v1 b1-1; group=-; below=-; orand=-; variants=-"
    assert records["b"]["trail"] == "cat=-; diag=-; group=v1 b1-1; below=v1 b1-1; orand=v1 b1-1; variants=v1 b1-1"
    assert records["c"]["trail"] == "cat=-; diag=-; group=v1 b1-1; below=v1 b1-1; orand=v1 b1-1; variants=v2 b1-1"
    assert all(record["member_oop"] == record["allowed"] for record in records.values())


def test_conditions_read_from_csv_text_are_normalised(tmp_path: Path) -> None:
    # diagnosis " e11.9 " is trimmed and upper-cased; categories are split on ";" and trimmed
    claims_path = tmp_path / "claims.csv"
    claims_path.write_text(
        "claim_id,member_id,service_date,provider_id,provider_level,designated,in_area,referred,"
        "care_type,diagnosis,days,total,eligible,categories\n"
        "a,m1,2018-03-01,p1,township,TRUE,No,no,inpatient, e11.9 ,0,100.00,100.00, near_poor ; elderly ;\n"
        "b,m2,2018-03-01,p1,township,yes,1,0,outpatient,K35,0,100.00,100.00,registered_poorish\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    report = settle_file(policy(CONDITIONS), claims_path, out)
    assert (report.settled, report.rejected) == (2, 0)
    rows = {row["claim_id"]: row for row in csv.DictReader(out.open(encoding="utf-8"))}
    assert rows["a"]["trail"] == "cat=v1 b1-1; diag=v1 b1-1; group=-; below=-; orand=-; variants=-"
    # "registered_poorish" is not "registered_poor"
    assert rows["b"]["trail"] == "cat=-; diag=-; group=-; below=-; orand=-; variants=-"


# --------------------------------------------------------------------------------------------
# Remaining amounts and rounding


REMAINING = """
[[layer]]
id = "a"
payer = "Total-based"
base = "total"
  [[layer.variant]]
  bands = [{ ratio = 0.5 }]

[[layer]]
id = "b"
payer = "Eligible-based"
base = "eligible"
  [[layer.variant]]
  bands = [{ ratio = 1 }]
"""


def test_a_total_layer_pays_from_the_eligible_part_first() -> None:
    records = by_id(
        settle_records(
            policy(REMAINING),
            [claim("c1", 100000, 60000, member="x"), claim("c2", 100000, 20000, member="y")],
        )
    )
    # c1: a pays 50000 of 100000; eligible left 60000 - 50000 = 10000, which b pays in full
    assert (records["c1"]["paid_a"], records["c1"]["paid_b"], records["c1"]["member_oop"]) == (50000, 10000, 40000)
    # c2: a's 50000 uses up the 20000 eligible: b has nothing to place ("b-")
    assert (records["c2"]["paid_a"], records["c2"]["paid_b"], records["c2"]["member_oop"]) == (50000, 0, 50000)
    assert records["c2"]["trail"] == "a=v1 b1-1; b=v1 b-"


def test_band_payments_round_half_up_to_the_minor_unit() -> None:
    half = policy(
        """
[[layer]]
id = "half"
payer = "P"
base = "total"
  [[layer.variant]]
  bands = [{ ratio = 0.5 }]

[[layer]]
id = "third"
payer = "P"
base = "total"
  [[layer.variant]]
  bands = [{ ratio = 0.333333 }]
"""
    )
    records = by_id(
        settle_records(half, [claim("c1", 1, member="p"), claim("c2", 3, member="q"), claim("c3", 2, member="r")])
    )
    # 1 x 0.5 = 0.5 -> 1; 3 x 0.5 = 1.5 -> 2; 2 x 0.5 = 1 exactly
    assert [records[c]["paid_half"] for c in ("c1", "c2", "c3")] == [1, 2, 1]
    # then 0.333333 of what is left: 0, 1 x 0.333333 -> 0, 1 x 0.333333 -> 0
    assert [records[c]["paid_third"] for c in ("c1", "c2", "c3")] == [0, 0, 0]
    records = by_id(settle_records(half, [claim("c4", 7, member="s")]))
    # 7 x 0.5 = 3.5 -> 4; left 3 x 0.333333 = 0.999999 -> 1 (exact arithmetic, not floats)
    assert (records["c4"]["paid_half"], records["c4"]["paid_third"], records["c4"]["member_oop"]) == (4, 1, 2)


# --------------------------------------------------------------------------------------------
# Year scope, benefit years, settlement order


YEAR_SCOPE = """
[[layer]]
id = "ci"
payer = "Critical illness"
scope = "year"
when = { care_type = ["inpatient"] }
  [[layer.variant]]
  bands = [{ upto = "10.00", ratio = 0 }, { ratio = 0.5 }]
"""


def test_year_scope_positions_run_over_the_members_benefit_year() -> None:
    # benefit years start on 1 July; in settlement order (member, date, claim id):
    claims = [
        claim("c9", 200, day=date(2018, 9, 1)),  # same day as c10: "c10" < "c9", so c9 is last
        claim("c1", 600, day=date(2018, 6, 30)),  # year 2017: positions [0, 600) -> 0
        claim("c2", 600, day=date(2018, 7, 1)),  # year 2018 starts: [0, 600) -> 0
        claim("c3", 5000, day=date(2018, 7, 2), care="outpatient"),  # not matched: no position
        claim("c4", 600, day=date(2018, 8, 1)),  # [600, 1200): 400 x 0 + 200 x 0.5 = 100
        claim("c10", 600, day=date(2018, 9, 1)),  # [1200, 1800): 600 x 0.5 = 300
        claim("x1", 600, member="m2", day=date(2018, 8, 1)),  # another member: [0, 600) -> 0
    ]
    records = settle_records(policy(YEAR_SCOPE, year_start="07-01"), claims)
    assert [r["claim_id"] for r in records] == ["c1", "c2", "c3", "c4", "c10", "c9", "x1"]
    paid = {r["claim_id"]: (r["paid_ci"], r["trail"]) for r in records}
    assert paid == {
        "c1": (0, "ci=v1 b1-1"),
        "c2": (0, "ci=v1 b1-1"),
        "c3": (0, "ci=-"),
        "c4": (100, "ci=v1 b1-2"),
        "c10": (300, "ci=v1 b2-2"),
        "c9": (100, "ci=v1 b2-2"),  # [1800, 2000): 200 x 0.5
        "x1": (0, "ci=v1 b1-1"),
    }


# --------------------------------------------------------------------------------------------
# Caps


CAPS = """
[[layer]]
id = "l1"
payer = "P1"
base = "total"
cap_per_claim = "100.00"
cap_per_year = "250.00"
  [[layer.variant]]
  bands = [{ ratio = 0.5 }]

[[layer]]
id = "l2"
payer = "P2"
base = "total"
max_cumulative_share = 0.9
of = "total"
  [[layer.variant]]
  bands = [{ ratio = 1 }]
"""


def test_caps_per_claim_cumulative_share_and_per_year() -> None:
    claims = [
        claim("c1", 10000, day=date(2018, 1, 10)),
        claim("c2", 30000, day=date(2018, 2, 10)),
        claim("c3", 16000, day=date(2018, 3, 10)),
        claim("c4", 10000, day=date(2018, 4, 10)),
        claim("c5", 10000, day=date(2019, 1, 10)),
    ]
    records = by_id(settle_records(policy(CAPS), claims))
    expected = {
        # l1: 5000; year so far 5000. l2: 5000 left, at most floor(0.9 x 10000) - 5000 = 4000
        "c1": (5000, 4000, 1000, "l1=v1 b1-1; l2=v1 b1-1 max_cumulative_share"),
        # l1: 15000 -> cap_per_claim 10000; year 15000. l2: at most 27000 - 10000 = 17000
        "c2": (10000, 17000, 3000, "l1=v1 b1-1 cap_per_claim; l2=v1 b1-1 max_cumulative_share"),
        # l1: 8000; year 23000 <= 25000. l2: 8000 left, at most 14400 - 8000 = 6400
        "c3": (8000, 6400, 1600, "l1=v1 b1-1; l2=v1 b1-1 max_cumulative_share"),
        # l1: 5000, only 25000 - 23000 = 2000 left this year. l2: at most 9000 - 2000 = 7000
        "c4": (2000, 7000, 1000, "l1=v1 b1-1 cap_per_year; l2=v1 b1-1 max_cumulative_share"),
        # a new benefit year: the yearly cap starts again
        "c5": (5000, 4000, 1000, "l1=v1 b1-1; l2=v1 b1-1 max_cumulative_share"),
    }
    got = {c: (r["paid_l1"], r["paid_l2"], r["member_oop"], r["trail"]) for c, r in records.items()}
    assert got == expected


def test_a_cap_that_is_exactly_reached_is_not_in_the_trail() -> None:
    records = by_id(settle_records(policy(CAPS), [claim("c1", 20000), claim("c2", 50000, day=date(2018, 5, 1))]))
    # c1: 10000 = cap_per_claim exactly: not reduced. c2: 25000 -> 10000 (cap_per_claim), and the
    # year total 20000 <= 25000
    assert records["c1"]["trail"].startswith("l1=v1 b1-1;")
    assert records["c2"]["trail"].startswith("l1=v1 b1-1 cap_per_claim;")
    assert (records["c1"]["paid_l1"], records["c2"]["paid_l1"]) == (10000, 10000)


# --------------------------------------------------------------------------------------------
# oop_cap layers


OOP_CAP = """
[[layer]]
id = "basic"
payer = "Basic"
base = "total"
  [[layer.variant]]
  bands = [{ ratio = 0.5 }]

[[layer]]
id = "tilt"
payer = "Tilt"
kind = "oop_cap"
max_share = 0.10
max_per_year = "30.00"
when = { member_category = ["registered_poor"] }
"""


def test_oop_cap_share_and_yearly_limit() -> None:
    poor = frozenset({"registered_poor"})
    claims = [
        claim("c1", 10000, categories=poor, day=date(2018, 1, 1)),
        claim("c2", 30000, categories=poor, day=date(2018, 2, 1)),
        claim("c3", 10000, categories=poor, day=date(2018, 3, 1)),
        claim("c4", 10000, day=date(2018, 4, 1)),  # not poor: tilt does not apply, acc unchanged
        claim("c5", 10000, categories=poor, day=date(2019, 1, 1)),
    ]
    records = by_id(settle_records(policy(OOP_CAP), claims))
    expected = {
        # member would pay 5000; share limit floor(0.1 x 10000) = 1000 < yearly 3000: pays 4000
        "c1": (5000, 4000, 1000, "basic=v1 b1-1; tilt=max_share"),
        # would pay 15000; share limit 3000, yearly 3000 - 1000 = 2000 is smaller: pays 13000
        "c2": (15000, 13000, 2000, "basic=v1 b1-1; tilt=max_per_year"),
        # the year's 3000 is used up: the tilt pays all 5000
        "c3": (5000, 5000, 0, "basic=v1 b1-1; tilt=max_per_year"),
        "c4": (5000, 0, 5000, "basic=v1 b1-1; tilt=-"),
        # next year: as c1
        "c5": (5000, 4000, 1000, "basic=v1 b1-1; tilt=max_share"),
    }
    got = {c: (r["paid_basic"], r["paid_tilt"], r["member_oop"], r["trail"]) for c, r in records.items()}
    assert got == expected


def test_oop_cap_on_eligible_takes_the_share_of_eligible() -> None:
    records = settle_records(
        policy(
            """
[[layer]]
id = "cap"
payer = "P"
kind = "oop_cap"
base = "eligible"
max_share = 0.2
"""
        ),
        [claim("c1", 100000, 60000)],
    )
    # member_now = eligible 60000; limit floor(0.2 x 60000) = 12000; pays 48000; the member keeps
    # the 40000 outside the catalogue and 12000 of it: 52000
    assert records == [
        {
            "claim_id": "c1",
            "allowed": 100000,
            "provider_writeoff": 0,
            "paid_cap": 48000,
            "member_oop": 52000,
            "trail": "cap=max_share",
        }
    ]


# --------------------------------------------------------------------------------------------
# Allowances


ALLOWANCES = """
[[layer]]
id = "basic"
payer = "Basic"
  [[layer.variant]]
  bands = [{ ratio = 0.5 }]

[[allowance]]
id = "food"
per = "day"
amount = "20.00"
when = { care_type = ["inpatient"], member_category = ["registered_poor"] }

[[allowance]]
id = "transport"
per = "claim"
amount = "50.00"
when = { in_area = false }
"""


def test_allowances_per_day_and_per_claim_beside_the_bill() -> None:
    poor = frozenset({"registered_poor"})
    records = by_id(
        settle_records(
            policy(ALLOWANCES),
            [
                claim("c1", 10000, days=3, categories=poor, in_area=False, member="a"),
                claim("c2", 10000, days=3, care="outpatient", categories=poor, member="b"),
            ],
        )
    )
    # c1: 3 days x 2000 = 6000 food, 5000 transport; the bill is split as without allowances
    assert (records["c1"]["allowance_food"], records["c1"]["allowance_transport"]) == (6000, 5000)
    assert (records["c1"]["paid_basic"], records["c1"]["member_oop"]) == (5000, 5000)
    assert (records["c2"]["allowance_food"], records["c2"]["allowance_transport"]) == (0, 0)
    assert list(records["c1"]) == [
        "claim_id",
        "allowed",
        "provider_writeoff",
        "paid_basic",
        "member_oop",
        "allowance_food",
        "allowance_transport",
        "trail",
    ]


def test_settle_records_refuses_a_claim_outside_the_period() -> None:
    with pytest.raises(ClaimOutsidePolicyError):
        settle_records(policy(ALLOWANCES), [claim("c1", 100, day=date(2020, 1, 1))])


# --------------------------------------------------------------------------------------------
# Files: bad rows, formats, edge files


CSV_HEADER = (
    "claim_id,member_id,service_date,provider_id,provider_level,designated,in_area,referred,"
    "care_type,diagnosis,days,total,eligible,categories\n"
)

BAD_ROWS = (
    CSV_HEADER
    + "c1,m1,2018-03-01,p1,township,true,true,false,inpatient,J18.9,2,100.00,80.00,registered_poor\n"  # 2
    + "c2,m1,2018-03-02,p1,city,true,true,maybe,inpatient,J18.9,2,12.345,1.00,\n"  # 3
    + "\n"  # 4: blank, skipped but counted
    + "c1,m2,2018-03-01,p1,township,true,true,false,inpatient,J18.9,2,100.00,80.00,\n"  # 5
    + ",,2018-02-30,p1,township,true,true,false,outpatient,12X,-1,10.00,-5.00,\n"  # 6
    + "c4,m3,2019-01-01,p1,county,1,0,1,dental,A09,0,10.00,20.00,\n"  # 7 (2019 is inside)
    + "c5,m3,2020-01-01,p1,county,1,0,1,outpatient,A09,0,10.00,20.00,\n"  # 8
    + "c6,m4,2018-03-01\n"  # 9: a short row
    + 'c7,m5,2018-04-01,"p\n7",county,no,no,no,outpatient,a09,0,5,5,\n'  # 10-11: a quoted line break
    + "c2,m6,2018-03-01,p1,township,true,true,false,inpatient,J18.9,1,1.00,1.00,\n"  # 12
)

BAD_ROWS_ERRORS = [
    ("3", "c2", "provider_level", "unknown provider level"),
    ("3", "c2", "referred", "not a boolean"),
    ("3", "c2", "total", "more than 2 decimal places"),
    ("5", "c1", "claim_id", "duplicate claim_id, first at line 2"),
    ("6", "", "claim_id", "required"),
    ("6", "", "member_id", "required"),
    ("6", "", "service_date", "not an ISO date (YYYY-MM-DD)"),
    ("6", "", "diagnosis", "not an ICD-10 code"),
    ("6", "", "days", "not a whole number >= 0"),
    ("6", "", "eligible", "negative amount"),
    ("7", "c4", "care_type", "unknown care type"),
    ("7", "c4", "eligible", "eligible is more than total"),
    ("8", "c5", "service_date", "outside the policy's effective period"),
    ("8", "c5", "eligible", "eligible is more than total"),
    ("9", "c6", "provider_id", "required"),
    ("9", "c6", "provider_level", "unknown provider level"),
    ("9", "c6", "designated", "not a boolean"),
    ("9", "c6", "in_area", "not a boolean"),
    ("9", "c6", "referred", "not a boolean"),
    ("9", "c6", "care_type", "unknown care type"),
    ("9", "c6", "diagnosis", "required"),
    ("9", "c6", "days", "not a whole number >= 0"),
    ("9", "c6", "total", "required"),
    ("9", "c6", "eligible", "required"),
    # an earlier row with the same id counts even though it was rejected itself
    ("12", "c2", "claim_id", "duplicate claim_id, first at line 3"),
]


def test_bad_rows_go_to_the_errors_file_with_line_field_and_reason(tmp_path: Path) -> None:
    claims_path, out, errors = tmp_path / "claims.csv", tmp_path / "out.csv", tmp_path / "out.errors.csv"
    claims_path.write_text(BAD_ROWS, encoding="utf-8")
    the_policy = policy(ALLOWANCES)
    report = settle_file(the_policy, claims_path, out, errors_path=errors)
    assert (report.settled, report.rejected) == (2, 7)
    with errors.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["line", "claim_id", "field", "reason"]
    assert [tuple(row) for row in rows[1:]] == BAD_ROWS_ERRORS
    settled = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [row["claim_id"] for row in settled] == ["c1", "c7"]
    # c1: 10000 x 0.5 of eligible 8000 = 4000; food 2 days x 20.00 for a poor inpatient
    assert settled[0] == {
        "claim_id": "c1",
        "allowed": "100.00",
        "provider_writeoff": "0.00",
        "paid_basic": "40.00",
        "member_oop": "60.00",
        "allowance_food": "40.00",
        "allowance_transport": "0.00",
        "trail": "basic=v1 b1-1",
    }
    # the real-time reader writes the same two files
    claims, reader_errors = read_claims_csv(claims_path, the_policy)
    write_settlements_csv(tmp_path / "rt.csv", the_policy, settle_claims(the_policy, claims))
    write_errors_csv(tmp_path / "rt.errors.csv", reader_errors)
    assert (tmp_path / "rt.csv").read_bytes() == out.read_bytes()
    assert (tmp_path / "rt.errors.csv").read_bytes() == errors.read_bytes()


def test_money_is_written_with_the_currencys_minor_digits(tmp_path: Path) -> None:
    claims_path, out = tmp_path / "claims.csv", tmp_path / "out.csv"
    claims_path.write_text(
        CSV_HEADER + "c1,m1,2018-03-01,p1,township,true,true,false,inpatient,J18.9,0,150001,150001,\n",
        encoding="utf-8",
    )
    dong = policy(
        """
[[layer]]
id = "basic"
payer = "Basic"
  [[layer.variant]]
  bands = [{ upto = "1", ratio = 0 }, { ratio = 0.5 }]

[[allowance]]
id = "food"
per = "day"
amount = "20000"
""",
        currency="VND",
    )
    settle_file(dong, claims_path, out)
    # (150001 - 1) dong x 0.5 = 75000; days 0: no food; no decimal point with 0 minor digits
    assert out.read_text(encoding="utf-8").splitlines()[1] == "c1,150001,0,75000,75001,0,basic=v1 b1-2"


def _typed_claims_parquet(path: Path, claims: list[Claim]) -> None:
    """Claims as a Parquet file with real types (bool, date, decimal, list) rather than text."""
    table = pa.table(
        {
            "claim_id": [c.claim_id for c in claims],
            "member_id": [c.member_id for c in claims],
            "service_date": pa.array([c.service_date for c in claims], pa.date32()),
            "provider_id": [c.provider_id for c in claims],
            "provider_level": [c.provider_level for c in claims],
            "designated": [c.designated for c in claims],
            "in_area": [c.in_area for c in claims],
            "referred": [c.referred for c in claims],
            "care_type": [c.care_type for c in claims],
            "diagnosis": [c.diagnosis for c in claims],
            "days": pa.array([c.days for c in claims], pa.int32()),
            "total": pa.array([Decimal(c.total).scaleb(-2) for c in claims], pa.decimal128(18, 2)),
            "eligible": pa.array([Decimal(c.eligible).scaleb(-2) for c in claims], pa.decimal128(18, 2)),
            "categories": pa.array([sorted(c.categories) for c in claims], pa.list_(pa.string())),
        }
    )
    pq.write_table(table, path)


def test_parquet_in_and_out_gives_the_csv_answer(tmp_path: Path) -> None:
    the_policy = policy(OOP_CAP)
    poor = frozenset({"registered_poor"})
    claims = [
        claim("c1", 10000, categories=poor, day=date(2018, 1, 1)),
        claim("c2", 30000, categories=poor, day=date(2018, 2, 1)),
        claim("c3", 12345, categories=frozenset({"near_poor", "registered_poor"}), member="m2"),
        claim("c1", 500),  # duplicate: row index 3 -> line 5, first at line 2
    ]
    parquet_in = tmp_path / "claims.parquet"
    _typed_claims_parquet(parquet_in, claims)
    parquet_out, errors = tmp_path / "out.parquet", tmp_path / "errors.csv"
    report = settle_file(the_policy, parquet_in, parquet_out, errors_path=errors)
    assert (report.settled, report.rejected) == (3, 1)
    assert errors.read_text(encoding="utf-8").splitlines()[1] == '5,c1,claim_id,"duplicate claim_id, first at line 2"'

    table = pq.read_table(parquet_out)
    assert table.schema.field("allowed").type == pa.decimal128(38, 2)
    assert table.schema.field("trail").type == pa.string()
    expected = settle_records(the_policy, claims[:3])
    rows = table.to_pylist()
    assert [row["claim_id"] for row in rows] == ["c1", "c2", "c3"]
    for row, record in zip(rows, expected):
        for column, value in record.items():
            got = row[column]
            assert (got if isinstance(got, str) else int(got * 100)) == value, (column, row)

    # Parquet out, CSV in: the same numbers
    csv_in, csv_out = tmp_path / "claims.csv", tmp_path / "out.csv"
    write_claims_csv(csv_in, claims[:3])
    settle_file(the_policy, csv_in, csv_out)
    csv_rows = list(csv.DictReader(csv_out.open(encoding="utf-8")))
    assert [row["paid_tilt"] for row in csv_rows] == [f"{row['paid_tilt']:.2f}" for row in rows]


def write_claims_csv(path: Path, claims: list[Claim]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CSV_HEADER.strip().split(","))
        for c in claims:
            writer.writerow(
                [
                    c.claim_id,
                    c.member_id,
                    c.service_date.isoformat(),
                    c.provider_id,
                    c.provider_level,
                    str(c.designated).lower(),
                    str(c.in_area).lower(),
                    str(c.referred).lower(),
                    c.care_type,
                    c.diagnosis,
                    c.days,
                    f"{Decimal(c.total).scaleb(-2):.2f}",
                    f"{Decimal(c.eligible).scaleb(-2):.2f}",
                    ";".join(sorted(c.categories)),
                ]
            )


def test_a_header_only_file_settles_nothing_and_succeeds(tmp_path: Path) -> None:
    claims_path, out, errors = tmp_path / "claims.csv", tmp_path / "out.csv", tmp_path / "out.errors.csv"
    claims_path.write_text(CSV_HEADER, encoding="utf-8")
    report = settle_file(policy(ALLOWANCES), claims_path, out, errors_path=errors)
    assert (report.settled, report.rejected) == (0, 0)
    assert out.read_text(encoding="utf-8") == (
        "claim_id,allowed,provider_writeoff,paid_basic,member_oop,allowance_food,allowance_transport,trail\n"
    )
    assert not errors.exists()


def test_missing_columns_are_a_file_error_naming_them(tmp_path: Path) -> None:
    claims_path = tmp_path / "claims.csv"
    claims_path.write_text("claim_id,member_id,total\nc1,m1,1.00\n", encoding="utf-8")
    with pytest.raises(ClaimFileError) as caught:
        settle_file(policy(ALLOWANCES), claims_path, tmp_path / "out.csv")
    assert "service_date" in str(caught.value) and "eligible" in str(caught.value)
    assert "claim_id," not in str(caught.value)


def test_progress_reports_every_step(tmp_path: Path) -> None:
    claims_path = tmp_path / "claims.csv"
    claims_path.write_text(BAD_ROWS, encoding="utf-8")
    calls: list[tuple[str, int, int]] = []
    report = settle_file(policy(ALLOWANCES), claims_path, tmp_path / "out.csv", progress=lambda *a: calls.append(a))
    assert isinstance(report, BatchReport) and report.seconds > 0
    assert [done for _, done, _ in calls] == list(range(len(calls)))
    assert calls[-1][1] == calls[-1][2]


# --------------------------------------------------------------------------------------------
# The real-time engine on the same fixed cases


ONE_STOP = """
[diagnosis_groups]
appendicitis = ["K35"]
critical = ["C", "I21"]

[[fixed_fee]]
when = { diagnosis_group = ["appendicitis"], provider_level = ["county"] }
fee = "38.00"

[[layer]]
id = "basic"
payer = "Basic medical insurance"
cap_per_year = "150.00"
when = { care_type = ["inpatient"] }
  [[layer.variant]]
  when = { provider_level = ["township"] }
  bands = [{ upto = "1.00", ratio = 0 }, { ratio = 0.9 }]
  [[layer.variant]]
  bands = [{ upto = "3.00", ratio = 0 }, { ratio = 0.75 }]

[[layer]]
id = "critical"
payer = "Critical illness insurance"
scope = "year"
  [[layer.variant]]
  bands = [{ upto = "20.00", ratio = 0 }, { upto = "60.00", ratio = 0.5 }, { ratio = 0.6 }]

[[layer]]
id = "tilt"
payer = "County tilt"
kind = "oop_cap"
max_share = 0.1
max_per_year = "25.00"
when = { in_area = true, member_category = ["registered_poor"] }

[[layer]]
id = "assistance"
payer = "Medical assistance"
base = "total"
cap_per_year = "40.00"
when = { member_category = ["registered_poor", "near_poor"] }
  [[layer.variant]]
  bands = [{ ratio = 0.7 }]

[[layer]]
id = "emergency"
payer = "Emergency assistance"
base = "total"
cap_per_claim = "5.00"
max_cumulative_share = 0.95
when = [{ diagnosis_group = ["critical"] }, { referred = true }]
  [[layer.variant]]
  bands = [{ ratio = 0.5 }]

[[allowance]]
id = "food"
per = "day"
amount = "0.20"
when = { care_type = ["inpatient"], member_category = ["registered_poor"] }
"""


def _seeded_claims(count: int, seed: int) -> list[Claim]:
    rng = random.Random(seed)
    claims = []
    for index in range(count):
        total = rng.choice([0, 1, 99, 100, 300, 2000, 3800, 6000, rng.randint(0, 20000)])
        claims.append(
            claim(
                f"c{index}",
                total,
                rng.choice([total, total // 2, 0, rng.randint(0, total)]),
                member=f"m{rng.randint(1, 12)}",
                day=date(2018, 1, 1) + timedelta(days=rng.choice([0, 1, 364, 365, rng.randint(0, 729)])),
                level=rng.choice(["township", "county"]),
                care=rng.choice(["inpatient", "outpatient"]),
                diagnosis=rng.choice(["K35.8", "C34.1", "I21.0", "J18.9", "I10"]),
                days=rng.randint(0, 9),
                categories=frozenset(rng.sample(["registered_poor", "near_poor", "elderly"], rng.randint(0, 2))),
                in_area=rng.random() < 0.7,
                referred=rng.random() < 0.3,
            )
        )
    return claims


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_real_time_engine_gives_the_same_records(seed: int) -> None:
    the_policy = policy(ONE_STOP)
    claims = _seeded_claims(300, seed)
    expected = [settlement_record(the_policy, s) for s in settle_claims(the_policy, claims)]
    assert settle_records(the_policy, claims) == expected


def test_the_real_time_engine_writes_the_same_file(tmp_path: Path) -> None:
    the_policy = policy(ONE_STOP)
    claims = _seeded_claims(400, 4)
    claims_path = tmp_path / "claims.csv"
    write_claims_csv(claims_path, claims)
    settle_file(the_policy, claims_path, tmp_path / "batch.csv")
    write_settlements_csv(tmp_path / "realtime.csv", the_policy, settle_claims(the_policy, claims))
    assert (tmp_path / "batch.csv").read_bytes() == (tmp_path / "realtime.csv").read_bytes()


@pytest.mark.parametrize("members", [1, 3, 12])
def test_settling_member_ranges_side_by_side_writes_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, members: int
) -> None:
    """Large files are settled in member ranges on several cursors: cut where the claims of one
    member would be split, the ranges must still give the real-time engine's file."""
    import equicover.settlement.batch_engine as batch_module

    monkeypatch.setattr(batch_module, "PARALLEL_SETTLE_MIN_ROWS", 40)
    monkeypatch.setattr(batch_module, "_cores", lambda: 4)
    the_policy = policy(ONE_STOP)
    claims = _seeded_claims(400, 5)
    # few members, so that the even cuts fall inside a member's claims
    claims = [replace(c, member_id=f"m{int(c.member_id[1:]) % members}") for c in claims]
    claims_path = tmp_path / "claims.csv"
    write_claims_csv(claims_path, claims)
    settle_file(the_policy, claims_path, tmp_path / "batch.csv")
    write_settlements_csv(tmp_path / "realtime.csv", the_policy, settle_claims(the_policy, claims))
    assert (tmp_path / "batch.csv").read_bytes() == (tmp_path / "realtime.csv").read_bytes()
