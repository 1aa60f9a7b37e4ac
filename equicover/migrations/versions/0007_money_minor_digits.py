"""Money carries its minor digits: policy versions and payment batches.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

A policy may count its currency in fewer digits than ISO 4217 (the riel and rial programmes pay
whole units), so the digits are stored with each policy version and each payment batch rather
than re-derived from the currency. Existing versions take them from their own stored text
(``minor_digits`` of its ``[policy]`` table, else the currency's ISO exponent); existing batches
from the versions of the claims they pay, else of a version in the same currency. A row whose
digits cannot be known stops the upgrade with its id: guessing would print amounts 100x off.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from equicover.money import MoneyError, minor_digits_of

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _digits_of_policy(version_id: int, currency: str, source_text: str) -> int:
    try:
        declared = tomllib.loads(source_text).get("policy", {}).get("minor_digits") if source_text else None
    except tomllib.TOMLDecodeError:
        declared = None
    if isinstance(declared, int) and not isinstance(declared, bool) and 0 <= declared <= 6:
        return declared
    try:
        return minor_digits_of(currency)
    except MoneyError:
        raise RuntimeError(
            f"policy version {version_id}: currency {currency} is not in ISO 4217's table and its text "
            "gives no minor_digits; set policy_versions.minor_digits by hand, then upgrade again"
        ) from None


def _backfill_policy_versions(bind: sa.Connection) -> None:
    versions = sa.table(
        "policy_versions",
        sa.column("id", sa.Integer),
        sa.column("currency", sa.String),
        sa.column("source_text", sa.Text),
        sa.column("minor_digits", sa.SmallInteger),
    )
    rows = bind.execute(
        sa.select(versions.c.id, versions.c.currency, versions.c.source_text).where(versions.c.minor_digits.is_(None))
    ).all()
    for version_id, currency, source_text in rows:
        digits = _digits_of_policy(version_id, currency, source_text or "")
        bind.execute(sa.update(versions).where(versions.c.id == version_id).values(minor_digits=digits))


def _backfill_payment_batches(bind: sa.Connection) -> None:
    batches = sa.table(
        "payment_batches",
        sa.column("id", sa.Integer),
        sa.column("currency", sa.String),
        sa.column("minor_digits", sa.SmallInteger),
    )
    versions = sa.table(
        "policy_versions", sa.column("id", sa.Integer), sa.column("currency"), sa.column("minor_digits")
    )
    claims = sa.table("claims", sa.column("id", sa.Integer), sa.column("policy_version_id", sa.Integer))
    batch_claims = sa.table("payment_batch_claims", sa.column("claim_pk"), sa.column("batch_id"))
    rows = bind.execute(sa.select(batches.c.id, batches.c.currency).where(batches.c.minor_digits.is_(None))).all()
    for batch_id, currency in rows:
        digits = bind.scalar(
            sa.select(sa.func.max(versions.c.minor_digits))
            .select_from(batch_claims)
            .join(claims, claims.c.id == batch_claims.c.claim_pk)
            .join(versions, versions.c.id == claims.c.policy_version_id)
            .where(batch_claims.c.batch_id == batch_id, versions.c.currency == currency)
        )
        if digits is None:
            digits = bind.scalar(sa.select(sa.func.max(versions.c.minor_digits)).where(versions.c.currency == currency))
        if digits is None:
            try:
                digits = minor_digits_of(currency)
            except MoneyError:
                raise RuntimeError(
                    f"payment batch {batch_id}: the digits of {currency} are unknown; "
                    "set payment_batches.minor_digits by hand, then upgrade again"
                ) from None
        bind.execute(sa.update(batches).where(batches.c.id == batch_id).values(minor_digits=digits))


def upgrade() -> None:
    with op.batch_alter_table("policy_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("minor_digits", sa.SmallInteger(), nullable=True))
    with op.batch_alter_table("payment_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("minor_digits", sa.SmallInteger(), nullable=True))
    bind = op.get_bind()
    _backfill_policy_versions(bind)
    _backfill_payment_batches(bind)
    with op.batch_alter_table("policy_versions", schema=None) as batch_op:
        batch_op.alter_column("minor_digits", existing_type=sa.SmallInteger(), nullable=False)
        batch_op.create_check_constraint(batch_op.f("ck_policy_versions_minor_digits"), "minor_digits BETWEEN 0 AND 6")
    with op.batch_alter_table("payment_batches", schema=None) as batch_op:
        batch_op.alter_column("minor_digits", existing_type=sa.SmallInteger(), nullable=False)
        batch_op.create_check_constraint(batch_op.f("ck_payment_batches_minor_digits"), "minor_digits BETWEEN 0 AND 6")


def downgrade() -> None:
    with op.batch_alter_table("payment_batches", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_payment_batches_minor_digits"), type_="check")
        batch_op.drop_column("minor_digits")
    with op.batch_alter_table("policy_versions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_policy_versions_minor_digits"), type_="check")
        batch_op.drop_column("minor_digits")
