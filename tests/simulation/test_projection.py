"""Budget projection: arithmetic against a case worked by hand, ranges, refusals with file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from equicover.settlement.loader import PolicyError
from equicover.simulation.cli import project as project_command
from equicover.simulation.data_files import DataFileError
from equicover.simulation.engine import member_sums
from equicover.simulation.projection import Estimate, load_projection, parse_years, project
from tests.simulation.test_simulate import HALF, HEADER

app = typer.Typer()
app.command()(project_command)

POLICY = (
    HALF
    + """
[contribution]
kind = "flat"
amount = "100.00"
  [[contribution.subsidy]]
  when = { member_category = ["registered_poor"] }
  shares = { state_budget = 1.0 }
"""
)
CLAIMS = (
    HEADER,
    # a poor member's stay: the fund pays 300.00, the ceiling 180.00
    "C1,M1,2018-03-01,P,county,true,true,false,inpatient,K35.8,3,600.00,600.00,registered_poor",
    # someone else's visit: the fund pays 50.00
    "C2,M2,2018-03-02,P,county,true,true,false,outpatient,J06.9,0,100.00,100.00,",
)
PROJECTION = """[projection]
id = "small"
name = "A small case worked by hand"
policy = "policy.toml"
base_year = 2018
base_claims = "claims.csv"
claims_population = 100
source = "a test"

[bootstrap]
draws = 50
seed = 3

[[area]]
id = "all"
people = 1000
growth = 0.1

[[group]]
name = "poor"
categories = ["registered_poor"]
population_share = 0.1
enrolled = { 2018 = 1.0 }

[[group]]
name = "others"
categories = []
population_share = 0.9
enrolled = { 2018 = 0.5, 2020 = 1.0 }

[[care_type]]
name = "inpatient"
utilisation_growth = 0.1
cost_growth = 0

[[per_capita_subsidy]]
payer = "state_budget"
amount = "10.00"
fund = "Insurance fund"

[[fund]]
name = "Insurance fund"
layers = ["fund"]
contributions = true

