"""Registry quality: import batches, name forms, duplicate review and merges.

Adds ``persons.merged_into_id`` (a merged duplicate is marked, never deleted) and the tables of
``equicover.registry.quality_models``: ``person_name_forms``, ``import_runs``,
``person_sources``, ``dedupe_runs``, ``duplicate_pairs``, ``person_id_links``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite cannot add a foreign key to an existing table: batch mode rebuilds it there.
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_persons_merged_into_id_persons"), "persons", ["merged_into_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_persons_merged_into_id"), ["merged_into_id"], unique=False)

    op.create_table(
        "person_name_forms",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("folded", sa.String(length=400), nullable=False),
        sa.Column("romanised", sa.String(length=400), nullable=False),
        sa.Column("sorted_key", sa.String(length=400), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_person_name_forms_person_id_persons")),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_person_name_forms")),
    )
    op.create_index(op.f("ix_person_name_forms_romanised"), "person_name_forms", ["romanised"], unique=False)

    op.create_table(
        "import_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("file_name", sa.String(length=400), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_imported", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("rows_already_imported", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_runs")),
    )
    op.create_index(op.f("ix_import_runs_source"), "import_runs", ["source"], unique=False)

    op.create_table(
        "person_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("source_row_id", sa.String(length=100), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("import_run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["import_run_id"], ["import_runs.id"], name=op.f("fk_person_sources_import_run_id_import_runs")),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_person_sources_person_id_persons")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_sources")),
        sa.UniqueConstraint("source", "source_row_id", name=op.f("uq_person_sources_source_source_row_id")),
    )
    op.create_index(op.f("ix_person_sources_import_run_id"), "person_sources", ["import_run_id"], unique=False)
    op.create_index(op.f("ix_person_sources_person_id"), "person_sources", ["person_id"], unique=False)

    op.create_table(
        "dedupe_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("backend", sa.String(length=16), nullable=False),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column("pairs_found", sa.Integer(), nullable=False),
        sa.Column("pairs_queued", sa.Integer(), nullable=False),
        sa.Column("review_threshold", sa.Float(), nullable=False),
        sa.Column("auto_threshold", sa.Float(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dedupe_runs")),
    )

    op.create_table(
        "duplicate_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id_l", sa.Integer(), nullable=False),
        sa.Column("person_id_r", sa.Integer(), nullable=False),
        sa.Column("match_probability", sa.Float(), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("person_id_l < person_id_r", name=op.f("ck_duplicate_pairs_ordered")),
        sa.CheckConstraint(
            "status IN ('pending', 'auto', 'confirmed', 'rejected', 'merged')", name=op.f("ck_duplicate_pairs_status")
        ),
        sa.ForeignKeyConstraint(["person_id_l"], ["persons.id"], name=op.f("fk_duplicate_pairs_person_id_l_persons")),
        sa.ForeignKeyConstraint(["person_id_r"], ["persons.id"], name=op.f("fk_duplicate_pairs_person_id_r_persons")),
        sa.ForeignKeyConstraint(["run_id"], ["dedupe_runs.id"], name=op.f("fk_duplicate_pairs_run_id_dedupe_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_pairs")),
        sa.UniqueConstraint("person_id_l", "person_id_r", name=op.f("uq_duplicate_pairs_person_id_l_person_id_r")),
    )
    op.create_index(op.f("ix_duplicate_pairs_cluster_id"), "duplicate_pairs", ["cluster_id"], unique=False)
    op.create_index(op.f("ix_duplicate_pairs_person_id_r"), "duplicate_pairs", ["person_id_r"], unique=False)
    op.create_index(op.f("ix_duplicate_pairs_run_id"), "duplicate_pairs", ["run_id"], unique=False)
    op.create_index(
        op.f("ix_duplicate_pairs_status_match_probability"), "duplicate_pairs", ["status", "match_probability"], unique=False
    )

    op.create_table(
        "person_id_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("register", sa.String(length=100), nullable=False),
        sa.Column("register_id", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("match_probability", sa.Float(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.CheckConstraint("method IN ('exact', 'probabilistic')", name=op.f("ck_person_id_links_method")),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_person_id_links_person_id_persons")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_id_links")),
        sa.UniqueConstraint("register", "person_id", name=op.f("uq_person_id_links_register_person_id")),
        sa.UniqueConstraint("register", "register_id", name=op.f("uq_person_id_links_register_register_id")),
    )


def downgrade() -> None:
    op.drop_table("person_id_links")
    op.drop_table("duplicate_pairs")
    op.drop_table("dedupe_runs")
    op.drop_table("person_sources")
    op.drop_table("import_runs")
    op.drop_table("person_name_forms")
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_persons_merged_into_id"))
        batch_op.drop_constraint(batch_op.f("fk_persons_merged_into_id_persons"), type_="foreignkey")
        batch_op.drop_column("merged_into_id")
