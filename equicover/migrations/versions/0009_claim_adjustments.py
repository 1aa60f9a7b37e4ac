"""Adjustments of settled claims: reversals after payment and year-end reconciliation.

``claim_adjustments`` holds what a settled claim pays more or less than its ``claim_payments``
(per payer, and the member's share); ``reconciliation_runs`` each year-end reconciliation;
``payment_batch_adjustments`` which batch netted an adjustment with its provider.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("benefit_year", sa.Integer(), nullable=False),
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.Column("adjusted_claims", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["scheme_id"], ["schemes.id"], name=op.f("fk_reconciliation_runs_scheme_id_schemes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_runs")),
    )
    with op.batch_alter_table("reconciliation_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reconciliation_runs_scheme_id"), ["scheme_id"], unique=False)

    op.create_table(
        "claim_adjustments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_pk", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("payer", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("cause_claim_pk", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint("kind IN ('layer', 'allowance', 'member')", name=op.f("ck_claim_adjustments_kind")),
        sa.CheckConstraint(
            "cause IN ('reversal', 'resettlement', 'reconciliation')", name=op.f("ck_claim_adjustments_cause")
        ),
        sa.CheckConstraint(
            "reason IN ('payer_top_up', 'payer_recovery', 'member_refund', 'member_owes_more')",
            name=op.f("ck_claim_adjustments_reason"),
        ),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_claim_adjustments_amount_not_zero")),
        sa.ForeignKeyConstraint(["claim_pk"], ["claims.id"], name=op.f("fk_claim_adjustments_claim_pk_claims")),
        sa.ForeignKeyConstraint(
            ["cause_claim_pk"], ["claims.id"], name=op.f("fk_claim_adjustments_cause_claim_pk_claims")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["reconciliation_runs.id"], name=op.f("fk_claim_adjustments_run_id_reconciliation_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_adjustments")),
    )
    with op.batch_alter_table("claim_adjustments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claim_adjustments_claim_pk"), ["claim_pk"], unique=False)
        batch_op.create_index(batch_op.f("ix_claim_adjustments_run_id"), ["run_id"], unique=False)

    op.create_table(
        "payment_batch_adjustments",
        sa.Column("adjustment_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["adjustment_id"],
            ["claim_adjustments.id"],
            name=op.f("fk_payment_batch_adjustments_adjustment_id_claim_adjustments"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["payment_batches.id"], name=op.f("fk_payment_batch_adjustments_batch_id_payment_batches")
        ),
        sa.PrimaryKeyConstraint("adjustment_id", name=op.f("pk_payment_batch_adjustments")),
    )
    with op.batch_alter_table("payment_batch_adjustments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_batch_adjustments_batch_id"), ["batch_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payment_batch_adjustments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_batch_adjustments_batch_id"))
    op.drop_table("payment_batch_adjustments")
    with op.batch_alter_table("claim_adjustments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claim_adjustments_run_id"))
        batch_op.drop_index(batch_op.f("ix_claim_adjustments_claim_pk"))
    op.drop_table("claim_adjustments")
    with op.batch_alter_table("reconciliation_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconciliation_runs_scheme_id"))
    op.drop_table("reconciliation_runs")
