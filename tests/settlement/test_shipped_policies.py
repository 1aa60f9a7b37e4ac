"""The shipped policies under ``policies/``: they load, they cite their sources, and they settle
worked examples computed by hand from the rules written in each file.

Every expected figure below was computed by hand from the policy file's rules (the arithmetic is
in the comment next to it), never copied from an engine. Each case runs through both engines: the
real-time engine and the DuckDB batch engine must each give the hand-computed answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from equicover.money import floor_share, parse_money, parse_ratio
from equicover.settlement.contributions import ContributionMember, compute_contributions
from equicover.settlement.loader import load_policy
from equicover.settlement.model import Claim, Policy
from equicover.synth import parameters as synthetic

POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"
POLICY_FILES = sorted(POLICY_DIR.glob("*.toml"))
ENGINES = ("realtime", "batch")

_POLICIES: dict[str, Policy] = {}


def policy(stem: str) -> Policy:
    if stem not in _POLICIES:
        _POLICIES[stem] = load_policy(POLICY_DIR / f"{stem}.toml")
    return _POLICIES[stem]


# --------------------------------------------------------------------------------------------
# Running either engine and comparing with hand-computed records


def settle(engine: str, settled_policy: Policy, claims: list[Claim]) -> dict[str, dict[str, Any]]:
    """claim_id -> {allowed, provider_writeoff, paid_<layer>…, member_oop, allowance_<id>…, trail}."""
    if engine == "realtime":
        from equicover.settlement.realtime_engine import settle_claims

        records = {}
        for settlement in settle_claims(settled_policy, claims):
            record: dict[str, Any] = {
                "allowed": settlement.allowed,
                "provider_writeoff": settlement.provider_writeoff,
            }
            record.update({f"paid_{layer}": amount for layer, amount in settlement.paid.items()})
            record["member_oop"] = settlement.member_oop
            record.update({f"allowance_{name}": amount for name, amount in settlement.allowances.items()})
            record["trail"] = settlement.trail
            records[settlement.claim_id] = record
        return records
    from equicover.settlement.batch_engine import settle_records

    return {
        row["claim_id"]: {key: value for key, value in row.items() if key != "claim_id"}
        for row in settle_records(settled_policy, claims)
    }


def without_trail(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key != "trail"}


def money(settled_policy: Policy, text: str) -> int:
    return parse_money(text, settled_policy.minor_digits)


def expect(
    settled_policy: Policy,
    *,
    allowed: str,
    oop: str,
    paid: dict[str, str] | None = None,
    writeoff: str = "0",
    allowances: dict[str, str] | None = None,
) -> dict[str, int]:
    """The full output record in minor units; layers and allowances not named are 0.

    Checks the hand arithmetic too: allowed = Σ layer payments + member OOP.
    """
    paid = paid or {}
    allowances = allowances or {}
    layer_ids = [layer.id for layer in settled_policy.layers]
    allowance_ids = [allowance.id for allowance in settled_policy.allowances]
    assert set(paid) <= set(layer_ids), f"unknown layers {set(paid) - set(layer_ids)}"
    assert set(allowances) <= set(allowance_ids), f"unknown allowances {set(allowances) - set(allowance_ids)}"
    record = {"allowed": money(settled_policy, allowed), "provider_writeoff": money(settled_policy, writeoff)}
    for layer_id in layer_ids:
        record[f"paid_{layer_id}"] = money(settled_policy, paid.get(layer_id, "0"))
    record["member_oop"] = money(settled_policy, oop)
    for allowance_id in allowance_ids:
        record[f"allowance_{allowance_id}"] = money(settled_policy, allowances.get(allowance_id, "0"))
    layer_sum = sum(record[f"paid_{layer_id}"] for layer_id in layer_ids)
    assert record["allowed"] == layer_sum + record["member_oop"], "hand arithmetic does not add up"
    return record


@dataclass(frozen=True)
class ClaimSpec:
    claim_id: str
    member: str
    on: str
    level: str
    care: str
    total: str
    eligible: str | None = None
    designated: bool = True
    in_area: bool = True
    referred: bool = False
    diagnosis: str = "R69"
    days: int = 0
    categories: tuple[str, ...] = ()

    def claim(self, settled_policy: Policy) -> Claim:
        return Claim(
            claim_id=self.claim_id,
            member_id=self.member,
            service_date=date.fromisoformat(self.on),
            provider_id=f"provider-{self.level}",
            provider_level=self.level,
            designated=self.designated,
            in_area=self.in_area,
            referred=self.referred,
            care_type=self.care,
            diagnosis=self.diagnosis,
            days=self.days,
            total=money(settled_policy, self.total),
            eligible=money(settled_policy, self.eligible if self.eligible is not None else self.total),
            categories=frozenset(self.categories),
        )


@dataclass(frozen=True)
class Case:
    policy_stem: str
    name: str
    claims: tuple[ClaimSpec, ...]
    expected: dict[str, dict[str, Any]] = field(default_factory=dict)  # claim_id -> expect(...) kwargs

    def typed_claims(self) -> list[Claim]:
        return [spec.claim(policy(self.policy_stem)) for spec in self.claims]

    def expected_records(self) -> dict[str, dict[str, int]]:
        settled_policy = policy(self.policy_stem)
        return {claim_id: expect(settled_policy, **kwargs) for claim_id, kwargs in self.expected.items()}


CASES: list[Case] = []


def case(policy_stem: str, name: str, claims: list[ClaimSpec], expected: dict[str, dict[str, Any]]) -> None:
    CASES.append(Case(policy_stem, name, tuple(claims), expected))


# ============================================================================================
# China, Ya'an 2018 (CNY, 2 decimals). Layers: basic, outpatient_pool, critical_illness, tilt,
# medical_assistance, emergency_assistance. Basic variants: v1 chronic poor 70%, v2 chronic 65%,
# v3/v4 township 50|90% / 100|85%, v5/v6 county 200|80% / 400|75%, v7/v8 city 400|65% / 800|60%,
# v9/v10 province 600|55% / 1200|50% (deductible | ratio, poor first).
CN = "cn-yaan-2018"
POOR = ("registered_poor",)

case(
    CN,
    "poor in-county inpatient: tilt to 10% of the in-scope costs, a charity fund to 10% of the bill",
    [
        ClaimSpec(
            "cn-1",
            "P1",
            "2018-03-10",
            "county",
            "inpatient",
            "10000.00",
            "9000.00",
            diagnosis="J18.9",
            days=8,
            categories=POOR,
        )
    ],
    {
        "cn-1": dict(
            allowed="10000.00",
            paid={
                "basic": "7040.00",  # county, poor: (9000 - 200) x 0.80 = 7040.00
                # critical illness: remaining 9000 - 7040 = 1960, positions [0, 1960] inside the
                # 6000 threshold band of ratio 0 -> 0
                # tilt on the in-scope costs (seed 004): member's in-scope part 9000 - 7040 = 1960;
                # limit floor(0.10 x 9000) = 900; 1960 - 900
                "tilt": "1060.00",
                "medical_assistance": "630.00",  # remaining eligible 1960 - 1060 = 900; x 0.70
                # charity funds (seed 004): J18.9 is no major disease; the health poverty-relief
                # fund: member would pay 10000 - 7040 - 1060 - 630 = 1270; limit floor(0.10 x 10000)
                "charity_poverty_relief": "270.00",
            },
            oop="1000.00",  # 1270 - 270 = 1000.00 = 10% of the bill
        )
    },
)

case(
    CN,
    "fixed-fee appendectomy at a county hospital, ordinary member",
    [ClaimSpec("cn-2", "O1", "2018-04-02", "county", "inpatient", "7000.00", "6500.00", diagnosis="K35.8", days=6)],
    {
        "cn-2": dict(
            allowed="5800.00",  # the appendicitis fixed fee
            writeoff="1200.00",  # 7000 - 5800 written off by the hospital; eligible = min(6500, 5800) = 5800
            paid={"basic": "4050.00"},  # county: (5800 - 400) x 0.75 = 4050.00; CII: 1750 < 12000 threshold -> 0
            oop="1750.00",  # 5800 - 4050
        )
    },
)

case(
    CN,
    "fixed-fee appendectomy of a poor member: tilt to 10%, then medical assistance below it",
    [
        ClaimSpec(
            "cn-3",
            "P2",
            "2018-05-06",
            "county",
            "inpatient",
            "7000.00",
            "6800.00",
            diagnosis="K35.2",
            days=5,
            categories=POOR,
        )
    ],
    {
        "cn-3": dict(
            allowed="5800.00",
            writeoff="1200.00",  # 7000 - 5800; eligible = min(6800, 5800) = 5800
            paid={
                "basic": "4480.00",  # (5800 - 200) x 0.80
                # CII: remaining 1320 inside the poor's 6000 threshold -> 0
                "tilt": "740.00",  # member_now 5800 - 4480 = 1320; limit floor(0.10 x 5800) = 580; 1320 - 580
                "medical_assistance": "406.00",  # remaining eligible 1320 - 740 = 580; 580 x 0.70
            },
            oop="174.00",  # 5800 - 4480 - 740 - 406
        )
    },
)

case(
    CN,
    "critical illness across two admissions in a year (year-scope bands)",
    [
        ClaimSpec(
            "cn-4a",
            "E1",
            "2018-05-10",
            "province",
            "inpatient",
            "40000.00",
            "36000.00",
            in_area=False,
            referred=True,
            diagnosis="C34.9",
            days=14,
            categories=("elderly",),
        ),
        ClaimSpec(
            "cn-4b",
            "E1",
            "2018-09-01",
            "province",
            "inpatient",
            "90000.00",
            "80000.00",
            in_area=False,
            referred=True,
            diagnosis="C34.9",
            days=20,
            categories=("elderly",),
        ),
    ],
    {
        "cn-4a": dict(
            allowed="40000.00",
            paid={
                "basic": "17400.00",  # province: (36000 - 1200) x 0.50
                # CII: remaining 36000 - 17400 = 18600, positions [0, 18600]:
                # [0, 12000] x 0 + (12000, 18600] x 0.50 = 6600 x 0.50 = 3300.00
                "critical_illness": "3300.00",
            },
            oop="19300.00",  # 40000 - 17400 - 3300
        ),
        "cn-4b": dict(
            allowed="90000.00",
            paid={
                "basic": "39400.00",  # (80000 - 1200) x 0.50; year total 56800 < cap 150000
                # CII: remaining 80000 - 39400 = 40600, positions [18600, 59200]:
                # (18600, 50000] x 0.50 = 31400 x 0.50 = 15700; (50000, 59200] x 0.60 = 9200 x 0.60 = 5520
                "critical_illness": "21220.00",
            },
            oop="29380.00",  # 90000 - 39400 - 21220
        ),
    },
)

case(
    CN,
    "poor member out of county: yearly caps of basic insurance and medical assistance bind",
    [
        ClaimSpec(
            "cn-5a",
            "P3",
            "2018-02-01",
            "province",
            "inpatient",
            "250000.00",
            "220000.00",
            in_area=False,
            referred=True,
            diagnosis="C91.0",
            days=30,
            categories=POOR,
        ),
        ClaimSpec(
            "cn-5b",
            "P3",
            "2018-06-01",
            "province",
            "inpatient",
            "100000.00",
            "90000.00",
            in_area=False,
            referred=True,
            diagnosis="C91.0",
            days=15,
            categories=POOR,
        ),
    ],
    {
        "cn-5a": dict(
            allowed="250000.00",
            paid={
                "basic": "120670.00",  # province, poor: (220000 - 600) x 0.55 = 120670.00
                # CII: remaining 220000 - 120670 = 99330, positions [0, 99330]:
                # (6000, 50000] x 0.55 = 24200; (50000, 99330] x 0.65 = 49330 x 0.65 = 32064.50
                "critical_illness": "56264.50",
                # tilt: out of county -> does not apply
                # MA: remaining eligible 220000 - 120670 - 56264.50 = 43065.50; x 0.70 = 30145.85 -> cap 30000
                "medical_assistance": "30000.00",
            },
            oop="43065.50",  # 250000 - 120670 - 56264.50 - 30000
        ),
        "cn-5b": dict(
            allowed="100000.00",
            paid={
                "basic": "29330.00",  # (90000 - 600) x 0.55 = 49170, capped at 150000 - 120670 = 29330
                # CII: remaining 90000 - 29330 = 60670, positions [99330, 160000]:
                # (99330, 100000] x 0.65 = 670 x 0.65 = 435.50; (100000, 160000] x 0.75 = 45000
                "critical_illness": "45435.50",
                # MA: 15234.50 x 0.70 = 10664.15, but the yearly cap 30000 is used up -> 0
            },
            oop="25234.50",  # 100000 - 29330 - 45435.50
        ),
    },
)

case(
    CN,
    "low-income member's emergency: medical assistance then disease emergency assistance",
    [
        ClaimSpec(
            "cn-6",
            "L1",
            "2018-07-15",
            "county",
            "emergency",
            "3000.00",
            "2800.00",
            diagnosis="S06.0",
            categories=("low_income",),
        )
    ],
    {
        "cn-6": dict(
            allowed="3000.00",
            paid={
                "basic": "1800.00",  # emergency at county, not poor: (2800 - 400) x 0.75
                # CII: remaining 1000 inside the 12000 threshold -> 0; tilt: not registered poor
                "medical_assistance": "700.00",  # remaining eligible 2800 - 1800 = 1000; x 0.70
                "emergency_assistance": "500.00",  # the rest of the bill 3000 - 1800 - 700 = 500 x 1 (cap 5000)
            },
            oop="0.00",
        )
    },
)

case(
    CN,
    "poor member's chronic-disease outpatient care in county: no tilt, the pharmaceutical fund to 10%",
    [
        ClaimSpec(
            "cn-7",
            "P4",
            "2018-08-08",
            "township",
            "chronic_outpatient",
            "500.00",
            "450.00",
            diagnosis="I10",
            categories=POOR,
        )
    ],
    {
        "cn-7": dict(
            allowed="500.00",
            paid={
                "basic": "315.00",  # chronic outpatient, poor: 450 x 0.70, no deductible
                # the tilt is for inpatient costs only (seed 004)
                "medical_assistance": "94.50",  # remaining eligible 450 - 315 = 135; x 0.70
                # member would pay 500 - 315 - 94.50 = 90.50; limit floor(0.10 x 500) = 50
                "charity_pharmaceutical": "40.50",
            },
            oop="50.00",
        )
    },
)

case(
    CN,
    "general outpatient pooling: 50% until its 200 CNY yearly cap",
    [
        ClaimSpec(
            "cn-8a",
            "S1",
            "2018-01-05",
            "township",
            "outpatient",
            "150.00",
            "140.00",
            diagnosis="J06.9",
            categories=("student",),
        ),
        ClaimSpec(
            "cn-8b",
            "S1",
            "2018-02-10",
            "township",
            "outpatient",
            "200.00",
            "180.00",
            diagnosis="J06.9",
            categories=("student",),
        ),
        ClaimSpec(
            "cn-8c",
            "S1",
            "2018-03-15",
            "county",
            "outpatient",
            "120.00",
            "100.00",
            diagnosis="J06.9",
            categories=("student",),
        ),
    ],
    {
        "cn-8a": dict(allowed="150.00", paid={"outpatient_pool": "70.00"}, oop="80.00"),  # 140 x 0.50
        "cn-8b": dict(allowed="200.00", paid={"outpatient_pool": "90.00"}, oop="110.00"),  # 180 x 0.50; year 160
        # 100 x 0.50 = 50, capped at 200 - 160 = 40
        "cn-8c": dict(allowed="120.00", paid={"outpatient_pool": "40.00"}, oop="80.00"),
    },
)

case(
    CN,
    "non-designated facility: no payer pays, not even for the poor in county",
    [
        ClaimSpec(
            "cn-9",
            "P5",
            "2018-09-09",
            "township",
            "inpatient",
            "2000.00",
            "1800.00",
            designated=False,
            diagnosis="A09",
            days=3,
            categories=POOR,
        )
    ],
    {"cn-9": dict(allowed="2000.00", oop="2000.00")},
)

case(
    CN,
    "poor member referred to a city hospital: not in-county, so no tilt and no charity fund (seed 004)",
    [
        ClaimSpec(
            "cn-10",
            "P6",
            "2018-03-03",
            "city",
            "inpatient",
            "10000.00",
            "9000.00",
            in_area=False,
            referred=True,
            diagnosis="J18.9",
            days=9,
            categories=POOR,
        )
    ],
    {
        "cn-10": dict(
            allowed="10000.00",
            paid={
                "basic": "5590.00",  # city, poor: (9000 - 400) x 0.65
                # CII: remaining 3410 inside the poor's 6000 threshold -> 0; tilt: not in-county
                "medical_assistance": "2387.00",  # remaining eligible 3410 x 0.70
            },
            oop="2023.00",  # 10000 - 5590 - 2387: the 10% promise is for in-county care
        )
    },
)

case(
    CN,
    "single-disease fixed fee at a city hospital too: second-level and above (seed 004)",
    [ClaimSpec("cn-11", "O2", "2018-04-12", "city", "inpatient", "7000.00", "6500.00", diagnosis="K35.8", days=6)],
    {
        "cn-11": dict(
            allowed="5800.00",  # the appendicitis fee; eligible = min(6500, 5800) = 5800
            writeoff="1200.00",
            paid={"basic": "3000.00"},  # city, ordinary: (5800 - 800) x 0.60; CII: 2800 < 12000 -> 0
            oop="2800.00",
        )
    },
)

case(
    CN,
    "poor in-county cancer stay: tilt, medical assistance, then the major-disease charity fund (seed 004)",
    [
        ClaimSpec(
            "cn-12",
            "P7",
            "2018-06-15",
            "county",
            "inpatient",
            "60000.00",
            "50000.00",
            diagnosis="C34.9",
            days=14,
            categories=POOR,
        )
    ],
    {
        "cn-12": dict(
            allowed="60000.00",
            paid={
                "basic": "39840.00",  # (50000 - 200) x 0.80
                # CII: remaining 10160, positions [0, 10160]: (6000, 10160] x 0.55 = 4160 x 0.55
                "critical_illness": "2288.00",
                # tilt: in-scope part 50000 - 39840 - 2288 = 7872; limit floor(0.10 x 50000) = 5000
                "tilt": "2872.00",
                "medical_assistance": "3500.00",  # remaining eligible 5000 x 0.70
                # member would pay 60000 - 39840 - 2288 - 2872 - 3500 = 11500; limit 6000
                "charity_major_disease": "5500.00",
                # the health poverty-relief fund finds the member at 10% already: 0
            },
            oop="6000.00",
        )
    },
)

# ============================================================================================
# Viet Nam 2024-25 (VND, whole dong). Layers: shi, copay_cap.
VN = "vn-shi-2024"

case(
    VN,
    "poor member in route: 100% of the in-scope cost",
    [ClaimSpec("vn-1", "VP", "2024-08-01", "district", "inpatient", "5000000", "4500000", days=4, categories=POOR)],
    # shi: 4500000 x 1 ; the member pays the out-of-scope 500000
    {"vn-1": dict(allowed="5000000", paid={"shi": "4500000"}, oop="500000")},
)

case(
    VN,
    "ordinary member referred to a provincial hospital: 80%",
    [ClaimSpec("vn-2", "VO", "2024-09-01", "province", "inpatient", "10000000", in_area=False, referred=True, days=5)],
    {"vn-2": dict(allowed="10000000", paid={"shi": "8000000"}, oop="2000000")},  # 10000000 x 0.80
)

case(
    VN,
    "out of route at a central hospital: 40% of the benefit level",
    [
        ClaimSpec("vn-3a", "VO3", "2024-09-10", "central", "inpatient", "20000000", in_area=False, days=7),
        ClaimSpec(
            "vn-3b", "VP3", "2024-09-10", "central", "inpatient", "20000000", in_area=False, days=7, categories=POOR
        ),
        ClaimSpec(
            "vn-3c",
            "VN3",
            "2024-09-10",
            "central",
            "inpatient",
            "20000000",
            in_area=False,
            days=7,
            categories=("near_poor",),
        ),
    ],
    {
        "vn-3a": dict(allowed="20000000", paid={"shi": "6400000"}, oop="13600000"),  # 20000000 x 0.40 x 0.80 = x 0.32
        "vn-3b": dict(allowed="20000000", paid={"shi": "8000000"}, oop="12000000"),  # x 0.40 x 1.00
        "vn-3c": dict(allowed="20000000", paid={"shi": "7600000"}, oop="12400000"),  # x 0.40 x 0.95 = x 0.38
    },
)

case(
    VN,
    "a visit below 15% of the base salary (351,000 VND) is paid in full, in route only",
    [
        ClaimSpec("vn-4a", "VB", "2024-10-01", "district", "outpatient", "300000"),
        ClaimSpec("vn-4b", "VB", "2024-10-02", "district", "outpatient", "351000"),
        ClaimSpec("vn-4c", "VB", "2024-10-03", "province", "outpatient", "300000", in_area=False),
        ClaimSpec("vn-4d", "VB", "2024-10-04", "province", "inpatient", "300000", in_area=False, days=1),
    ],
    {
        "vn-4a": dict(allowed="300000", paid={"shi": "300000"}, oop="0"),  # 300000 < 351000 in route -> 100%
        "vn-4b": dict(allowed="351000", paid={"shi": "280800"}, oop="70200"),  # not below: 351000 x 0.80
        "vn-4c": dict(allowed="300000", oop="300000"),  # outpatient out of route at a province hospital: 0
        # inpatient out of route at a province hospital: full benefit level, but the 15% rule is
        # for in-route visits: 300000 x 0.80 = 240000
        "vn-4d": dict(allowed="300000", paid={"shi": "240000"}, oop="60000"),
    },
)

case(
    VN,
    "co-payment cap: six months of base salary (14,040,000 VND) a calendar year",
    [
        ClaimSpec(
            "vn-5d",
            "VC",
            "2024-12-01",
            "province",
            "inpatient",
            "80000000",
            in_area=False,
            referred=True,
            days=20,
            categories=("five_year_continuous",),
        ),
        ClaimSpec(
            "vn-5a",
            "VC",
            "2025-01-10",
            "province",
            "inpatient",
            "50000000",
            in_area=False,
            referred=True,
            days=12,
            categories=("five_year_continuous",),
        ),
        ClaimSpec(
            "vn-5b",
            "VC",
            "2025-03-05",
            "province",
            "inpatient",
            "30000000",
            in_area=False,
            referred=True,
            days=8,
            categories=("five_year_continuous",),
        ),
        ClaimSpec(
            "vn-5c",
            "VC",
            "2025-04-20",
            "province",
            "inpatient",
            "10000000",
            in_area=False,
            referred=True,
            days=3,
            categories=("five_year_continuous",),
        ),
        ClaimSpec(
            "vn-5e",
            "VC",
            "2025-05-01",
            "central",
            "inpatient",
            "10000000",
            in_area=False,
            referred=False,
            days=3,
            categories=("five_year_continuous",),
        ),
    ],
    {
        # 2024: shi 80000000 x 0.80 = 64000000; member_now 16000000; limit min(80000000, 14040000)
        # = 14040000; copay_cap pays 16000000 - 14040000 = 1960000
        "vn-5d": dict(allowed="80000000", paid={"shi": "64000000", "copay_cap": "1960000"}, oop="14040000"),
        # 2025 starts afresh: shi 40000000; member_now 10000000 <= 14040000 -> 0
        "vn-5a": dict(allowed="50000000", paid={"shi": "40000000"}, oop="10000000"),
        # shi 24000000; member_now 6000000; limit 14040000 - 10000000 = 4040000; pays 1960000
        "vn-5b": dict(allowed="30000000", paid={"shi": "24000000", "copay_cap": "1960000"}, oop="4040000"),
        # shi 8000000; the year's co-payments have reached 14040000: limit 0, pays 2000000
        "vn-5c": dict(allowed="10000000", paid={"shi": "8000000", "copay_cap": "2000000"}, oop="0"),
        # out of route at a central hospital: 10000000 x 0.32; the cap does not cover it
        "vn-5e": dict(allowed="10000000", paid={"shi": "3200000"}, oop="6800000"),
    },
)

case(
    VN,
    "near-poor member in route: 95%",
    [
        ClaimSpec(
            "vn-6", "VN", "2024-11-11", "district", "inpatient", "2000000", "1800000", days=3, categories=("near_poor",)
        )
    ],
    {"vn-6": dict(allowed="2000000", paid={"shi": "1710000"}, oop="290000")},  # 1800000 x 0.95
)

case(
    VN,
    "emergency is never out of route; commune care is free on any route",
    [
        ClaimSpec("vn-7", "VE", "2025-02-02", "central", "emergency", "10000000", in_area=False),
        ClaimSpec("vn-8", "VM", "2025-03-03", "commune", "inpatient", "500000", in_area=False, days=2),
    ],
    {
        "vn-7": dict(allowed="10000000", paid={"shi": "8000000"}, oop="2000000"),  # 10000000 x 0.80
        "vn-8": dict(allowed="500000", paid={"shi": "500000"}, oop="0"),  # commune: 100%
    },
)

# ============================================================================================
# Morocco RAMED 2020 (MAD, 2 decimals). Layer: ramed (100% of the in-basket amount on the pathway).
VN_2025 = "vn-shi-2025"

case(
    VN_2025,
    "amended law: outpatient without referral at a formerly provincial hospital, 50% of the 80% level",
    [ClaimSpec("vn25-1", "V1", "2025-08-04", "province", "outpatient", "1000000", in_area=False, diagnosis="K29.7")],
    # 1,000,000 is not below 351,000; out of route at "province": 0.50 x 0.80 = 0.40 (Law 51/2024)
    {"vn25-1": dict(allowed="1000000", paid={"shi": "400000"}, oop="600000")},
)

case(
    VN_2025,
    "amended law: the same visit of a poor member, 50% of the 100% level",
    [ClaimSpec("vn25-2", "V2", "2025-09-10", "province", "outpatient", "1000000", in_area=False, categories=POOR)],
    {"vn25-2": dict(allowed="1000000", paid={"shi": "500000"}, oop="500000")},
)

case(
    VN_2025,
    "Lào Cai: the registry's ethnic-minority member is in the 100% group through [categories] (seed 003)",
    [
        ClaimSpec(
            "vn25-4",
            "V4",
            "2025-11-02",
            "district",
            "inpatient",
            "5000000",
            diagnosis="J18.9",
            days=5,
            categories=("ethnic_minority",),
        ),
        ClaimSpec("vn25-5", "V5", "2025-11-03", "district", "inpatient", "5000000", diagnosis="J18.9", days=5),
    ],
    {
        # in route, 5,000,000 >= 351,000: benefit level of the group; ethnic_minority -> 100%
        "vn25-4": dict(allowed="5000000", paid={"shi": "5000000"}, oop="0"),
        # a member of no group: 80%
        "vn25-5": dict(allowed="5000000", paid={"shi": "4000000"}, oop="1000000"),
    },
)

case(
    VN_2025,
    "a formerly central hospital still pays nothing for outpatient care without referral",
    [ClaimSpec("vn25-3", "V3", "2025-10-01", "central", "outpatient", "1000000", in_area=False, categories=POOR)],
    {"vn25-3": dict(allowed="1000000", oop="1000000")},
)

MA = "ma-ramed-2020"

case(
    MA,
    "RAMED: free care on the referral pathway, nothing off it unless emergency or chronic",
    [
        ClaimSpec(
            "ma-1",
            "MP",
            "2020-02-01",
            "hopital_provincial",
            "inpatient",
            "8000.00",
            "7500.00",
            referred=True,
            diagnosis="K80.2",
            days=4,
            categories=POOR,
        ),
        ClaimSpec(
            "ma-2", "MP2", "2020-03-01", "chu", "inpatient", "12000.00", diagnosis="K80.2", days=5, categories=POOR
        ),
        ClaimSpec(
            "ma-3",
            "MV",
            "2020-04-04",
            "chu",
            "emergency",
            "3000.00",
            "2900.00",
            diagnosis="S06.0",
            categories=("vulnerable",),
        ),
        ClaimSpec("ma-4", "MP3", "2020-05-05", "chu", "outpatient", "1500.00", diagnosis="N18.5", categories=POOR),
        ClaimSpec(
            "ma-5",
            "MV2",
            "2020-06-06",
            "centre_de_sante",
            "outpatient",
            "80.00",
            diagnosis="J06.9",
            categories=("vulnerable",),
        ),
        ClaimSpec("ma-6", "MX", "2020-06-07", "centre_de_sante", "outpatient", "80.00", diagnosis="J06.9"),
        ClaimSpec(
            "ma-7",
            "MP4",
            "2020-07-07",
            "hopital_regional",
            "inpatient",
            "6000.00",
            designated=False,
            referred=True,
            diagnosis="K80.2",
            days=3,
            categories=POOR,
        ),
    ],
    {
        "ma-1": dict(
            allowed="8000.00", paid={"ramed": "7500.00"}, oop="500.00"
        ),  # referred: 7500 x 1; out-of-basket 500
        "ma-2": dict(allowed="12000.00", oop="12000.00"),  # CHU without referral, no emergency, not chronic: 0
        "ma-3": dict(allowed="3000.00", paid={"ramed": "2900.00"}, oop="100.00"),  # emergency: no referral needed
        "ma-4": dict(allowed="1500.00", paid={"ramed": "1500.00"}, oop="0.00"),  # N18 dialysis: circular 85 exemption
        "ma-5": dict(allowed="80.00", paid={"ramed": "80.00"}, oop="0.00"),  # health centre: entry point
        "ma-6": dict(allowed="80.00", oop="80.00"),  # not a RAMED card holder
        "ma-7": dict(allowed="6000.00", oop="6000.00"),  # not a public facility: RAMED pays nothing
    },
)

# ============================================================================================
# Cambodia HEF 2015 (KHR, whole riel). Layer: hef. Allowances: food (5000 a day), transport (9000).
case(
    MA,
    "transplants: the earmarked special account pays transplant claims at a CHU, and only those (seed 000)",
    [
        ClaimSpec(
            "ma-t1",
            "MT1",
            "2020-07-01",
            "chu",
            "inpatient",
            "90000.00",
            "85000.00",
            referred=True,
            diagnosis="Z94.0",
            days=20,
            categories=("vulnerable",),
        ),
        ClaimSpec(
            "ma-t2",
            "MT2",
            "2020-07-02",
            "chu",
            "inpatient",
            "90000.00",
            "85000.00",
            referred=True,
            diagnosis="N18.5",
            days=20,
            categories=("vulnerable",),
        ),
    ],
    {
        # a kidney transplant (Z94.0): the special account pays the whole in-basket amount, RAMED nothing
        "ma-t1": dict(allowed="90000.00", paid={"transplant": "85000.00"}, oop="5000.00"),
        # dialysis for the same disease is no transplant: RAMED's general budget pays it on referral
        "ma-t2": dict(allowed="90000.00", paid={"ramed": "85000.00"}, oop="5000.00"),
    },
)

KH = "kh-hef-2015"

case(
    KH,
    "HEF: user fees, food for the caretaker per day and transport (the 2015 Ang Roka case)",
    [
        ClaimSpec(
            "kh-1",
            "KP",
            "2015-01-03",
            "referral_hospital",
            "inpatient",
            "60000",
            diagnosis="K29.7",
            days=6,
            categories=POOR,
        ),
        ClaimSpec(
            "kh-2", "KP2", "2015-02-02", "health_centre", "outpatient", "4000", diagnosis="J06.9", categories=POOR
        ),
        ClaimSpec("kh-3", "KX", "2015-03-03", "referral_hospital", "inpatient", "50000", diagnosis="J18.9", days=3),
        ClaimSpec(
            "kh-4",
            "KP3",
            "2015-04-04",
            "referral_hospital",
            "inpatient",
            "40000",
            designated=False,
            diagnosis="J18.9",
            days=2,
            categories=POOR,
        ),
    ],
    {
        # source: user fees 60000 paid, food 6 days x 5000 = 30000, transport 9000: 99000 in all
        "kh-1": dict(
            allowed="60000", paid={"hef": "60000"}, oop="0", allowances={"food": "30000", "transport": "9000"}
        ),
        "kh-2": dict(allowed="4000", paid={"hef": "4000"}, oop="0"),  # outpatient: fee only, no allowance
        "kh-3": dict(allowed="50000", oop="50000"),  # not ID-Poor: pays the user fee
        "kh-4": dict(allowed="40000", oop="40000"),  # facility not contracted by the HEF
    },
)

# ============================================================================================
# Iran IHIO 1402 (IRR, whole rial). Layers: ihio (90% inpatient / 70% outpatient of the public
# tariff), neighbourhood_support (the rest of inpatient care in public hospitals).
IR = "ir-ihio-2023"
DEPRIVED = ("deprived_neighbourhood",)

case(
    IR,
    "IHIO: 90% inpatient, 70% outpatient; deprived neighbourhood: free public hospital care",
    [
        ClaimSpec("ir-1", "IO", "2023-05-01", "hospital", "inpatient", "200000000", diagnosis="K80.2", days=4),
        ClaimSpec("ir-2", "IO2", "2023-06-01", "health_centre", "outpatient", "5000000", diagnosis="J06.9"),
        ClaimSpec(
            "ir-3",
            "ID1",
            "2023-07-01",
            "hospital",
            "inpatient",
            "150000000",
            diagnosis="J18.9",
            days=5,
            categories=DEPRIVED,
        ),
        ClaimSpec(
            "ir-4",
            "ID2",
            "2023-08-01",
            "hospital",
            "inpatient",
            "300000000",
            "120000000",
            designated=False,
            diagnosis="K80.2",
            days=4,
            categories=DEPRIVED,
        ),
        ClaimSpec(
            "ir-5",
            "ID3",
            "2024-01-15",
            "health_centre",
            "outpatient",
            "2000000",
            diagnosis="J06.9",
            categories=DEPRIVED,
        ),
    ],
    {
        "ir-1": dict(allowed="200000000", paid={"ihio": "180000000"}, oop="20000000"),  # x 0.90
        "ir-2": dict(allowed="5000000", paid={"ihio": "3500000"}, oop="1500000"),  # x 0.70
        # x 0.90 = 135000000, the 10% share 15000000 by the responsible organisation
        "ir-3": dict(allowed="150000000", paid={"ihio": "135000000", "neighbourhood_support": "15000000"}, oop="0"),
        # private hospital: 0.90 x 120000000 public tariff = 108000000; no support outside public
        # hospitals; the member pays 12000000 + the 180000000 tariff gap
        "ir-4": dict(allowed="300000000", paid={"ihio": "108000000"}, oop="192000000"),
        "ir-5": dict(allowed="2000000", paid={"ihio": "1400000"}, oop="600000"),  # outpatient keeps its 30%
    },
)

case(
    IR,
    "rounding to the rial: half up",
    [
        ClaimSpec("ir-6", "IR6", "2023-09-01", "health_centre", "outpatient", "1234567"),
        ClaimSpec("ir-7", "IR7", "2023-09-01", "health_centre", "outpatient", "1234565"),
    ],
    {
        "ir-6": dict(allowed="1234567", paid={"ihio": "864197"}, oop="370370"),  # 864196.9 -> 864197
        "ir-7": dict(allowed="1234565", paid={"ihio": "864196"}, oop="370369"),  # 864195.5 -> 864196 (half up)
    },
)


# --------------------------------------------------------------------------------------------
# The worked examples, through both engines


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("worked", CASES, ids=[f"{c.policy_stem}: {c.name}" for c in CASES])
def test_worked_example(worked: Case, engine: str) -> None:
    settled_policy = policy(worked.policy_stem)
    records = settle(engine, settled_policy, worked.typed_claims())
    expected = worked.expected_records()
    assert set(records) == set(expected)
    for claim_id, record in expected.items():
        assert without_trail(records[claim_id]) == record, f"claim {claim_id}"


@pytest.mark.parametrize("worked", CASES, ids=[f"{c.policy_stem}: {c.name}" for c in CASES])
def test_engines_write_the_same_trail(worked: Case) -> None:
    settled_policy = policy(worked.policy_stem)
    claims = worked.typed_claims()
    realtime = settle("realtime", settled_policy, claims)
    batch = settle("batch", settled_policy, claims)
    assert {k: r["trail"] for k, r in realtime.items()} == {k: r["trail"] for k, r in batch.items()}


def test_china_trail_names_the_binding_rules() -> None:
    """The readable trail of the 10% case: which variant and bands applied, which limit bound."""
    settled_policy = policy(CN)
    claims = [c for c in CASES if c.name.startswith("poor in-county inpatient")][0].typed_claims()
    for engine in ENGINES:
        trail = settle(engine, settled_policy, claims)["cn-1"]["trail"]
        tokens = dict(token.split("=", 1) for token in trail.split("; "))
        assert tokens["basic"].startswith("v5 b1-2")  # county, poor: deductible band and 80% band
        assert tokens["outpatient_pool"] == "-"
        assert tokens["tilt"] == "max_share"
        assert tokens["emergency_assistance"] == "-"


# --------------------------------------------------------------------------------------------
# Every shipped file loads and cites its sources

DOCUMENT_WORDS = (
    "law",
    "loi",
    "decree",
    "décret",
    "circular",
    "circulaire",
    "decision",
    "article",
    "report",
    "journal",
    "号",
    "table",
    "feature",
    "overview",
)


@pytest.mark.parametrize("path", POLICY_FILES, ids=[p.name for p in POLICY_FILES])
def test_policy_file_loads_and_cites_documents(path: Path) -> None:
    loaded = load_policy(path)
    assert loaded.id == path.stem
    source = loaded.source.strip()
    assert len(source) > 200, "the source must name the documents, not just a word"
    assert re.search(r"\b(19|20)\d{2}\b", source), "the source must date its documents"
    assert any(word in source.lower() for word in DOCUMENT_WORDS)
    assert "assum" in source.lower(), "the source must say which numbers are assumptions"
    assert loaded.layers, "a policy without layers pays nothing"


def test_all_five_programmes_are_shipped() -> None:
    assert {p.stem for p in POLICY_FILES} >= {
        "cn-yaan-2018",
        "vn-shi-2024",
        "ma-ramed-2020",
        "kh-hef-2015",
        "ir-ihio-2023",
    }


@pytest.mark.parametrize(
    ("stem", "digits"),
    [("vn-shi-2024", 0), ("kh-hef-2015", 0), ("ir-ihio-2023", 0), ("cn-yaan-2018", 2), ("ma-ramed-2020", 2)],
)
def test_currency_digits(stem: str, digits: int) -> None:
    assert policy(stem).minor_digits == digits


def test_china_policy_speaks_the_synthetic_province_vocabulary() -> None:
    """The demo settles the synthetic province's claims with this policy (part 7)."""
    settled_policy = policy(CN)
    assert settled_policy.provider_levels == synthetic.PROVIDER_LEVELS
    assert settled_policy.care_types == synthetic.CARE_TYPES
    assert (settled_policy.effective_from, settled_policy.effective_to) == (date(2018, 1, 1), date(2018, 12, 31))
    named: set[str] = set()
    for layer in settled_policy.layers:
        conditions = list(layer.when) + [c for variant in layer.variants for c in variant.when]
        named.update(category for c in conditions if c.member_category for category in c.member_category)
    assert named <= set(synthetic.CATEGORIES)
    assert [layer.id for layer in settled_policy.layers] == [
        "basic",
        "outpatient_pool",
        "critical_illness",
        "tilt",
        "medical_assistance",
        "emergency_assistance",
        "charity_major_disease",
        "charity_pharmaceutical",
        "charity_poverty_relief",
    ]
    tilt = next(layer for layer in settled_policy.layers if layer.id == "tilt")
    # seed 004: the tilt is for in-county, in-policy-scope inpatient costs
    assert tilt.kind == "oop_cap" and tilt.max_share == parse_ratio("0.10") and tilt.base == "eligible"
    assert {care for condition in tilt.when for care in condition.care_type or ()} == {"inpatient"}


