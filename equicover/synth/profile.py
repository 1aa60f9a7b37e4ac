"""The country of a synthetic province: one small TOML file per programme in ``synth/profiles/``.

A profile says everything about a province that differs between countries, as data: its place
names, the peoples and scripts of its names, the programme's words (facility levels, care types,
categories), the currency and its minor digits, what care costs there, who enrols, who pays the
contributions and how the funds are financed. The generator (``synth.generator``,
``synth.claims``) draws the same kind of population for every profile and writes it in the
profile's words, so the claims of a province are in the vocabulary of the policy that settles
them. ``profile_for_policy`` picks the profile that names a policy id.

The generator's own words, which a profile maps to its programme's:

- four facility tiers: ``health_centre`` (one per commune), ``district_hospital`` (one per
  district), ``regional_hospital`` (in the largest districts), ``top_hospital`` (the capital);
- four care types: ``outpatient``, ``chronic_outpatient``, ``inpatient``, ``emergency``;
- the categories of ``parameters.CATEGORIES`` and the profile's area category, if any.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from equicover.enrolment.schemas import SCHEME_NAME_LANGUAGES
from equicover.money import parse_money
from equicover.synth import parameters as P

PROFILES = Path(__file__).resolve().parent / "profiles"
DEFAULT_PROFILE = "cn-yaan"
TIERS = ("health_centre", "district_hospital", "regional_hospital", "top_hospital")
GENERATOR_CARE_TYPES = P.CARE_TYPES
IN_AREA_RULES = ("district", "province_primary")
NATIONAL_ID_KINDS = ("cn_resident", "ir_national_code", "digits")
CONTRIBUTION_RULES = ("table", "policy", "none")


class ProfileError(ValueError):
    """A profile file that cannot be used: names the file and the key."""


@dataclass(frozen=True)
class People:
    """Whose names a share of the households carry: a Faker locale, or lists given in the profile."""

    script: str  # ISO 15924
    weight: float
    family_first: bool
    separator: str
    locale: str | None = None
    family: tuple[str, ...] = ()
    given_male: tuple[str, ...] = ()
    given_female: tuple[str, ...] = ()


@dataclass(frozen=True)
class CategoryTakeUp:
    category: str  # the generator's word
    take_up: float


@dataclass(frozen=True)
class Subsidy:
    category: str  # the generator's word ("elderly": 65 or more at the start of the year)
    shares: tuple[tuple[str, int], ...]  # (payer kind, per mille)


@dataclass(frozen=True)
class Allocation:
    """Money per enrolled person beside the contribution (a per-capita subsidy to the fund)."""

    payer: str  # payer kind of the enrolment tables: state_budget, local_budget, donor
    name: str
    amount: int  # minor units per person and year
    categories: tuple[str, ...] = ()  # generator words; empty: every enrolled person


@dataclass(frozen=True)
class Receipt:
    """Money a fund receives for the year, per enrolled person (of the categories, if given)."""

    fund: str
    source: str
    per_member: int  # minor units
    on: str  # MM-DD
    reference: str
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    id: str
    path: Path
    policies: tuple[str, ...]
    source: str
    # place
    country_code: str
    country_name: str
    province_name: str
    code_prefix: str
    district_names: tuple[str, ...]
    commune_pattern: str
    in_area: str
    # facilities
    levels: tuple[str, str, str, str]  # the programme's level of each tier
    facility_names: tuple[str, str, str, str]  # patterns: {commune}, {district}, {number}, {province}
    designated_share: tuple[float, float, float, float]
    level_cost_factors: tuple[float, float, float, float]
    # people
    peoples: tuple[People, ...]
    poor_household_rate: float
    near_poor_household_rate: float
    low_income_household_rate: float
    ethnic_minority_rate: float
    foreign_national_rate: float
    national_id: str
    national_id_digits: int
    national_id_prefix: str
    area_category: str | None
    area_commune_share: float
    # (code, name, weight): the responsible organisations of the area category's communes, and the
    # organisations running the programme in each district (drawn by weight)
    area_organisations: tuple[tuple[str, str, float], ...]
    district_organisations: tuple[tuple[str, str, float], ...]
    # the programme's words
    categories: dict[str, str]
    care_types: dict[str, str]
    # money
    currency: str
    minor_digits: int
    cost_scale: float
    rounding: int  # minor units: bills are whole multiples
    min_amount: int
    max_amount: int
    # median consumption per person and year, whole major units: (registered poor, others)
    consumption_per_capita: tuple[int, int]
    # utilisation: annual rates per enrolled person
    outpatient_rate: float
    inpatient_rate: float
    emergency_rate: float
    # enrolment and contributions
    scheme_code: str
    scheme_name: str
    take_up: float
    individual_drop: float
    take_up_by_category: tuple[CategoryTakeUp, ...]
    contribution_rules: str
    contribution_amount: int
    subsidies: tuple[Subsidy, ...]
    allocations: tuple[Allocation, ...]
    payer_names: dict[str, str | None]
    # funds
    contribution_fund: str
    contribution_fund_name: str
    capitation: str
    capitation_fund: str
    receipts: tuple[Receipt, ...] = field(default=())
    # The scheme's name per language of the pages ([scheme.names]); ``scheme_name`` where one is missing.
    scheme_names: dict[str, str] = field(default_factory=dict)
    # what the organisations running the programme are paid for their work, per enrolled person
    # and year, from the contributions fund (0: nothing)
    operator_fee: int = 0
    # the province's coverage targets: (percent of the population insured, what it is)
    coverage_targets: tuple[tuple[float, str], ...] = ()

    def word(self, category: str) -> str:
        """The programme's word for a generator category."""
        return self.categories.get(category, category)

    def care_type(self, generator_care_type: str) -> str:
        return self.care_types.get(generator_care_type, generator_care_type)

    @property
    def category_words(self) -> tuple[str, ...]:
        """Every category word of the province, in the generator's order (area category last)."""
        words = tuple(self.word(name) for name in P.CATEGORIES)
        return words + ((self.area_category,) if self.area_category else ())


