"""Policy loading: a good file becomes the typed model; every mistake is named with file, line, key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from equicover.money import RATIO_SCALE
from equicover.settlement.loader import (
    PolicyError,
    PolicyProblem,
    check_policies,
    load_policy,
    load_policy_text,
)

HEADER = """\
[policy]
id = "test-2018"
name = "Test programme"
currency = "CNY"
effective_from = 2018-01-01
effective_to = 2018-12-31
year_start = "01-01"
provider_levels = ["township", "county"]
care_types = ["outpatient", "inpatient"]
source = "hand-written for the tests"

[diagnosis_groups]
appendicitis = ["K35"]
"""

BAND_LAYER = """\
[[layer]]
id = "basic"
payer = "Basic insurance"
when = [ { care_type = ["inpatient"] } ]

  [[layer.variant]]
  when = { provider_level = ["township"] }
  bands = [ { upto = "100.00", ratio = 0 }, { ratio = 0.9 } ]

  [[layer.variant]]
  bands = [
    { upto = "800.00", ratio = 0 },
    { ratio = 0.75 },
  ]
"""

OOP_LAYER = """\
[[layer]]
id = "tilt"
payer = "Tilt"
kind = "oop_cap"
max_share = 0.1
"""

GOOD = HEADER + "\n" + BAND_LAYER + "\n" + OOP_LAYER


def line_of(text: str, marker: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing marker (so expectations follow the text)."""
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if marker in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{marker!r} not in the text")


def problems_of(text: str, path: str = "p.toml") -> list[PolicyProblem]:
    with pytest.raises(PolicyError) as raised:
        load_policy_text(text, path=path)
    return raised.value.problems


def only_problem(text: str) -> PolicyProblem:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


