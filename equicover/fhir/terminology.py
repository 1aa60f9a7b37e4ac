"""What the stored policies name, as FHIR: the payers (one Organization of type ``pay`` per layer
of each scheme, the same across policy years) and the codes of the local CodeSystems (layers,
care types, allowances). Read from the policy versions stored by the claims service.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover import fhir_mapping as mapping
from equicover.claims.models import PolicyVersion
from equicover.claims.service import loaded_policy
from equicover.enrolment.models import Scheme


@dataclass(frozen=True, slots=True)
class Payer:
    """The payer of one layer of one scheme, named as in the newest policy version that has it."""

    scheme_code: str
    scheme_name: str
    layer_id: str
    payer: str

    @property
    def organization_id(self) -> str:
        return mapping.payer_organization_id(self.scheme_code, self.layer_id)


@dataclass(frozen=True, slots=True)
class PolicyCodes:
    """Every code the stored policies use: (code, display) per local CodeSystem."""

    layers: dict[str, str]
    care_types: dict[str, str]
    allowances: dict[str, str]


def _versions(session: Session) -> list[tuple[PolicyVersion, str, str]]:
    """(policy version, scheme code, scheme name), oldest first, for versions tied to a scheme."""
    rows = session.execute(
        select(PolicyVersion, Scheme.code, Scheme.name)
        .join(Scheme, Scheme.id == PolicyVersion.scheme_id)
        .order_by(PolicyVersion.effective_from, PolicyVersion.id)
    ).all()
    return [(version, code, name) for version, code, name in rows]


def payers(*, session: Session) -> list[Payer]:
    """Every payer of every layer of every scheme, by scheme code then cascade order."""
    found: dict[tuple[str, str], Payer] = {}
    order: dict[tuple[str, str], int] = {}
    for version, scheme_code, scheme_name in _versions(session):
        policy = loaded_policy(version)
        for position, layer in enumerate(policy.layers):
            key = (scheme_code, layer.id)
            found[key] = Payer(scheme_code=scheme_code, scheme_name=scheme_name, layer_id=layer.id, payer=layer.payer)
            order.setdefault(key, position)
    return [found[key] for key in sorted(found, key=lambda key: (key[0], order[key], key[1]))]


def payer(*, session: Session, organization_id: str) -> Payer | None:
    return next((found for found in payers(session=session) if found.organization_id == organization_id), None)


def policy_codes(*, session: Session) -> PolicyCodes:
    layers: dict[str, str] = {}
    care_types: dict[str, str] = {}
    allowances: dict[str, str] = {}
    for version, _code, _name in _versions(session):
        policy = loaded_policy(version)
        for layer in policy.layers:
            layers[layer.id] = layer.payer
        for care_type in policy.care_types:
            care_types[care_type] = care_type
        for allowance in policy.allowances:
            allowances[allowance.id] = allowance.id
    return PolicyCodes(layers=layers, care_types=care_types, allowances=allowances)
