"""``[area]``: how a policy decides a claim's ``in_area`` (same district, same province, a network
of facilities, optionally only some facility levels), in the loader, the real-time service and
the bulk loader.

The world: country VN with province LC (districts D1 with commune C11, and D2) and province HN
(district D9). The member lives in C11. Facilities, all contracted: PA district hospital in D1,
PB district hospital in D2, PP the provincial hospital of LC (located at LC itself), PX a
district hospital in D9, PZ a central hospital in D9.

=========================== ==== ==== ==== ==== ====
rule                         PA   PB   PP   PX   PZ
=========================== ==== ==== ==== ==== ====
district (the default)       yes  no   no   no   no
province                     yes  yes  yes  no   no
province, commune/district   yes  yes  no   no   no    (Viet Nam's files)
network PB, PZ               no   yes  no   no   yes
=========================== ==== ==== ==== ==== ====
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.claims.bulk import load_settled_claims
from equicover.claims.models import Claim, ClaimPayment
from equicover.settlement.claims_file import CLAIM_COLUMNS
from equicover.settlement.loader import PolicyError, load_policy, load_policy_text
from tests.factories import (
    POLICIES,
    SchemeYear,
    contract,
    enrolled_person,
    locations,
    period,
    policy_version,
    provider,
    scheme,
)

SHIPPED_VN_AREA = '[area]\nrule = "province"\nlevels = ["commune", "district"]\n'
# vn-shi-2024 without its own [area] table: the file each rule below is put into.
VN_TEXT = (POLICIES / "vn-shi-2024.toml").read_text(encoding="utf-8").replace(SHIPPED_VN_AREA, "")
TREE = (
    ("VN", "country", None),
    ("LC", "province", "VN"),
    ("D1", "district", "LC"),
    ("D2", "district", "LC"),
    ("C11", "commune", "D1"),
    ("HN", "province", "VN"),
    ("D9", "district", "HN"),
)
FACILITIES = (("PA", "district", "D1"), ("PB", "district", "D2"), ("PP", "province", "LC"),
              ("PX", "district", "D9"), ("PZ", "central", "D9"))  # fmt: skip
CODES = [code for code, _, _ in FACILITIES]

RULES = {
    "default": (None, {"PA"}),
    "district": ('[area]\nrule = "district"\n', {"PA"}),
    "province": ('[area]\nrule = "province"\n', {"PA", "PB", "PP"}),
    "viet_nam": ('[area]\nrule = "province"\nlevels = ["commune", "district"]\n', {"PA", "PB"}),
    "network": ('[area]\nrule = "network"\nnetwork = ["PB", "PZ"]\n', {"PB", "PZ"}),
}


def vn_text_with(area: str | None) -> str:
    """vn-shi-2024 with an ``[area]`` table (``None``: none, the default rule)."""
    assert "[area]" not in VN_TEXT and VN_TEXT.count("\n[categories]\n") == 1
    return VN_TEXT if area is None else VN_TEXT.replace("\n[categories]\n", f"\n{area}\n[categories]\n")


def build_world(session: Session, source_text: str) -> SchemeYear:
    locations(session, tree=TREE)
    created = scheme(session, code="VN-SHI", currency="VND")
    opened = period(session, scheme_id=created.id)
    version = policy_version(session, scheme_code="VN-SHI", source_text=source_text)
    for code, level, place in FACILITIES:
        provider(session, code=code, level=level, location_code=place)
        contract(session, provider_code=code)
    return SchemeYear(created.id, "VN-SHI", opened.id, dt.date(2024, 7, 1), dt.date(2025, 6, 30), version.id)


# -- the loader -------------------------------------------------------------------------------


def test_shipped_policies_declare_their_rule() -> None:
    yaan = load_policy(POLICIES / "cn-yaan-2018.toml")
    assert (yaan.area_rule, yaan.area_levels) == ("district", None)
    for name in ("vn-shi-2024", "vn-shi-2025"):  # on route in the province (Law 46/2014/QH13, Art. 22(4))
        viet_nam = load_policy(POLICIES / f"{name}.toml")
        assert (viet_nam.area_rule, set(viet_nam.area_levels or ())) == ("province", {"commune", "district"})
    for name in ("ir-ihio-2023", "kh-hef-2015", "ma-ramed-2020"):
        assert load_policy(POLICIES / f"{name}.toml").area_rule == "district"


@pytest.mark.parametrize("name", sorted(RULES))
def test_each_rule_decides_by_the_registry_places(name: str) -> None:
    area, expected = RULES[name]
    policy = load_policy_text(vn_text_with(area))
    places = {code: (level, place) for code, level, place in FACILITIES}
    district_of = {"D1": "D1", "D2": "D2", "LC": "LC", "D9": "D9"}
    province_of = {"D1": "LC", "D2": "LC", "LC": "LC", "D9": "HN"}
    found = {
        code
        for code, (level, place) in places.items()
        if policy.in_area(
            same_district=district_of[place] == "D1",
            same_province=province_of[place] == "LC",
            provider_code=code,
            provider_level=level,
        )
    }
    assert found == expected


@pytest.mark.parametrize(
    ("area", "marker", "key", "message"),
    [
        ('[area]\nrule = "county"\n', 'rule = "county"', "area.rule", "must be one of"),
        ("[area]\nrule = 3\n", "rule = 3", "area.rule", "must be one of"),
        (
            '[area]\nrule = "province"\nlevels = ["ward"]\n',
            'levels = ["ward"]',
            "area.levels[0]",
            "not a provider level",
        ),
        ('[area]\nrule = "network"\n', 'rule = "network"', "area.rule", "needs the network"),
        ('[area]\nrule = "district"\nnetwork = ["PA"]\n', 'network = ["PA"]', "area.network", 'only a "network" rule'),
        ('[area]\nrule = "network"\nnetwork = []\n', "network = []", "area.network", "non-empty array"),
        ('[area]\nrule = "district"\nradius = 5\n', "radius = ", "area.radius", "unknown key"),
        ('[area]\nlevels = ["district"]\n', "[area]", "area", "missing required key 'rule'"),
    ],
)
def test_a_bad_rule_is_refused_with_file_line_and_key(area: str, marker: str, key: str, message: str) -> None:
    text = vn_text_with(area)
    with pytest.raises(PolicyError) as raised:
        load_policy_text(text, path="vn.toml")
    problems = raised.value.problems
    assert len(problems) == 1, problems
    (problem,) = problems
    line = next(number for number, content in enumerate(text.splitlines(), start=1) if marker in content
                and (marker != "[area]" or content == "[area]"))  # fmt: skip
    assert (problem.file, problem.line, problem.key) == ("vn.toml", line, key)
    assert message in problem.message


# -- real-time and bulk ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(RULES))
def test_realtime_settlement_applies_the_rule(session: Session, name: str) -> None:
    from equicover.claims.service import submit_claim
    from tests.factories import claim_in

    area, expected = RULES[name]
    year = build_world(session, vn_text_with(area))
    member = enrolled_person(session, scheme=year, location_code="C11")
    stored = {}
    for number, code in enumerate(CODES):
        row, _ = submit_claim(
            session=session,
            claim=claim_in(claim_id=f"R{number}", person_id=member.id, provider_code=code, total=300_000),
            actor="test",
        )
        stored[code] = row.in_area
    assert {code for code, in_area in stored.items() if in_area} == expected


def _paid(session: Session, claim_id: str) -> int:
    claim = session.scalar(select(Claim).where(Claim.claim_id == claim_id))
    assert claim is not None
    return sum(session.scalars(select(ClaimPayment.amount).where(ClaimPayment.claim_pk == claim.id)))


def test_viet_nam_worked_example_pays_in_area_at_a_district_hospital_of_the_province(session: Session) -> None:
    """A member without a category (80%) visits PB, the district hospital of another district of
    the province: 300,000 VND, below 15% of the base salary (351,000). Under vn-shi-2024 with Viet
    Nam's rule (province, commune and district facilities: thông tuyến) that is on route and paid
    100%; under the district rule it is 80%."""
    from equicover.claims.service import submit_claim
    from tests.factories import claim_in

    year = build_world(session, vn_text_with(RULES["viet_nam"][0]))
    member = enrolled_person(session, scheme=year, location_code="C11")
    row, _ = submit_claim(
        session=session,
        claim=claim_in(claim_id="VN-1", person_id=member.id, provider_code="PB", total=300_000),
        actor="test",
    )
    assert row.in_area is True
    assert _paid(session, "VN-1") == 300_000


def test_district_worked_example_pays_the_same_visit_at_80_percent(session: Session) -> None:
    from equicover.claims.service import submit_claim
    from tests.factories import claim_in

    year = build_world(session, vn_text_with('[area]\nrule = "district"\n'))
    member = enrolled_person(session, scheme=year, location_code="C11")
    row, _ = submit_claim(
        session=session,
        claim=claim_in(claim_id="VN-2", person_id=member.id, provider_code="PB", total=300_000),
        actor="test",
    )
    assert row.in_area is False
    assert _paid(session, "VN-2") == 240_000


@pytest.mark.parametrize("name", ["viet_nam", "network"])
def test_bulk_load_of_the_rules_values_pays_as_realtime(session: Session, tmp_path: Path, name: str) -> None:
    """The claims file's ``in_area`` stays authoritative in the bulk loader; a file that declares
    the value the rule gives (as the synthetic generator writes it) settles every bill exactly as
    the real-time service does, which derives it from the registry."""
    from equicover.claims.service import submit_claim
    from tests.factories import claim_in

    area, expected = RULES[name]
    text = vn_text_with(area)
    year = build_world(session, text)
    realtime_member = enrolled_person(session, scheme=year, location_code="C11")
    bulk_member = enrolled_person(session, scheme=year, location_code="C11", full_name="Another Member")
    bills = [(code, care, total) for code in CODES for care, total in (("outpatient", 300_000),
             ("inpatient", 9_000_000))]  # fmt: skip
    levels = {code: level for code, level, _ in FACILITIES}
    for number, (code, care, total) in enumerate(bills):
        submit_claim(
            session=session,
            claim=claim_in(
                claim_id=f"RT{number}", person_id=realtime_member.id, provider_code=code, care_type=care,
                days=3 if care == "inpatient" else 0, total=total,
                service_date=dt.date(2024, 8, 1) + dt.timedelta(days=number),
            ),
            actor="test",
        )  # fmt: skip
    policy_path = tmp_path / "vn.toml"
    policy_path.write_text(text, encoding="utf-8")
    claims_path = tmp_path / "claims.csv"
    with claims_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CLAIM_COLUMNS)
        for number, (code, care, total) in enumerate(bills):
            writer.writerow([
                f"BL{number}", bulk_member.id, (dt.date(2024, 8, 1) + dt.timedelta(days=number)).isoformat(), code,
                levels[code], "true", "true" if code in expected else "false", "false", care, "J06.9",
                3 if care == "inpatient" else 0, total, total, "",
            ])  # fmt: skip
    load_settled_claims(session=session, policy=load_policy(policy_path), claims_path=claims_path, scheme_code="VN-SHI")
    for number, (code, _, _) in enumerate(bills):
        realtime = session.scalar(select(Claim).where(Claim.claim_id == f"RT{number}"))
        bulk = session.scalar(select(Claim).where(Claim.claim_id == f"BL{number}"))
        assert realtime is not None and bulk is not None
        assert realtime.in_area == bulk.in_area == (code in expected)
        assert (realtime.allowed, realtime.member_oop) == (bulk.allowed, bulk.member_oop)
        assert _paid(session, f"RT{number}") == _paid(session, f"BL{number}")
