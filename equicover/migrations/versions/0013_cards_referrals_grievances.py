"""Member cards, referral letters and grievances.

``member_cards``: a card per person or per household and scheme, its number (with its ISO 7064
MOD 97-10 check digits), validity, status and the key that signs its QR payload.
``referral_letters``: letters issued by a facility to a level or a facility, and their
counter-referral; ``referral_letter_uses``: the letter a stored claim carried (``claims`` itself
is not altered). ``grievance_cases`` and ``grievance_steps``: cases from members and providers
about one record, their deadline, handlers, decision, appeal, and what was done.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("holder_kind", sa.String(length=16), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(length=100), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('issued', 'active', 'suspended', 'lost', 'replaced', 'expired')",
            name=op.f("ck_member_cards_status"),
        ),
        sa.CheckConstraint("holder_kind IN ('person', 'household')", name=op.f("ck_member_cards_holder_kind")),
        sa.CheckConstraint("valid_to >= valid_from", name=op.f("ck_member_cards_validity")),
        sa.CheckConstraint(
            "(holder_kind = 'person') = (person_id IS NOT NULL)", name=op.f("ck_member_cards_person_card_has_person")
        ),
        sa.ForeignKeyConstraint(["scheme_id"], ["schemes.id"], name=op.f("fk_member_cards_scheme_id_schemes")),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_member_cards_person_id_persons")),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_member_cards_household_id_households")
        ),
        sa.ForeignKeyConstraint(
            ["replaces_id"], ["member_cards.id"], name=op.f("fk_member_cards_replaces_id_member_cards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_cards")),
        sa.UniqueConstraint("number", name=op.f("uq_member_cards_number")),
    )
    with op.batch_alter_table("member_cards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_member_cards_person_id"), ["person_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_member_cards_scheme_id_household_id"), ["scheme_id", "household_id"], unique=False
        )

    op.create_table(
        "referral_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("from_provider_id", sa.Integer(), nullable=False),
        sa.Column("to_level", sa.String(length=32), nullable=True),
        sa.Column("to_provider_id", sa.Integer(), nullable=True),
        sa.Column("diagnosis", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sa.String(length=100), nullable=False),
        sa.Column("counter_by_provider_id", sa.Integer(), nullable=True),
        sa.Column("counter_on", sa.Date(), nullable=True),
        sa.Column("counter_note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('issued', 'counter_referred', 'cancelled')", name=op.f("ck_referral_letters_status")
        ),
        sa.CheckConstraint(
            "(to_level IS NULL) <> (to_provider_id IS NULL)", name=op.f("ck_referral_letters_one_destination")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], name=op.f("fk_referral_letters_person_id_persons")),
        sa.ForeignKeyConstraint(
            ["from_provider_id"], ["providers.id"], name=op.f("fk_referral_letters_from_provider_id_providers")
        ),
        sa.ForeignKeyConstraint(
            ["to_provider_id"], ["providers.id"], name=op.f("fk_referral_letters_to_provider_id_providers")
        ),
        sa.ForeignKeyConstraint(
            ["counter_by_provider_id"],
            ["providers.id"],
            name=op.f("fk_referral_letters_counter_by_provider_id_providers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_letters")),
        sa.UniqueConstraint("number", name=op.f("uq_referral_letters_number")),
    )
    with op.batch_alter_table("referral_letters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referral_letters_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_referral_letters_from_provider_id"), ["from_provider_id"], unique=False)

    op.create_table(
        "referral_letter_uses",
        sa.Column("claim_pk", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["claim_pk"], ["claims.id"], name=op.f("fk_referral_letter_uses_claim_pk_claims")),
        sa.ForeignKeyConstraint(
            ["letter_id"], ["referral_letters.id"], name=op.f("fk_referral_letter_uses_letter_id_referral_letters")
        ),
        sa.PrimaryKeyConstraint("claim_pk", name=op.f("pk_referral_letter_uses")),
    )
    with op.batch_alter_table("referral_letter_uses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referral_letter_uses_letter_id"), ["letter_id"], unique=False)

    op.create_table(
        "grievance_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("complainant_kind", sa.String(length=16), nullable=False),
        sa.Column("complainant_person_id", sa.Integer(), nullable=True),
        sa.Column("complainant_provider_id", sa.Integer(), nullable=True),
        sa.Column("complainant_contact", sa.String(length=200), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("handler_role", sa.String(length=16), nullable=False),
        sa.Column("assigned_to", sa.String(length=100), nullable=True),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("appeal_of_id", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("decision_reasons", sa.Text(), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "complainant_kind IN ('member', 'provider')", name=op.f("ck_grievance_cases_complainant_kind")
        ),
        sa.CheckConstraint("channel IN ('window', 'web', 'phone')", name=op.f("ck_grievance_cases_channel")),
        sa.CheckConstraint(
            "subject_kind IN ('person', 'claim', 'claim_review', 'payment_batch')",
            name=op.f("ck_grievance_cases_subject_kind"),
        ),
        sa.CheckConstraint("status IN ('open', 'decided')", name=op.f("ck_grievance_cases_status")),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('upheld', 'partly_upheld', 'rejected')",
            name=op.f("ck_grievance_cases_outcome"),
        ),
        sa.CheckConstraint("level IN (1, 2)", name=op.f("ck_grievance_cases_level")),
        sa.CheckConstraint(
            "(level = 2) = (appeal_of_id IS NOT NULL)", name=op.f("ck_grievance_cases_appeal_names_its_case")
        ),
        sa.CheckConstraint("deadline >= opened_on", name=op.f("ck_grievance_cases_deadline")),
        sa.ForeignKeyConstraint(
            ["complainant_person_id"], ["persons.id"], name=op.f("fk_grievance_cases_complainant_person_id_persons")
        ),
        sa.ForeignKeyConstraint(
            ["complainant_provider_id"],
            ["providers.id"],
            name=op.f("fk_grievance_cases_complainant_provider_id_providers"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_grievance_cases_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_grievance_cases_provider_id_providers")
        ),
        sa.ForeignKeyConstraint(
            ["appeal_of_id"], ["grievance_cases.id"], name=op.f("fk_grievance_cases_appeal_of_id_grievance_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grievance_cases")),
        sa.UniqueConstraint("appeal_of_id", name=op.f("uq_grievance_cases_appeal_of_id")),
    )
    with op.batch_alter_table("grievance_cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grievance_cases_location_id"), ["location_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_grievance_cases_provider_id"), ["provider_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_grievance_cases_status_deadline"), ["status", "deadline"], unique=False)

    op.create_table(
        "grievance_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("claim_adjustment_id", sa.Integer(), nullable=True),
        sa.Column("person_category_id", sa.Integer(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "kind IN ('opened', 'assigned', 'note', 'call', 'decided', 'action', 'appealed')",
            name=op.f("ck_grievance_steps_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["grievance_cases.id"], name=op.f("fk_grievance_steps_case_id_grievance_cases")
        ),
        sa.ForeignKeyConstraint(
            ["claim_adjustment_id"],
            ["claim_adjustments.id"],
            name=op.f("fk_grievance_steps_claim_adjustment_id_claim_adjustments"),
        ),
        sa.ForeignKeyConstraint(
            ["person_category_id"],
            ["person_categories.id"],
            name=op.f("fk_grievance_steps_person_category_id_person_categories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grievance_steps")),
    )
    with op.batch_alter_table("grievance_steps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grievance_steps_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    op.drop_table("grievance_steps")
    op.drop_table("grievance_cases")
    op.drop_table("referral_letter_uses")
    op.drop_table("referral_letters")
    op.drop_table("member_cards")
