"""Post-identification at the hospital (a category for the stay, confirmed or withdrawn later) and
the targeting quality report against true consumption."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from equicover.audit.models import ChangeLog
from equicover.auth.service import create_account
from equicover.errors import Conflict, Forbidden, ValidationFailed
from equicover.registry.models import Location, PersonCategory
from equicover.targeting import service
from equicover.targeting.loader import load_rules
from equicover.targeting.quality import quality_of
from equicover.targeting.synthetic import generate
from tests import factories as make
from tests.targeting.helpers import KH, KH_POOR, SHIPPED, VN, vn_answers

ADMITTED = dt.date(2024, 5, 10)


@pytest.fixture
def hospital(session: Session) -> dict[str, object]:
    make.locations(session)
    facility = make.provider(session, code="RH", level="district", location_code="D1")
    d1 = session.scalar(select(Location.id).where(Location.code == "D1"))
    clerk = create_account(
        session=session,
        username="hef-operator",
        password="correct horse battery",
        role="clerk",
        provider_id=facility.id,
    )
    registrar = create_account(
        session=session, username="registrar-d1", password="correct horse battery", role="registrar", location_id=d1
    )
    patients = {
        code: make.household(
            session,
            code=code,
            location_code="C11",
            members=[make.person_in(full_name="P1"), make.person_in(full_name="P2")],
        )[1]
        for code in ("HP", "HQ", "HR")
    }
    session.flush()
    return {"clerk": clerk, "registrar": registrar, "patients": patients, "facility": facility}


def _holdings(session: Session, person_id: int) -> list[tuple[str, dt.date, dt.date | None]]:
    rows = session.scalars(
        select(PersonCategory).where(PersonCategory.person_id == person_id).order_by(PersonCategory.valid_from)
    )
    return [(row.category, row.valid_from, row.valid_to) for row in rows]


def _identify(session: Session, hospital: dict, code: str, answers: dict[str, str]):
    return service.post_identify(
        session=session,
        rules_text=KH.read_text(encoding="utf-8"),
        household_code=code,
        answers=answers,
        admitted_on=ADMITTED,
        user=hospital["clerk"],
    )


def test_a_patient_identified_at_the_hospital_is_covered_for_the_stay_then_confirmed(
    session: Session, hospital: dict
) -> None:
    case = _identify(session, hospital, "HP", KH_POOR)
    assert (case.status, case.category, case.valid_to) == ("granted", "level_2", dt.date(2024, 6, 8))
    assert case.provider_id == hospital["facility"].id
    assert case.reason == "level_2: idpoor score 58 at least 45"
    for member in hospital["patients"]["HP"]:
        assert _holdings(session, member.id) == [("registered_poor", ADMITTED, dt.date(2024, 6, 8))]
    with pytest.raises(Conflict, match="no post-identification needed"):
        _identify(session, hospital, "HP", KH_POOR)  # already covered: pre-identified now
    with pytest.raises(Forbidden):
        service.confirm_hospital_case(session=session, case_id=case.id, on=dt.date(2024, 6, 1), user=hospital["clerk"])
    service.confirm_hospital_case(session=session, case_id=case.id, on=dt.date(2024, 6, 1), user=hospital["registrar"])
    assert _holdings(session, hospital["patients"]["HP"][0].id) == [
        ("registered_poor", ADMITTED, dt.date(2024, 6, 8)),
        ("registered_poor", dt.date(2024, 6, 9), dt.date(2027, 5, 9)),  # the rules' 36 months from admission
    ]
    with pytest.raises(Conflict, match="is confirmed"):
        service.withdraw_hospital_case(
            session=session, case_id=case.id, on=dt.date(2024, 6, 2), user=hospital["registrar"]
        )
    logged = session.scalars(
        select(ChangeLog.action).where(ChangeLog.entity == "targeting_hospital_cases", ChangeLog.entity_id == case.id)
    )
    assert list(logged) == ["create", "confirm"]


def test_a_withdrawn_stay_ends_the_category_and_a_household_not_poor_gets_none(
    session: Session, hospital: dict
) -> None:
    case = _identify(session, hospital, "HQ", {**KH_POOR, "dependants": "3"})
    assert case.category == "level_1"
    service.withdraw_hospital_case(
        session=session, case_id=case.id, on=dt.date(2024, 5, 15), user=hospital["registrar"]
    )
    for member in hospital["patients"]["HQ"]:
        assert _holdings(session, member.id) == [("registered_poor", ADMITTED, dt.date(2024, 5, 15))]
    better_off = _identify(session, hospital, "HR", {**KH_POOR, "roof": "concrete", "land": "over_1_ha"})
    assert (better_off.status, better_off.category, better_off.valid_to) == ("not_eligible", "none", None)
    assert _holdings(session, hospital["patients"]["HR"][0].id) == []


def test_bad_interviews_are_refused_and_write_nothing(session: Session, hospital: dict) -> None:
    before = session.scalar(select(func.count()).select_from(PersonCategory))
    with pytest.raises(ValidationFailed, match="roof: answer outside the options"):
        _identify(session, hospital, "HP", {**KH_POOR, "roof": "gold"})
    with pytest.raises(ValidationFailed, match="walls: missing required item"):
        _identify(session, hospital, "HP", {k: v for k, v in KH_POOR.items() if k != "walls"})
    with pytest.raises(Forbidden):
        service.post_identify(
            session=session,
            rules_text=KH.read_text(encoding="utf-8"),
            household_code="HP",
            answers=KH_POOR,
            admitted_on=ADMITTED,
            user=hospital["registrar"],
        )
    with pytest.raises(ValidationFailed, match="no post-identification at the hospital"):
        service.post_identify(
            session=session,
            rules_text=VN.read_text(encoding="utf-8"),
            household_code="HP",
            answers=vn_answers(members=1, income_month="1", deprived=4),
            area_type="rural",
            admitted_on=ADMITTED,
            user=hospital["clerk"],
        )
    assert session.scalar(select(func.count()).select_from(PersonCategory)) == before


# -- quality -------------------------------------------------------------------------------------


def test_inclusion_and_exclusion_errors_by_area_on_hand_counted_households() -> None:
    rules = load_rules(KH)
    rich = {**KH_POOR, "roof": "concrete", "walls": "brick", "land": "over_1_ha"}  # 38: not identified
    households = [
        ("H1", "A", 50_000, KH_POOR),  # truly poor, identified
        ("H2", "A", 50_000, rich),  # truly poor, missed: exclusion
        ("H3", "A", 500_000, KH_POOR),  # not poor, identified: inclusion
        ("H4", "A", 500_000, rich),  # not poor, not identified
        ("H5", "B", 50_000, KH_POOR),
        ("H6", "B", 500_000, {**KH_POOR, "roof": "gold"}),  # refused, not counted
    ]
    columns: dict[str, list[object]] = {"household": [], "area": [], "true_consumption": []}
    for item in KH_POOR:
        columns[item] = []
    for code, area, consumption, answers in households:
        columns["household"].append(code)
        columns["area"].append(area)
        columns["true_consumption"].append(consumption)
        for item, value in answers.items():
            columns[item].append(value)
    report = quality_of(rules, pa.table(columns), true_line=100_000)
    by_area = {row.area: row for row in report.by_area}
    a = by_area["A"]
    assert (a.households, a.truly_poor, a.identified, a.included_not_poor, a.excluded_poor) == (4, 2, 2, 1, 1)
    assert a.inclusion_error == 0.5 and a.exclusion_error == 0.5
    assert (by_area["B"].inclusion_error, by_area["B"].exclusion_error) == (0.0, 0.0)
    assert report.total.households == 5 and report.rejected == 1


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.stem)
def test_every_shipped_rule_set_targets_better_than_chance_on_synthetic_households(path) -> None:
    rules = load_rules(path)
    synthetic = generate(rules, 5_000, seed=3)
    report = quality_of(rules, synthetic.table, true_line=synthetic.true_line)
    assert report.rejected == 0 and report.total.households == 5_000
    identified_share = report.total.identified / report.total.households
    poor_share = report.total.truly_poor / report.total.households
    precision = 1 - report.total.inclusion_error
    # answers follow consumption with noise: the identified are poorer than a random draw would be
    assert precision > poor_share and identified_share > 0
    assert len(report.by_area) == 10


def test_quality_command_prints_the_errors_by_area(tmp_path) -> None:
    from typer.testing import CliRunner

    from equicover.targeting.cli import targeting_app
    from tests.targeting.helpers import write_csv

    rich = {**KH_POOR, "roof": "concrete", "walls": "brick", "land": "over_1_ha"}
    rows = [
        ["H1", "A", "50000", *KH_POOR.values()],
        ["H2", "A", "50000", *rich.values()],
        ["H3", "A", "500000", *KH_POOR.values()],
        ["H4", "B", "500000", *rich.values()],
    ]
    path = write_csv(tmp_path / "households.csv", ["household", "area", "true_consumption", *KH_POOR], rows)
    result = CliRunner().invoke(
        targeting_app, ["quality", "--rules", str(KH), "--households", str(path), "--true-line", "100000"]
    )
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines()]
    assert ["A", "3", "2", "2", "50.0%", "50.0%"] in lines
    assert ["all", "4", "2", "2", "50.0%", "50.0%"] in lines
    missing = write_csv(tmp_path / "bad.csv", ["household", *KH_POOR], [["H1", *KH_POOR.values()]])
    refused = CliRunner().invoke(
        targeting_app, ["quality", "--rules", str(KH), "--households", str(missing), "--true-line", "100000"]
    )
    assert refused.exit_code == 2
