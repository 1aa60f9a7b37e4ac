"""Identification of the poor: rounds, answers, scores, decisions, objections, hospital cases.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05

The tables of ``equicover.targeting``: a round of identification for an area, the households it
scores (answers, scores, proposed and final category), the village's decisions and the rulings on
objections, the objections themselves, and post-identification of patients at the hospital.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('targeting_rounds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rules_id', sa.String(length=64), nullable=False),
    sa.Column('rules_text', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('notice_from', sa.Date(), nullable=True),
    sa.Column('notice_to', sa.Date(), nullable=True),
    sa.Column('approved_on', sa.Date(), nullable=True),
    sa.Column('approved_by', sa.String(length=100), nullable=True),
    sa.Column('superseded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('regular', 'on_demand')", name=op.f('ck_targeting_rounds_kind')),
    sa.CheckConstraint("status IN ('collecting', 'scored', 'notice', 'approved', 'superseded')", name=op.f('ck_targeting_rounds_status')),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_targeting_rounds_period')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_targeting_rounds_location_id_locations')),
    sa.ForeignKeyConstraint(['superseded_by_id'], ['targeting_rounds.id'], name=op.f('fk_targeting_rounds_superseded_by_id_targeting_rounds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_targeting_rounds'))
    )
    op.create_index(op.f('ix_targeting_rounds_location_id_rules_id_status'), 'targeting_rounds', ['location_id', 'rules_id', 'status'], unique=False)
    op.create_table('targeting_hospital_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=True),
    sa.Column('rules_id', sa.String(length=64), nullable=False),
    sa.Column('rules_text', sa.Text(), nullable=False),
    sa.Column('area_type', sa.String(length=48), nullable=False),
    sa.Column('answers', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=48), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('admitted_on', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('interviewed_by', sa.String(length=100), nullable=False),
    sa.Column('interviewed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_on', sa.Date(), nullable=True),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.CheckConstraint("status IN ('granted', 'not_eligible', 'confirmed', 'withdrawn')", name=op.f('ck_targeting_hospital_cases_status')),
    sa.CheckConstraint('valid_to IS NULL OR valid_to >= admitted_on', name=op.f('ck_targeting_hospital_cases_valid_period')),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_targeting_hospital_cases_household_id_households')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_targeting_hospital_cases_provider_id_providers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_targeting_hospital_cases'))
    )
    op.create_index(op.f('ix_targeting_hospital_cases_household_id'), 'targeting_hospital_cases', ['household_id'], unique=False)
    op.create_table('targeting_households',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('village', sa.String(length=100), nullable=False),
    sa.Column('area_type', sa.String(length=48), nullable=False),
    sa.Column('answers', sa.Text(), nullable=False),
    sa.Column('scores', sa.Text(), nullable=True),
    sa.Column('income_per_person', sa.BigInteger(), nullable=True),
    sa.Column('deprivations', sa.Integer(), nullable=True),
    sa.Column('proposed', sa.String(length=48), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('final', sa.String(length=48), nullable=True),
    sa.Column('imported_by', sa.String(length=100), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_targeting_households_household_id_households')),
    sa.ForeignKeyConstraint(['round_id'], ['targeting_rounds.id'], name=op.f('fk_targeting_households_round_id_targeting_rounds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_targeting_households')),
    sa.UniqueConstraint('round_id', 'household_id', name=op.f('uq_targeting_households_round_id_household_id'))
    )
    op.create_index(op.f('ix_targeting_households_household_id'), 'targeting_households', ['household_id'], unique=False)
    op.create_index(op.f('ix_targeting_households_round_id_village'), 'targeting_households', ['round_id', 'village'], unique=False)
    op.create_table('targeting_objections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('asked_category', sa.String(length=48), nullable=False),
    sa.Column('grounds', sa.Text(), nullable=False),
    sa.Column('lodged_on', sa.Date(), nullable=False),
    sa.Column('lodged_by', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('ruling', sa.Text(), nullable=True),
    sa.Column('decided_on', sa.Date(), nullable=True),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'upheld', 'rejected')", name=op.f('ck_targeting_objections_status')),
    sa.ForeignKeyConstraint(['entry_id'], ['targeting_households.id'], name=op.f('fk_targeting_objections_entry_id_targeting_households')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_targeting_objections'))
    )
    op.create_index(op.f('ix_targeting_objections_entry_id'), 'targeting_objections', ['entry_id'], unique=False)
    op.create_table('targeting_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('from_category', sa.String(length=48), nullable=False),
    sa.Column('to_category', sa.String(length=48), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('objection_id', sa.Integer(), nullable=True),
    sa.Column('decided_on', sa.Date(), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('include', 'exclude', 'change_level', 'objection')", name=op.f('ck_targeting_decisions_kind')),
    sa.ForeignKeyConstraint(['entry_id'], ['targeting_households.id'], name=op.f('fk_targeting_decisions_entry_id_targeting_households')),
    sa.ForeignKeyConstraint(['objection_id'], ['targeting_objections.id'], name=op.f('fk_targeting_decisions_objection_id_targeting_objections')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_targeting_decisions'))
    )
    op.create_index(op.f('ix_targeting_decisions_entry_id'), 'targeting_decisions', ['entry_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_targeting_decisions_entry_id'), table_name='targeting_decisions')
    op.drop_table('targeting_decisions')
    op.drop_index(op.f('ix_targeting_objections_entry_id'), table_name='targeting_objections')
    op.drop_table('targeting_objections')
    op.drop_index(op.f('ix_targeting_households_round_id_village'), table_name='targeting_households')
    op.drop_index(op.f('ix_targeting_households_household_id'), table_name='targeting_households')
    op.drop_table('targeting_households')
    op.drop_index(op.f('ix_targeting_hospital_cases_household_id'), table_name='targeting_hospital_cases')
    op.drop_table('targeting_hospital_cases')
    op.drop_index(op.f('ix_targeting_rounds_location_id_rules_id_status'), table_name='targeting_rounds')
    op.drop_table('targeting_rounds')
