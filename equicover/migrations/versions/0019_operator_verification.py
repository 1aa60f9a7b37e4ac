"""Verification of Health Equity Fund operators: reviews of their acts and recoveries.

``operator_reviews``: an act of an operator drawn for review (a hospital post-identification or a
benefit it paid to a patient), what the funds paid because of it, and the verifier's finding.
``operator_recoveries``: what a finding takes back from the operator, per fund, until a payment
to the operator deducts it.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operator_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("act", sa.String(length=16), nullable=False),
        sa.Column("hospital_case_id", sa.Integer(), nullable=True),
        sa.Column("claim_payment_id", sa.Integer(), nullable=True),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("act_date", sa.Date(), nullable=False),
        sa.Column("at_stake", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("disallowed", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drawn_by", sa.String(length=100), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("act IN ('hospital_case', 'benefit')", name=op.f("ck_operator_reviews_act")),
        sa.CheckConstraint(
            "status IN ('pending', 'justified', 'not_justified')", name=op.f("ck_operator_reviews_status")
        ),
        sa.CheckConstraint(
            "disallowed >= 0 AND disallowed <= at_stake", name=op.f("ck_operator_reviews_disallowed")
        ),
        sa.CheckConstraint(
            "(act = 'hospital_case' AND hospital_case_id IS NOT NULL AND claim_payment_id IS NULL)"
            " OR (act = 'benefit' AND claim_payment_id IS NOT NULL AND hospital_case_id IS NULL)",
            name=op.f("ck_operator_reviews_act_row"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["programme_organisations.id"],
            name=op.f("fk_operator_reviews_organisation_id_programme_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["hospital_case_id"],
            ["targeting_hospital_cases.id"],
            name=op.f("fk_operator_reviews_hospital_case_id_targeting_hospital_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["claim_payment_id"],
            ["claim_payments.id"],
            name=op.f("fk_operator_reviews_claim_payment_id_claim_payments"),
        ),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"], name=op.f("fk_operator_reviews_provider_id_providers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_reviews")),
        sa.UniqueConstraint("hospital_case_id", name=op.f("uq_operator_reviews_hospital_case_id")),
        sa.UniqueConstraint("claim_payment_id", name=op.f("uq_operator_reviews_claim_payment_id")),
    )
    with op.batch_alter_table("operator_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_operator_reviews_organisation_id"), ["organisation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_operator_reviews_status"), ["status"], unique=False)
    op.create_table(
        "operator_recoveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("fund_code", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.Column("deducted_in", sa.String(length=100), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_operator_recoveries_amount_positive")),
        sa.ForeignKeyConstraint(
            ["review_id"], ["operator_reviews.id"], name=op.f("fk_operator_recoveries_review_id_operator_reviews")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["programme_organisations.id"],
            name=op.f("fk_operator_recoveries_organisation_id_programme_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_recoveries")),
    )
    with op.batch_alter_table("operator_recoveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_operator_recoveries_review_id"), ["review_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_operator_recoveries_organisation_id"), ["organisation_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("operator_recoveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operator_recoveries_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_operator_recoveries_review_id"))
    op.drop_table("operator_recoveries")
    with op.batch_alter_table("operator_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operator_reviews_status"))
        batch_op.drop_index(batch_op.f("ix_operator_reviews_organisation_id"))
    op.drop_table("operator_reviews")
