"""Programme organisations: Health Equity Fund operators and the responsible organisations of
deprived neighbourhoods, and the areas each answers for.

``programme_organisations``: an organisation by code, its name and role (``hef_operator``,
``responsible_organisation``). ``organisation_areas``: the locations it answers for, at most one
organisation of each role per location.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = "role IN ('hef_operator', 'responsible_organisation')"


def upgrade() -> None:
    op.create_table(
        "programme_organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.CheckConstraint(ROLES, name=op.f("ck_programme_organisations_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_organisations")),
        sa.UniqueConstraint("code", name=op.f("uq_programme_organisations_code")),
    )
    op.create_table(
        "organisation_areas",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("assigned_on", sa.Date(), nullable=False),
        sa.CheckConstraint(ROLES, name=op.f("ck_organisation_areas_role")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["programme_organisations.id"],
            name=op.f("fk_organisation_areas_organisation_id_programme_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_organisation_areas_location_id_locations")
        ),
        sa.PrimaryKeyConstraint("organisation_id", "location_id", name=op.f("pk_organisation_areas")),
        sa.UniqueConstraint("location_id", "role", name=op.f("uq_organisation_areas_location_id_role")),
    )
    with op.batch_alter_table("organisation_areas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organisation_areas_location_id"), ["location_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("organisation_areas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisation_areas_location_id"))
    op.drop_table("organisation_areas")
    op.drop_table("programme_organisations")
