"""Pydantic shapes of the claims service and its endpoints (money: integer minor units)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from equicover.claims.models import AdjustmentCause, AdjustmentKind, ClaimStatus, PaymentKind
from equicover.settlement.claims_file import ICD10_PATTERN, NOT_AN_ICD10_CODE

MAX_AMOUNT = 10**15  # minor units; far above any bill, far below BigInteger's limit


class ClaimIn(BaseModel):
    """A bill to settle. ``in_area``, level and designation are derived from the stored records.

    Money is a JSON integer of minor units, strictly: ``true``, ``"1000"`` and ``1000.5`` are
    refused rather than read as 1, 1000 or 1000 (a client that sends them has a bug worth seeing).
    A bill of nothing (total 0) is not a bill. The diagnosis has the shape of an ICD-10 code, the
    rule of the claims file (``equicover.settlement.claims_file.ICD10_PATTERN``), upper-cased."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    claim_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:/-]+$",
        description="The provider's bill number; the idempotency key",
    )
    person_id: int = Field(ge=1, le=2**31 - 1)
    provider_code: str = Field(min_length=1, max_length=64)
    service_date: dt.date
    care_type: str = Field(min_length=1, max_length=32)
    diagnosis: str = Field(min_length=1, max_length=16, description="ICD-10 code, e.g. K35.8")
    days: int = Field(default=0, ge=0, le=3660, strict=True)
    total: int = Field(gt=0, le=MAX_AMOUNT, strict=True, description="minor units, more than 0")
    eligible: int | None = Field(
        default=None, ge=0, le=MAX_AMOUNT, strict=True, description="minor units; default: total"
    )
    referred: bool = False
    referral_letter: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        pattern=r"^[A-Za-z0-9]+$",
        description="The referral letter's number: the claim is referred only if the letter holds on the service date",
    )
    scheme_code: str | None = Field(
        default=None, max_length=64, description="Default: the scheme the person is enrolled in"
    )

    @field_validator("diagnosis")
    @classmethod
    def _icd10_shape(cls, value: str) -> str:
        code = value.upper()
        if not ICD10_PATTERN.match(code):
            raise ValueError(NOT_AN_ICD10_CODE)
        return code

    @model_validator(mode="after")
    def _eligible_within_total(self) -> ClaimIn:
        if self.eligible is not None and self.eligible > self.total:
            raise ValueError("eligible must not exceed total")
        return self


class PaymentOut(BaseModel):
    kind: PaymentKind
    item_id: str
    payer: str
    amount: int


class AdjustmentOut(BaseModel):
    """A change to what the claim pays after it was settled (docs/settlement.md, "Adjustments")."""

    kind: AdjustmentKind
    item_id: str
    payer: str
    amount: int  # signed minor units: for a payer, paid more or less; for the member, the share's change
    reason: str  # payer_top_up | payer_recovery | member_refund | member_owes_more
    cause: AdjustmentCause  # reversal | resettlement | reconciliation
    created_at: dt.datetime


class ClaimOut(BaseModel):
    id: int
    claim_id: str
    person_id: int
    provider_id: int
    policy_version_id: int | None
    service_date: dt.date
    provider_level: str
    designated: bool
    in_area: bool
    referred: bool
    care_type: str
    days: int
    total: int
    eligible: int
    status: ClaimStatus
    allowed: int
    provider_writeoff: int
    member_oop: int
    trail: str
    zero_reason: str | None
    submitted_at: dt.datetime
    submitted_by: str
    reversed_at: dt.datetime | None
    reversed_by: str | None
    reversal_reason: str | None
    payments: list[PaymentOut]
    # What the claim pays now is its payments plus these, per payer; its member's share is member_oop plus
    # the member lines.
    adjustments: list[AdjustmentOut] = Field(default_factory=list)
    # False when this answer is the stored result of an earlier submission of the same claim_id.
    created: bool = True


class ReversalIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=2000)


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheme_code: str = Field(min_length=1, max_length=64)
    source_text: str = Field(min_length=1, max_length=1_000_000, description="The policy file (TOML)")


class PolicyVersionOut(BaseModel):
    id: int
    policy_id: str
    name: str
    currency: str
    effective_from: dt.date
    effective_to: dt.date | None
    scheme_id: int | None
    sha256: str
    uploaded_at: dt.datetime
    uploaded_by: str


class LayerEligibility(BaseModel):
    layer_id: str
    payer: str
    kind: str
    benefit_year: int
    annual_cap: int | None = Field(description="cap_per_year (band layers) or max_per_year (oop_cap layers)")
    used: int = Field(description="paid this year (band layers) or left to the member this year (oop_cap)")
    remaining: int | None
    paid: int = Field(0, description="what the layer paid this year (for every kind of layer)")


class SchemeEligibility(BaseModel):
    scheme_code: str
    enrolment_id: int
    enrolled_from: dt.date
    enrolled_to: dt.date
    policy_version_id: int | None
    policy_id: str | None
    layers: list[LayerEligibility]


class EligibilityOut(BaseModel):
    person_id: int
    on: dt.date
    covered: bool
    categories: list[str]
    schemes: list[SchemeEligibility]