# --------------------------------------------------------------------------------------------
# The Ya'an promise as a property: a registered-poor patient treated in a designated facility of
# the own county, inpatient or chronic outpatient, never pays more than 10% of the bill.

_LEVELS = synthetic.PROVIDER_LEVELS
_CATEGORY_SETS = st.sets(st.sampled_from(synthetic.CATEGORIES), max_size=3)


@st.composite
def synthetic_claims(draw: st.DrawFn) -> list[Claim]:
    settled_policy = policy(CN)
    members = [f"m{index}" for index in range(draw(st.integers(1, 4)))]
    member_categories = {member: frozenset(draw(_CATEGORY_SETS)) for member in members}
    claims = []
    for index in range(draw(st.integers(1, 12))):
        member = draw(st.sampled_from(members))
        care = draw(st.sampled_from(synthetic.CARE_TYPES))
        total = draw(st.integers(500, 30_000_000))  # 5 CNY to 300,000 CNY in fen
        eligible = draw(st.integers(0, total))
        diagnosis = draw(st.sampled_from(["K35.8", "O80", "J18.9", "I10", "C34.9", "S06.0", "J06.9"]))
        claims.append(
            Claim(
                claim_id=f"c{index:03d}",
                member_id=member,
                service_date=date(2018, draw(st.integers(1, 12)), draw(st.integers(1, 28))),
                provider_id="p",
                provider_level=draw(st.sampled_from(_LEVELS)),
                designated=draw(st.booleans()),
                in_area=draw(st.booleans()),
                referred=draw(st.booleans()),
                care_type=care,
                diagnosis=diagnosis,
                days=draw(st.integers(1, 30)) if care == "inpatient" else 0,
                total=total,
                eligible=eligible,
                categories=member_categories[member],
            )
        )
    assert all(settled_policy.covers(c.service_date) for c in claims)
    return claims


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(synthetic_claims())
def test_registered_poor_pay_at_most_ten_percent_in_county(claims: list[Claim]) -> None:
    from equicover.settlement.realtime_engine import settle_claims

    settled_policy = policy(CN)
    by_id = {claim.claim_id: claim for claim in claims}
    for settlement in settle_claims(settled_policy, claims):
        claim = by_id[settlement.claim_id]
        assert settlement.allowed == sum(settlement.paid.values()) + settlement.member_oop
        assert settlement.member_oop >= 0 and all(amount >= 0 for amount in settlement.paid.values())
        if (
            "registered_poor" in claim.categories
            and claim.in_area
            and claim.designated
            and claim.care_type in ("inpatient", "chronic_outpatient")
        ):
            assert settlement.member_oop <= floor_share(settlement.allowed, parse_ratio("0.10"))


