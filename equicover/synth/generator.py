"""Pure, columnar generation of a synthetic province: no database, no files.

Everything is numpy arrays, one per column, built without a Python loop per person (loops run
over locales, districts, categories or diagnoses: tens of iterations). The same seed gives the
same arrays: each phase draws from its own child of one ``numpy.random.SeedSequence``, so a
change in one phase's draws does not shift another phase's.

Indexes, not ids: persons, households, locations and providers are numbered from 0 here;
``equicover.synth.service`` adds each table's first database id when it loads them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from equicover.settlement.contributions import ContributionMember, compute_contributions
from equicover.settlement.loader import MEMBER_PAYER
from equicover.settlement.model import ContributionRules
from equicover.synth import parameters as P
from equicover.synth.names import NamePool, build_people_pools
from equicover.synth.profile import Profile, get_profile

DAY = np.timedelta64(1, "D")
NO_DATE = np.datetime64("NaT", "D")
# The bit of the profile's area category (a deprived neighbourhood's residents), after the others.
AREA_BIT = 1 << len(P.CATEGORIES)
# Six-digit administrative prefix of the resident identity numbers (GB 11643): the province part
# is a fictional "99", the district part the district's number.
NATIONAL_ID_AREA = 990_000
_CHECK_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK_CHARS = np.array(list("10X98765432"), dtype=object)


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class LocationTree:
    """Province (index 0), then districts, then communes: one table, parents before children."""

    codes: np.ndarray  # object
    names: np.ndarray  # object
    levels: np.ndarray  # object: province / district / commune
    parents: np.ndarray  # int64 index of the parent, -1 for the province
    district_locations: np.ndarray  # location index of each district
    commune_locations: np.ndarray  # location index of each commune
    commune_district: np.ndarray  # district number (0..D-1) of each commune
    district_locale: np.ndarray  # people number (the profile's [[people]]) of each district
    commune_in_area_category: np.ndarray  # bool: the commune's residents hold the profile's area category
    commune_organisation: np.ndarray  # int: the organisation responsible for the commune, -1 for none
    district_organisation: np.ndarray  # int: the organisation running the programme in the district, -1

    @property
    def district_count(self) -> int:
        return len(self.district_locations)


@dataclass(frozen=True)
class ProviderTable:
    codes: np.ndarray  # object
    names: np.ndarray  # object
    levels: np.ndarray  # int8 index into PROVIDER_LEVELS
    district: np.ndarray  # district number
    location: np.ndarray  # location index (commune for township centres, district otherwise)
    designated: np.ndarray  # bool
    township_of_commune: np.ndarray  # provider index of each commune's health centre
    county_of_district: np.ndarray  # provider index of each district's county hospital
    city_hospitals: np.ndarray  # provider indexes
    provincial_hospital: int


@dataclass(frozen=True)
class Population:
    # households
    household_codes: np.ndarray  # object
    household_commune: np.ndarray  # commune number
    household_district: np.ndarray  # district number
    household_locale: np.ndarray  # people number
    household_sizes: np.ndarray
    household_registered_on: np.ndarray  # datetime64[D], before the year
    # persons (sorted by household)
    person_household: np.ndarray
    person_rank: np.ndarray  # 0 = head
    male: np.ndarray  # bool
    birth_date: np.ndarray  # datetime64[D]
    age: np.ndarray  # whole years at the start of the year
    death_date: np.ndarray  # datetime64[D], NaT when alive at the end of the year
    given_name: np.ndarray  # object
    family_name: np.ndarray  # object
    full_name: np.ndarray  # object
    name_script: np.ndarray  # object
    id_type: np.ndarray  # object, None without an identity document
    national_id: np.ndarray  # object, None without an identity document
    # categories held all year (bit mask of CATEGORY_BIT), and the day `elderly` starts
    category_mask: np.ndarray  # int16
    elderly_from: np.ndarray  # datetime64[D]: 65th birthday
    chronic_condition: np.ndarray  # int8 index into CHRONIC_CONDITIONS, -1 for none

    @property
    def size(self) -> int:
        return len(self.person_household)

    @property
    def person_district(self) -> np.ndarray:
        return self.household_district[self.person_household]

    @property
    def person_commune(self) -> np.ndarray:
        return self.household_commune[self.person_household]


@dataclass(frozen=True)
class Enrolments:
    person: np.ndarray  # person index of each enrolment
    starts: np.ndarray  # datetime64[D]
    ends: np.ndarray  # datetime64[D]
    # contributions: one row per enrolment and payer with a positive amount
    contribution_enrolment: np.ndarray  # enrolment index
    contribution_payer: np.ndarray  # int8 index into PAYERS
    contribution_amount: np.ndarray  # int64 minor units
    # the payer kind of each index of ``contribution_payer``
    payers: tuple[str, ...] = P.PAYERS
    # per-capita allocations beside the contribution: one row per enrolment and allocation
    allocation_enrolment: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # index into the profile's allocations
    allocation_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    allocation_amount: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass(frozen=True)
class Claims:
    """One row per bill, sorted by (service_date, member); amounts in integer fen."""

    person: np.ndarray  # person index
    service_date: np.ndarray  # datetime64[D]
    provider: np.ndarray  # provider index
    level: np.ndarray  # int8 index into PROVIDER_LEVELS
    designated: np.ndarray  # bool
    in_area: np.ndarray  # bool
    referred: np.ndarray  # bool
    care_type: np.ndarray  # int8 index into CARE_TYPES
    diagnosis: np.ndarray  # int16 index into `diagnosis_codes`
    diagnosis_codes: np.ndarray  # object: the ICD-10 codes used
    days: np.ndarray  # int32
    total: np.ndarray  # int64 fen
    eligible: np.ndarray  # int64 fen
    category_mask: np.ndarray  # int16

    @property
    def size(self) -> int:
        return len(self.person)


@dataclass(frozen=True)
class SyntheticProvince:
    seed: int
    year: int
    locations: LocationTree
    providers: ProviderTable
    population: Population
    enrolments: Enrolments
    profile: Profile
    # the first and last day of the year of enrolments and claims (a calendar year by default;
    # a programme's own year, such as Iran's from 1 Farvardin, otherwise)
    period: tuple[np.datetime64, np.datetime64]


# --------------------------------------------------------------------------------------------
# Helpers


PHASES = ("locations", "providers", "population", "enrolments", "claims")


def phase_rng(seed: int, phase: str) -> np.random.Generator:
    """The random stream of one phase: independent of the other phases' draws."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(PHASES.index(phase),))))


