"""The typed settlement model: a policy as the loader builds it, a claim, and a settlement.

This module is the contract shared by the policy loader, the real-time engine, the batch engine
and the tests. It holds data only; the arithmetic lives in the engines, the reading of TOML in
the loader. All money is integer minor units; all ratios are integers scaled by
``equicover.money.RATIO_SCALE`` (0.9 -> 900_000).

Decisions where ``docs/settlement.md`` goes beyond the spec are written there; the ones that
shape these types:
- ``Condition`` fields are ``None`` when the key is absent (no constraint). ``When`` is a tuple of
  conditions OR-ed together; an empty ``When`` always matches.
- ``allowed_below`` compares with the claim's allowed amount, strictly below. It is not accepted
  in a fixed fee's ``when`` (the allowed amount is what the fixed fee decides).
- A band layer's ``base`` defaults to "eligible", an oop_cap layer's to "total"; ``scope``
  defaults to "claim". ``max_cumulative_share``'s ``of`` defaults to the layer's base.
- Bands: ``upto`` ascending strictly; only the last band may have ``upto = None`` (open-ended). A
  band list whose last band has an ``upto`` pays nothing past it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

LayerKind = Literal["bands", "oop_cap"]
Base = Literal["eligible", "total"]
Scope = Literal["claim", "year"]
AllowancePer = Literal["claim", "day"]
ContributionKind = Literal["flat", "wage_share"]
CardHolder = Literal["person", "household"]
AreaRule = Literal["district", "province", "network"]
# A name as people read it, per language: (language, name) pairs in file order. The languages are
# the application's (the loader refuses others); a language without a name reads the English one,
# then the file's own text (``payer``, ``name``).
LocalNames = tuple[tuple[str, str], ...]
NAME_LANGUAGES = ("en", "fr", "ar", "fa", "zh", "vi")
NAME_FALLBACK_LANGUAGE = "en"
DEFAULT_CARD_VALID_DAYS = 365
DEFAULT_REFERRAL_LETTER_VALID_DAYS = 30

CONDITION_KEYS = (
    "care_type",
    "provider_level",
    "designated",
    "in_area",
    "referred",
    "member_category",
    "diagnosis_group",
    "diagnosis",
    "allowed_below",
)


def local_name(names: LocalNames, language: str, default: str) -> str:
    """The name in ``language``, else in English, else ``default``."""
    found = dict(names)
    return found.get(language) or found.get(NAME_FALLBACK_LANGUAGE) or default


@dataclass(frozen=True, slots=True)
class Condition:
    """One AND-table of a `when`: every present key must match."""

    care_type: frozenset[str] | None = None
    provider_level: frozenset[str] | None = None
    designated: frozenset[bool] | None = None
    in_area: frozenset[bool] | None = None
    referred: frozenset[bool] | None = None
    member_category: frozenset[str] | None = None  # any of the member's categories
    diagnosis_group: tuple[str, ...] | None = None  # names in Policy.diagnosis_groups
    diagnosis: tuple[str, ...] | None = None  # ICD-10 prefixes
    allowed_below: int | None = None  # minor units, strict


When = tuple[Condition, ...]  # OR of AND-tables; () means always


@dataclass(frozen=True, slots=True)
class Band:
    upto: int | None  # end of the band along the positions, minor units; None = no end
    ratio: int  # scaled by RATIO_SCALE


@dataclass(frozen=True, slots=True)
class Variant:
    when: When
    bands: tuple[Band, ...]


@dataclass(frozen=True, slots=True)
class Layer:
    id: str
    payer: str
    kind: LayerKind
    base: Base
    when: When
    # band layers
    scope: Scope = "claim"
    variants: tuple[Variant, ...] = ()
    cap_per_claim: int | None = None
    cap_per_year: int | None = None
    max_cumulative_share: int | None = None  # scaled ratio
    cumulative_share_of: Base = "total"
    # oop_cap layers
    max_share: int | None = None  # scaled ratio
    max_per_year: int | None = None
    names: LocalNames = ()  # the payer's name per language ([layer.names])

    def payer_in(self, language: str) -> str:
        """The payer's name in ``language``, else in English, else the file's ``payer``."""
        return local_name(self.names, language, self.payer)


@dataclass(frozen=True, slots=True)
class FixedFee:
    when: When
    fee: int


@dataclass(frozen=True, slots=True)
class Allowance:
    id: str
    per: AllowancePer
    amount: int
    when: When


@dataclass(frozen=True, slots=True)
class SubsidyRule:
    """Who pays a matching member's contribution: shares by payer name, the member pays the rest."""

    when: When  # only `member_category` is meaningful here
    shares: tuple[tuple[str, int], ...]  # (payer, scaled ratio), in file order


@dataclass(frozen=True, slots=True)
class ContributionRules:
    kind: ContributionKind
    # flat: an amount per person per year, optionally capped per household
    amount: int | None = None
    household_cap: int | None = None
    # wage_share: share of a reference wage, times a factor by rank in the household
    reference_wage: int | None = None
    share: int | None = None  # scaled ratio
    rank_factors: tuple[int, ...] = ()  # scaled ratios; the last repeats for later ranks
    subsidies: tuple[SubsidyRule, ...] = ()


