"""Drop the index on ``claim_accumulator_deltas.claim_pk`` alone (load).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

The unique ``(claim_pk, layer_id)`` index already serves every lookup by claim (a reversal reads a
claim's deltas by ``claim_pk``); the second index only cost each settled claim more writes and WAL.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("claim_accumulator_deltas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claim_accumulator_deltas_claim_pk"))


def downgrade() -> None:
    with op.batch_alter_table("claim_accumulator_deltas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claim_accumulator_deltas_claim_pk"), ["claim_pk"], unique=False)
