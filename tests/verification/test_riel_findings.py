"""A verifier's finding on a claim counted in whole riel: ``equicover verify`` reads and shows the
amounts in the claim's own digits, refuses sen and another currency, and books whole riel."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from equicover.db.engine import make_engine
from equicover.verification.models import ClaimReview, Recovery
from tests.riel_world import seed_database


@pytest.fixture
def riel_database(empty_db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    seed_database(empty_db_url)
    monkeypatch.setenv("EQUICOVER_DATABASE_URL", empty_db_url)
    return empty_db_url


def _run(*arguments: str):
    from equicover.cli import app

    return CliRunner().invoke(app, list(arguments))


def test_a_disallowance_in_whole_riel(riel_database: str) -> None:
    drawn = _run(
        "verify", "sample", "--from", "2015-03-01", "--to", "2015-03-31", "--random", "5", "--risk", "0", "--seed", "1"
    )
    assert drawn.exit_code == 0, drawn.output
    queue = _run("verify", "queue")
    assert queue.exit_code == 0 and "150000 KHR" in queue.output
    engine = make_engine(riel_database)
    try:
        with engine.connect() as connection:
            review_id = connection.scalar(select(ClaimReview.id))
        decide = ("verify", "decide", str(review_id), "disallow", "--reason", "drugs not given")
        sen = _run(*decide, "--amount", "100.50")
        assert sen.exit_code == 2 and "more than 0 decimal places" in sen.output
        other = _run(*decide, "--amount", "100", "--currency", "USD")
        assert other.exit_code == 1 and "USD is not the currency of the schemes (KHR)" in other.output
        done = _run(*decide, "--amount", "10000")
        assert done.exit_code == 0, done.output
        with engine.connect() as connection:
            assert list(connection.execute(select(Recovery.fund_code, Recovery.amount)).all()) == [("hef", 10_000)]
    finally:
        engine.dispose()
