"""``equicover generate`` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from sqlalchemy import text
from typer.testing import CliRunner

from equicover.db.engine import make_engine
from equicover.synth.cli import generate

app = typer.Typer()
app.command()(generate)
runner = CliRunner()


def test_no_db_writes_only_the_claims_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["--people", "800", "--seed", "4", "--claims", "out/claims.parquet", "--no-db"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "claims.parquet").stat().st_size > 0
    assert not (tmp_path / "equicover.db").exists()


def test_loads_a_migrated_database_and_refuses_the_same_seed_twice(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    arguments = ["--people", "800", "--seed", "4", "--claims", str(tmp_path / "claims.csv"), "--database-url", url]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert "800" in result.output
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT COUNT(*) FROM persons")).scalar_one() == 800
    finally:
        engine.dispose()
    again = runner.invoke(app, arguments)
    assert again.exit_code == 1
    assert "already loaded" in again.output