def _normalised(weights: tuple[float, ...] | np.ndarray) -> np.ndarray:
    array = np.asarray(weights, dtype=np.float64)
    return array / array.sum()


def _draw_banded(rng: np.random.Generator, bands: tuple[tuple[float, float, float], ...], size: int) -> np.ndarray:
    """Uniform within (lower, upper) bands chosen by weight."""
    lower = np.array([band[0] for band in bands], dtype=np.float64)
    upper = np.array([band[1] for band in bands], dtype=np.float64)
    chosen = rng.choice(len(bands), size=size, p=_normalised(tuple(band[2] for band in bands)))
    return lower[chosen] + rng.random(size) * (upper[chosen] - lower[chosen])


def _rate_by_age(age: np.ndarray, bands: tuple[tuple[int, int, float], ...]) -> np.ndarray:
    rate = np.zeros(len(age), dtype=np.float64)
    for lower, upper, value in bands:
        rate[(age >= lower) & (age <= upper)] = value
    return rate


def age_band(age: np.ndarray) -> np.ndarray:
    """Index of each age in ``AGE_BAND_UPPER`` (the bands of the utilisation factors)."""
    return np.searchsorted(np.array(P.AGE_BAND_UPPER), age, side="right")


def _rank_within_groups(keys: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal keys, for keys in any order (stable)."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(keys)), 0))
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys)) - group_start
    return rank


def _digits_text(values: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as zero-padded decimal text (object array of str)."""
    text = pc.utf8_lpad(pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string()), width, "0")
    return text.to_numpy(zero_copy_only=False)


def _join_text(*parts: np.ndarray) -> np.ndarray:
    """Element-wise concatenation of object arrays of str."""
    texts = [pa.array(part, type=pa.string()) for part in parts]
    # The type stubs want arguments all of one kind: the separator, given last as a str, matches none.
    joined = pc.binary_join_element_wise(*texts, "")  # type: ignore[call-overload]
    return joined.to_numpy(zero_copy_only=False)


def _calendar(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month (1-12) and day (1-31) of datetime64[D] dates."""
    months = dates.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (dates - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def year_bounds(year: int) -> tuple[np.datetime64, np.datetime64]:
    return np.datetime64(f"{year}-01-01", "D"), np.datetime64(f"{year}-12-31", "D")


# --------------------------------------------------------------------------------------------
# Locations and providers


def province_code(seed: int, profile: Profile | None = None) -> str:
    """Every code of a province starts with this; it carries the seed so that provinces of
    different seeds can share one database."""
    return f"{(profile or get_profile()).code_prefix}{seed}"


def generate_locations(
    rng: np.random.Generator, *, people: int, seed: int, profile: Profile | None = None
) -> tuple[LocationTree, np.ndarray]:
    """The tree and each district's share of the population: as many districts as the profile
    names (at most), each with the names of the profile's peoples."""
    profile = profile or get_profile()
    district_count = min(int(rng.integers(P.MIN_DISTRICTS, P.MAX_DISTRICTS + 1)), len(profile.district_names))
    weights = _normalised(tuple(people.weight for people in profile.peoples))
    district_locale = rng.choice(len(weights), size=district_count, p=weights)
    district_weight = rng.lognormal(0.0, P.DISTRICT_SIZE_SIGMA, size=district_count)
    district_weight /= district_weight.sum()
    commune_counts = np.clip(
        np.rint(people * district_weight / P.PEOPLE_PER_COMMUNE), P.MIN_COMMUNES, P.MAX_COMMUNES
    ).astype(np.int64)

    root = province_code(seed, profile)
    codes: list[str] = [root]
    names: list[str] = [profile.province_name]
    levels: list[str] = ["province"]
    parents: list[int] = [-1]
    district_locations = np.arange(1, district_count + 1)
    for number in range(district_count):
        codes.append(f"{root}-D{number + 1:02d}")
        names.append(profile.district_names[number])
        levels.append("district")
        parents.append(0)
    commune_locations: list[int] = []
    commune_district: list[int] = []
    for number in range(district_count):
        for commune in range(int(commune_counts[number])):
            commune_locations.append(len(codes))
            commune_district.append(number)
            codes.append(f"{codes[district_locations[number]]}-C{commune + 1:02d}")
            names.append(profile.commune_pattern.format(district=names[district_locations[number]], number=commune + 1))
            levels.append("commune")
            parents.append(int(district_locations[number]))
    # The area category (a deprived neighbourhood) is drawn per commune from a stream of its own,
    # so that a profile without one draws the same province as before.
    area_rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(len(PHASES), 1))))
    commune_total = len(commune_locations)
    in_area_category = (
        area_rng.random(commune_total) < profile.area_commune_share
        if profile.area_category
        else np.zeros(commune_total, dtype=bool)
    )
    organisation = np.full(commune_total, -1, dtype=np.int64)
    if profile.area_organisations and in_area_category.any():
        organisation_weights = _normalised(tuple(weight for _, _, weight in profile.area_organisations))
        organisation[in_area_category] = area_rng.choice(
            len(organisation_weights), size=int(in_area_category.sum()), p=organisation_weights
        )
    district_organisation = np.full(district_count, -1, dtype=np.int64)
    if profile.district_organisations:
        district_weights = _normalised(tuple(weight for _, _, weight in profile.district_organisations))
        district_organisation = area_rng.choice(len(district_weights), size=district_count, p=district_weights)
    tree = LocationTree(
        codes=np.array(codes, dtype=object),
        names=np.array(names, dtype=object),
        levels=np.array(levels, dtype=object),
        parents=np.array(parents, dtype=np.int64),
        district_locations=district_locations,
        commune_locations=np.array(commune_locations, dtype=np.int64),
        commune_district=np.array(commune_district, dtype=np.int64),
        district_locale=district_locale.astype(np.int64),
        commune_in_area_category=in_area_category,
        commune_organisation=organisation,
        district_organisation=district_organisation,
    )
    return tree, district_weight


