"""The dashboard's coverage kept current (``dashboard_coverage_dates``, ``_persons``,
``_holdings``, ``_groups``: built once per date, then moved person by person with the change log);
and name search anywhere in the name on PostgreSQL: trigram (pg_trgm) GIN indexes on
``lower(persons.full_name)`` and on the romanised form's words (``' ' || romanised``), so that LIKE
'%fei%' and LIKE '% fei%' read an index instead of every person. SQLite has no trigram index; there
the searches beyond a prefix read the table, as before.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "dashboard_coverage_dates",
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("on_date", name=op.f("pk_dashboard_coverage_dates")),
    )
    op.create_table(
        "dashboard_coverage_persons",
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("enrolled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("on_date", "person_id", name=op.f("pk_dashboard_coverage_persons")),
    )
    op.create_table(
        "dashboard_coverage_holdings",
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("on_date", "person_id", "category", name=op.f("pk_dashboard_coverage_holdings")),
    )
    op.create_table(
        "dashboard_coverage_groups",
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("grouping", sa.String(length=16), nullable=False),
        sa.Column("group_key", sa.String(length=64), nullable=False),
        sa.Column("eligible", sa.Integer(), nullable=False),
        sa.Column("enrolled", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("on_date", "grouping", "group_key", name=op.f("pk_dashboard_coverage_groups")),
    )
    # The consultations total now counts primary-care visits only, where the policy names that level:
    # the totals kept so far are counted again from the stored claims at the next fold.
    for table in ("dashboard_payments", "dashboard_provider_claims", "dashboard_visits", "dashboard_fold_holes"):
        op.execute(f"DELETE FROM {table}")
    op.execute("UPDATE dashboard_fold SET claims_upto = 0, changes_upto = 0")
    if not _postgresql():
        return
    # The extension ships with PostgreSQL (contrib) and is trusted: a database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_persons_full_name_trgm",
        "persons",
        [sa.func.lower(sa.column("full_name")).label("full_name_lower")],
        postgresql_using="gin",
        postgresql_ops={"full_name_lower": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_person_name_forms_romanised_words_trgm",
        "person_name_forms",
        [sa.literal_column("(' ' || romanised)").label("romanised_words")],
        postgresql_using="gin",
        postgresql_ops={"romanised_words": "gin_trgm_ops"},
    )


def downgrade() -> None:
    if _postgresql():
        op.drop_index("ix_person_name_forms_romanised_words_trgm", table_name="person_name_forms")
        op.drop_index("ix_persons_full_name_trgm", table_name="persons")
        # The extension stays: other objects of the database may use it.
    op.drop_table("dashboard_coverage_groups")
    op.drop_table("dashboard_coverage_holdings")
    op.drop_table("dashboard_coverage_persons")
    op.drop_table("dashboard_coverage_dates")