def test_good_policy_loads_with_defaults() -> None:
    policy = load_policy_text(GOOD, path="good.toml")
    assert policy.id == "test-2018"
    assert policy.minor_digits == 2
    assert policy.effective_from == date(2018, 1, 1)
    assert policy.year_start == (1, 1)
    assert policy.path == "good.toml"
    basic, tilt = policy.layers
    assert (basic.kind, basic.base, basic.scope, basic.cumulative_share_of) == (
        "bands",
        "eligible",
        "claim",
        "eligible",
    )
    assert [band.upto for band in basic.variants[1].bands] == [80000, None]
    assert basic.variants[0].bands[1].ratio == 900_000
    assert (tilt.kind, tilt.base, tilt.max_share) == ("oop_cap", "total", RATIO_SCALE // 10)
    assert policy.diagnosis_groups == {"appendicitis": ("K35",)}


def test_minor_digits_override_and_vnd_default() -> None:
    vnd = load_policy_text(
        GOOD.replace('currency = "CNY"', 'currency = "VND"').replace('"100.00"', '"100"').replace('"800.00"', '"800"')
    )
    assert vnd.minor_digits == 0
    riel = load_policy_text(
        GOOD.replace('currency = "CNY"', 'currency = "KHR"\nminor_digits = 0')
        .replace('"100.00"', '"100"')
        .replace('"800.00"', '"800"')
    )
    assert riel.minor_digits == 0
    assert riel.layers[0].variants[0].bands[0].upto == 100


def test_syntax_error_reports_the_parsers_line() -> None:
    text = GOOD.replace('payer = "Tilt"', 'payer = "Tilt')
    problem = only_problem(text)
    assert problem.line == line_of(text, 'payer = "Tilt')
    assert "syntax" in problem.message


@pytest.mark.parametrize(
    ("replace", "by", "marker", "key"),
    [
        ('source = "hand', 'colour = "red"\nsource = "hand', "colour", "policy.colour"),
        ('payer = "Tilt"', 'payer = "Tilt"\nfoo = 1', "foo = 1", "layer[1].foo"),
        ("{ ratio = 0.75 },", "{ ratio = 0.75, rate = 1 },", "rate = 1", "layer[0].variant[1].bands[1].rate"),
        (
            'when = { provider_level = ["township"] }',
            'when = { provider_level = ["township"], colour = ["red"] }',
            "colour",
            "layer[0].variant[0].when.colour",
        ),
    ],
)
def test_unknown_keys_at_every_level(replace: str, by: str, marker: str, key: str) -> None:
    text = GOOD.replace(replace, by)
    problem = only_problem(text)
    assert (problem.file, problem.line, problem.key) == ("p.toml", line_of(text, marker), key)
    assert "unknown key" in problem.message


def test_unknown_top_level_table() -> None:
    text = GOOD + "\n[extras]\nx = 1\n"
    problem = only_problem(text)
    assert (problem.line, problem.key) == (line_of(text, "[extras]"), "extras")


@pytest.mark.parametrize(
    ("replace", "by", "marker", "key", "words"),
    [
        (
            'care_type = ["inpatient"]',
            'care_type = ["inpatient", "dental"]',
            "dental",
            "layer[0].when[0].care_type[1]",
            "unknown care type",
        ),
        (
            'provider_level = ["township"]',
            'provider_level = ["village"]',
            "village",
            "layer[0].variant[0].when.provider_level[0]",
            "unknown provider level",
        ),
        (
            'care_type = ["inpatient"]',
            'diagnosis_group = ["cancer"]',
            "cancer",
            "layer[0].when[0].diagnosis_group[0]",
            "unknown diagnosis group",
        ),
        (
            'care_type = ["inpatient"]',
            'designated = "yes"',
            'designated = "yes"',
            "layer[0].when[0].designated",
            "true or false",
        ),
        (
            'care_type = ["inpatient"]',
            "member_category = [1]",
            "member_category",
            "layer[0].when[0].member_category[0]",
            "string",
        ),
        (
            'care_type = ["inpatient"]',
            "allowed_below = 100",
            "allowed_below",
            "layer[0].when[0].allowed_below",
            "decimal string",
        ),
        (
            'care_type = ["inpatient"]',
            "care_type = []",
            "care_type = []",
            "layer[0].when[0].care_type",
            "never matches",
        ),
        ('care_type = ["inpatient"]', 'diagnosis = ["k"]', 'diagnosis = ["k"]', None, None),
    ],
)
def test_condition_mistakes(replace: str, by: str, marker: str, key: str | None, words: str | None) -> None:
    text = GOOD.replace(replace, by, 1)
    if key is None:  # a lower-case prefix is accepted and upper-cased
        policy = load_policy_text(text)
        assert policy.layers[0].when[0].diagnosis == ("K",)
        return
    problem = only_problem(text)
    assert (problem.line, problem.key) == (line_of(text, marker), key)
    assert words in problem.message


def test_bands_out_of_order_and_open_band_not_last() -> None:
    text = GOOD.replace(
        '{ upto = "800.00", ratio = 0 },\n    { ratio = 0.75 },',
        '{ upto = "800.00", ratio = 0 },\n    { upto = "500.00", ratio = 0.5 },\n    { ratio = 0.75 },',
    ).replace(
        'bands = [ { upto = "100.00", ratio = 0 }, { ratio = 0.9 } ]', "bands = [ { ratio = 0 }, { ratio = 0.9 } ]"
    )
    problems = problems_of(text)
    found = {(problem.key, problem.line) for problem in problems}
    assert ("layer[0].variant[1].bands[1].upto", line_of(text, '"500.00"')) in found
    assert ("layer[0].variant[0].bands[0]", line_of(text, "bands = [ { ratio = 0 }")) in found
    assert len(problems) == 2


def test_first_band_must_end_above_zero() -> None:
    text = GOOD.replace('{ upto = "100.00", ratio = 0 }', '{ upto = "0.00", ratio = 0 }')
    problem = only_problem(text)
    assert problem.key == "layer[0].variant[0].bands[0].upto"


@pytest.mark.parametrize(
    ("ratio", "words"),
    [
        ("1.5", "outside [0, 1]"),
        ("-0.1", "outside [0, 1]"),
        ("0.1234567", "more than 6 decimal places"),
        ("true", "boolean"),
    ],
)
def test_ratio_mistakes(ratio: str, words: str) -> None:
    text = GOOD.replace("{ ratio = 0.75 }", f"{{ ratio = {ratio} }}")
    problem = only_problem(text)
    assert (problem.line, problem.key) == (line_of(text, f"ratio = {ratio}"), "layer[0].variant[1].bands[1].ratio")
    assert words in problem.message


def test_ratio_with_six_decimals_is_exact() -> None:
    policy = load_policy_text(GOOD.replace("{ ratio = 0.75 }", "{ ratio = 0.123456 }"))
    assert policy.layers[0].variants[1].bands[1].ratio == 123_456


@pytest.mark.parametrize(
    ("money", "words"),
    [
        ('"800.001"', "more than 2 decimal places"),
        ("800", "decimal string"),
        ('"-5.00"', "negative"),
        ('"abc"', "not a decimal"),
    ],
)
def test_money_mistakes(money: str, words: str) -> None:
    text = GOOD.replace('upto = "800.00"', f"upto = {money}")
    problem = only_problem(text)
    assert (problem.line, problem.key) == (line_of(text, f"upto = {money}"), "layer[0].variant[1].bands[0].upto")
    assert words in problem.message


def test_period_and_year_start_mistakes() -> None:
    text = GOOD.replace("effective_to = 2018-12-31", "effective_to = 2017-12-31").replace('"01-01"', '"02-29"')
    problems = problems_of(text)
    assert {(p.key, p.line) for p in problems} == {
        ("policy.effective_to", line_of(text, "effective_to")),
        ("policy.year_start", line_of(text, "year_start")),
    }


def test_missing_source_and_unknown_currency() -> None:
    text = GOOD.replace('source = "hand-written for the tests"\n', "").replace('"CNY"', '"ZZZ"')
    problems = problems_of(text)
    keys = {(p.key, p.line) for p in problems}
    assert ("policy", line_of(text, "[policy]")) in keys
    assert any("'source'" in p.message for p in problems)
    assert ("policy.currency", line_of(text, "currency")) in keys


def test_layer_id_rules() -> None:
    text = (
        GOOD.replace('id = "tilt"', 'id = "basic"')
        + '\n[[layer]]\nid = "Bad-Id"\npayer = "x"\nkind = "oop_cap"\nmax_share = 0.1\n'
    )
    problems = problems_of(text)
    assert {(p.key, p.line) for p in problems} == {
        ("layer[1].id", line_of(text, 'id = "basic"', 2)),
        ("layer[2].id", line_of(text, "Bad-Id")),
    }


def test_oop_cap_refuses_band_layer_keys() -> None:
    text = GOOD.replace(
        "max_share = 0.1",
        'max_share = 0.1\ncap_per_claim = "10.00"\nscope = "year"\nmax_cumulative_share = 0.9\n'
        + "\n  [[layer.variant]]\n  bands = [ { ratio = 1 } ]",
    )
    problems = problems_of(text)
    assert {p.key for p in problems} == {
        "layer[1].cap_per_claim",
        "layer[1].scope",
        "layer[1].max_cumulative_share",
        "layer[1].variant",
    }
    assert all("oop_cap" in p.message for p in problems)
    assert next(p for p in problems if p.key == "layer[1].variant").line == line_of(text, "[[layer.variant]]", 3)


def test_band_layer_needs_a_variant_and_refuses_oop_keys() -> None:
    text = GOOD + '\n[[layer]]\nid = "extra"\npayer = "x"\nmax_share = 0.5\n'
    problems = problems_of(text)
    assert {(p.key, p.line) for p in problems} == {
        ("layer[2]", line_of(text, "[[layer]]", 3)),
        ("layer[2].max_share", line_of(text, "max_share = 0.5")),
    }


def test_allowed_below_refused_in_fixed_fee() -> None:
    text = GOOD + '\n[[fixed_fee]]\nwhen = { allowed_below = "10.00" }\nfee = "3800.00"\n'
    problem = only_problem(text)
    assert (problem.key, problem.line) == ("fixed_fee[0].when.allowed_below", line_of(text, "allowed_below"))


def test_allowances_and_fixed_fees_are_read() -> None:
    text = GOOD + (
        '\n[[fixed_fee]]\nwhen = { diagnosis_group = "appendicitis" }\nfee = "3800.00"\n'
        '\n[[allowance]]\nid = "food"\nper = "day"\namount = "5.50"\n'
        'when = { member_category = "registered_poor", allowed_below = "100000.00" }\n'
    )
    policy = load_policy_text(text)
    assert policy.fixed_fees[0].fee == 380000
    assert policy.fixed_fees[0].when[0].diagnosis_group == ("appendicitis",)
    food = policy.allowances[0]
    assert (food.id, food.per, food.amount) == ("food", "day", 550)
    assert food.when[0].member_category == frozenset({"registered_poor"})
    assert food.when[0].allowed_below == 10_000_000


def test_duplicate_allowance_ids() -> None:
    allowance = '\n[[allowance]]\nid = "food"\nper = "claim"\namount = "5.00"\n'
    text = GOOD + allowance + allowance
    problem = only_problem(text)
    assert (problem.key, problem.line) == ("allowance[1].id", line_of(text, 'id = "food"', 2))


def test_all_problems_of_a_file_are_collected() -> None:
    text = (
        GOOD.replace("{ ratio = 0.75 }", "{ ratio = 7.5 }")
        .replace('care_type = ["inpatient"]', 'care_type = ["inpatien"]')
        .replace('payer = "Tilt"', 'payer = "Tilt"\nbogus = true')
        .replace('upto = "100.00"', 'upto = "100.005"')
    )
    problems = problems_of(text)
    assert [(p.key, p.line) for p in sorted(problems, key=lambda p: p.line)] == [
        ("layer[0].when[0].care_type[0]", line_of(text, '"inpatien"')),
        ("layer[0].variant[0].bands[0].upto", line_of(text, "100.005")),
        ("layer[0].variant[1].bands[1].ratio", line_of(text, "7.5")),
        ("layer[1].bogus", line_of(text, "bogus")),
    ]
    assert all(str(p).startswith(f"p.toml:{p.line}: {p.key}: ") for p in problems)


def test_contribution_rules_are_read_and_checked() -> None:
    flat = load_policy_text(
        GOOD
        + '\n[contribution]\nkind = "flat"\namount = "120.00"\nhousehold_cap = "600.00"\n'
        + '[[contribution.subsidy]]\nwhen = { member_category = ["registered_poor"] }\n'
        + "shares = { state_budget = 1.0 }\n"
    ).contribution
    assert (flat.kind, flat.amount, flat.household_cap) == ("flat", 12000, 60000)
    assert flat.subsidies[0].shares == (("state_budget", RATIO_SCALE),)
    wage = load_policy_text(
        GOOD
        + '\n[contribution]\nkind = "wage_share"\nreference_wage = "2340000.00"\nshare = 0.045\n'
        + "rank_factors = [1, 0.7, 0.6]\n"
    ).contribution
    assert (wage.reference_wage, wage.share, wage.rank_factors) == (234000000, 45_000, (RATIO_SCALE, 700_000, 600_000))
    text = (
        GOOD
        + '\n[contribution]\nkind = "flat"\namount = "120.00"\nshare = 0.1\n'
        + '[[contribution.subsidy]]\nwhen = { care_type = ["inpatient"] }\nshares = { a = 0.6, b = 0.5 }\n'
    )
    problems = problems_of(text)
    assert {p.key for p in problems} == {
        "contribution.share",
        "contribution.subsidy[0].when.care_type",
        "contribution.subsidy[0].shares",
    }


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_policy_from_file_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.toml", GOOD.replace("{ ratio = 0.75 }", "{ ratio = 2 }"))
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    assert raised.value.problems[0].file == str(path)
    missing = tmp_path / "missing.toml"
    with pytest.raises(PolicyError) as raised:
        load_policy(missing)
    assert "cannot read" in raised.value.problems[0].message


def test_overlapping_periods_of_the_same_id(tmp_path: Path) -> None:
    first = write(tmp_path, "a.toml", GOOD)
    overlapping = write(
        tmp_path, "b.toml", GOOD.replace("2018-01-01", "2018-07-01").replace("2018-12-31", "2019-06-30")
    )
    following = write(
        tmp_path, "c.toml", GOOD.replace("2018-01-01", "2019-07-01").replace("effective_to = 2018-12-31\n", "")
    )
    other_id = write(tmp_path, "d.toml", GOOD.replace('id = "test-2018"', 'id = "other"'))
    problems = check_policies([first, overlapping, following, other_id])
    assert len(problems) == 1
    problem = problems[0]
    assert (problem.file, problem.key) == (str(overlapping), "policy.effective_from")
    assert problem.line == line_of(overlapping.read_text(), "effective_from")
    assert "a.toml" in problem.message
    # An open-ended period overlaps everything after its start.
    later = write(tmp_path, "e.toml", GOOD.replace("2018-01-01", "2020-01-01").replace("2018-12-31", "2020-12-31"))
    assert [p.file for p in check_policies([following, later])] == [str(later)]


def test_check_policies_collects_every_file(tmp_path: Path) -> None:
    bad_one = write(tmp_path, "one.toml", GOOD.replace("{ ratio = 0.75 }", "{ ratio = 2 }"))
    bad_two = write(tmp_path, "two.toml", GOOD.replace('payer = "Tilt"', 'payer = "Tilt'))
    good = write(tmp_path, "good.toml", GOOD.replace('id = "test-2018"', 'id = "good"'))
    problems = check_policies([bad_one, bad_two, good])
    assert [p.file for p in problems] == [str(bad_one), str(bad_two)]