def generate_providers(
    rng: np.random.Generator, tree: LocationTree, district_weight: np.ndarray, profile: Profile | None = None
) -> ProviderTable:
    """A health centre per commune, a county hospital per district, city hospitals in the two most
    populous districts, the provincial hospital in the most populous one (the capital); named as
    the profile names each tier. ``levels`` holds the tier (0-3); the profile gives its word."""
    profile = profile or get_profile()
    health_centre, district_hospital, regional_hospital, top_hospital = profile.facility_names
    codes: list[str] = []
    names: list[str] = []
    levels: list[int] = []
    districts: list[int] = []
    locations: list[int] = []

    def add(code: str, name: str, level: str, district: int, location: int) -> int:
        codes.append(code)
        names.append(name)
        levels.append(P.PROVIDER_LEVELS.index(level))
        districts.append(district)
        locations.append(location)
        return len(codes) - 1

    township = np.array(
        [
            add(
                f"{tree.codes[location]}-HC",
                health_centre.format(commune=tree.names[location], province=tree.names[0]),
                "township",
                int(tree.commune_district[number]),
                int(location),
            )
            for number, location in enumerate(tree.commune_locations)
        ],
        dtype=np.int64,
    )
    county = np.array(
        [
            add(
                f"{tree.codes[location]}-CH",
                district_hospital.format(district=tree.names[location], province=tree.names[0]),
                "county",
                number,
                int(location),
            )
            for number, location in enumerate(tree.district_locations)
        ],
        dtype=np.int64,
    )
    by_size = np.argsort(-district_weight, kind="stable")
    city = np.array(
        [
            add(
                f"{tree.codes[0]}-CITY{number + 1}",
                regional_hospital.format(number=number + 1, province=tree.names[0]),
                "city",
                int(by_size[number % len(by_size)]),
                int(tree.district_locations[by_size[number % len(by_size)]]),
            )
            for number in range(P.CITY_HOSPITALS)
        ],
        dtype=np.int64,
    )
    capital = int(by_size[0])
    provincial = add(
        f"{tree.codes[0]}-PH",
        top_hospital.format(province=tree.names[0]),
        "province",
        capital,
        int(tree.district_locations[capital]),
    )
    level_array = np.array(levels, dtype=np.int8)
    designated_share = np.array(profile.designated_share)[level_array]
    designated = rng.random(len(codes)) < designated_share
    return ProviderTable(
        codes=np.array(codes, dtype=object),
        names=np.array(names, dtype=object),
        levels=level_array,
        district=np.array(districts, dtype=np.int64),
        location=np.array(locations, dtype=np.int64),
        designated=designated,
        township_of_commune=township,
        county_of_district=county,
        city_hospitals=city,
        provincial_hospital=provincial,
    )


# --------------------------------------------------------------------------------------------
# Households and persons


