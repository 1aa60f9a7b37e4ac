"""`equicover simulate`: side by side on the console, CSV and XLSX out, bad input refused."""

from __future__ import annotations

import csv

import typer
from openpyxl import load_workbook
from typer.testing import CliRunner

from equicover.money import format_money
from equicover.settlement.loader import load_policy
from equicover.simulation.cli import simulate as simulate_command
from equicover.simulation.engine import simulate
from tests.simulation.test_simulate import HEADER
from tests.simulation.yaan_claims import POLICIES, YAAN, tilt_15, yaan_claims, yaan_variant

app = typer.Typer()
app.command()(simulate_command)


def test_two_policies_side_by_side_and_in_files(tmp_path):
    claims = yaan_claims(tmp_path / "claims.csv", claims=200, members=25, households=8)
    out = tmp_path / "out"
    variant = tilt_15(tmp_path)
    arguments = ["--claims", str(claims), "--policy", str(YAAN), "--policy", str(variant), "--out", str(out)]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert "Who pays (CNY)" in result.output and "Claims whose outcome changes most" in result.output
    expected = simulate([load_policy(YAAN), load_policy(variant)], claims)
    with (out / "totals.csv").open(encoding="utf-8") as handle:
        rows = {row["what"]: row for row in csv.DictReader(handle)}
    tilt = rows["layer tilt"]
    first, second = expected.figures
    difference = "2:cn-yaan-2018-tilt-15 minus 1:cn-yaan-2018"
    assert tilt["1:cn-yaan-2018"] == format_money(first.paid["tilt"], 2)
    assert tilt[difference] == format_money(second.paid["tilt"] - first.paid["tilt"], 2)
    assert rows["members' out-of-pocket"][difference] == format_money(second.member_oop - first.member_oop, 2)
    assert rows["all payers"][difference] == format_money(second.paid_total - first.paid_total, 2)
    book = load_workbook(out / "simulation.xlsx")
    assert book.sheetnames == ["totals", "equity", "by_category", "by_district", "changed_claims"]
    for name in ("equity", "by_category", "by_district", "changed_claims"):
        assert (out / f"{name}.csv").stat().st_size > 0


def test_a_draft_policy_failing_its_check_is_refused_with_file_line_and_key(tmp_path):
    claims = yaan_claims(tmp_path / "claims.csv", claims=5)
    draft = yaan_variant(tmp_path / "draft.toml", {'cap_per_year = "150000.00"': 'cap_per_year = "150000.001"'})
    result = CliRunner().invoke(app, ["--claims", str(claims), "--policy", str(YAAN), "--policy", str(draft)])
    assert result.exit_code == 2
    line = next(n for n, text in enumerate(draft.read_text().splitlines(), start=1) if "150000.001" in text)
    assert f"{draft}:{line}: layer[0].cap_per_year:" in result.output
    assert "nothing was simulated" in result.output


def test_claims_without_a_row_are_refused(tmp_path):
    empty = tmp_path / "claims.csv"
    empty.write_text(HEADER + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["--claims", str(empty), "--policy", str(YAAN)])
    assert result.exit_code == 2
    assert "no claims to settle: a base year needs claims" in result.output
    missing = CliRunner().invoke(app, ["--claims", str(tmp_path / "none.csv"), "--policy", str(YAAN)])
    assert missing.exit_code == 2 and "no such file" in missing.output
    stored = CliRunner().invoke(app, ["--claims", "stored:18", "--policy", str(YAAN)])
    assert stored.exit_code == 2 and "four-digit year" in stored.output


