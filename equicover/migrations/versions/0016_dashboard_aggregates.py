"""The dashboard's running totals of the claims: ``dashboard_payments``, ``dashboard_provider_claims``,
``dashboard_visits``, and how far they have read (``dashboard_fold``, ``dashboard_fold_holes``).

They start empty: the first fold (``equicover.reports.dashboard_totals``) reads every stored claim once.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dashboard_payments",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("payer", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("payment_rows", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "year", "month", "provider_id", "kind", "item_id", "payer", name=op.f("pk_dashboard_payments")
        ),
    )
    op.create_table(
        "dashboard_provider_claims",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.Column("poor_inpatient_claims", sa.Integer(), nullable=False),
        sa.Column("poor_inpatient_member_oop", sa.BigInteger(), nullable=False),
        sa.Column("poor_inpatient_allowed", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("year", "provider_id", name=op.f("pk_dashboard_provider_claims")),
    )
    op.create_table(
        "dashboard_visits",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", "district_id", name=op.f("pk_dashboard_visits")),
    )
    fold = op.create_table(
        "dashboard_fold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claims_upto", sa.BigInteger(), nullable=False),
        sa.Column("changes_upto", sa.BigInteger(), nullable=False),
        sa.Column("other_changes", sa.BigInteger(), nullable=False),
        sa.Column("folded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_fold")),
    )
    op.create_table(
        "dashboard_fold_holes",
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("awaited_until_xid", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("source", "record_id", name=op.f("pk_dashboard_fold_holes")),
    )
    # Nothing read yet: the first fold counts every stored claim.
    op.bulk_insert(
        fold,
        [
            {
                "id": 1,
                "claims_upto": 0,
                "changes_upto": 0,
                "other_changes": 0,
                "folded_at": dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
            }
        ],
    )


def downgrade() -> None:
    for table in (
        "dashboard_fold_holes",
        "dashboard_fold",
        "dashboard_visits",
        "dashboard_provider_claims",
        "dashboard_payments",
    ):
        op.drop_table(table)
