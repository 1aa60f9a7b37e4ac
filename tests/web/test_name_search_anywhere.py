"""A name is found by any of its words, not only its first: on PostgreSQL from trigram indexes, on
SQLite by reading the table; the family name's bearers still come first."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from equicover.web import queries
from tests.web.test_name_search import _clerk_client, _found

NAMES = ("杨飞", "Yang Fei", "Fei Wong", "王芳", "Nguyễn Văn Phi", "Léa Feiner")


@pytest.fixture
def anywhere_client(session_factory: sessionmaker[Session], session: Session):
    return _clerk_client(session_factory, session, NAMES)


def test_a_later_word_of_the_name_finds_the_person_after_those_it_begins(anywhere_client) -> None:
    found = _found(anywhere_client, "fei")
    # The name that begins with it first; then those with a later word beginning with it, or holding it.
    assert found[0] == "Fei Wong"
    assert set(found[1:]) == {"杨飞", "Yang Fei", "Léa Feiner"}
    assert "王芳" not in found and "Nguyễn Văn Phi" not in found


def test_text_inside_a_word_is_found_last(anywhere_client) -> None:
    assert _found(anywhere_client, "einer") == ["Léa Feiner"]
    assert _found(anywhere_client, "ANG F")[:1] == ["Yang Fei"]


def test_percent_and_underscore_match_themselves(anywhere_client) -> None:
    assert _found(anywhere_client, "f%i") == []
    assert _found(anywhere_client, "_ei") == []


def _plan(session: Session, statement) -> str:
    compiled = statement.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
    # Whether the index can serve the search, whatever the other tests left in the tables: with
    # neither a sequential nor a plain index scan, a filter on the name is read from a bitmap of an
    # index whose condition it is, or not at all.
    session.execute(text("SET LOCAL enable_seqscan = off"))
    session.execute(text("SET LOCAL enable_indexscan = off"))
    return "\n".join(row[0] for row in session.execute(text(f"EXPLAIN {compiled}")))


def _tier_queries(monkeypatch) -> list:
    """The queries the search by name runs, tier by tier, as it runs them."""
    captured: list = []
    real = queries._person_rows

    def spy(session_: Session, query):
        captured.append(query)
        return real(session_, query)

    monkeypatch.setattr(queries, "_person_rows", spy)
    return captured


TRIGRAM_INDEXES = {"ix_persons_full_name_trgm", "ix_person_name_forms_romanised_words_trgm"}


def _index_names(session: Session) -> set[str]:
    inspector = sa_inspect(session.get_bind())
    return {index["name"] for table in ("persons", "person_name_forms") for index in inspector.get_indexes(table)}


def test_the_search_reads_trigram_indexes_on_postgresql_and_sqlite_has_none(
    anywhere_client, session: Session, monkeypatch
) -> None:
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no trigram index: its schema holds none, and the search still answers (above).
        assert not TRIGRAM_INDEXES & _index_names(session)
        return
    assert TRIGRAM_INDEXES <= _index_names(session)
    assert session.scalar(text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")) == 1
    captured = _tier_queries(monkeypatch)
    queries._by_name(session, queries._person_select(), "fei", 50)
    plans = [_plan(session, query) for query in captured]
    # The tiers in order: name prefix, romanised prefix, written together, a later word, anywhere.
    assert len(plans) == 5
    assert "ix_person_name_forms_romanised_words_trgm" in plans[3], plans[3]
    assert "ix_persons_full_name_trgm" in plans[4]


def test_names_beginning_with_the_text_are_read_in_order_from_their_pattern_index(
    anywhere_client, session: Session, monkeypatch
) -> None:
    """A common family name matches a tenth of a province: its first page comes from the index in
    order (at most a sort within equal names), never from a sort of every match."""
    captured = _tier_queries(monkeypatch)
    found = queries._by_name(session, queries._person_select(), "yang", 1)
    assert [row.full_name for row in found] == ["Yang Fei"]
    if session.get_bind().dialect.name == "sqlite":
        return  # SQLite orders by the same expression; only PostgreSQL's plan is asked about
    compiled = captured[0].compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
    session.execute(text("SET LOCAL enable_seqscan = off"))
    session.execute(text("SET LOCAL enable_bitmapscan = off"))
    # a sort is taken only when nothing else gives the order: with the few rows of a test the
    # planner would sort them all rather than read the index in order
    session.execute(text("SET LOCAL enable_sort = off"))
    plan = "\n".join(row[0] for row in session.execute(text(f"EXPLAIN {compiled}")))
    assert "Index Scan using ix_persons_full_name_lower" in plan, plan
    assert not any(line.strip().startswith("->  Sort ") or line.startswith("Sort ") for line in plan.splitlines()), plan
