"""Pydantic inputs of the enrolment services and the coverage result."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from equicover.money import round_half_up

PayerKind = Literal["state_budget", "local_budget", "employer", "member", "donor"]
ContributionStatus = Literal["due", "paid", "waived"]
CoverageGrouping = Literal["district", "province", "category"]
SCHEME_NAME_LANGUAGES = ("en", "fr", "ar", "fa", "zh", "vi")


class SchemeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    # Default: the ISO 4217 exponent of the currency.
    minor_digits: int | None = Field(default=None, ge=0, le=4)
    # The name per language of the pages (en, fr, ar, fa, zh, vi); ``name`` where one is missing.
    names: dict[str, str] | None = None

    @field_validator("names")
    @classmethod
    def _known_languages(cls, names: dict[str, str] | None) -> dict[str, str] | None:
        if names is None:
            return None
        for language, text in names.items():
            if language not in SCHEME_NAME_LANGUAGES:
                raise ValueError(f"unknown language {language!r} (known: {', '.join(SCHEME_NAME_LANGUAGES)})")
            if not text.strip() or len(text) > 200:
                raise ValueError(f"the {language} name must have 1 to 200 characters")
        return {language: text.strip() for language, text in names.items()}


class ContributionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    person_id: int
    scheme_id: int
    payer_kind: PayerKind
    payer_name: str | None = Field(default=None, max_length=200)
    amount_minor: int = Field(ge=0)
    status: ContributionStatus = "due"
    period_starts: dt.date
    period_ends: dt.date


@dataclass(frozen=True)
class CoverageRow:
    """Coverage of one group (a district, a province or a category) on one date.

    ``amounts`` holds the contributions of the enrolled persons of the group that cover the date
    (status due or paid), in minor units, by currency then payer kind.
    """

    group_code: str
    group_name: str
    eligible: int
    enrolled: int
    amounts: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def ratio(self) -> Fraction | None:
        """enrolled / eligible, exact; ``None`` when nobody is eligible."""
        return Fraction(self.enrolled, self.eligible) if self.eligible else None

    def percent_text(self, digits: int = 2) -> str:
        """The coverage as a percentage rounded half-up to ``digits`` places, e.g. ``"89.18"``."""
        if not self.eligible:
            return "-"
        scaled = round_half_up(self.enrolled * 100 * 10**digits, self.eligible)
        whole, fraction = divmod(scaled, 10**digits)
        return f"{whole}.{fraction:0{digits}d}" if digits else str(whole)

    def subsidy(self, currency: str) -> int:
        """Everything paid by others than the member, in ``currency``."""
        return sum(amount for kind, amount in self.amounts.get(currency, {}).items() if kind != "member")
