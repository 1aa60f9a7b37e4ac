"""A claims file may leave ``in_area`` empty: the bulk loader derives it from the registry (the
member's home, the registered provider) by the policy's ``[area]`` rule, as the real-time service
does; a filled ``in_area`` is stored as written."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import select

from equicover.claims.bulk import load_settled_claims
from equicover.claims.models import Claim, ClaimPayment
from equicover.providers.models import Provider
from equicover.registry.models import Location, Person
from equicover.settlement.loader import load_policy
from equicover.settlement.model import Policy

POLICY = Path(__file__).resolve().parents[2] / "policies" / "cn-yaan-2018.toml"
SCHEME = "urban-rural-resident-bmi"


@pytest.fixture
def province(session, tmp_path: Path) -> list[dict[str, str]]:
    from equicover.synth.service import generate

    claims_path = tmp_path / "generated.csv"
    generate(people=300, seed=11, year=2018, session=session, claims_path=claims_path)
    with claims_path.open() as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _rule_values(session, policy: Policy, rows: list[dict[str, str]]) -> dict[str, bool]:
    """What ``Policy.in_area`` gives for each claim, read from the registry one row at a time."""
    homes = {
        person: (district, province)
        for person, district, province in session.execute(
            select(Person.id, Location.district_id, Location.province_id).join(
                Location, Location.id == Person.location_id
            )
        ).all()
    }
    facilities = {
        code: (level, district, province)
        for code, level, district, province in session.execute(
            select(Provider.code, Provider.level, Location.district_id, Location.province_id).join(
                Location, Location.id == Provider.location_id
            )
        ).all()
    }
    values = {}
    for row in rows:
        district, province = homes[int(row["member_id"])]
        level, facility_district, facility_province = facilities[row["provider_id"]]
        values[row["claim_id"]] = policy.in_area(
            same_district=district == facility_district,
            same_province=province == facility_province,
            provider_code=row["provider_id"],
            provider_level=level,
        )
    return values


def _load(session, policy: Policy, path: Path) -> dict[str, tuple]:
    """Load in a savepoint rolled back afterwards; each stored claim's in_area, amounts and payments."""
    savepoint = session.begin_nested()
    load_settled_claims(session=session, policy=policy, claims_path=path, scheme_code=SCHEME, synthetic_submission=True)
    stored: dict[str, tuple] = {}
    for claim in session.scalars(select(Claim)):
        payments = tuple(
            session.execute(
                select(ClaimPayment.item_id, ClaimPayment.amount)
                .where(ClaimPayment.claim_pk == claim.id)
                .order_by(ClaimPayment.item_id)
            ).all()
        )
        stored[claim.claim_id] = (claim.in_area, claim.allowed, claim.member_oop, claim.zero_reason, payments)
    savepoint.rollback()
    return stored


def test_an_empty_in_area_settles_as_the_value_the_rule_gives(session, province, tmp_path: Path) -> None:
    policy = load_policy(POLICY)
    expected = _rule_values(session, policy, province)
    assert set(expected.values()) == {True, False}  # both kinds of claims are in the file
    blank = _write(tmp_path / "blank.csv", [{**row, "in_area": ""} for row in province])
    filled = _write(
        tmp_path / "filled.csv",
        [{**row, "in_area": "true" if expected[row["claim_id"]] else "false"} for row in province],
    )
    from_blank = _load(session, policy, blank)
    assert {claim_id: stored[0] for claim_id, stored in from_blank.items()} == expected
    assert from_blank == _load(session, policy, filled)


def test_a_filled_in_area_is_kept_as_written(session, province, tmp_path: Path) -> None:
    policy = load_policy(POLICY)
    expected = _rule_values(session, policy, province)
    # Half the rows say the opposite of the rule, the other half leave it empty.
    rows = [
        {**row, "in_area": ("false" if expected[row["claim_id"]] else "true") if index % 2 else " "}
        for index, row in enumerate(province)
    ]
    stored = _load(session, policy, _write(tmp_path / "mixed.csv", rows))
    for index, row in enumerate(province):
        wanted = (not expected[row["claim_id"]]) if index % 2 else expected[row["claim_id"]]
        assert stored[row["claim_id"]][0] is wanted, row["claim_id"]


def test_the_province_rule_with_levels_is_derived_as_the_service_reads_it(session, province, tmp_path: Path) -> None:
    policy = dataclasses.replace(load_policy(POLICY), area_rule="province", area_levels=("township", "county"))
    expected = _rule_values(session, policy, province)
    assert set(expected.values()) == {True, False}
    stored = _load(session, policy, _write(tmp_path / "blank.csv", [{**row, "in_area": ""} for row in province]))
    assert {claim_id: values[0] for claim_id, values in stored.items()} == expected


def test_a_refused_row_is_named_by_its_line_when_in_area_is_derived(session, province, tmp_path: Path) -> None:
    from equicover.errors import ValidationFailed

    rows = [{**row, "in_area": ""} for row in province]
    rows[7] = {**rows[7], "care_type": "massage"}
    with pytest.raises(ValidationFailed, match="line 9"):  # the header is line 1
        load_settled_claims(
            session=session,
            policy=load_policy(POLICY),
            claims_path=_write(tmp_path / "bad.csv", rows),
            scheme_code=SCHEME,
            synthetic_submission=True,
        )