@dataclass(frozen=True, slots=True)
class Policy:
    id: str
    name: str
    currency: str
    minor_digits: int
    effective_from: date
    effective_to: date | None
    year_start: tuple[int, int]  # (month, day)
    provider_levels: tuple[str, ...]
    care_types: tuple[str, ...]
    source: str
    diagnosis_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    fixed_fees: tuple[FixedFee, ...] = ()
    layers: tuple[Layer, ...] = ()
    allowances: tuple[Allowance, ...] = ()
    contribution: ContributionRules | None = None
    path: str | None = None  # the file it was loaded from, for messages
    time_zone: str = "UTC"  # IANA name: its calendar says which day is today for the scheme
    # Care type -> (min, max or None) days a bill of that care type may declare; absent: any days.
    stay_days: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    # [card] and [referral]: who holds a member card, how long one is valid, how long a referral letter is.
    card_per: CardHolder = "person"
    card_valid_days: int = DEFAULT_CARD_VALID_DAYS
    referral_letter_valid_days: int = DEFAULT_REFERRAL_LETTER_VALID_DAYS
    # [area]: how a claim's in_area is decided from the registry (real-time settlement).
    area_rule: AreaRule = "district"
    area_levels: tuple[str, ...] | None = None  # only facilities of these levels count as in area
    area_network: frozenset[str] = frozenset()  # facility codes of the network (rule "network")
    # [indicators] primary_care_levels: the provider levels whose out-patient visits are primary-care
    # consultations (None: the policy declares none, and every out-patient visit counts).
    primary_care_levels: tuple[str, ...] | None = None
    names: LocalNames = ()  # the programme's name per language ([policy.names])

    def name_in(self, language: str) -> str:
        """The programme's name in ``language``, else in English, else the file's ``name``."""
        return local_name(self.names, language, self.name)

    def in_area(self, *, same_district: bool, same_province: bool, provider_code: str, provider_level: str) -> bool:
        """Whether a facility is in the member's area by the policy's ``[area]`` rule: in the
        member's district (the default), in the member's province, or on the network list; with
        ``levels``, only a facility of one of those levels is."""
        if self.area_levels is not None and provider_level not in self.area_levels:
            return False
        if self.area_rule == "network":
            return provider_code in self.area_network
        if self.area_rule == "province":
            return same_province
        return same_district

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def benefit_year(self, day: date) -> int:
        """The accumulator year a service date falls in: years start at `year_start`."""
        return day.year if (day.month, day.day) >= self.year_start else day.year - 1

    def today(self, now: datetime | None = None) -> date:
        """The scheme's date at ``now`` (default: the present) in its time zone."""
        return (now or datetime.now(UTC)).astimezone(ZoneInfo(self.time_zone)).date()

    def days_refusal(self, care_type: str, days: int) -> str | None:
        """Why ``days`` does not fit a bill of ``care_type`` under this policy, or None."""
        bounds = self.stay_days.get(care_type)
        if bounds is None:
            return None
        low, high = bounds
        if days < low:
            return f"a {care_type} bill needs at least {low} day(s)"
        if high is not None and days > high:
            return f"a {care_type} bill has at most {high} day(s)"
        return None


@dataclass(frozen=True, slots=True)
class Claim:
    claim_id: str
    member_id: str
    service_date: date
    provider_id: str
    provider_level: str
    designated: bool
    in_area: bool
    referred: bool
    care_type: str
    diagnosis: str
    days: int
    total: int  # minor units
    eligible: int  # minor units, <= total
    categories: frozenset[str] = frozenset()


@dataclass(slots=True)
class LayerStep:
    """What one layer did on one claim: the readable trail."""

    layer_id: str
    matched: bool
    paid: int = 0
    variant: int | None = None  # 1-based index of the variant used (band layers)
    bands: tuple[int, ...] = ()  # 1-based indexes of bands with a non-empty overlap
    remaining: int = 0  # what this layer could pay from (its base)
    position_start: int = 0  # s: 0 for scope "claim", the yearly position for "year"
    raw_pay: int = 0  # round-half-up of the bands, before any cap
    capped_by: tuple[str, ...] = ()  # "cap_per_claim", "max_cumulative_share", "cap_per_year",
    # and for oop_cap layers the binding limit: "max_share" or "max_per_year"


@dataclass(slots=True)
class ClaimSettlement:
    claim_id: str
    member_id: str
    allowed: int
    provider_writeoff: int
    paid: dict[str, int]  # layer id -> payment, every layer of the policy, in order
    member_oop: int
    allowances: dict[str, int]  # allowance id -> amount, every allowance of the policy
    fixed_fee: int | None = None  # 1-based index of the fixed fee applied
    steps: list[LayerStep] = field(default_factory=list)

    @property
    def trail(self) -> str:
        """The compact trail both engines write in the `trail` column (see docs/settlement.md)."""
        return format_trail(self.fixed_fee, self.steps)


def format_trail(fixed_fee: int | None, steps: list[LayerStep]) -> str:
    """Compact, engine-independent trail: one token per layer joined by "; ".

    ``fixed_fee=2; basic=v1 b1-2 cap_per_year; tilt=max_share; assist=-``
    - a layer that did not match: ``id=-``
    - a band layer: ``id=v<variant>`` then ``b<first>-<last>`` of the bands with a non-empty
      overlap (``b-`` when nothing overlapped), then each cap that reduced the payment, in the
      order applied: cap_per_claim, max_cumulative_share, cap_per_year
    - an oop_cap layer: ``id=`` the binding limit, ``max_share`` or ``max_per_year`` (the yearly
      limit binds only when strictly smaller)
    """
    tokens = [] if fixed_fee is None else [f"fixed_fee={fixed_fee}"]
    for step in steps:
        if not step.matched:
            tokens.append(f"{step.layer_id}=-")
            continue
        parts: list[str] = []
        if step.variant is not None:
            parts.append(f"v{step.variant}")
            parts.append(f"b{step.bands[0]}-{step.bands[-1]}" if step.bands else "b-")
        parts.extend(step.capped_by)
        tokens.append(f"{step.layer_id}=" + " ".join(parts))
    return "; ".join(tokens)
