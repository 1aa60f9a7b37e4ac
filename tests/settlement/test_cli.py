"""The settlement commands through Typer's CliRunner: files, exit statuses, no tracebacks."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from equicover.settlement.claims_file import CLAIM_COLUMNS
from equicover.settlement.cli import contributions, policy_app, settle

# Registered as equicover/cli.py registers them.
app = typer.Typer(pretty_exceptions_enable=False)
app.command()(settle)
app.add_typer(policy_app, name="policy")
app.command()(contributions)

POLICY = """\
[policy]
id = "cli-test"
name = "CLI test"
currency = "CNY"
effective_from = 2018-01-01
effective_to = 2018-12-31
provider_levels = ["township", "county"]
care_types = ["outpatient", "inpatient"]
source = "tests"

[[layer]]
id = "basic"
payer = "Basic insurance"
scope = "year"
  [[layer.variant]]
  bands = [ { upto = "1000.00", ratio = 0 }, { ratio = 0.8 } ]

[[layer]]
id = "tilt"
payer = "Tilt"
kind = "oop_cap"
max_share = 0.1
when = { in_area = true }

[contribution]
kind = "flat"
amount = "120.00"
household_cap = "600.00"

[[contribution.subsidy]]
when = { member_category = ["registered_poor"] }
shares = { state_budget = 1.0 }
"""


def row(claim_id: str, member: str, day: str, total: str, **changes: str) -> dict[str, str]:
    values = {
        "claim_id": claim_id,
        "member_id": member,
        "service_date": day,
        "provider_id": "P1",
        "provider_level": "county",
        "designated": "true",
        "in_area": "false",
        "referred": "false",
        "care_type": "inpatient",
        "diagnosis": "J18",
        "days": "1",
        "total": total,
        "eligible": total,
        "categories": "",
    }
    values.update(changes)
    return values


def write_claims(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = CLAIM_COLUMNS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    claims = write_claims(
        tmp_path / "claims.csv",
        [
            row("C2", "M1", "2018-04-01", "1500.00"),
            row("C1", "M1", "2018-03-01", "600.00"),
            row("D1", "M2", "2018-03-01", "2000.00", in_area="yes"),
        ],
    )
    return {"policy": policy, "claims": claims, "out": tmp_path / "out.csv", "dir": tmp_path}


def run(*args: str | Path):
    result = CliRunner().invoke(app, [str(arg) for arg in args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_settle_realtime_writes_the_settlements(files: dict[str, Path]) -> None:
    result = run(
        "settle",
        "--policy",
        files["policy"],
        "--claims",
        files["claims"],
        "--out",
        files["out"],
        "--engine",
        "realtime",
    )
    assert result.exit_code == 0, result.output
    assert "Settled 3 claim(s)" in result.output
    rows = read_rows(files["out"])
    assert [r["claim_id"] for r in rows] == ["C1", "C2", "D1"]
    c1, c2, d1 = rows
    # year scope: C1 uses 600 of the 1000 deductible, C2 the other 400, then 0.8 x 1100 = 880
    assert (c1["paid_basic"], c2["paid_basic"], c2["member_oop"]) == ("0.00", "880.00", "620.00")
    # D1: 0.8 x 1000 = 800; member would pay 1200, at most 10% of 2000 -> tilt pays 1000
    assert (d1["paid_basic"], d1["paid_tilt"], d1["member_oop"], d1["trail"]) == (
        "800.00", "1000.00", "200.00", "basic=v1 b1-2; tilt=max_share",
    )  # fmt: skip
    assert not (files["dir"] / "out.errors.csv").exists()


def test_settle_with_bad_rows_settles_the_good_ones_and_exits_1(files: dict[str, Path]) -> None:
    claims = write_claims(
        files["dir"] / "mixed.csv",
        [
            row("A", "M1", "2018-03-01", "100.00"),
            row("B", "M1", "2018-13-01", "100.00", care_type="dental"),
            row("A", "M2", "2018-03-01", "100.00"),
        ],
    )
    (files["dir"] / "out.errors.csv").write_text("stale", encoding="utf-8")
    result = run(
        "settle", "--policy", files["policy"], "--claims", claims, "--out", files["out"], "--engine", "realtime"
    )
    assert result.exit_code == 1
    assert "Rejected 2 row(s)" in result.output
    assert [r["claim_id"] for r in read_rows(files["out"])] == ["A"]
    assert read_rows(files["dir"] / "out.errors.csv") == [
        {"line": "3", "claim_id": "B", "field": "service_date", "reason": "not an ISO date (YYYY-MM-DD)"},
        {"line": "3", "claim_id": "B", "field": "care_type", "reason": "unknown care type"},
        {"line": "4", "claim_id": "A", "field": "claim_id", "reason": "duplicate claim_id, first at line 2"},
    ]


def test_a_clean_run_removes_a_stale_errors_file(files: dict[str, Path]) -> None:
    stale = files["dir"] / "out.errors.csv"
    stale.write_text("line,claim_id,field,reason\n9,X,total,old\n", encoding="utf-8")
    result = run(
        "settle",
        "--policy",
        files["policy"],
        "--claims",
        files["claims"],
        "--out",
        files["out"],
        "--engine",
        "realtime",
    )
    assert result.exit_code == 0
    assert not stale.exists()


def test_settle_with_a_bad_policy_settles_nothing(files: dict[str, Path]) -> None:
    bad = files["dir"] / "bad.toml"
    bad.write_text(POLICY.replace("ratio = 0.8", "ratio = 8"), encoding="utf-8")
    result = run("settle", "--policy", bad, "--claims", files["claims"], "--out", files["out"], "--engine", "realtime")
    assert result.exit_code == 2
    line = POLICY.splitlines().index('  bands = [ { upto = "1000.00", ratio = 0 }, { ratio = 0.8 } ]') + 1
    assert f"{bad}:{line}: layer[0].variant[0].bands[1].ratio" in result.output
    assert not files["out"].exists()


@pytest.mark.parametrize("engine", ["realtime", "batch"])
def test_unreadable_claims_exit_2(files: dict[str, Path], engine: str) -> None:
    missing_columns = write_claims(
        files["dir"] / "short.csv", [row("A", "M1", "2018-03-01", "1.00")], CLAIM_COLUMNS[:-2]
    )
    result = run(
        "settle", "--policy", files["policy"], "--claims", missing_columns, "--out", files["out"], "--engine", engine
    )
    assert result.exit_code == 2
    assert "eligible" in result.output and "categories" in result.output
    absent = run(
        "settle",
        "--policy",
        files["policy"],
        "--claims",
        files["dir"] / "none.csv",
        "--out",
        files["out"],
        "--engine",
        engine,
    )
    assert absent.exit_code == 2
    assert "cannot be read" in absent.output


def test_unknown_engine_and_missing_policy_exit_2(files: dict[str, Path]) -> None:
    result = run(
        "settle", "--policy", files["policy"], "--claims", files["claims"], "--out", files["out"], "--engine", "abacus"
    )
    assert result.exit_code == 2
    assert "unknown engine" in result.output
    result = run("settle", "--policy", files["dir"] / "nope.toml", "--claims", files["claims"], "--out", files["out"])
    assert result.exit_code == 2
    assert "cannot read the policy file" in result.output


def test_settle_batch_engine_gives_the_realtime_file(files: dict[str, Path]) -> None:
    realtime_out = files["dir"] / "realtime.csv"
    assert (
        run(
            "settle",
            "--policy",
            files["policy"],
            "--claims",
            files["claims"],
            "--out",
            realtime_out,
            "--engine",
            "realtime",
        ).exit_code
        == 0
    )
    result = run(
        "settle", "--policy", files["policy"], "--claims", files["claims"], "--out", files["out"], "--engine", "batch"
    )
    assert result.exit_code == 0, result.output
    assert read_rows(files["out"]) == read_rows(realtime_out)


def test_policy_check_reports_and_exits(files: dict[str, Path]) -> None:
    good = run("policy", "check", files["policy"])
    assert good.exit_code == 0
    assert f"ok  {files['policy']}" in good.output
    bad = files["dir"] / "bad.toml"
    bad.write_text(POLICY.replace('payer = "Tilt"', 'payer = "Tilt"\ncap_per_claim = "5.00"'), encoding="utf-8")
    result = run("policy", "check", files["policy"], bad)
    assert result.exit_code == 1
    assert "layer[1].cap_per_claim" in result.output
    assert "1 problem(s) in 1 file(s)" in result.output
    overlapping = files["dir"] / "again.toml"
    overlapping.write_text(
        POLICY.replace("2018-01-01", "2018-06-01").replace("2018-12-31", "2019-05-31"), encoding="utf-8"
    )
    result = run("policy", "check", files["policy"], overlapping)
    assert result.exit_code == 1
    assert "overlaps" in result.output


def test_policy_check_syntax_error(files: dict[str, Path]) -> None:
    broken = files["dir"] / "broken.toml"
    broken.write_text("[policy\nid = 1\n", encoding="utf-8")
    result = run("policy", "check", broken)
    assert result.exit_code == 1
    assert f"{broken}:1:" in result.output


def test_policy_explain_by_claim_id_and_row_number(files: dict[str, Path]) -> None:
    result = run("policy", "explain", files["policy"], "--claims", files["claims"], "--claim", "C2")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "after 1 earlier claim(s) of member M1" in text
    assert "positions 600.00 to 2100.00" in text
    assert "band 1 [0.00, 1000.00] ratio 0: overlap 400.00" in text
    assert "band 2 [1000.00, open] ratio 0.8: overlap 1100.00 -> 880.00" in text
    assert "position 600.00 -> 2100.00" in text
    assert "layer tilt" in text and "does not apply" in text
    assert "trail: basic=v1 b1-2; tilt=-" in text
    by_row = run("policy", "explain", files["policy"], "--claims", files["claims"], "--claim", "3")
    assert by_row.exit_code == 0
    assert "claim D1" in by_row.output
    assert "limit max_share: 200.00" in by_row.output


def test_policy_explain_of_a_rejected_or_unknown_claim(files: dict[str, Path]) -> None:
    claims = write_claims(files["dir"] / "bad.csv", [row("X", "M1", "2018-03-01", "abc")])
    rejected = run("policy", "explain", files["policy"], "--claims", claims, "--claim", "X")
    assert rejected.exit_code == 1
    assert "total: not a decimal amount" in rejected.output
    unknown = run("policy", "explain", files["policy"], "--claims", claims, "--claim", "Y")
    assert unknown.exit_code == 2
    assert "no claim 'Y'" in unknown.output


def test_contributions_command(files: dict[str, Path]) -> None:
    members = files["dir"] / "members.csv"
    members.write_text(
        "household_id,member_id,categories\n" + "".join(f"H1,A{i},\n" for i in range(1, 7)) + "H2,B1,registered_poor\n",
        encoding="utf-8",
    )
    out = files["dir"] / "contributions.csv"
    result = run("contributions", "--policy", files["policy"], "--members", members, "--out", out)
    assert result.exit_code == 0, result.output
    rows = [(r["member_id"], r["payer"], r["amount"]) for r in read_rows(out)]
    assert rows[:6] == [(f"A{i}", "member", "120.00") for i in range(1, 6)] + [("A6", "member", "0.00")]
    assert rows[6:] == [("B1", "state_budget", "120.00"), ("B1", "member", "0.00")]
    assert "state_budget: 120.00 CNY" in result.output


def test_contributions_errors(files: dict[str, Path]) -> None:
    members = files["dir"] / "members.csv"
    members.write_text("household_id,member_id,categories\nH1,A,\nH1,A,\n", encoding="utf-8")
    out = files["dir"] / "contributions.csv"
    result = run("contributions", "--policy", files["policy"], "--members", members, "--out", out)
    assert result.exit_code == 1
    assert "duplicate member_id" in result.output
    assert not out.exists()
    no_rules = files["dir"] / "no_rules.toml"
    no_rules.write_text(POLICY.split("[contribution]")[0], encoding="utf-8")
    result = run("contributions", "--policy", no_rules, "--members", members, "--out", out)
    assert result.exit_code == 2
    assert "no [contribution] rules" in result.output