def test_rejected_rows_are_counted_and_written(tmp_path):
    claims = yaan_claims(tmp_path / "claims.csv", claims=20, members=5)
    text = claims.read_text(encoding="utf-8").replace(",township,", ",village,", 1)
    claims.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["--claims", str(claims), "--policy", str(YAAN), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "rejected 1 row(s)" in result.output
    (errors,) = out.glob("rejected-*.csv")
    assert ",provider_level,unknown provider level" in errors.read_text(encoding="utf-8")


def test_a_stored_year_from_the_command_line(cli_database, tmp_path):
    from equicover.db.engine import make_engine
    from equicover.db.session import make_session_factory, session_scope
    from tests import factories as make

    engine = make_engine(cli_database)
    try:
        with session_scope(make_session_factory(engine)) as session:
            make.vn_claims_world(session)
    finally:
        engine.dispose()
    vietnam = str(POLICIES / "vn-shi-2024.toml")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["--claims", "stored:2024", "--policy", vietnam, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "stored:2024: 8 settled claims (1 set aside" in result.output
    with (out / "totals.csv").open(encoding="utf-8") as handle:
        rows = {row["what"]: row for row in csv.DictReader(handle)}
    # A-OP0..3, A-IP0, A-IP1, B-OP0, B-IP0 (tests.factories.vn_claims_world)
    assert rows["layer shi"]["1:vn-shi-2024"] == str(
        320_000 + 450_000 + 400_000 + 550_000 + 6_000_000 + 7_200_000 + 300_000 + 9_600_000
    )
    with (out / "by_district.csv").open(encoding="utf-8") as handle:
        districts = {row["district"].split()[0] for row in csv.DictReader(handle)}
    assert districts == {"D1", "D2"}
    empty = CliRunner().invoke(app, ["--claims", "stored:2019", "--policy", vietnam])
    assert empty.exit_code == 2
    assert "no stored claims with a service date in 2019" in empty.output


VN_PROJECTION = """[projection]
id = "vn-stored"
name = "Two years ahead of the stored year"
policy = "{policy}"
base_year = 2024
base_claims = "stored:2024"
claims_population = 3
source = "a test"

[bootstrap]
draws = 40
seed = 7

[[area]]
id = "all"
people = 1000
growth = 0.05

[[group]]
name = "poor"
categories = ["registered_poor"]
population_share = 0.2
enrolled = {{ 2024 = 1.0 }}

[[group]]
name = "others"
categories = []
population_share = 0.8
enrolled = {{ 2024 = 0.6, 2026 = 0.8 }}

[[care_type]]
name = "inpatient"
utilisation_growth = 0.03
cost_growth = 0.05

[[fund]]
name = "Health insurance fund"
layers = ["shi", "copay_cap"]
contributions = true
"""


def test_a_projection_from_a_stored_year_equals_its_parts(cli_database, tmp_path):
    """The command reads the stored claims and the registry's enrolment of the base year in one
    session; its figures are those of the library's steps taken one by one."""
    from equicover.db.engine import make_engine
    from equicover.db.session import make_session_factory, session_scope
    from equicover.simulation.cli import project as project_command
    from equicover.simulation.engine import member_sums
    from equicover.simulation.projection import load_projection, parse_years, project
    from equicover.simulation.report import projection_sheets, write_sheets
    from equicover.simulation.stored import enrolled_by_group, stored_year_claims
    from tests import factories as make

    path = tmp_path / "projection.toml"
    path.write_text(VN_PROJECTION.format(policy=(POLICIES / "vn-shi-2024.toml").as_posix()), encoding="utf-8")
    loaded = load_projection(path)
    groups = [group.categories for group in loaded.groups]
    engine = make_engine(cli_database)
    try:
        with session_scope(make_session_factory(engine)) as session:
            make.vn_claims_world(session)
        with session_scope(make_session_factory(engine)) as session:
            stored = stored_year_claims(session=session, year=2024, default_minor_digits=0, with_consumption=False)
            counted = enrolled_by_group(session=session, year=2024, groups=groups)
    finally:
        engine.dispose()
    assert counted == [1, 2]
    expected = project(
        loaded, member_sums(loaded.policy, stored.table, groups), parse_years("2025-2026", 2024), counted=counted
    )
    by_hand = write_sheets(tmp_path / "by-hand", projection_sheets(expected), "projection.xlsx")

    runner = typer.Typer()
    runner.command()(project_command)
    out = tmp_path / "out"
    result = CliRunner().invoke(runner, ["--projection", str(path), "--years", "2025-2026", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "stored:2024: 8 settled claims" in result.output
    for written in by_hand:
        if written.suffix == ".csv":
            assert (out / written.name).read_text(encoding="utf-8") == written.read_text(encoding="utf-8"), written
    funds = (out / "funds.csv").read_text(encoding="utf-8").splitlines()
    assert len(funds) == 3 and funds[1].startswith("2025,Health insurance fund,")
