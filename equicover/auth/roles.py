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
    ANALYST = "analyst"  # the people who set the rules: national aggregates and "what if", no personal data


ROLES: tuple[Role, ...] = tuple(Role)
FUND_ROLES = (Role.FUND_MANAGER, Role.ADMIN)
VERIFIERS = (Role.VERIFIER, Role.ADMIN)
PLANNERS = (Role.FUND_MANAGER, Role.ADMIN)
AREA_READERS = (Role.REGISTRAR, Role.VERIFIER, Role.FUND_MANAGER, Role.ADMIN)
# Whose figures are national (an analyst reads only aggregates: see ANALYST_API_PATHS).
EVERYTHING_ROLES = frozenset({Role.ADMIN, Role.FUND_MANAGER, Role.ANALYST})

# The only API routes an analyst may call (route path templates): signing out, its own account, and
# aggregates. Every other route is refused to an analyst by ``equicover.auth.deps.current_user``
# before it runs, whatever the route's own role check says: a route that reads records "for any
# signed-in user" (persons, claims, FHIR resources) must never answer an analyst.
ANALYST_API_PATHS = frozenset(
    {
        "/api/v1/auth/logout",
        "/api/v1/auth/me",
        "/api/v1/reports/indicators",
        "/api/v1/reports/settlement",
        "/api/v1/locations",
        "/api/v1/categories",
    }
)