def test_china_policy_settles_a_synthetic_sample_with_both_engines() -> None:
    """One fixed sample drawn from the synthetic vocabulary: both engines, same records."""
    settled_policy = policy(CN)
    claims = []
    index = 0
    for level in _LEVELS:
        for care in synthetic.CARE_TYPES:
            for categories in ((), ("registered_poor",), ("low_income",), ("near_poor", "elderly")):
                for in_area in (True, False):
                    index += 1
                    total = 37_000 + index * 104_729  # varied amounts in fen, up to ~ 3,400 CNY
                    claims.append(
                        Claim(
                            claim_id=f"s{index:04d}",
                            member_id=f"member-{index % 7}",
                            service_date=date(2018, 1 + index % 12, 1 + index % 28),
                            provider_id=f"{level}-1",
                            provider_level=level,
                            designated=index % 11 != 0,
                            in_area=in_area,
                            referred=level in ("city", "province"),
                            care_type=care,
                            diagnosis="K35.8" if index % 5 == 0 else "J18.9",
                            days=5 if care == "inpatient" else 0,
                            total=total * 10,
                            eligible=total * 9,
                            categories=frozenset(categories),
                        )
                    )
    realtime = settle("realtime", settled_policy, claims)
    batch = settle("batch", settled_policy, claims)
    assert realtime == batch
    assert len(realtime) == len(claims)