[[fund]]
name = "County budget"
layers = ["ceiling"]
"""


def _write(folder: Path, projection: str = PROJECTION) -> Path:
    (folder / "policy.toml").write_text(POLICY, encoding="utf-8")
    (folder / "claims.csv").write_text("\n".join(CLAIMS) + "\n", encoding="utf-8")
    path = folder / "projection.toml"
    path.write_text(projection, encoding="utf-8")
    return path


def _run(path: Path, years: str = "2019-2020"):
    loaded = load_projection(path)
    sums = member_sums(loaded.policy, Path(loaded.base_claims), [group.categories for group in loaded.groups])
    return project(loaded, sums, parse_years(years, loaded.base_year))


def test_projection_arithmetic_worked_by_hand(tmp_path):
    result = _run(_write(tmp_path))
    # base enrolment: poor 100 x 0.1 x 1 = 10, others 100 x 0.9 x 0.5 = 45
    assert result.base_enrolled == {"poor": 10, "others": 45}
    first, second = result.years
    # 2019: 1,000 x 1.1 = 1,100 people; poor 110; others 1,100 x 0.9 x 0.5 (2018's target kept) = 495
    assert (first.population, first.enrolled) == (1100, {"poor": 110, "others": 495})
    # fund: 300.00 x 110/10 x 1.1 (inpatient use) + 50.00 x 495/45 = 3,630.00 + 550.00
    assert first.payments["fund"].point == 363_000 + 55_000
    # ceiling: 180.00 x 11 x 1.1
    assert first.payments["ceiling"].point == 217_800
    # contributions: the poor's 100.00 by the state, the others' by themselves; 10.00 a head more by the state
    assert first.contributions == {"state_budget": 1_100_000 + 605 * 1_000, "member": 4_950_000}
    assert first.fund_in == {"Insurance fund": 1_100_000 + 4_950_000 + 605_000, "County budget": 0}
    assert first.gap["Insurance fund"].point == 6_655_000 - 418_000
    assert first.gap["County budget"].point == -217_800
    # 2020: 1,210 people; poor 121; others at the new target 1,210 x 0.9 = 1,089
    assert (second.population, second.enrolled) == (1210, {"poor": 121, "others": 1089})
    # 300.00 x 12.1 x 1.21 + 50.00 x 1,089/45
    assert second.payments["fund"].point == 439_230 + 121_000


def test_the_range_comes_from_seeded_resampling(tmp_path):
    path = _write(tmp_path)
    first = _run(path).years[0]
    again = _run(path).years[0]
    assert first.payments == again.payments
    spread = first.payments["fund"]
    assert isinstance(spread, Estimate) and spread.low < spread.high
    gap = first.gap["Insurance fund"]
    assert gap.low == first.fund_in["Insurance fund"] - first.fund_payments["Insurance fund"].high
    reseeded = _run(_write(tmp_path, PROJECTION.replace("seed = 3", "seed = 4"))).years[0]
    assert reseeded.payments["fund"].point == spread.point
    assert (reseeded.payments["fund"].low, reseeded.payments["fund"].high) != (spread.low, spread.high)


def _line_of(text: str, fragment: str, after: str = "") -> int:
    lines = text.splitlines()
    start = next(n for n, line in enumerate(lines) if after in line) if after else 0
    return next(n for n, line in enumerate(lines[start:], start=start + 1) if fragment in line)


def test_shares_over_100_percent_are_refused_with_the_line(tmp_path):
    text = PROJECTION.replace("population_share = 0.9", "population_share = 0.95")
    path = _write(tmp_path, text)
    with pytest.raises(DataFileError) as refused:
        load_projection(path)
    (problem,) = refused.value.problems
    assert (problem.file, problem.key) == (str(path), "group")
    assert problem.line == _line_of(text, "[[group]]")
    assert "add up to 105%, over 100%" in problem.message
    text = PROJECTION.replace("enrolled = { 2018 = 1.0 }", "enrolled = { 2018 = 1.2 }")
    with pytest.raises(DataFileError) as refused:
        load_projection(_write(tmp_path, text))
    (problem,) = refused.value.problems
    assert (problem.key, problem.line) == ("group[0].enrolled.2018", _line_of(text, "2018 = 1.2"))


def test_a_syntax_error_is_refused_on_its_line_even_at_the_end_of_the_file(tmp_path):
    inside = PROJECTION.replace("people = 1000", "people = = 1000")
    with pytest.raises(DataFileError) as refused:
        load_projection(_write(tmp_path, inside))
    (problem,) = refused.value.problems
    assert problem.line == _line_of(inside, "people = = 1000") and problem.message.startswith("TOML syntax error")
    unfinished = PROJECTION.rstrip("\n") + "\nnote = [1, 2"
    with pytest.raises(DataFileError) as refused:
        load_projection(_write(tmp_path, unfinished))
    (problem,) = refused.value.problems
    assert problem.line == unfinished.count("\n") + 1 and "at the end of the file" in problem.message, problem


def test_growth_below_minus_100_percent_is_refused_with_the_line(tmp_path):
    text = PROJECTION.replace("people = 1000\ngrowth = 0.1", "people = 1000\ngrowth = -1.5").replace(
        "cost_growth = 0", "cost_growth = -2"
    )
    path = _write(tmp_path, text)
    with pytest.raises(DataFileError) as refused:
        load_projection(path)
    found = {(problem.key, problem.line) for problem in refused.value.problems}
    assert found == {
        ("area[0].growth", _line_of(text, "growth = -1.5")),
        ("care_type[0].cost_growth", _line_of(text, "cost_growth = -2")),
    }
    assert all("below -100%" in problem.message for problem in refused.value.problems)


def test_a_layer_no_fund_pays_and_an_unknown_layer_are_refused(tmp_path):
    text = PROJECTION.replace('layers = ["ceiling"]', 'layers = ["tilt"]')
    with pytest.raises(DataFileError) as refused:
        load_projection(_write(tmp_path, text))
    keys = {problem.key: problem.message for problem in refused.value.problems}
    assert keys["fund[1].layers[0]"] == "'tilt' is not a layer or allowance of half"
    assert keys["fund"] == "the layer 'ceiling' of half is paid by no fund"


def test_a_draft_policy_failing_its_check_is_refused(tmp_path):
    path = _write(tmp_path)
    (tmp_path / "policy.toml").write_text(POLICY.replace("max_share = 0.2", "max_share = 2"), encoding="utf-8")
    with pytest.raises(PolicyError) as refused:
        load_projection(path)
    assert refused.value.problems[0].key == "layer[1].max_share"
    result = CliRunner().invoke(app, ["--projection", str(path), "--years", "2019"])
    assert result.exit_code == 2
    assert "layer[1].max_share: ratio 2 is outside [0, 1]" in result.output


def test_a_base_year_without_claims_is_refused(tmp_path):
    path = _write(tmp_path)
    (tmp_path / "claims.csv").write_text(HEADER + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["--projection", str(path), "--years", "2019-2020"])
    assert result.exit_code == 2
    assert "no claims to settle: a base year needs claims" in result.output


def test_the_command_writes_the_funds_by_year(tmp_path):
    path = _write(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["--projection", str(path), "--years", "2019-2020", "--out", str(out)])
    assert result.exit_code == 0, result.output
    funds = (out / "funds.csv").read_text(encoding="utf-8").splitlines()
    assert funds[1].startswith("2019,Insurance fund,66550.00,4180.00,")
    assert ",62370.00," in funds[1]
    assert (out / "projection.xlsx").stat().st_size > 0
    early = CliRunner().invoke(app, ["--projection", str(path), "--years", "2017-2019"])
    assert early.exit_code == 2 and "after the base year 2018" in early.output


def test_the_shipped_projection_loads_with_the_shipped_policy():
    shipped = Path(__file__).resolve().parents[2] / "projections" / "cn-yaan-2019-2023.toml"
    loaded = load_projection(shipped)
    assert loaded.policy.id == "cn-yaan-2018" and loaded.base_claims == "stored:2018"
    assert sum(group.population_share for group in loaded.groups) == 1
    assert parse_years("2019-2023", loaded.base_year) == range(2019, 2024)


def test_the_draws_are_exact_sums_in_floating_point_as_in_integers(tmp_path, monkeypatch):
    import numpy as np

    from equicover.simulation import projection as projection_module

    loaded = load_projection(_write(tmp_path))
    rng = np.random.default_rng(11)
    # sums far past 2**26 minor units, where a plain float product would round
    matrix = rng.integers(0, 1 << 51, size=(40, 2 * 3 * 4), dtype=np.int64)
    matrix[:, 12:] = 0
    matrix[20:, :12] = 0
    matrix[20:, 12:] = rng.integers(0, 1 << 51, size=(20, 12), dtype=np.int64)
    groups = np.array([0] * 20 + [1] * 20)
    enrolled = {"poor": 50, "others": 70}
    in_floats = projection_module._bootstrap(loaded, matrix, groups, enrolled)
    monkeypatch.setattr(projection_module, "FLOAT_EXACT_PEOPLE", 0)
    in_integers = projection_module._bootstrap(loaded, matrix, groups, enrolled)
    assert in_floats == in_integers
    assert len(in_floats) == loaded.draws and any(value % 2 for draw in in_floats for value in draw)