class _Reader:
    def __init__(self, path: Path, document: dict[str, Any]) -> None:
        self.path = path
        self.document = document

    def fail(self, key: str, reason: str) -> ProfileError:
        return ProfileError(f"{self.path.name}: {key}: {reason}")

    def section(self, name: str, allowed: tuple[str, ...], *, required: bool = True) -> dict[str, Any]:
        value = self.document.get(name)
        if value is None:
            if required:
                raise self.fail(name, "missing section")
            return {}
        if not isinstance(value, dict):
            raise self.fail(name, "must be a table")
        for key in value:
            if key not in allowed:
                raise self.fail(f"{name}.{key}", f"unknown key (allowed: {', '.join(allowed)})")
        return value

    def get(
        self, table: dict[str, Any], section: str, key: str, kind: type | tuple[type, ...], default: Any = ...
    ) -> Any:
        if key not in table:
            if default is ...:
                raise self.fail(f"{section}.{key}", "missing")
            return default
        value = table[key]
        if isinstance(value, bool) and kind is not bool:
            raise self.fail(f"{section}.{key}", "must not be a boolean")
        if not isinstance(value, kind):
            raise self.fail(f"{section}.{key}", f"has the wrong type ({type(value).__name__})")
        return value

    def money(self, table: dict[str, Any], section: str, key: str, digits: int, default: str | None = None) -> int:
        text = self.get(table, section, key, str, default)
        try:
            return parse_money(text, digits)
        except ValueError as error:
            raise self.fail(f"{section}.{key}", str(error)) from None

    def choice(self, table: dict[str, Any], section: str, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.get(table, section, key, str, default)
        if value not in choices:
            raise self.fail(f"{section}.{key}", f"must be one of {', '.join(choices)}")
        return str(value)


def _four(reader: _Reader, table: dict[str, Any], section: str, key: str, default: tuple[Any, ...]) -> tuple[Any, ...]:
    value = tuple(reader.get(table, section, key, list, list(default)))
    if len(value) != len(TIERS):
        raise reader.fail(f"{section}.{key}", f"needs one value per tier ({', '.join(TIERS)})")
    return value


def _pair(reader: _Reader, table: dict[str, Any], section: str, key: str) -> tuple[int, int]:
    value = reader.get(table, section, key, list)
    if len(value) != 2 or not all(isinstance(item, int) and item > 0 for item in value):
        raise reader.fail(f"{section}.{key}", "needs two positive whole amounts: the poor's, the others'")
    return int(value[0]), int(value[1])


def load_profile(path: Path) -> Profile:
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    reader = _Reader(path, document)
    for key in document:
        if key not in (
            "profile", "place", "facilities", "people", "population", "categories", "care_types",
            "money", "utilisation", "scheme", "enrolment", "contributions", "funds", "targets",
        ):  # fmt: skip
            raise reader.fail(key, "unknown section")
    head = reader.section("profile", ("id", "policies", "source"))
    place = reader.section(
        "place",
        ("country_code", "country_name", "province_name", "code_prefix", "districts", "commune", "in_area"),
    )
    facilities = reader.section("facilities", ("levels", "names", "designated", "cost_factors"))
    population = reader.section(
        "population",
        (
            "poor_household_rate", "near_poor_household_rate", "low_income_household_rate",
            "ethnic_minority_rate", "foreign_national_rate", "national_id", "national_id_digits",
            "national_id_prefix", "area_category", "area_commune_share", "area_organisations",
            "district_organisations",
        ),
    )  # fmt: skip
    money = reader.section(
        "money", ("currency", "minor_digits", "cost_scale", "rounding", "min_amount", "max_amount", "consumption")
    )
    utilisation = reader.section("utilisation", ("outpatient_rate", "inpatient_rate", "emergency_rate"), required=False)
    scheme = reader.section("scheme", ("code", "name", "names"))
    scheme_names = reader.get(scheme, "scheme", "names", dict, {})
    for language, text in scheme_names.items():
        if language not in SCHEME_NAME_LANGUAGES:
            raise reader.fail(
                f"scheme.names.{language}", f"unknown language (known: {', '.join(SCHEME_NAME_LANGUAGES)})"
            )
        if not isinstance(text, str) or not text.strip():
            raise reader.fail(f"scheme.names.{language}", "must be a name")
    enrolment = reader.section("enrolment", ("take_up", "individual_drop", "by_category"))
    contributions = reader.section(
        "contributions", ("rules", "amount", "subsidies", "per_capita", "payer_names"), required=False
    )
    funds = reader.section(
        "funds", ("contributions", "contributions_name", "capitation", "capitation_fund", "receive", "operator_fee")
    )
    categories = {
        str(key): str(value) for key, value in reader.section("categories", P.CATEGORIES, required=False).items()
    }
    care_types = {
        str(key): str(value)
        for key, value in reader.section("care_types", GENERATOR_CARE_TYPES, required=False).items()
    }

    digits = int(reader.get(money, "money", "minor_digits", int))
    peoples = []
    raw_peoples = document.get("people")
    if not isinstance(raw_peoples, list) or not raw_peoples:
        raise reader.fail("people", "needs at least one [[people]] table")
    for index, item in enumerate(raw_peoples):
        section = f"people[{index}]"
        for key in item:
            if key not in (
                "locale", "script", "weight", "family_first", "separator", "family", "given_male",
                "given_female",
            ):  # fmt: skip
                raise reader.fail(f"{section}.{key}", "unknown key")
        locale = reader.get(item, section, "locale", str, None)
        family = tuple(reader.get(item, section, "family", list, []))
        if locale is None and not family:
            raise reader.fail(section, "needs a Faker locale or lists of names")
        peoples.append(
            People(
                script=reader.get(item, section, "script", str),
                weight=float(reader.get(item, section, "weight", (int, float), 1.0)),
                family_first=reader.get(item, section, "family_first", bool, False),
                separator=reader.get(item, section, "separator", str, " "),
                locale=locale,
                family=family,
                given_male=tuple(reader.get(item, section, "given_male", list, [])),
                given_female=tuple(reader.get(item, section, "given_female", list, [])),
            )
        )

    def category_list(value: Any, key: str) -> tuple[str, ...]:
        names = tuple(str(name) for name in value)
        known = set(P.CATEGORIES) | {reader.get(population, "population", "area_category", str, "")}
        for name in names:
            if name not in known:
                raise reader.fail(key, f"unknown category {name!r}")
        return names

    take_ups = tuple(
        CategoryTakeUp(category_list([row["category"]], "enrolment.by_category")[0], float(row["take_up"]))
        for row in reader.get(enrolment, "enrolment", "by_category", list, [])
    )
    subsidies = []
    for row in reader.get(contributions, "contributions", "subsidies", list, []):
        category = category_list([row["category"]], "contributions.subsidies")[0]
        shares = tuple(
            (str(payer), int(Decimal(str(share)) * 1000)) for payer, share in row.items() if payer != "category"
        )
        subsidies.append(Subsidy(category, shares))
    allocations = tuple(
        Allocation(
            payer=str(row["payer"]),
            name=str(row["name"]),
            amount=reader.money(row, "contributions.per_capita", "amount", digits),
            categories=category_list(row.get("categories", []), "contributions.per_capita"),
        )
        for row in reader.get(contributions, "contributions", "per_capita", list, [])
    )
    receipts = tuple(
        Receipt(
            fund=str(row["fund"]),
            source=str(row["source"]),
            per_member=reader.money(row, "funds.receive", "per_member", digits),
            on=str(row.get("on", "01-05")),
            reference=str(row.get("reference", "budget allocation")),
            categories=category_list(row.get("categories", []), "funds.receive"),
        )
        for row in reader.get(funds, "funds", "receive", list, [])
    )
    names = _four(reader, facilities, "facilities", "names", ())

    def organisation_list(key: str) -> tuple[tuple[str, str, float], ...]:
        rows = reader.get(population, "population", key, list, [])
        if any(set(row) != {"code", "name", "weight"} for row in rows):
            raise reader.fail(f"population.{key}", "each organisation needs a code, a name and a weight")
        return tuple((str(row["code"]), str(row["name"]), float(row["weight"])) for row in rows)

    profile = Profile(
        id=reader.get(head, "profile", "id", str),
        path=path,
        policies=tuple(reader.get(head, "profile", "policies", list)),
        source=reader.get(head, "profile", "source", str),
        country_code=reader.get(place, "place", "country_code", str),
        country_name=reader.get(place, "place", "country_name", str),
        province_name=reader.get(place, "place", "province_name", str),
        code_prefix=reader.get(place, "place", "code_prefix", str),
        district_names=tuple(reader.get(place, "place", "districts", list)),
        commune_pattern=reader.get(place, "place", "commune", str),
        in_area=reader.choice(place, "place", "in_area", IN_AREA_RULES, "district"),
        levels=_four(reader, facilities, "facilities", "levels", ()),
        facility_names=names,
        designated_share=tuple(float(v) for v in _four(reader, facilities, "facilities", "designated", (1.0,) * 4)),  # type: ignore[arg-type]
        level_cost_factors=tuple(
            float(v) for v in _four(reader, facilities, "facilities", "cost_factors", P.LEVEL_COST_FACTOR)
        ),  # type: ignore[arg-type]
        peoples=tuple(peoples),
        poor_household_rate=float(reader.get(population, "population", "poor_household_rate", float)),
        near_poor_household_rate=float(reader.get(population, "population", "near_poor_household_rate", float)),
        low_income_household_rate=float(reader.get(population, "population", "low_income_household_rate", float)),
        ethnic_minority_rate=float(reader.get(population, "population", "ethnic_minority_rate", float)),
        foreign_national_rate=float(reader.get(population, "population", "foreign_national_rate", float)),
        national_id=reader.choice(population, "population", "national_id", NATIONAL_ID_KINDS, "cn_resident"),
        national_id_digits=int(reader.get(population, "population", "national_id_digits", int, 12)),
        national_id_prefix=reader.get(population, "population", "national_id_prefix", str, ""),
        area_category=reader.get(population, "population", "area_category", str, None),
        area_commune_share=float(reader.get(population, "population", "area_commune_share", float, 0.0)),
        area_organisations=organisation_list("area_organisations"),
        district_organisations=organisation_list("district_organisations"),
        categories=categories,
        care_types=care_types,
        currency=reader.get(money, "money", "currency", str),
        minor_digits=digits,
        cost_scale=float(reader.get(money, "money", "cost_scale", (int, float))),
        rounding=reader.money(money, "money", "rounding", digits),
        min_amount=reader.money(money, "money", "min_amount", digits),
        max_amount=reader.money(money, "money", "max_amount", digits),
        consumption_per_capita=tuple(int(v) for v in _pair(reader, money, "money", "consumption")),  # type: ignore[arg-type]
        outpatient_rate=float(reader.get(utilisation, "utilisation", "outpatient_rate", float, P.OUTPATIENT_RATE)),
        inpatient_rate=float(reader.get(utilisation, "utilisation", "inpatient_rate", float, P.INPATIENT_RATE)),
        emergency_rate=float(reader.get(utilisation, "utilisation", "emergency_rate", float, P.EMERGENCY_RATE)),
        scheme_code=reader.get(scheme, "scheme", "code", str),
        scheme_name=reader.get(scheme, "scheme", "name", str),
        scheme_names={language: text.strip() for language, text in scheme_names.items()},
        take_up=float(reader.get(enrolment, "enrolment", "take_up", float)),
        individual_drop=float(reader.get(enrolment, "enrolment", "individual_drop", float, 0.0)),
        take_up_by_category=take_ups,
        contribution_rules=reader.choice(contributions, "contributions", "rules", CONTRIBUTION_RULES, "none"),
        contribution_amount=reader.money(contributions, "contributions", "amount", digits, "0"),
        subsidies=tuple(subsidies),
        allocations=allocations,
        payer_names={
            "state_budget": "State budget",
            "local_budget": "Local budget",
            "member": None,
            **{str(k): str(v) for k, v in reader.get(contributions, "contributions", "payer_names", dict, {}).items()},
        },
        contribution_fund=reader.get(funds, "funds", "contributions", str),
        contribution_fund_name=reader.get(funds, "funds", "contributions_name", str),
        capitation=reader.get(funds, "funds", "capitation", str, "0"),
        capitation_fund=reader.get(
            funds, "funds", "capitation_fund", str, reader.get(funds, "funds", "contributions", str)
        ),
        receipts=receipts,
        operator_fee=reader.money(funds, "funds", "operator_fee", digits, "0"),
        coverage_targets=tuple(
            (float(row["percent"]), str(row["what"]))
            for row in reader.get(
                reader.section("targets", ("coverage",), required=False), "targets", "coverage", list, []
            )
        ),
    )
    if profile.rounding < 1:
        raise reader.fail("money.rounding", "must be at least one minor unit")
    for pattern, needs in zip(names, ("{commune}", "{district}", "", ""), strict=True):
        if needs and needs not in pattern:
            raise reader.fail("facilities.names", f"{pattern!r} must name the place with {needs}")
    return profile


@cache
def shipped_profiles() -> dict[str, Profile]:
    return {profile.id: profile for profile in (load_profile(path) for path in sorted(PROFILES.glob("*.toml")))}


def get_profile(profile_id: str = DEFAULT_PROFILE) -> Profile:
    profiles = shipped_profiles()
    if profile_id not in profiles:
        raise ProfileError(f"unknown synthetic province {profile_id!r} (known: {', '.join(sorted(profiles))})")
    return profiles[profile_id]


def profile_for_policy(policy_id: str) -> Profile:
    """The province whose profile names the policy id (the Ya'an province for any other policy)."""
    for profile in shipped_profiles().values():
        if policy_id in profile.policies:
            return profile
    return get_profile(DEFAULT_PROFILE)