# --------------------------------------------------------------------------------------------
# Contribution rules of the shipped policies, computed by hand


def contributions(stem: str, members: list[tuple[str, str, tuple[str, ...]]]) -> dict[tuple[str, str], int]:
    rules = policy(stem).contribution
    assert rules is not None
    rows = compute_contributions(rules, [ContributionMember(h, m, frozenset(c)) for h, m, c in members])
    return {(row.member_id, row.payer): row.amount for row in rows}


def test_ramed_vulnerable_pay_120_each_at_most_600_a_household() -> None:
    vulnerable = ("vulnerable",)
    household = [("H1", f"v{rank}", vulnerable) for rank in range(1, 7)]
    poor_household = [("H2", "p1", POOR), ("H2", "p2", POOR)]
    amounts = contributions(MA, household + poor_household)
    # 120 x 5 = 600 reaches the household cap: the 6th member owes 0
    for rank in range(1, 6):
        assert amounts[(f"v{rank}", "member")] == 12_000
    assert amounts[("v6", "member")] == 0
    # the poor pay nothing: their notional 120 is booked to the state budget
    assert amounts[("p1", "state_budget")] == 12_000 and amounts[("p1", "member")] == 0
    assert amounts[("p2", "state_budget")] == 12_000 and amounts[("p2", "member")] == 0


