"""Initial schema: registry, enrolment and providers; seeds the standard categories.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STANDARD_CATEGORIES = {
    "registered_poor": "Registered poor household member",
    "near_poor": "Near-poor household member",
    "vulnerable": "Vulnerable (not poor, cannot pay in full)",
    "elderly": "Elderly person",
    "ethnic_minority": "Member of an ethnic minority",
    "student": "Pupil or student",
    "foreign_national": "Foreign national",
    "child_under_6": "Child under six",
    "disabled": "Person with a disability",
    "informal_worker": "Informal-sector worker",
}


def upgrade() -> None:
    op.create_table("categories",
    sa.Column("code", sa.String(length=32), nullable=False),
    sa.Column("label", sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint("code", name=op.f("pk_categories"))
    )
    op.create_table("change_log",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(length=100), nullable=False),
    sa.Column("entity", sa.String(length=32), nullable=False),
    sa.Column("entity_id", sa.Integer(), nullable=True),
    sa.Column("action", sa.String(length=16), nullable=False),
    sa.Column("before", sa.JSON(), nullable=True),
    sa.Column("after", sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_change_log"))
    )
    op.create_index(op.f("ix_change_log_entity_entity_id"), "change_log", ["entity", "entity_id"])

    op.create_table("locations",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("code", sa.String(length=64), nullable=False),
    sa.Column("name", sa.String(length=200), nullable=False),
    sa.Column("level", sa.String(length=16), nullable=False),
    sa.Column("parent_id", sa.Integer(), nullable=True),
    sa.Column("country_id", sa.Integer(), nullable=True),
    sa.Column("province_id", sa.Integer(), nullable=True),
    sa.Column("district_id", sa.Integer(), nullable=True),
    sa.CheckConstraint("level IN ('country', 'province', 'district', 'commune', 'neighbourhood')", name=op.f("ck_locations_level")),
    sa.ForeignKeyConstraint(["country_id"], ["locations.id"], name=op.f("fk_locations_country_id_locations")),
    sa.ForeignKeyConstraint(["district_id"], ["locations.id"], name=op.f("fk_locations_district_id_locations")),
    sa.ForeignKeyConstraint(["parent_id"], ["locations.id"], name=op.f("fk_locations_parent_id_locations")),
    sa.ForeignKeyConstraint(["province_id"], ["locations.id"], name=op.f("fk_locations_province_id_locations")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
    sa.UniqueConstraint("code", name=op.f("uq_locations_code"))
    )
    op.create_index(op.f("ix_locations_district_id"), "locations", ["district_id"])
    op.create_index(op.f("ix_locations_parent_id"), "locations", ["parent_id"])
    op.create_index(op.f("ix_locations_province_id"), "locations", ["province_id"])

    op.create_table("schemes",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("code", sa.String(length=64), nullable=False),
    sa.Column("name", sa.String(length=200), nullable=False),
    sa.Column("currency", sa.String(length=3), nullable=False),
    sa.Column("minor_digits", sa.SmallInteger(), nullable=False),
    sa.CheckConstraint("minor_digits BETWEEN 0 AND 4", name=op.f("ck_schemes_minor_digits")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_schemes")),
    sa.UniqueConstraint("code", name=op.f("uq_schemes_code"))
    )
    op.create_table("enrolment_periods",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("scheme_id", sa.Integer(), nullable=False),
    sa.Column("starts", sa.Date(), nullable=False),
    sa.Column("ends", sa.Date(), nullable=False),
    sa.CheckConstraint("ends >= starts", name=op.f("ck_enrolment_periods_period")),
    sa.ForeignKeyConstraint(["scheme_id"], ["schemes.id"], name=op.f("fk_enrolment_periods_scheme_id_schemes")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolment_periods")),
    sa.UniqueConstraint("scheme_id", "starts", name=op.f("uq_enrolment_periods_scheme_id_starts"))
    )
    op.create_table("households",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("code", sa.String(length=64), nullable=False),
    sa.Column("location_id", sa.Integer(), nullable=False),
    sa.Column("registered_on", sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(["location_id"], ["locations.id"], name=op.f("fk_households_location_id_locations")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_households")),
    sa.UniqueConstraint("code", name=op.f("uq_households_code"))
    )
    op.create_index(op.f("ix_households_location_id"), "households", ["location_id"])

    op.create_table("providers",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("code", sa.String(length=64), nullable=False),
    sa.Column("name", sa.String(length=200), nullable=False),
    sa.Column("level", sa.String(length=32), nullable=False),
    sa.Column("location_id", sa.Integer(), nullable=False),
    sa.Column("designated", sa.Boolean(), nullable=False),
    sa.Column("ownership", sa.String(length=16), nullable=False),
    sa.CheckConstraint("ownership IN ('public', 'private', 'non_profit')", name=op.f("ck_providers_ownership")),
    sa.ForeignKeyConstraint(["location_id"], ["locations.id"], name=op.f("fk_providers_location_id_locations")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
    sa.UniqueConstraint("code", name=op.f("uq_providers_code"))
    )
    op.create_index(op.f("ix_providers_location_id"), "providers", ["location_id"])

    op.create_table("contracts",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("scheme_id", sa.Integer(), nullable=False),
    sa.Column("provider_id", sa.Integer(), nullable=False),
    sa.Column("starts", sa.Date(), nullable=False),
    sa.Column("ends", sa.Date(), nullable=False),
    sa.Column("payment_method", sa.String(length=16), nullable=False),
    sa.Column("designated_services", sa.Text(), nullable=True),
    sa.CheckConstraint("payment_method IN ('fee_for_service', 'fixed_fee', 'capitation')", name=op.f("ck_contracts_payment_method")),
    sa.CheckConstraint("ends >= starts", name=op.f("ck_contracts_period")),
    sa.ForeignKeyConstraint(["provider_id"], ["providers.id"], name=op.f("fk_contracts_provider_id_providers")),
    sa.ForeignKeyConstraint(["scheme_id"], ["schemes.id"], name=op.f("fk_contracts_scheme_id_schemes")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_contracts"))
    )
    op.create_index(op.f("ix_contracts_provider_id"), "contracts", ["provider_id"])
    op.create_index(op.f("ix_contracts_scheme_id_provider_id"), "contracts", ["scheme_id", "provider_id"])

    op.create_table("persons",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("household_id", sa.Integer(), nullable=False),
    sa.Column("given_name", sa.String(length=200), nullable=True),
    sa.Column("family_name", sa.String(length=200), nullable=True),
    sa.Column("full_name", sa.String(length=400), nullable=False),
    sa.Column("name_script", sa.String(length=8), nullable=True),
    sa.Column("sex", sa.String(length=8), nullable=False),
    sa.Column("birth_date", sa.Date(), nullable=False),
    sa.Column("national_id", sa.String(length=64), nullable=True),
    sa.Column("id_type", sa.String(length=32), nullable=True),
    sa.Column("phone", sa.String(length=32), nullable=True),
    sa.Column("location_id", sa.Integer(), nullable=False),
    sa.Column("registered_on", sa.Date(), nullable=False),
    sa.Column("death_date", sa.Date(), nullable=True),
    sa.CheckConstraint("sex IN ('female', 'male', 'other', 'unknown')", name=op.f("ck_persons_sex")),
    sa.CheckConstraint("(national_id IS NULL) = (id_type IS NULL)", name=op.f("ck_persons_national_id_with_type")),
    sa.CheckConstraint("death_date IS NULL OR death_date >= birth_date", name=op.f("ck_persons_death_after_birth")),
    sa.ForeignKeyConstraint(["household_id"], ["households.id"], name=op.f("fk_persons_household_id_households")),
    sa.ForeignKeyConstraint(["location_id"], ["locations.id"], name=op.f("fk_persons_location_id_locations")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
    sa.UniqueConstraint("id_type", "national_id", name=op.f("uq_persons_id_type_national_id"))
    )
    op.create_index(op.f("ix_persons_household_id"), "persons", ["household_id"])
    op.create_index(op.f("ix_persons_location_id"), "persons", ["location_id"])

    op.create_table("enrolments",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("person_id", sa.Integer(), nullable=False),
    sa.Column("scheme_id", sa.Integer(), nullable=False),
    sa.Column("period_id", sa.Integer(), nullable=False),
    sa.Column("starts", sa.Date(), nullable=False),
    sa.Column("ends", sa.Date(), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.CheckConstraint("status IN ('active', 'suspended', 'cancelled')", name=op.f("ck_enrolments_status")),
    sa.CheckConstraint("ends >= starts", name=op.f("ck_enrolments_period")),
    sa.ForeignKeyConstraint(["period_id"], ["enrolment_periods.id"], name=op.f("fk_enrolments_period_id_enrolment_periods")),
    sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_enrolments_person_id_persons")),
    sa.ForeignKeyConstraint(["scheme_id"], ["schemes.id"], name=op.f("fk_enrolments_scheme_id_schemes")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolments"))
    )
    op.create_index(op.f("ix_enrolments_period_id"), "enrolments", ["period_id"])
    op.create_index(op.f("ix_enrolments_person_id_scheme_id"), "enrolments", ["person_id", "scheme_id"])
    op.create_index(op.f("ix_enrolments_scheme_id_starts"), "enrolments", ["scheme_id", "starts"])

    op.create_table("person_categories",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("person_id", sa.Integer(), nullable=False),
    sa.Column("category", sa.String(length=32), nullable=False),
    sa.Column("valid_from", sa.Date(), nullable=False),
    sa.Column("valid_to", sa.Date(), nullable=True),
    sa.Column("source", sa.String(length=200), nullable=True),
    sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_person_categories_valid_period")),
    sa.ForeignKeyConstraint(["category"], ["categories.code"], name=op.f("fk_person_categories_category_categories")),
    sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_person_categories_person_id_persons")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_person_categories"))
    )
    op.create_index(op.f("ix_person_categories_category_valid_from"), "person_categories", ["category", "valid_from"])
    op.create_index(op.f("ix_person_categories_person_id_category"), "person_categories", ["person_id", "category"])

    op.create_table("contributions",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("enrolment_id", sa.Integer(), nullable=False),
    sa.Column("payer_kind", sa.String(length=16), nullable=False),
    sa.Column("payer_name", sa.String(length=200), nullable=True),
    sa.Column("amount_minor", sa.BigInteger(), nullable=False),
    sa.Column("status", sa.String(length=8), nullable=False),
    sa.Column("period_starts", sa.Date(), nullable=False),
    sa.Column("period_ends", sa.Date(), nullable=False),
    sa.CheckConstraint("payer_kind IN ('state_budget', 'local_budget', 'employer', 'member', 'donor')", name=op.f("ck_contributions_payer_kind")),
    sa.CheckConstraint("status IN ('due', 'paid', 'waived')", name=op.f("ck_contributions_status")),
    sa.CheckConstraint("amount_minor >= 0", name=op.f("ck_contributions_amount_not_negative")),
    sa.CheckConstraint("period_ends >= period_starts", name=op.f("ck_contributions_period")),
    sa.ForeignKeyConstraint(["enrolment_id"], ["enrolments.id"], name=op.f("fk_contributions_enrolment_id_enrolments")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_contributions"))
    )
    op.create_index(op.f("ix_contributions_enrolment_id"), "contributions", ["enrolment_id"])

    # A copy, not an import of the models: a migration must keep meaning what it meant when written.
    categories = sa.table("categories", sa.column("code", sa.String), sa.column("label", sa.String))
    op.bulk_insert(
        categories,
        [{"code": code, "label": label} for code, label in STANDARD_CATEGORIES.items()],
    )


def downgrade() -> None:
    # Children before parents; dropping a table drops its indexes.
    op.drop_table("contributions")
    op.drop_table("person_categories")
    op.drop_table("enrolments")
    op.drop_table("persons")
    op.drop_table("contracts")
    op.drop_table("providers")
    op.drop_table("households")
    op.drop_table("enrolment_periods")
    op.drop_table("schemes")
    op.drop_table("locations")
    op.drop_table("change_log")
    op.drop_table("categories")
