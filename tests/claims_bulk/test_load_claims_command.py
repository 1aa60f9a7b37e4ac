"""``equicover load-claims``: one command settles and stores a file, accumulators included."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from equicover.cli import app
from equicover.synth.parameters import SCHEME_CODE

POLICY = Path(__file__).resolve().parents[2] / "policies" / "cn-yaan-2018.toml"
LOAD = ["load-claims", "--policy", str(POLICY), "--claims"]  # then the claims file and the options


def test_load_claims_settles_and_stores_with_accumulators(cli_database: str, tmp_path: Path) -> None:
    runner = CliRunner()
    claims = tmp_path / "claims.csv"
    made = runner.invoke(app, ["generate", "--people", "150", "--seed", "4", "--claims", str(claims)])
    assert made.exit_code == 0, made.output
    loaded = runner.invoke(app, [*LOAD, str(claims), "--scheme", SCHEME_CODE, "--synthetic-submission"])
    assert loaded.exit_code == 0, loaded.output
    assert "accumulators" in loaded.output and "set aside before settlement" in loaded.output
    engine = create_engine(cli_database)
    with engine.connect() as connection:
        claims_stored = connection.execute(text("SELECT count(*) FROM claims")).scalar()
        accumulators = connection.execute(text("SELECT count(*) FROM accumulators")).scalar()
        same_key = (
            "d.policy_id = a.policy_id AND d.member_id = a.member_id AND d.layer_id = a.layer_id "
            "AND d.benefit_year = a.benefit_year"
        )

        def moved(column: str) -> str:
            return f"(SELECT coalesce(sum(d.{column}), 0) FROM claim_accumulator_deltas d WHERE {same_key})"

        unbalanced = connection.execute(
            text(
                f"SELECT count(*) FROM accumulators a WHERE position <> {moved('position')} OR paid <> {moved('paid')}"
            )
        ).scalar()
    engine.dispose()
    assert claims_stored == sum(1 for _ in claims.open()) - 1
    assert accumulators > 0 and unbalanced == 0

    # A file loaded again is refused (its claim ids are stored); nothing more is written.
    again = runner.invoke(app, [*LOAD, str(claims), "--scheme", SCHEME_CODE])
    assert again.exit_code == 1


def test_old_settlements_option_is_ignored_with_a_note(cli_database: str, tmp_path: Path) -> None:
    runner = CliRunner()
    claims = tmp_path / "claims.csv"
    assert runner.invoke(app, ["generate", "--people", "60", "--seed", "2", "--claims", str(claims)]).exit_code == 0
    loaded = runner.invoke(app, [*LOAD, str(claims), "--scheme", SCHEME_CODE, "--settlements", str(claims)])
    assert loaded.exit_code == 0, loaded.output
    assert "--settlements is ignored" in loaded.output
