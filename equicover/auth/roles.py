"""The roles a user can have, and the groups of roles that the routers allow.

A role is a :class:`Role` (a string enum: it compares, hashes and serialises as its value, so the
database and the API keep the plain words).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CLERK = "clerk"  # a facility's one-stop window: eligibility, bills
    REGISTRAR = "registrar"  # the registry and enrolment of an area
    VERIFIER = "verifier"  # verification of the providers of an area
    FUND_MANAGER = "fund_manager"  # funds, payments, figures of the whole programme
    ADMIN = "admin"  # accounts, policies, schemes, providers


ROLES: tuple[Role, ...] = tuple(Role)
FUND_ROLES = (Role.FUND_MANAGER, Role.ADMIN)
VERIFIERS = (Role.VERIFIER, Role.ADMIN)
PLANNERS = (Role.FUND_MANAGER, Role.ADMIN)
AREA_READERS = (Role.REGISTRAR, Role.VERIFIER, Role.FUND_MANAGER, Role.ADMIN)
EVERYTHING_ROLES = frozenset({Role.ADMIN, Role.FUND_MANAGER})