def test_lao_cai_local_budget_supports_the_near_poor_students_and_elderly() -> None:
    """Seed 003: Lào Cai's local budget tops up the contributions of the near-poor, students and
    the elderly (vn-shi-2025); the household ladder still applies."""
    household = [("H1", "n1", ("near_poor",)), ("H1", "s2", ("student",)), ("H1", "e3", ("elderly",))]
    amounts = contributions(VN_2025, household)
    # near-poor, 1st: 1,263,600; state 70% = 884,520; province 30% = 379,080; member 0
    assert (amounts[("n1", "state_budget")], amounts[("n1", "local_budget")], amounts[("n1", "member")]) == (
        884_520,
        379_080,
        0,
    )
    # student, 2nd: 1,263,600 x 0.70 = 884,520; state 30% = 265,356; province 20% = 176,904;
    # member 884,520 - 265,356 - 176,904 = 442,260
    assert (amounts[("s2", "state_budget")], amounts[("s2", "local_budget")], amounts[("s2", "member")]) == (
        265_356,
        176_904,
        442_260,
    )
    # elderly, 3rd: 1,263,600 x 0.60 = 758,160; province 50% = 379,080; member 379,080
    assert (amounts[("e3", "local_budget")], amounts[("e3", "member")]) == (379_080, 379_080)
    # the 2024-25 file has no local support: the near-poor pay 30% themselves
    assert contributions(VN, [("H2", "n2", ("near_poor",))])[("n2", "member")] == 379_080