def _household_sizes(rng: np.random.Generator, people: int) -> np.ndarray:
    probabilities = _normalised(P.HOUSEHOLD_SIZE_PROBABILITIES)
    mean = float(np.dot(np.arange(1, len(probabilities) + 1), probabilities))
    sizes = np.empty(0, dtype=np.int64)
    while sizes.sum() < people:
        more = rng.choice(len(probabilities), size=int(people / mean * 1.05) + 16, p=probabilities) + 1
        sizes = np.concatenate([sizes, more])
    cumulative = np.cumsum(sizes)
    count = int(np.searchsorted(cumulative, people)) + 1
    sizes = sizes[:count].copy()
    sizes[-1] -= int(cumulative[count - 1]) - people
    return sizes


def _national_ids(
    rng: np.random.Generator,
    *,
    district: np.ndarray,
    birth_date: np.ndarray,
    male: np.ndarray,
    foreign: np.ndarray,
    profile: Profile,
) -> tuple[np.ndarray, np.ndarray]:
    """Identity numbers for citizens in the profile's form, passport numbers for foreign
    nationals, and ~1% of people without any document. Unique by construction.

    - ``cn_resident``: 18 characters (area, birth date, sequence whose parity is the sex, ISO 7064
      MOD 11-2 check character);
    - ``ir_national_code``: 10 digits, the last a check digit (weights 10..2, modulo 11);
    - ``digits``: the profile's prefix, then random digits up to ``national_id_digits``.
    """
    size = len(district)
    has_document = rng.random(size) >= P.WITHOUT_NATIONAL_ID
    id_type = np.full(size, None, dtype=object)
    national_id = np.full(size, None, dtype=object)

    citizens = np.flatnonzero(has_document & ~foreign)
    if len(citizens) and profile.national_id != "cn_resident":
        id_type[citizens] = P.NATIONAL_ID_TYPE
        if profile.national_id == "ir_national_code":
            body = rng.choice(10**9, size=len(citizens), replace=False).astype(np.int64)
            digits = (body[:, None] // 10 ** np.arange(8, -1, -1, dtype=np.int64)) % 10
            remainder = (digits @ np.arange(10, 1, -1, dtype=np.int64)) % 11
            check = np.where(remainder < 2, remainder, 11 - remainder)
            national_id[citizens] = _digits_text(body * 10 + check, 10)
        else:
            width = profile.national_id_digits - len(profile.national_id_prefix)
            numbers = rng.choice(10**width, size=len(citizens), replace=False)
            national_id[citizens] = _join_text(
                np.full(len(citizens), profile.national_id_prefix, dtype=object), _digits_text(numbers, width)
            )
    elif len(citizens):
        area = NATIONAL_ID_AREA + district[citizens] + 1
        year, month, day = _calendar(birth_date[citizens])
        day_number = birth_date[citizens].astype(np.int64)
        group_key = (district[citizens] * 1_000_000 + (day_number + 100_000)) * 2 + male[citizens]
        rank = _rank_within_groups(group_key)
        if rank.max(initial=0) >= 500:
            raise ValueError("more than 500 people of one sex born on one day in one district")
        sequence = rank * 2 + male[citizens]  # odd for men, as on real cards
        body = (area * 10**8 + year * 10_000 + month * 100 + day) * 1_000 + sequence
        digits = (body[:, None] // 10 ** np.arange(16, -1, -1, dtype=np.int64)) % 10
        check = _CHECK_CHARS[(digits @ _CHECK_WEIGHTS) % 11]
        id_type[citizens] = P.NATIONAL_ID_TYPE
        national_id[citizens] = _join_text(_digits_text(body, 17), check)

    foreigners = np.flatnonzero(has_document & foreign)
    if len(foreigners):
        numbers = rng.choice(10**8, size=len(foreigners), replace=False)
        id_type[foreigners] = P.FOREIGN_ID_TYPE
        national_id[foreigners] = _join_text(np.full(len(foreigners), "P", dtype=object), _digits_text(numbers, 8))
    return id_type, national_id


def _household_poverty(
    rng: np.random.Generator,
    *,
    tree: LocationTree,
    household_district: np.ndarray,
    household_locale_is_majority: np.ndarray,
    household_commune: np.ndarray,
    sizes: np.ndarray,
    head_age: np.ndarray,
    profile: Profile,
) -> np.ndarray:
    """Category bits held by whole households: poverty tiers, minorities, foreign nationals, and
    the profile's area category for every household of its communes."""
    count = len(household_district)
    district_rate = profile.poor_household_rate * rng.lognormal(
        -0.5 * P.POOR_DISTRICT_SPREAD**2, P.POOR_DISTRICT_SPREAD, size=tree.district_count
    )
    poor_probability = district_rate[household_district]
    poor_probability = np.where(sizes >= 5, poor_probability * P.POOR_LARGE_HOUSEHOLD_FACTOR, poor_probability)
    poor_probability = np.where(
        head_age >= P.ELDERLY_AGE, poor_probability * P.POOR_ELDERLY_HEAD_FACTOR, poor_probability
    )
    poor_probability = np.minimum(poor_probability, 0.9)

    foreign_rate = profile.foreign_national_rate
    minority_rate = profile.ethnic_minority_rate
    # Households of the district's majority language are its majority people; minorities and
    # foreigners come from the others first, then from the rest.
    if len(profile.peoples) > 1:
        foreign = rng.random(count) < np.where(household_locale_is_majority, foreign_rate * 0.5, foreign_rate * 3.0)
    else:
        foreign = rng.random(count) < foreign_rate
    minority = ~foreign & (rng.random(count) < minority_rate)
    # Registration as poor is for citizens; a foreign household may still be on a low income.
    poor = ~foreign & (rng.random(count) < poor_probability)
    near_poor = ~foreign & ~poor & (rng.random(count) < profile.near_poor_household_rate)
    low_income = ~poor & ~near_poor & (rng.random(count) < profile.low_income_household_rate)

    mask = np.zeros(count, dtype=np.int16)
    for flags, name in (
        (poor, "registered_poor"),
        (near_poor, "near_poor"),
        (low_income, "low_income"),
        (minority, "ethnic_minority"),
        (foreign, "foreign_national"),
    ):
        mask[flags] |= P.CATEGORY_BIT[name]
    mask[tree.commune_in_area_category[household_commune]] |= AREA_BIT
    return mask


def generate_population(
    rng: np.random.Generator,
    *,
    people: int,
    year: int,
    tree: LocationTree,
    district_weight: np.ndarray,
    name_pools: tuple[NamePool, ...],
    today: dt.date,
    profile: Profile | None = None,
    period: tuple[np.datetime64, np.datetime64] | None = None,
) -> Population:
    profile = profile or get_profile()
    year_start, year_end = period or year_bounds(year)

    # Households: size, place, language of names.
    sizes = _household_sizes(rng, people)
    household_count = len(sizes)
    household_district = np.sort(rng.choice(tree.district_count, size=household_count, p=district_weight))
    commune_first = np.searchsorted(tree.commune_district, np.arange(tree.district_count))
    commune_count = np.bincount(tree.commune_district, minlength=tree.district_count)
    household_commune = commune_first[household_district] + (
        rng.random(household_count) * commune_count[household_district]
    ).astype(np.int64)
    peoples = len(profile.peoples)
    majority = (rng.random(household_count) < P.MAJORITY_LOCALE_SHARE) | (peoples == 1)
    other_locale = rng.integers(0, max(peoples - 1, 1), size=household_count)
    district_locale = tree.district_locale[household_district]
    # "another people": skip over the district's own in the 0..L-2 draw
    other_locale = other_locale + (other_locale >= district_locale)
    household_locale = np.where(majority, district_locale, other_locale)
    household_registered_on = year_start - rng.integers(30, 3_000, size=household_count) * DAY
    household_codes = _join_text(
        tree.codes[tree.district_locations[household_district]],
        np.full(household_count, "-H", dtype=object),
        _digits_text(_rank_within_groups(household_district) + 1, 6),
    )

    # Members and their roles.
    person_household = np.repeat(np.arange(household_count), sizes)
    first_member = np.cumsum(sizes) - sizes
    rank = np.arange(people) - first_member[person_household]
    household_size = sizes[person_household]
    single = sizes == 1
    head_age = np.where(
        single,
        _draw_banded(rng, P.SINGLE_HEAD_AGE_BANDS, household_count),
        _draw_banded(rng, P.HEAD_AGE_BANDS, household_count),
    )
    head_male = rng.random(household_count) < P.MALE_HEAD
    has_spouse = (sizes >= 2) & (rng.random(household_count) < P.SPOUSE_PRESENT)
    has_elder = (
        (sizes >= 5) & (rng.random(household_count) < P.ELDER_PARENT_SHARE) & (head_age + P.ELDER_PARENT_GAP[0] <= 95)
    )

    is_head = rank == 0
    is_spouse = (rank == 1) & has_spouse[person_household]
    is_elder = (rank == household_size - 1) & (rank >= 2) & has_elder[person_household]
    is_child = ~is_head & ~is_spouse & ~is_elder

    parent_age = head_age[person_household]
    age_years = np.empty(people, dtype=np.float64)
    age_years[is_head] = head_age[person_household[is_head]]
    spouse_shift = np.where(head_male[person_household], -2.0, 2.0)
    age_years[is_spouse] = (
        parent_age[is_spouse] + spouse_shift[is_spouse] + rng.normal(0, P.SPOUSE_AGE_GAP_SD, int(is_spouse.sum()))
    )
    gap = rng.uniform(*P.ELDER_PARENT_GAP, size=int(is_elder.sum()))
    age_years[is_elder] = parent_age[is_elder] + gap
    # Children of the head: the head's age minus a parenthood gap; where that would be before
    # birth (young heads), a younger child born after the head turned 18.
    child_parent_age = parent_age[is_child]
    child_age = child_parent_age - rng.uniform(
        P.CHILD_MIN_PARENT_GAP, P.CHILD_MAX_PARENT_GAP, size=len(child_parent_age)
    )
    unborn = child_age < 0
    child_age[unborn] = rng.random(int(unborn.sum())) * np.maximum(
        child_parent_age[unborn] - P.CHILD_MIN_PARENT_GAP, 0.5
    )
    age_years[is_child] = child_age
    age_years = np.clip(age_years, 0.0, P.MAX_AGE + 0.99)

    male = np.where(is_head, head_male[person_household], rng.random(people) < P.MALE_AT_BIRTH)
    male = np.where(is_spouse, ~head_male[person_household], male)

    days_old = np.floor(age_years * 365.2425).astype(np.int64) + 1  # born before the year starts
    birth_date = year_start - days_old * DAY
    age = _whole_years(birth_date, year_start)

    # Names: family names shared in the household (spouses keep theirs, except in French usage).
    person_locale = household_locale[person_household]
    given_name = np.empty(people, dtype=object)
    family_name = np.empty(people, dtype=object)
    household_family_draw = rng.integers(0, 1 << 30, size=household_count)
    own_family_draw = rng.integers(0, 1 << 30, size=people)
    given_draw = rng.integers(0, 1 << 30, size=people)
    for index, pool in enumerate(name_pools):
        members = person_locale == index
        if not members.any():
            continue
        keeps_own = is_spouse[members]
        family_draw = np.where(keeps_own, own_family_draw[members], household_family_draw[person_household[members]])
        family_name[members] = pool.family[family_draw % len(pool.family)]
        draw = given_draw[members]
        given_name[members] = np.where(
            male[members],
            pool.given_male[draw % len(pool.given_male)],
            pool.given_female[draw % len(pool.given_female)],
        )
    full_name = _full_names(given_name, family_name, person_locale, profile)
    name_script = np.array([people.script for people in profile.peoples], dtype=object)[person_locale]

    # Categories: household statuses, then personal ones.
    household_mask = _household_poverty(
        rng,
        tree=tree,
        household_district=household_district,
        household_locale_is_majority=majority,
        household_commune=household_commune,
        sizes=sizes,
        head_age=head_age,
        profile=profile,
    )
    category_mask = household_mask[person_household].copy()
    student = rng.random(people) < _rate_by_age(age, P.STUDENT_AGE_SHARES)
    disabled = rng.random(people) < _rate_by_age(age, P.DISABLED_AGE_RATES)
    category_mask[student] |= P.CATEGORY_BIT["student"]
    category_mask[disabled] |= P.CATEGORY_BIT["disabled"]
    elderly_from = _add_years(birth_date, P.ELDERLY_AGE)

    band = age_band(age)
    chronic = rng.random(people) < np.asarray(P.CHRONIC_PREVALENCE)[band]
    condition_weights = _normalised(tuple(condition.weight for condition in P.CHRONIC_CONDITIONS))
    chronic_condition = np.where(
        chronic, rng.choice(len(condition_weights), size=people, p=condition_weights), -1
    ).astype(np.int8)

    # Deaths during the year (never after today, for a year still running).
    dies = rng.random(people) < _rate_by_age(age, P.MORTALITY)
    last_day = min(year_end, np.datetime64(today, "D"))
    span = max(int((last_day - year_start) / DAY), 0)
    death_date = np.full(people, NO_DATE, dtype="datetime64[D]")
    if span > 0:
        death_date[dies] = year_start + (rng.random(int(dies.sum())) * span).astype(np.int64) * DAY

    foreign = (category_mask & P.CATEGORY_BIT["foreign_national"]) != 0
    id_type, national_id = _national_ids(
        rng,
        district=household_district[person_household],
        birth_date=birth_date,
        male=male,
        foreign=foreign,
        profile=profile,
    )
    return Population(
        household_codes=household_codes,
        household_commune=household_commune,
        household_district=household_district,
        household_locale=household_locale,
        household_sizes=sizes,
        household_registered_on=household_registered_on,
        person_household=person_household,
        person_rank=rank,
        male=male,
        birth_date=birth_date,
        age=age,
        death_date=death_date,
        given_name=given_name,
        family_name=family_name,
        full_name=full_name,
        name_script=name_script,
        id_type=id_type,
        national_id=national_id,
        category_mask=category_mask,
        elderly_from=elderly_from,
        chronic_condition=chronic_condition,
    )


def _full_names(given: np.ndarray, family: np.ndarray, locale: np.ndarray, profile: Profile) -> np.ndarray:
    """Family name first or last, with the people's separator ("" between Chinese names)."""
    full = np.empty(len(given), dtype=object)
    for index, people in enumerate(profile.peoples):
        members = locale == index
        if not members.any():
            continue
        separator = np.full(int(members.sum()), people.separator, dtype=object)
        if people.family_first:
            full[members] = _join_text(family[members], separator, given[members])
        else:
            full[members] = _join_text(given[members], separator, family[members])
    return full


def _whole_years(birth_date: np.ndarray, on: np.datetime64) -> np.ndarray:
    """Age in completed years on a date (a birthday counts on the day)."""
    birth_year, birth_month, birth_day = _calendar(birth_date)
    on_year, on_month, on_day = (int(part[0]) for part in _calendar(np.array([on], dtype="datetime64[D]")))
    return on_year - birth_year - ((birth_month * 100 + birth_day) > (on_month * 100 + on_day))


def _add_years(dates: np.ndarray, years: int) -> np.ndarray:
    """The same month and day ``years`` later (29 February becomes 1 March in common years)."""
    months = dates.astype("datetime64[M]")
    day_offset = dates - months.astype("datetime64[D]")
    shifted = (months + np.timedelta64(12 * years, "M")).astype("datetime64[D]") + day_offset
    return shifted


# --------------------------------------------------------------------------------------------
# Enrolment and contributions


def _holds(population: Population, person: np.ndarray, category: str, year_start: np.datetime64) -> np.ndarray:
    """Whether each person holds a generator category at the start of the year."""
    if category == "elderly":
        return population.elderly_from[person] <= year_start
    bit = AREA_BIT if category not in P.CATEGORY_BIT else P.CATEGORY_BIT[category]
    return (population.category_mask[person] & bit) != 0


def generate_enrolments(
    rng: np.random.Generator,
    *,
    population: Population,
    year: int,
    profile: Profile | None = None,
    contribution_rules: ContributionRules | None = None,
    period: tuple[np.datetime64, np.datetime64] | None = None,
) -> Enrolments:
    """Who enrols (the first of the profile's category rules a person holds gives the take-up of
    the household; a rule of 1.0 enrols everyone holding it, the others lose a few members: away
    for work, papers missing), and who pays their contributions: the profile's table, or the
    policy's contribution rules (``contribution_rules``), and the per-capita allocations."""
    profile = profile or get_profile()
    year_start, year_end = period or year_bounds(year)
    household_count = len(population.household_codes)
    household = population.person_household
    everyone = np.arange(population.size)
    take_up = np.full(population.size, profile.take_up)
    decided = np.zeros(population.size, dtype=bool)
    for rule in profile.take_up_by_category:
        applies = _holds(population, everyone, rule.category, year_start) & ~decided
        take_up[applies] = rule.take_up
        decided |= applies
    household_draw = rng.random(household_count)[household]
    # A household takes up a rule's enrolment together; below certainty some members drop out.
    enrolled = np.where(
        take_up >= 1.0,
        True,
        (household_draw < take_up) & (rng.random(population.size) >= profile.individual_drop),
    )
    person = np.flatnonzero(enrolled)
    death = population.death_date[person]
    ends = np.where(np.isnat(death), year_end, death)
    starts = np.full(len(person), year_start, dtype="datetime64[D]")

    if profile.contribution_rules == "table":
        payers, amounts = _table_contributions(population, person, profile, year_start)
    elif profile.contribution_rules == "policy" and contribution_rules is not None:
        payers, amounts = _policy_contributions(population, person, profile, contribution_rules, year_start)
    else:
        payers, amounts = (MEMBER_PAYER,), np.zeros((len(person), 1), dtype=np.int64)
    # A programme's year shorter than twelve months (a policy version of six months) is paid for
    # its months only, as a health insurance card of 3, 6 or 12 months is.
    months = min(12, round(((year_end - year_start) / DAY + 1) / 30.44))
    amounts = _for_months(amounts, months)
    enrolment_index, payer_index = np.nonzero(amounts > 0)

    allocation_rows: list[np.ndarray] = []
    allocation_index: list[np.ndarray] = []
    allocation_amount: list[np.ndarray] = []
    for number, allocation in enumerate(profile.allocations):
        holds = np.ones(len(person), dtype=bool)
        if allocation.categories:
            holds = np.zeros(len(person), dtype=bool)
            for category in allocation.categories:
                holds |= _holds(population, person, category, year_start)
        rows = np.flatnonzero(holds)
        allocation_rows.append(rows)
        allocation_index.append(np.full(len(rows), number, dtype=np.int64))
        allocation_amount.append(_for_months(np.full(len(rows), allocation.amount, dtype=np.int64), months))
    return Enrolments(
        person=person,
        starts=starts,
        ends=ends,
        contribution_enrolment=enrolment_index,
        contribution_payer=payer_index.astype(np.int8),
        contribution_amount=amounts[enrolment_index, payer_index],
        payers=payers,
        allocation_enrolment=np.concatenate(allocation_rows) if allocation_rows else np.zeros(0, dtype=np.int64),
        allocation_index=np.concatenate(allocation_index) if allocation_index else np.zeros(0, dtype=np.int64),
        allocation_amount=np.concatenate(allocation_amount) if allocation_amount else np.zeros(0, dtype=np.int64),
    )


def _for_months(yearly: np.ndarray, months: int) -> np.ndarray:
    """Yearly amounts for ``months`` months, rounded half up to the minor unit."""
    if months >= 12:
        return yearly
    return (yearly * months * 2 + 12) // 24


def _table_contributions(
    population: Population, person: np.ndarray, profile: Profile, year_start: np.datetime64
) -> tuple[tuple[str, ...], np.ndarray]:
    """A flat amount per person; the first subsidy row the person holds decides the payers'
    shares (per mille, each rounded half up to the minor unit), the member pays the rest."""
    payers = P.PAYERS
    payer_share = np.zeros((len(person), len(payers)), dtype=np.int64)
    decided = np.zeros(len(person), dtype=bool)
    for subsidy in profile.subsidies:
        applies = _holds(population, person, subsidy.category, year_start) & ~decided
        for payer, per_mille in subsidy.shares:
            payer_share[applies, payers.index(payer)] = per_mille
        decided |= applies
    amount = profile.contribution_amount
    amounts = (amount * payer_share + 500) // 1000  # round half up to the minor unit
    member_column = payers.index("member")
    amounts[:, member_column] = amount - amounts.sum(axis=1) + amounts[:, member_column]
    return payers, amounts


def _policy_contributions(
    population: Population,
    person: np.ndarray,
    profile: Profile,
    rules: ContributionRules,
    year_start: np.datetime64,
) -> tuple[tuple[str, ...], np.ndarray]:
    """The policy's own contribution rules (``settlement.contributions``), members in household
    order, each with the categories they hold at the start of the year in the programme's words."""
    words = [
        (np.asarray(_holds(population, person, name, year_start)), profile.word(name))
        for name in (*P.CATEGORIES, *((profile.area_category,) if profile.area_category else ()))
    ]
    members = [
        ContributionMember(
            household_id=str(population.person_household[who]),
            member_id=str(row),
            categories=frozenset(word for holds, word in words if holds[row]),
        )
        for row, who in enumerate(person.tolist())
    ]
    payers: list[str] = []
    for subsidy in rules.subsidies:
        payers.extend(payer for payer, _ in subsidy.shares if payer not in payers)
    payers.append(MEMBER_PAYER)
    amounts = np.zeros((len(person), len(payers)), dtype=np.int64)
    for row in compute_contributions(rules, members):
        amounts[int(row.member_id), payers.index(row.payer)] += row.amount
    return tuple(payers), amounts


def categorised_by_round(
    province: SyntheticProvince,
    *,
    holders: dict[str, np.ndarray],
    contribution_rules: ContributionRules | None = None,
) -> SyntheticProvince:
    """The province once a round of identification has decided its poverty categories: ``holders``
    maps each category the round gave (the programme's word) to the person indices holding it in
    the year. The generator's own draw of those categories is dropped, and the enrolments and
    contributions are drawn again from the round's (same stream as the first draw), so the
    subsidies and the claims follow what the round decided."""
    profile = province.profile
    population = province.population
    code_of = {profile.word(code): code for code in P.CATEGORIES}
    mask = population.category_mask.copy()
    for word in holders:
        code = code_of.get(word)
        if code is not None and code in P.CATEGORY_BIT:
            mask &= np.int16(~P.CATEGORY_BIT[code])
    for word, persons in holders.items():
        code = code_of.get(word)
        if code is not None and code in P.CATEGORY_BIT:
            mask[persons] |= np.int16(P.CATEGORY_BIT[code])
    # The poverty tiers exclude each other: a tier the round gave drops the lower ones drawn.
    tiers = ("registered_poor", "near_poor", "low_income")
    for index, tier in enumerate(tiers):
        holds = (mask & P.CATEGORY_BIT[tier]) != 0
        for lower in tiers[index + 1 :]:
            mask[holds] &= np.int16(~P.CATEGORY_BIT[lower])
    population = replace(population, category_mask=mask)
    enrolments = generate_enrolments(
        phase_rng(province.seed, "enrolments"),
        population=population,
        year=province.year,
        profile=profile,
        contribution_rules=contribution_rules,
        period=province.period,
    )
    return replace(province, population=population, enrolments=enrolments)


# --------------------------------------------------------------------------------------------
# The whole province (without claims)


def generate_province(
    *,
    people: int,
    seed: int,
    year: int,
    today: dt.date | None = None,
    profile: Profile | None = None,
    contribution_rules: ContributionRules | None = None,
    period: tuple[dt.date, dt.date] | None = None,
) -> SyntheticProvince:
    """A province of the profile's country (default: Ya'an); ``contribution_rules`` are the
    policy's, used when the profile takes its contributions from the policy; ``period`` the
    programme's year (default: the calendar ``year``), at most a year long, starting in ``year``."""
    if people < 1:
        raise ValueError("people must be at least 1")
    profile = profile or get_profile()
    bounds = year_bounds(year) if period is None else (np.datetime64(period[0], "D"), np.datetime64(period[1], "D"))
    if bounds[1] < bounds[0] or bounds[1] - bounds[0] > 365 * DAY or period is not None and period[0].year != year:
        raise ValueError("the period must start in the year and last at most a year")
    today = today or dt.date.today()
    tree, district_weight = generate_locations(phase_rng(seed, "locations"), people=people, seed=seed, profile=profile)
    providers = generate_providers(phase_rng(seed, "providers"), tree, district_weight, profile)
    pools = build_people_pools(profile.peoples, seed)
    population = generate_population(
        phase_rng(seed, "population"),
        people=people,
        year=year,
        tree=tree,
        district_weight=district_weight,
        name_pools=pools,
        today=today,
        profile=profile,
        period=bounds,
    )
    enrolments = generate_enrolments(
        phase_rng(seed, "enrolments"),
        population=population,
        year=year,
        profile=profile,
        contribution_rules=contribution_rules,
        period=bounds,
    )
    return SyntheticProvince(
        seed=seed,
        year=year,
        locations=tree,
        providers=providers,
        population=population,
        enrolments=enrolments,
        profile=profile,
        period=bounds,
    )
