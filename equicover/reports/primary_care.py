"""Which stored claims are primary-care consultations, for the consultations indicator.

A consultation is an out-patient visit (care types ``outpatient`` and ``chronic_outpatient``) at a
provider level that the claim's policy version declares primary care (``[indicators]
primary_care_levels``). A version that declares none keeps the older, wider count: every
out-patient visit. The declaration is read from each version's stored text (a version never
changes: its levels are cached by its hash).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import Session

from equicover.claims.models import Claim, PolicyVersion
from equicover.settlement.loader import PolicyError, load_policy_text

CONSULTATION_CARE_TYPES = ("outpatient", "chronic_outpatient")
_declared: dict[str, tuple[str, ...] | None] = {}  # version sha256 -> its primary-care levels


def primary_care_levels(*, session: Session) -> dict[int, tuple[str, ...] | None]:
    """Per stored policy version, the provider levels it declares primary care (None: none declared)."""
    levels: dict[int, tuple[str, ...] | None] = {}
    for version_id, sha, text in session.execute(
        select(PolicyVersion.id, PolicyVersion.sha256, PolicyVersion.source_text)
    ).all():
        if sha not in _declared:
            try:
                _declared[sha] = load_policy_text(text, path=f"policy version {version_id}").primary_care_levels
            except PolicyError:
                _declared[sha] = None  # stored before a rule it breaks: count its visits the wider way
        levels[int(version_id)] = _declared[sha]
    return levels


def consultation_condition(*, session: Session) -> Any:
    """The SQL condition on ``Claim`` of a primary-care consultation."""
    declared = {version: levels for version, levels in primary_care_levels(session=session).items() if levels}
    at_primary_level = (
        or_(*(and_(Claim.policy_version_id == v, Claim.provider_level.in_(lv)) for v, lv in sorted(declared.items())))
        if declared
        else false()
    )
    undeclared = or_(Claim.policy_version_id.is_(None), Claim.policy_version_id.not_in(sorted(declared)))
    return and_(Claim.care_type.in_(CONSULTATION_CARE_TYPES), or_(undeclared, at_primary_level))
