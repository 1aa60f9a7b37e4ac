"""Targeting rules files: the shipped ones check clean; mistakes are reported with file, line and key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from equicover.targeting.cli import targeting_app
from equicover.targeting.loader import RulesError, check_rules_files, load_rules, load_rules_text
from equicover.targeting.rules import NOT_IDENTIFIED, add_months, valid_until
from tests.targeting.helpers import CN, KH, MA, SHIPPED, VN

MINIMAL = """\
[rules]
id = "test-rules"
name = "Test"
currency = "KHR"
effective_from = 2020-01-01
area_types = ["rural"]
validity_months = 12
source = "a test"

[procedure]
validation = "village"
notice_days = 7
objection_days = 7
approving_level = "commune"

[[item]]
id = "roof"
label = "Roof"
type = "choice"
options = ["thatch", "tile"]

[[score]]
id = "points"
points = { roof = { thatch = 5, tile = 0 } }

[[category]]
id = "poor"
label = "Poor"
grants = ["registered_poor"]
when = { score_at_least = { points = 5 } }
"""


def test_every_shipped_rules_file_checks_clean_and_cites_its_sources() -> None:
    assert check_rules_files(SHIPPED) == []
    for path in SHIPPED:
        rules = load_rules(path)
        assert "Stated assumptions" in rules.source
        assert rules.outcomes and rules.items


def test_shipped_figures_are_read_exactly() -> None:
    vn = load_rules(VN)
    assert vn.minor_digits == 0
    assert vn.line_amount("standard", "rural") == 1_500_000
    assert vn.line_amount("standard", "urban") == 2_000_000
    assert len(vn.deprivations) == 12
    ma = load_rules(MA)
    assert ma.line_amount("poverty", "urban") == 376_700  # centimes
    assert ma.line_amount("vulnerability", "urban") == 565_000
    assert ma.outcome("vulnerable").validity_months == 12
    cn = load_rules(CN)
    assert cn.line_amount("national", "rural") == 333_500
    assert cn.procedure.approving_level == "district"
    kh = load_rules(KH)
    assert kh.procedure.hospital_validity_days == 30
    assert kh.grants_of("level_2") == ("registered_poor",)
    assert kh.grants_of(NOT_IDENTIFIED) == ()


def test_a_minimal_file_loads() -> None:
    rules = load_rules_text(MINIMAL)
    assert rules.id == "test-rules"
    assert rules.minor_digits == 2  # the riel's ISO 4217 digits when the file names none


def _problems(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(RulesError) as caught:
        load_rules_text(text, path="r.toml")
    assert all(problem.file == "r.toml" for problem in caught.value.problems)
    return [(problem.line, problem.key, problem.message) for problem in caught.value.problems]


def test_every_mistake_of_a_file_is_reported_with_its_line_and_key() -> None:
    text = (
        MINIMAL.replace("validity_months = 12", 'validity_months = 12\ncolour = "red"')
        .replace('options = ["thatch", "tile"]', 'options = ["thatch", "tile"]\nrequired = "yes"')
        .replace("points = { roof = { thatch = 5, tile = 0 } }", "points = { roof = { thatch = 5, slate = 0 } }")
        .replace("objection_days = 7", "objection_days = 9")
        .replace("when = { score_at_least = { points = 5 } }", "when = { score_at_least = { unknown = 5 } }")
    )
    problems = _problems(text)
    keys = {key: (line, message) for line, key, message in problems}
    assert keys["rules.colour"][0] == 8 and "unknown key 'colour'" in keys["rules.colour"][1]
    assert keys["item[0].required"][1].startswith("must be true or false")
    assert keys["item[0].required"][0] == 22
    assert "'slate' is not an option of item 'roof'" in keys["score[0].points.roof.slate"][1]
    assert keys["procedure.objection_days"][1] == "the objection window cannot outlast the notice period"
    assert keys["procedure.objection_days"][0] == 14
    assert "'unknown' is not a score of this file" in keys["category[0].when.score_at_least.unknown"][1]


def test_income_lines_must_exist_for_every_area_type_a_category_compares_them_in() -> None:
    text = VN.read_text(encoding="utf-8").replace(
        'id = "standard"\narea_type = "urban"', 'id = "other"\narea_type = "urban"'
    )
    problems = _problems(text)
    assert any(
        key == "category[0].when.income_at_most" and "line 'standard' has no amount for area type 'urban'" in message
        for _, key, message in problems
    )


def test_money_with_more_decimals_than_the_currency_is_refused() -> None:
    text = MA.read_text(encoding="utf-8").replace('per_person = "3767.00"', 'per_person = "3767.001"')
    problems = _problems(text)
    assert [key for _, key, _ in problems] == ["line[0].per_person"]


def test_an_item_may_not_take_the_name_of_a_base_column_nor_a_syntax_error_pass() -> None:
    problems = _problems(MINIMAL.replace('id = "roof"', 'id = "household"'))
    assert any(key == "item[0].id" and "column of every answers file" in message for _, key, message in problems)
    syntax = _problems(MINIMAL.replace('name = "Test"', 'name = "Test'))
    assert syntax[0][0] == 3 and syntax[0][2].startswith("TOML syntax error")


def test_two_versions_of_one_rules_id_may_not_overlap(tmp_path: Path) -> None:
    first = tmp_path / "a.toml"
    second = tmp_path / "b.toml"
    first.write_text(MINIMAL, encoding="utf-8")
    second.write_text(MINIMAL.replace("2020-01-01", "2021-06-01"), encoding="utf-8")
    problems = check_rules_files([first, second])
    assert len(problems) == 1 and problems[0].file == str(second) and problems[0].key == "rules.effective_from"
    second.write_text(MINIMAL.replace("2020-01-01", "2021-06-01"), encoding="utf-8")
    first.write_text(MINIMAL.replace("source =", "effective_to = 2021-05-31\nsource ="), encoding="utf-8")
    assert check_rules_files([first, second]) == []


def test_check_command_exits_non_zero_and_names_file_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL.replace('approving_level = "commune"', 'approving_level = "village"'), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(targeting_app, ["check", str(bad), str(KH)])
    assert result.exit_code == 1
    assert f"{bad}:14: procedure.approving_level: must be one of 'commune', 'district', 'province'" in result.output
    clean = runner.invoke(targeting_app, ["check", *map(str, SHIPPED)])
    assert clean.exit_code == 0, clean.output


def test_validity_counts_months_and_ends_the_day_before() -> None:
    rules = load_rules(MA)
    assert valid_until(rules, "poor", dt.date(2024, 3, 1)) == dt.date(2026, 2, 28)
    assert valid_until(rules, "vulnerable", dt.date(2024, 3, 1)) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)


LABELLED = (
    MINIMAL.replace(
        'label = "Roof"\n',
        'label = "Roof"\nlabels = { fr = "Toit", ar = "السقف" }\n'
        'option_labels.thatch = { en = "Thatch roof", fa = "کاهگل" }\n',
    )
    + '\n[category.labels]\nzh = "贫困"\nvi = "Nghèo"\n'
)  # a table of its own, after the category's keys


def test_labels_give_each_text_in_the_readers_language_falling_back_to_english() -> None:
    rules = load_rules_text(LABELLED, path="labelled.toml")
    roof = rules.item("roof")
    assert (roof.label_in("fr"), roof.label_in("ar"), roof.label_in("zh")) == ("Toit", "السقف", "Roof")
    assert roof.option_in("thatch", "fa") == "کاهگل"
    assert roof.option_in("thatch", "vi") == "Thatch roof"  # the file's English
    assert roof.option_in("tile", "fr") == "tile"  # no text at all: the option's name
    poor = rules.outcome("poor")
    assert (poor.label_in("zh"), poor.label_in("vi"), poor.label_in("fr")) == ("贫困", "Nghèo", "Poor")


def test_unknown_languages_empty_texts_and_unknown_options_are_refused_with_line_and_key() -> None:
    text = (
        MINIMAL.replace('label = "Roof"\n', 'label = "Roof"\nlabels = { de = "Dach", fr = " " }\n')
        .replace('options = ["thatch", "tile"]\n', 'options = ["thatch", "tile"]\noption_labels.gold = { fr = "Or" }\n')
        .replace('label = "Poor"\n', 'label = "Poor"\nlabels = "Pauvre"\n')
    )
    with pytest.raises(RulesError) as raised:
        load_rules_text(text, path="bad.toml")
    found = {(problem.line, problem.key): problem.message for problem in raised.value.problems}
    lines = text.splitlines()
    labels_line = next(index for index, line in enumerate(lines, 1) if line.startswith("labels = { de"))
    assert "unknown language 'de'" in found[(labels_line, "item[0].labels.de")]
    assert found[(labels_line, "item[0].labels.fr")] == "must not be empty"
    option_line = next(index for index, line in enumerate(lines, 1) if line.startswith("option_labels.gold"))
    assert "'gold' is not an option" in found[(option_line, "item[0].option_labels.gold")]
    category_line = next(index for index, line in enumerate(lines, 1) if line.startswith('labels = "Pauvre"'))
    assert "must be a table" in found[(category_line, "category[0].labels")]
    assert all(str(problem).startswith("bad.toml:") for problem in raised.value.problems)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.stem)
def test_every_shipped_question_answer_and_category_is_translated(path: Path) -> None:
    rules = load_rules(path)
    languages = {"fr", "ar", "fa", "zh", "vi"}
    for item in rules.items:
        assert set(dict(item.labels)) == languages, item.id
        for option in item.options if item.type == "choice" else ():
            assert set(dict(item.option_labels[option])) == languages | {"en"}, (item.id, option)
    for outcome in rules.outcomes:
        assert set(dict(outcome.labels)) == languages, outcome.id
    # the programme's own language differs from the English it falls back to
    own = {"cn-registered-poor": "zh", "vn-poverty": "vi", "ma-ramed": "ar", "kh-idpoor-rural": "fr"}[rules.id]
    assert all(item.label_in(own) != item.label for item in rules.items)
