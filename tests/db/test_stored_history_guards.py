"""The stored history cannot be rewritten with plain SQL: the database itself refuses."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from equicover.claims import service as claims
from tests import factories as make

REFUSED = [
    "UPDATE change_log SET actor = 'someone else'",
    "DELETE FROM change_log",
    "UPDATE claim_payments SET amount = amount + 1",
    "DELETE FROM claim_payments",
    "UPDATE claims SET total = total + 1",
    "UPDATE claims SET claim_id = 'another'",
    "UPDATE claims SET member_oop = 0",
    "DELETE FROM claims",
]


def _refused(session, statement: str) -> bool:
    try:
        with session.begin_nested():
            session.execute(text(statement))
    except DBAPIError:
        return True
    return False


@pytest.mark.parametrize("statement", REFUSED)
def test_plain_sql_cannot_rewrite_the_stored_history(session, statement: str) -> None:
    make.vn_claims_world(session)
    before = session.execute(text("SELECT count(*) FROM claims")).scalar_one()
    assert _refused(session, statement), statement
    assert session.execute(text("SELECT count(*) FROM claims")).scalar_one() == before


def test_the_changes_the_product_makes_are_allowed_and_a_reversal_is_final(session) -> None:
    world = make.vn_claims_world(session)
    claim = claims.get_claim(session=session, claim_id="A-OP0")
    claims.reverse_claim(session=session, claim_id="A-OP0", reason="not this patient", actor="verifier")
    session.flush()
    assert (
        session.execute(text("SELECT status FROM claims WHERE id = :id"), {"id": claim.id}).scalar_one() == "reversed"
    )
    assert _refused(session, f"UPDATE claims SET status = 'settled' WHERE id = {claim.id}")
    # A merge of duplicate persons moves claims to the surviving person.
    assert not _refused(session, f"UPDATE claims SET person_id = {world.other_person_id} WHERE id = {claim.id}")


def test_the_stored_history_cannot_be_truncated_on_postgresql(session) -> None:
    make.vn_claims_world(session)
    if session.connection().dialect.name != "postgresql":
        assert _refused(session, "DELETE FROM change_log")  # SQLite has no TRUNCATE: DELETE is the way, refused
        return
    for table in ("change_log", "claim_payments", "claims"):
        assert _refused(session, f"TRUNCATE {table} CASCADE"), table
