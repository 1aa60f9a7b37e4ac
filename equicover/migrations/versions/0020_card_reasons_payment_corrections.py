"""Why a card is suspended or cancelled (``member_cards.status_reason``, the ``cancelled``
status of a merged-away person's card), and ``payment_corrections``: amounts owed to or by a
provider outside its claims (a batch corrected on a grievance, a recovery repaid after its
finding was reversed), netted in the provider's next payment batch.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "status IN ('issued', 'active', 'suspended', 'lost', 'replaced', 'expired')"
NEW_STATUSES = "status IN ('issued', 'active', 'suspended', 'lost', 'replaced', 'expired', 'cancelled')"


def upgrade() -> None:
    with op.batch_alter_table("member_cards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_reason", sa.String(length=200), nullable=True))
        batch_op.drop_constraint(op.f("ck_member_cards_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_member_cards_status"), NEW_STATUSES)
    op.create_table(
        "payment_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("fund_code", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.Column("payment_batch_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_payment_corrections_amount_not_zero")),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_payment_corrections_provider_id_providers")
        ),
        sa.ForeignKeyConstraint(
            ["payment_batch_id"],
            ["payment_batches.id"],
            name=op.f("fk_payment_corrections_payment_batch_id_payment_batches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_corrections")),
    )
    op.create_index(op.f("ix_payment_corrections_provider_id"), "payment_corrections", ["provider_id"])
    op.create_index(op.f("ix_payment_corrections_payment_batch_id"), "payment_corrections", ["payment_batch_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_payment_corrections_payment_batch_id"), table_name="payment_corrections")
    op.drop_index(op.f("ix_payment_corrections_provider_id"), table_name="payment_corrections")
    op.drop_table("payment_corrections")
    with op.batch_alter_table("member_cards", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_member_cards_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_member_cards_status"), OLD_STATUSES)
        batch_op.drop_column("status_reason")
