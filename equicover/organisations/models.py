"""The organisations that run a programme in an area, and the areas they answer for.

- ``hef_operator``: the NGO that runs a Health Equity Fund in an operational district (Cambodia,
  seed 001: the fund verifies the contracted providers and these NGOs);
- ``responsible_organisation``: the body a deprived neighbourhood is assigned to (Iran, seed 002:
  the Executive Headquarters, the Relief Committee, the Red Crescent, the Welfare Organisation).

A location has at most one organisation of each role.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from equicover.db.base import Base, in_list

ORGANISATION_ROLES = ("hef_operator", "responsible_organisation")


class ProgrammeOrganisation(Base):
    __tablename__ = "programme_organisations"
    __table_args__ = (CheckConstraint(in_list("role", ORGANISATION_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))


class OrganisationArea(Base):
    __tablename__ = "organisation_areas"
    __table_args__ = (
        UniqueConstraint("location_id", "role"),
        CheckConstraint(in_list("role", ORGANISATION_ROLES), name="role"),
    )

    organisation_id: Mapped[int] = mapped_column(ForeignKey("programme_organisations.id"), primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(32))  # the organisation's role, repeated for the constraint
    assigned_on: Mapped[dt.date] = mapped_column(Date)