def test_iran_the_state_pays_the_premium_of_the_deprived_neighbourhoods_newly_enrolled() -> None:
    amounts = contributions(
        IR, [("H1", "d1", DEPRIVED), ("H1", "d2", DEPRIVED), ("H2", "o1", ()), ("H3", "f1", ("foreign_national",))]
    )
    # 12,000,000 rial a person; no household ladder or cap
    assert amounts[("d1", "state_budget")] == amounts[("d2", "state_budget")] == 12_000_000
    assert amounts[("d1", "member")] == amounts[("d2", "member")] == 0
    assert amounts[("o1", "member")] == amounts[("f1", "member")] == 12_000_000


def test_vietnam_household_ladder_and_state_budget_shares() -> None:
    # first member: 4.5% x 12 x 2,340,000 = 0.045 x 28,080,000 = 1,263,600 VND a year;
    # then 70% 884,520; 60% 758,160; 50% 631,800; 40% 505,440 for the 5th and the 6th
    household = [("H1", f"g{rank}", ("household",)) for rank in range(1, 7)]
    amounts = contributions(VN, household)
    assert [amounts[(f"g{rank}", "member")] for rank in range(1, 7)] == [
        1_263_600,
        884_520,
        758_160,
        631_800,
        505_440,
        505_440,
    ]
    near_poor = contributions(VN, [("H2", "n1", ("near_poor",))])
    assert near_poor[("n1", "state_budget")] == 884_520  # 1,263,600 x 0.70
    assert near_poor[("n1", "member")] == 379_080  # 1,263,600 - 884,520
    poor = contributions(VN, [("H3", "q1", POOR)])
    assert poor[("q1", "state_budget")] == 1_263_600 and poor[("q1", "member")] == 0


def test_china_poor_contribution_paid_by_the_state() -> None:
    amounts = contributions(CN, [("H1", "a", POOR), ("H1", "b", ("student",))])
    assert amounts[("a", "state_budget")] == 22_000 and amounts[("a", "member")] == 0  # 220.00 CNY
    assert amounts[("b", "member")] == 22_000  # no subsidy rule for students in this file
