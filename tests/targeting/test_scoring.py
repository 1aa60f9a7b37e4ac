"""Scoring answers set-based: each shipped rule set against hand-scored households, and bad input."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from typer.testing import CliRunner

from equicover.targeting.cli import targeting_app
from equicover.targeting.loader import load_rules
from equicover.targeting.scoring import AnswersFileError, score_answers, score_file
from tests.targeting.helpers import CN, KH, KH_POOR, MA, VN, read_csv, vn_answers, write_csv


def _one(rules_path: Path, answers: dict[str, str], **base: str):
    rules = load_rules(rules_path)
    scored, errors = score_answers(rules, [{"household": "H", **base, **answers}])
    assert errors == []
    return scored[0]


# -- Cambodia IDPoor: points, levels at 59 and 45 -------------------------------------------


def test_idpoor_hand_scored_households() -> None:
    at_58 = _one(KH, KH_POOR)
    assert at_58.scores == {"idpoor": Decimal(58)}
    assert at_58.category == "level_2" and at_58.grants == ("registered_poor",)
    assert at_58.reason == "level_2: idpoor score 58 at least 45"
    at_59 = _one(KH, {**KH_POOR, "dependants": "1"})  # one point per dependant
    assert at_59.scores["idpoor"] == 59 and at_59.category == "level_1"
    better_off = _one(KH, {**KH_POOR, "roof": "tile", "walls": "brick", "land": "over_1_ha"})  # 58 - 6 - 8 - 12
    assert better_off.scores["idpoor"] == 32 and better_off.category == "none"
    assert better_off.reason == "none: no category's conditions hold (idpoor score 32)"
    no_crisis_answer = _one(KH, {**KH_POOR, "crisis": ""})  # optional item: counts no points
    assert no_crisis_answer.scores["idpoor"] == 58


IDPOOR_POINTS = {
    "roof": {"thatch": 8, "salvaged": 8, "metal": 3, "tile": 2, "concrete": 0},
    "walls": {"thatch": 8, "bamboo": 6, "wood": 3, "brick": 0},
    "house_size": {"under_20": 8, "m20_to_40": 4, "over_40": 0},
    "land": {"none": 12, "under_half_ha": 8, "half_to_1_ha": 4, "over_1_ha": 0},
    "livestock": {"none": 8, "poultry_only": 6, "pigs_or_goats": 3, "cattle_or_buffalo": 0},
    "transport": {"none": 6, "bicycle": 4, "motorbike": 1, "car_or_tractor": 0},
    "food_shortage": {"yes": 10, "no": 0},
    "crisis": {"yes": 4, "no": 0},
}


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {item: st.sampled_from(sorted(options)) for item, options in IDPOOR_POINTS.items()}
            | {"dependants": st.integers(0, 10), "members": st.integers(1, 30)}
        ),
        min_size=1,
        max_size=25,
    )
)
def test_idpoor_score_is_the_sum_of_the_points_of_the_answers(households: list[dict[str, object]]) -> None:
    rules = load_rules(KH)
    rows = [
        {"household": f"H{index}", **{k: str(v) for k, v in answers.items()}}
        for index, answers in enumerate(households)
    ]
    scored, errors = score_answers(rules, rows)
    assert errors == []
    for answers, result in zip(households, scored):
        expected = sum(IDPOOR_POINTS[item][str(answers[item])] for item in IDPOOR_POINTS) + int(
            str(answers["dependants"])
        )
        assert result.scores["idpoor"] == expected
        assert result.category == ("level_1" if expected >= 59 else "level_2" if expected >= 45 else "none")


# -- Morocco RAMED: urban score and income lines, rural scores -------------------------------

URBAN_MODEST = {
    "members": "5", "dwelling": "traditional_house", "crowding": "over_3", "water": "public_tap",
    "electricity": "yes", "sanitation": "shared", "telephone": "mobile_only", "vehicle": "none",
}  # fmt: skip  # urban score 1 + 0 + 1 + 2 + 1 + 1 + 0 = 6
RURAL_SMALL_FARM = {
    "members": "6", "land_ha": "2", "cattle": "1", "sheep_goats": "0", "poultry_house": "no",
    "farm_equipment": "none", "vehicle": "none", "rural_dwelling": "earth_or_stone", "water": "well_or_other",
    "electricity": "yes", "sanitation": "none",
}  # fmt: skip  # assets 20 + 8 = 28; conditions 1 + 0 + 1 + 0 = 2


def test_ramed_urban_households_by_score_and_income_per_person() -> None:
    poor = _one(MA, {**URBAN_MODEST, "income_year": "15000.00"}, area_type="urban")  # 3,000.00 per person
    assert poor.scores["urban_conditions"] == 6 and poor.scores["rural_assets"] is None
    assert poor.category == "poor" and poor.grants == ("registered_poor",)
    assert poor.income_per_person == 300_000
    assert poor.reason == (
        "poor: urban area, urban_conditions score 6 at most 11, income per person 3000.00 below poverty 3767.00"
    )
    at_the_line = _one(MA, {**URBAN_MODEST, "income_year": "18835.00"}, area_type="urban")  # exactly 3,767.00
    assert at_the_line.category == "vulnerable" and at_the_line.grants == ("vulnerable",)
    above = _one(MA, {**URBAN_MODEST, "income_year": "28250.00"}, area_type="urban")  # exactly 5,650.00
    assert above.category == "none"
    well_housed = _one(
        MA, {**URBAN_MODEST, "dwelling": "villa", "vehicle": "car", "income_year": "100.00"}, area_type="urban"
    )
    assert well_housed.scores["urban_conditions"] == 17 and well_housed.category == "none"


def test_ramed_rural_households_by_assets_and_conditions() -> None:
    poor = _one(MA, RURAL_SMALL_FARM, area_type="rural")
    assert (poor.scores["rural_assets"], poor.scores["rural_conditions"]) == (28, 2)
    assert poor.category == "poor"
    vulnerable = _one(MA, {**RURAL_SMALL_FARM, "cattle": "2"}, area_type="rural")
    assert vulnerable.scores["rural_assets"] == 36 and vulnerable.category == "vulnerable"
    comfortable = _one(
        MA,
        {
            **RURAL_SMALL_FARM,
            "electricity": "yes",
            "sanitation": "own",
            "water": "connected",
            "rural_dwelling": "concrete",
        },
        area_type="rural",
    )
    assert comfortable.scores["rural_conditions"] == 8 and comfortable.category == "none"


# -- Viet Nam: income at or below the line, deprivations ------------------------------------


def test_viet_nam_poor_and_near_poor_households() -> None:
    at_line_deprived = _one(VN, vn_answers(members=4, income_month="6000000", deprived=3), area_type="rural")
    assert at_line_deprived.income_per_person == 1_500_000 and at_line_deprived.deprivations == 3
    assert at_line_deprived.category == "poor" and at_line_deprived.grants == ("registered_poor",)
    near_poor = _one(VN, vn_answers(members=4, income_month="6000000", deprived=2), area_type="rural")
    assert near_poor.category == "near_poor" and near_poor.grants == ("near_poor",)
    one_dong_above = _one(VN, vn_answers(members=4, income_month="6000004", deprived=5), area_type="rural")
    assert one_dong_above.category == "none"
    urban = _one(VN, vn_answers(members=2, income_month="4000000", deprived=0), area_type="urban")
    assert urban.category == "near_poor"
    small_house = _one(VN, vn_answers(members=2, income_month="100000", deprived=2, floor_area=7), area_type="rural")
    assert small_house.deprivations == 3 and small_house.category == "poor"


# -- China: the line, and the margin with two guarantees missing ------------------------------


def _cn(income: str, missing: int) -> dict[str, str]:
    answers = {"members": "4", "net_income_year": income}
    for index, item in enumerate(("food_clothing", "education", "medical", "housing")):
        answers[item] = "no" if index < missing else "yes"
    return answers


def test_china_registered_poor_households() -> None:
    assert _one(CN, _cn("13339.96", 0)).category == "registered_poor"  # 3,334.99 per person
    assert _one(CN, _cn("13340.00", 0)).category == "none"  # exactly the line: not below it
    margin = _one(CN, _cn("16000.00", 2))
    assert margin.category == "registered_poor"
    assert (
        margin.reason == "registered_poor: income per person 4000.00 below margin 5002.50, 2 deprivation(s), at least 2"
    )
    assert _one(CN, _cn("16000.00", 1)).category == "none"


# -- bad input --------------------------------------------------------------------------------


def test_bad_answers_are_rejected_row_by_row_with_field_and_reason() -> None:
    rules = load_rules(KH)
    rows = [
        {"household": "OK", **KH_POOR},
        {"household": "BADROOF", **KH_POOR, "roof": "gold"},
        {"household": "NOWALLS", **KH_POOR, "walls": " "},
        {"household": "TOOMANY", **KH_POOR, "dependants": "11"},
        {"household": "NOTNUMBER", **KH_POOR, "members": "five"},
        {"household": "TWICE", **KH_POOR},
        {"household": "TWICE", **KH_POOR},
        {"household": "", **KH_POOR},
        {"household": "URBAN", "area_type": "urban", **KH_POOR},
    ]
    scored, errors = score_answers(rules, rows)
    assert [result.household for result in scored] == ["OK"]
    reasons = {(error.household, error.field): error.reason for error in errors}
    assert reasons[("BADROOF", "roof")] == "answer outside the options (thatch, salvaged, metal, tile, concrete)"
    assert reasons[("NOWALLS", "walls")] == "missing required item"
    assert reasons[("TOOMANY", "dependants")] == "must be a whole number from 0 to 10"
    assert reasons[("NOTNUMBER", "members")] == "must be a whole number from 1 to 30"
    assert reasons[("TWICE", "household")] == "appears more than once in the file"
    assert reasons[("", "household")] == "missing"
    assert reasons[("URBAN", "area_type")] == "must be one of rural"
    assert {error.line for error in errors} == set(range(3, 11))


def test_money_with_too_many_decimals_is_refused() -> None:
    rules = load_rules(MA)
    _, errors = score_answers(
        rules, [{"household": "H", "area_type": "urban", **URBAN_MODEST, "income_year": "10.005"}]
    )
    assert [(error.field, error.reason) for error in errors] == [
        ("income_year", "must be an amount of at most 14 digits and 2 decimal(s)")
    ]


# -- files: Kobo / ODK exports, XLSX, the command ------------------------------------------


def test_kobo_export_with_group_prefixes_and_semicolons(tmp_path: Path) -> None:
    header = [
        "start",
        "household",
        "group_hh/members",
        "group_hh/dependants",
        *(f"house/{k}" for k in ("roof", "walls", "house_size")),
        "assets/land",
        "assets/livestock",
        "assets/transport",
        "food_shortage",
        "crisis",
        "_uuid",
    ]
    row = ["2024-01-01", "=H1", "5", "1", "thatch", "thatch", "under_20", "none", "none", "bicycle", "YES", "No", "u"]
    answers = write_csv(tmp_path / "kobo.csv", header, [row], delimiter=";")
    summary = score_file(load_rules(KH), answers, tmp_path / "scores.csv", tmp_path / "scores.errors.csv")
    assert summary.scored == 1 and summary.rejected == 0
    (scored,) = read_csv(tmp_path / "scores.csv")
    assert scored["household"] == "'=H1"  # never a formula in a spreadsheet
    assert scored["score_idpoor"] == "59" and scored["category"] == "level_1"
    assert not (tmp_path / "scores.errors.csv").exists()


def test_odk_central_export_with_dash_separated_groups(tmp_path: Path) -> None:
    header = [
        "meta-instanceID",
        "household",
        "hh-members",
        "hh-dependants",
        "hh-roof",
        "hh-walls",
        "hh-house_size",
        "hh-land",
        "hh-livestock",
        "hh-transport",
        "hh-food_shortage",
        "hh-crisis",
    ]
    answers = write_csv(tmp_path / "odk.csv", header, [["x", "H1", *KH_POOR.values()]])
    summary = score_file(load_rules(KH), answers, tmp_path / "scores.csv", tmp_path / "scores.errors.csv")
    assert summary.by_category == {"level_2": 1}


def test_xlsx_answers_are_scored_like_csv(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["household", *KH_POOR])
    sheet.append(["H1", *(int(v) if v.isdigit() else v for v in KH_POOR.values())])
    sheet.append(["H2", *{**KH_POOR, "roof": "gold"}.values()])
    path = tmp_path / "answers.xlsx"
    book.save(path)
    summary = score_file(load_rules(KH), path, tmp_path / "scores.csv", tmp_path / "scores.errors.csv")
    assert (summary.scored, summary.rejected) == (1, 1)
    (error,) = read_csv(tmp_path / "scores.errors.csv")
    assert (error["line"], error["household"], error["field"]) == ("3", "H2", "roof")


def test_a_file_missing_a_required_column_is_refused_whole(tmp_path: Path) -> None:
    answers = write_csv(tmp_path / "a.csv", ["household", "roof"], [["H1", "thatch"]])
    with pytest.raises(AnswersFileError, match=r"missing column\(s\) \['members', 'dependants', 'walls'"):
        score_file(load_rules(KH), answers, tmp_path / "s.csv", tmp_path / "s.errors.csv")


def test_score_command_writes_scores_and_errors_and_exits_one_on_rejections(tmp_path: Path) -> None:
    rows = [["H1", *KH_POOR.values()], ["H2", *{**KH_POOR, "land": "lots"}.values()]]
    answers = write_csv(tmp_path / "answers.csv", ["household", *KH_POOR], rows)
    out = tmp_path / "scores.csv"
    runner = CliRunner()
    result = runner.invoke(targeting_app, ["score", "--rules", str(KH), "--answers", str(answers), "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert [row["household"] for row in read_csv(out)] == ["H1"]
    assert read_csv(tmp_path / "scores.errors.csv") == [
        {
            "line": "3",
            "household": "H2",
            "field": "land",
            "reason": "answer outside the options (none, under_half_ha, half_to_1_ha, over_1_ha)",
        }
    ]
    good = write_csv(tmp_path / "good.csv", ["household", *KH_POOR], rows[:1])
    result = runner.invoke(targeting_app, ["score", "--rules", str(KH), "--answers", str(good), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "scores.errors.csv").exists()  # the old errors file does not linger
    missing = runner.invoke(
        targeting_app, ["score", "--rules", str(KH), "--answers", str(tmp_path / "no.csv"), "--out", str(out)]
    )
    assert missing.exit_code == 2


@settings(max_examples=60, deadline=None)
@given(
    members=st.integers(1, 30),
    offset=st.integers(-3, 3),
    deprived=st.integers(0, 11),
    urban=st.booleans(),
)
def test_viet_nam_income_is_compared_with_the_line_exactly(
    members: int, offset: int, deprived: int, urban: bool
) -> None:
    line = 2_000_000 if urban else 1_500_000
    income = line * members + offset  # a few dong either side of the line x members
    result = _one(
        VN,
        vn_answers(members=members, income_month=str(income), deprived=deprived),
        area_type="urban" if urban else "rural",
    )
    assert result.income_per_person == income // members
    if income > line * members:
        assert result.category == "none"
    else:
        assert result.category == ("poor" if deprived >= 3 else "near_poor")


def test_an_export_of_rural_households_needs_no_urban_columns(tmp_path: Path) -> None:
    rows = [["R1", "rural", *RURAL_SMALL_FARM.values()], ["U1", "urban", *RURAL_SMALL_FARM.values()]]
    answers = write_csv(tmp_path / "rural.csv", ["household", "area_type", *RURAL_SMALL_FARM], rows)
    summary = score_file(load_rules(MA), answers, tmp_path / "s.csv", tmp_path / "s.errors.csv")
    assert summary.by_category == {"poor": 1}
    fields = {row["field"] for row in read_csv(tmp_path / "s.errors.csv") if row["household"] == "U1"}
    assert {"income_year", "dwelling", "crowding", "telephone"} <= fields
