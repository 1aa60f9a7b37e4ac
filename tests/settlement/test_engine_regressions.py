"""Plain regression tests for disagreements between the engines found by the engines-agree property.

Each case is minimal, its expected values worked by hand from docs/settlement.md (docs/settlement.md, "The arithmetic")
and the rules both engines document, and it is checked against BOTH engines: the one that was right
keeps being checked, the one that was wrong must be fixed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from equicover.settlement.batch_engine import settle_records
from equicover.settlement.claims_file import settlement_record
from equicover.settlement.loader import load_policy_text
from equicover.settlement.model import Claim, Policy
from equicover.settlement.realtime_engine import settle_claims

HEADER = """\
[policy]
id = "regression"
name = "Regression policy"
currency = "CNY"
effective_from = 2020-01-01
effective_to = 2021-12-31
year_start = "{year_start}"
provider_levels = ["township", "county"]
care_types = ["outpatient", "inpatient"]
source = "tests/settlement/test_engine_regressions.py"
"""


def policy_of(body: str, *, year_start: str = "01-01") -> Policy:
    return load_policy_text(HEADER.format(year_start=year_start) + "\n" + body, path="<regression policy>")


def claim(
    claim_id: str,
    *,
    total: int,
    eligible: int | None = None,
    member_id: str = "m1",
    service_date: date = date(2020, 5, 1),
    level: str = "county",
    care_type: str = "inpatient",
    diagnosis: str = "J18.9",
    days: int = 0,
    categories: frozenset[str] = frozenset(),
) -> Claim:
    return Claim(
        claim_id=claim_id,
        member_id=member_id,
        service_date=service_date,
        provider_id="p1",
        provider_level=level,
        designated=True,
        in_area=True,
        referred=False,
        care_type=care_type,
        diagnosis=diagnosis,
        days=days,
        total=total,
        eligible=total if eligible is None else eligible,
        categories=categories,
    )


def realtime_records(policy: Policy, claims: list[Claim]) -> list[dict[str, Any]]:
    return [settlement_record(policy, settlement) for settlement in settle_claims(policy, claims)]


ENGINES = {"realtime": realtime_records, "batch": settle_records}


@pytest.fixture(params=sorted(ENGINES))
def settle(request):
    return ENGINES[request.param]


# --------------------------------------------------------------------------------------------


def test_diagnosis_conditions_ignore_case_and_spaces_of_the_claims_code(settle) -> None:
    """conditions.py and batch_sql.py both state that a claim's code is upper-cased and trimmed
    before prefix matching; a `Claim` built by an API caller may carry " e11.9 ".

    Hand-worked: the layer matches (E11 is a prefix of E11.9), one open band at 0.5 over eligible
    10.00 pays 5.00; the member pays the other 5.00.
    """
    policy = policy_of(
        """
[[layer]]
id = "basic"
payer = "Basic medical insurance"
when = { diagnosis = ["E11"] }
  [[layer.variant]]
  bands = [{ ratio = 0.5 }]
"""
    )
    records = settle(policy, [claim("c1", total=1000, diagnosis=" e11.9 ")])
    assert records == [
        {
            "claim_id": "c1",
            "allowed": 1000,
            "provider_writeoff": 0,
            "paid_basic": 500,
            "member_oop": 500,
            "trail": "basic=v1 b1-1",
        }
    ]
