"""Which targeting rounds and hospital cases a user may see (see :mod:`equicover.auth.scoping`)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from equicover.auth.models import User
from equicover.auth.roles import Role
from equicover.auth.scoping import ensure_visible, sees_everything
from equicover.registry.models import Household
from equicover.registry.scoping import area_location_ids
from equicover.targeting.models import TargetingHospitalCase, TargetingRound


def rounds_filter(user: User) -> ColumnElement[bool]:
    if sees_everything(user):
        return true()
    if user.role == Role.CLERK:
        return TargetingRound.id.is_(None)  # a facility's window runs no rounds
    return TargetingRound.location_id.in_(area_location_ids(user))


def ensure_round_visible(*, session: Session, user: User, round_id: int) -> None:
    """NotFound for an unknown round, Forbidden for one outside the user's area."""
    ensure_visible(
        session, TargetingRound, TargetingRound.id, round_id, rounds_filter(user), f"targeting round {round_id}"
    )


def hospital_cases_filter(user: User) -> ColumnElement[bool]:
    if sees_everything(user):
        return true()
    if user.role == Role.CLERK:
        return TargetingHospitalCase.provider_id == user.provider_id
    in_area = select(Household.id).where(Household.location_id.in_(area_location_ids(user)))
    return TargetingHospitalCase.household_id.in_(in_area)


def ensure_hospital_case_visible(*, session: Session, user: User, case_id: int) -> None:
    ensure_visible(
        session,
        TargetingHospitalCase,
        TargetingHospitalCase.id,
        case_id,
        hospital_cases_filter(user),
        f"targeting hospital case {case_id}",
    )
