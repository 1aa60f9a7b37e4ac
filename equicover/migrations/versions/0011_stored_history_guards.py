"""The stored history cannot be rewritten, even with plain SQL.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05

Triggers in the database itself, so that a script, a console session or a compromised account with
the application's credentials cannot quietly rewrite what was recorded:

- ``change_log`` and ``claim_payments``: append-only (no UPDATE, no DELETE). A payment a claim
  made is corrected by an adjustment line (``claim_adjustments``), never by editing the payment.
- ``claims``: never deleted; once stored, only the changes the product makes are allowed: a
  reversal (``status`` from settled to reversed, with ``reversed_at``, ``reversed_by`` and
  ``reversal_reason``) and a merge of duplicate persons (``person_id``). A reversed claim stays
  reversed.

On SQLite, a later migration that rebuilds one of these tables in batch mode drops its triggers:
it must create them again (``create_guards`` below).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = {
    "change_log": "the change log is append-only",
    "claim_payments": "claim payments are append-only: correct them with an adjustment",
}
CLAIM_CHANGES_ALLOWED = ("person_id", "status", "reversed_at", "reversed_by", "reversal_reason")
CLAIMS_REFUSAL = "a stored claim changes only by reversal or a merge of persons"


def _claim_columns_fixed() -> list[str]:
    columns = [column["name"] for column in sa.inspect(op.get_bind()).get_columns("claims")]
    return [name for name in columns if name not in CLAIM_CHANGES_ALLOWED]


def create_guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION equicover_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation'; END $$"
        )
        for table, message in APPEND_ONLY.items():
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION equicover_append_only('{message}')"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION equicover_append_only('{message}')"
            )
        allowed = ", ".join(f"'{name}'" for name in CLAIM_CHANGES_ALLOWED)
        op.execute(
            "CREATE FUNCTION equicover_claims_guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP = 'DELETE' THEN RAISE EXCEPTION '{CLAIMS_REFUSAL}' USING ERRCODE = 'restrict_violation'; END IF; "
            f"IF (to_jsonb(NEW) - ARRAY[{allowed}]) IS DISTINCT FROM (to_jsonb(OLD) - ARRAY[{allowed}]) "
            f"OR (OLD.status = 'reversed' AND NEW.status <> 'reversed') "
            f"THEN RAISE EXCEPTION '{CLAIMS_REFUSAL}' USING ERRCODE = 'restrict_violation'; END IF; "
            "RETURN NEW; END $$"
        )
        op.execute(
            "CREATE TRIGGER claims_guard BEFORE UPDATE OR DELETE ON claims "
            "FOR EACH ROW EXECUTE FUNCTION equicover_claims_guard()"
        )
        op.execute(
            "CREATE TRIGGER claims_no_truncate BEFORE TRUNCATE ON claims "
            f"FOR EACH STATEMENT EXECUTE FUNCTION equicover_append_only('{CLAIMS_REFUSAL}')"
        )
        return
    for table, message in APPEND_ONLY.items():
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )
    op.execute(
        f"CREATE TRIGGER claims_no_delete BEFORE DELETE ON claims BEGIN SELECT RAISE(ABORT, '{CLAIMS_REFUSAL}'); END"
    )
    fixed = ", ".join(_claim_columns_fixed())
    op.execute(
        f"CREATE TRIGGER claims_fixed_columns BEFORE UPDATE OF {fixed} ON claims "
        f"BEGIN SELECT RAISE(ABORT, '{CLAIMS_REFUSAL}'); END"
    )
    op.execute(
        "CREATE TRIGGER claims_stay_reversed BEFORE UPDATE OF status ON claims "
        "WHEN OLD.status = 'reversed' AND NEW.status <> 'reversed' "
        f"BEGIN SELECT RAISE(ABORT, '{CLAIMS_REFUSAL}'); END"
    )


def drop_guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER IF EXISTS claims_guard ON claims")
        op.execute("DROP TRIGGER IF EXISTS claims_no_truncate ON claims")
        op.execute("DROP FUNCTION IF EXISTS equicover_claims_guard()")
        op.execute("DROP FUNCTION IF EXISTS equicover_append_only()")
        return
    for table in APPEND_ONLY:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
    for name in ("claims_no_delete", "claims_fixed_columns", "claims_stay_reversed"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")


def upgrade() -> None:
    create_guards()


def downgrade() -> None:
    drop_guards()
