"""The consultations indicator counts primary-care consultations only: out-patient visits at the
provider levels the claim's policy declares primary care (``[indicators] primary_care_levels``)."""

from __future__ import annotations

import datetime as dt

import pytest

from equicover.reports import dashboard_totals
from equicover.reports.indicators import compute_indicators
from equicover.settlement.loader import PolicyError, load_policy, load_policy_text
from tests import factories as make
from tests.factories import POLICIES
from tests.riel_world import ENDS, SCHEME_CODE, SERVED, STARTS, riel_world


def test_only_visits_at_a_primary_care_level_are_consultations(session) -> None:
    world = riel_world(session)  # one 6-day stay at referral hospital RH (D1): not a consultation
    make.provider(session, code="HC", level="health_centre", location_code="C11")
    make.contract(session, provider_code="HC", scheme_code=SCHEME_CODE, starts=STARTS, ends=ENDS)
    for claim_id, provider, day in (("V-HC-1", "HC", 11), ("V-HC-2", "HC", 12), ("V-RH", "RH", 13)):
        make.claim(
            session,
            claim_id=claim_id,
            person_id=world.person_id,
            provider_code=provider,
            service_date=SERVED.replace(day=day),
            care_type="outpatient",
            diagnosis="J06.9",
            days=0,
            total=20_000,
        )
    rows = compute_indicators(session=session, starts=dt.date(2015, 3, 1), ends=dt.date(2015, 3, 31))
    district = next(row for row in rows if row.area_code == "D1")
    assert district.consultations == 2  # the hospital's out-patient visit and the stay are not counted
    # The dashboard's consultations read the same rule.
    totals = dashboard_totals.scanned_totals(session=session, year=2015)
    assert sum(totals.visits.values()) == 2


def test_the_declaration_names_levels_of_the_policy() -> None:
    text = (POLICIES / "kh-hef-2015.toml").read_text()
    assert load_policy(POLICIES / "ma-ramed-2020.toml").primary_care_levels == ("centre_de_sante",)
    assert load_policy(POLICIES / "vn-shi-2024.toml").primary_care_levels is None
    with pytest.raises(PolicyError, match="primary_care_levels"):
        load_policy_text(text.replace('primary_care_levels = ["health_centre"]', 'primary_care_levels = ["clinic"]'))
    with pytest.raises(PolicyError, match="indicators"):
        load_policy_text(text.replace('primary_care_levels = ["health_centre"]', 'gp_levels = ["health_centre"]'))
