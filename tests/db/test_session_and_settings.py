"""Settings pick the database; session_scope commits once or rolls everything back."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from equicover.db.session import session_scope
from equicover.db.settings import DATABASE_URL_ENV, database_url
from equicover.registry.models import Location


def test_default_database_is_a_sqlite_file_in_the_working_directory(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert database_url() == f"sqlite:///{tmp_path.resolve() / 'equicover.db'}"


def test_environment_selects_postgresql_with_psycopg(monkeypatch) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://postgres@127.0.0.1:5432/equicover")
    assert database_url() == "postgresql+psycopg://postgres@127.0.0.1:5432/equicover"
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql+psycopg://u@h/db")
    assert database_url() == "postgresql+psycopg://u@h/db"


def _location_count(factory) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(Location))


def test_session_scope_commits_on_success(session_factory) -> None:
    with session_scope(session_factory) as session:
        session.add(Location(code="X1", name="x", level="country"))
    assert _location_count(session_factory) == 1


def test_session_scope_rolls_back_everything_on_error(session_factory) -> None:
    def write_two_locations_then_fail() -> None:
        with session_scope(session_factory) as session:
            session.add(Location(code="X1", name="x", level="country"))
            session.flush()
            session.add(Location(code="X2", name="y", level="country"))
            session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_two_locations_then_fail()
    assert _location_count(session_factory) == 0
