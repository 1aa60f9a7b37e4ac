"""Service: users, tokens and the audit trail.

Adds the accounts of the HTTP service (``users``, ``api_tokens``) and
``claim_accumulator_deltas``: what each settled claim added to each accumulator, so that a
reversal restores the accumulators exactly. The audit trail itself is the existing ``change_log``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('clerk', 'registrar', 'verifier', 'fund_manager', 'admin')", name=op.f("ck_users_role")
        ),
        sa.CheckConstraint("role <> 'clerk' OR provider_id IS NOT NULL", name=op.f("ck_users_clerk_has_provider")),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"], name=op.f("fk_users_location_id_locations")),
        sa.ForeignKeyConstraint(["provider_id"], ["providers.id"], name=op.f("fk_users_provider_id_providers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "claim_accumulator_deltas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_pk", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("layer_id", sa.String(length=64), nullable=False),
        sa.Column("benefit_year", sa.Integer(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("paid", sa.BigInteger(), nullable=False),
        sa.Column("member_share", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["claim_pk"], ["claims.id"], name=op.f("fk_claim_accumulator_deltas_claim_pk_claims")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_accumulator_deltas")),
        sa.UniqueConstraint("claim_pk", "layer_id", name=op.f("uq_claim_accumulator_deltas_claim_pk_layer_id")),
    )
    with op.batch_alter_table("claim_accumulator_deltas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claim_accumulator_deltas_claim_pk"), ["claim_pk"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("claim_accumulator_deltas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_claim_accumulator_deltas_claim_pk"))
    op.drop_table("claim_accumulator_deltas")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))
    op.drop_table("api_tokens")
    op.drop_table("users")
