"""The coverage gaps kept with the dashboard's coverage (``dashboard_coverage_gaps``: per date,
the eligible persons holding a category whom no active enrolment covers, in household order), and
when a page last read a kept date (``dashboard_coverage_dates.read_at``).

The dates kept so far are dropped: the background refresher (or the first page to ask) counts
them again, gaps included.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in (
        "dashboard_coverage_groups",
        "dashboard_coverage_holdings",
        "dashboard_coverage_persons",
        "dashboard_coverage_dates",
    ):
        op.execute(f"DELETE FROM {table}")
    # SQLite adds a column without a default as nullable only: the batch copies the (empty) table.
    with op.batch_alter_table("dashboard_coverage_dates") as batch:
        batch.add_column(sa.Column("read_at", sa.DateTime(timezone=True), nullable=False))
    op.create_table(
        "dashboard_coverage_gaps",
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("household_code", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("on_date", "person_id", "category", name=op.f("pk_dashboard_coverage_gaps")),
    )
    op.create_index(
        "ix_dashboard_coverage_gaps_listing",
        "dashboard_coverage_gaps",
        ["on_date", "category", "household_code", "person_id"],
        postgresql_include=["location_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_dashboard_coverage_gaps_listing", table_name="dashboard_coverage_gaps")
    op.drop_table("dashboard_coverage_gaps")
    with op.batch_alter_table("dashboard_coverage_dates") as batch:
        batch.drop_column("read_at")
