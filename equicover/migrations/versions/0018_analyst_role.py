"""The analyst role: ``users.role`` may be ``analyst`` (national aggregates and "what if", no
personal data).

On SQLite a CHECK constraint cannot be altered: the batch operation rebuilds ``users`` (copy, drop,
rename). Tokens, audit rows and other tables refer to ``users`` by foreign key, so the rebuild runs
with foreign-key enforcement off (``equicover.db.migrate`` turns it off around every SQLite upgrade
and checks every reference with ``PRAGMA foreign_key_check`` before committing). The clerk's rule
(a clerk has a provider) is rebuilt with the table.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = ("clerk", "registrar", "verifier", "fund_manager", "admin")
AFTER = (*BEFORE, "analyst")


def _roles(roles: tuple[str, ...]) -> str:
    return "role IN (" + ", ".join(f"'{role}'" for role in roles) + ")"


def _set_roles(roles: tuple[str, ...]) -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_users_role"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_users_role"), _roles(roles))


def upgrade() -> None:
    _set_roles(AFTER)


def downgrade() -> None:
    # An analyst's account has no place in the older schema: it is removed with its tokens.
    op.execute("DELETE FROM api_tokens WHERE user_id IN (SELECT id FROM users WHERE role = 'analyst')")
    op.execute("DELETE FROM users WHERE role = 'analyst'")
    _set_roles(BEFORE)
