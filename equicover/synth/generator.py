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
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from equicover.synth import parameters as P
from equicover.synth.names import NamePool, build_name_pools

DAY = np.timedelta64(1, "D")
NO_DATE = np.datetime64("NaT", "D")
SCRIPT_OF_LOCALE = {"zh_CN": "Hans", "vi_VN": "Latn", "ar_AA": "Arab", "fa_IR": "Arab", "fr_FR": "Latn"}
# Family name first in these locales' documents; given name first in the others.
FAMILY_NAME_FIRST = {"zh_CN", "vi_VN"}
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
    district_locale: np.ndarray  # locale number of each district

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
    household_locale: np.ndarray  # locale number
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
    contribution_amount: np.ndarray  # int64 fen


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


def province_code(seed: int) -> str:
    """Every code of a province starts with this; it carries the seed so that provinces of
    different seeds can share one database."""
    return f"{P.PROVINCE_CODE_PREFIX}{seed}"


def generate_locations(rng: np.random.Generator, *, people: int, seed: int) -> tuple[LocationTree, np.ndarray]:
    """The tree and each district's share of the population."""
    district_count = int(rng.integers(P.MIN_DISTRICTS, P.MAX_DISTRICTS + 1))
    district_locale = rng.choice(len(P.LOCALES), size=district_count, p=_normalised(P.DISTRICT_LOCALE_WEIGHTS))
    district_weight = rng.lognormal(0.0, P.DISTRICT_SIZE_SIGMA, size=district_count)
    district_weight /= district_weight.sum()
    commune_counts = np.clip(
        np.rint(people * district_weight / P.PEOPLE_PER_COMMUNE), P.MIN_COMMUNES, P.MAX_COMMUNES
    ).astype(np.int64)

    root = province_code(seed)
    codes: list[str] = [root]
    names: list[str] = [P.PROVINCE_NAME]
    levels: list[str] = ["province"]
    parents: list[int] = [-1]
    district_locations = np.arange(1, district_count + 1)
    used_names: dict[int, int] = {}
    for number, locale_index in enumerate(district_locale):
        locale = P.LOCALES[locale_index]
        taken = used_names.get(int(locale_index), 0)
        used_names[int(locale_index)] = taken + 1
        pool = P.DISTRICT_NAMES[locale]
        name = pool[taken % len(pool)] + ("" if taken < len(pool) else f" {taken // len(pool) + 1}")
        codes.append(f"{root}-D{number + 1:02d}")
        names.append(name)
        levels.append("district")
        parents.append(0)
    commune_locations: list[int] = []
    commune_district: list[int] = []
    for number in range(district_count):
        locale = P.LOCALES[district_locale[number]]
        for commune in range(int(commune_counts[number])):
            commune_locations.append(len(codes))
            commune_district.append(number)
            codes.append(f"{codes[district_locations[number]]}-C{commune + 1:02d}")
            names.append(
                P.COMMUNE_NAME_PATTERN[locale].format(district=names[district_locations[number]], number=commune + 1)
            )
            levels.append("commune")
            parents.append(int(district_locations[number]))
    tree = LocationTree(
        codes=np.array(codes, dtype=object),
        names=np.array(names, dtype=object),
        levels=np.array(levels, dtype=object),
        parents=np.array(parents, dtype=np.int64),
        district_locations=district_locations,
        commune_locations=np.array(commune_locations, dtype=np.int64),
        commune_district=np.array(commune_district, dtype=np.int64),
        district_locale=district_locale.astype(np.int64),
    )
    return tree, district_weight


def generate_providers(rng: np.random.Generator, tree: LocationTree, district_weight: np.ndarray) -> ProviderTable:
    """A health centre per commune, a county hospital per district, city hospitals in the two most
    populous districts, the provincial hospital in the most populous one (the capital)."""
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
                f"{tree.names[location]} health centre",
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
                f"{tree.codes[location]}-CH", f"{tree.names[location]} county hospital", "county", number, int(location)
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
                f"City hospital no. {number + 1}",
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
        "Provincial people's hospital",
        "province",
        capital,
        int(tree.district_locations[capital]),
    )
    level_array = np.array(levels, dtype=np.int8)
    designated_share = np.array([P.DESIGNATED_SHARE[level] for level in P.PROVIDER_LEVELS])[level_array]
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
) -> tuple[np.ndarray, np.ndarray]:
    """18-character resident identity numbers for citizens (area, birth date, sequence whose parity
    is the sex, ISO 7064 MOD 11-2 check character), passport numbers for foreign nationals, and
    ~1% of people without any document. Unique by construction."""
    size = len(district)
    has_document = rng.random(size) >= P.WITHOUT_NATIONAL_ID
    id_type = np.full(size, None, dtype=object)
    national_id = np.full(size, None, dtype=object)

    citizens = np.flatnonzero(has_document & ~foreign)
    if len(citizens):
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
    sizes: np.ndarray,
    head_age: np.ndarray,
) -> np.ndarray:
    """Category bits held by whole households: poverty tiers, minorities, foreign nationals."""
    count = len(household_district)
    district_rate = P.POOR_HOUSEHOLD_RATE * rng.lognormal(
        -0.5 * P.POOR_DISTRICT_SPREAD**2, P.POOR_DISTRICT_SPREAD, size=tree.district_count
    )
    poor_probability = district_rate[household_district]
    poor_probability = np.where(sizes >= 5, poor_probability * P.POOR_LARGE_HOUSEHOLD_FACTOR, poor_probability)
    poor_probability = np.where(
        head_age >= P.ELDERLY_AGE, poor_probability * P.POOR_ELDERLY_HEAD_FACTOR, poor_probability
    )
    poor_probability = np.minimum(poor_probability, 0.9)

    locale = tree.district_locale[household_district]
    foreign_rate = np.array([P.FOREIGN_NATIONAL_RATE[name] for name in P.LOCALES])[locale]
    minority_rate = np.array([P.ETHNIC_MINORITY_RATE[name] for name in P.LOCALES])[locale]
    # Households of the district's majority language are its majority people; minorities and
    # foreigners come from the others first, then from the rest.
    foreign = rng.random(count) < np.where(household_locale_is_majority, foreign_rate * 0.5, foreign_rate * 3.0)
    minority = ~foreign & (rng.random(count) < minority_rate)
    # Registration as poor is for citizens; a foreign household may still be on a low income.
    poor = ~foreign & (rng.random(count) < poor_probability)
    near_poor = ~foreign & ~poor & (rng.random(count) < P.NEAR_POOR_HOUSEHOLD_RATE)
    low_income = ~poor & ~near_poor & (rng.random(count) < P.LOW_INCOME_HOUSEHOLD_RATE)

    mask = np.zeros(count, dtype=np.int16)
    for flags, name in (
        (poor, "registered_poor"),
        (near_poor, "near_poor"),
        (low_income, "low_income"),
        (minority, "ethnic_minority"),
        (foreign, "foreign_national"),
    ):
        mask[flags] |= P.CATEGORY_BIT[name]
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
) -> Population:
    year_start, year_end = year_bounds(year)

    # Households: size, place, language of names.
    sizes = _household_sizes(rng, people)
    household_count = len(sizes)
    household_district = np.sort(rng.choice(tree.district_count, size=household_count, p=district_weight))
    commune_first = np.searchsorted(tree.commune_district, np.arange(tree.district_count))
    commune_count = np.bincount(tree.commune_district, minlength=tree.district_count)
    household_commune = commune_first[household_district] + (
        rng.random(household_count) * commune_count[household_district]
    ).astype(np.int64)
    majority = rng.random(household_count) < P.MAJORITY_LOCALE_SHARE
    other_locale = rng.integers(0, len(P.LOCALES) - 1, size=household_count)
    district_locale = tree.district_locale[household_district]
    # "another locale": skip over the district's own in the 0..L-2 draw
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
        keeps_own = is_spouse[members] & (P.LOCALES[index] != "fr_FR")
        family_draw = np.where(keeps_own, own_family_draw[members], household_family_draw[person_household[members]])
        family_name[members] = pool.family[family_draw % len(pool.family)]
        draw = given_draw[members]
        given_name[members] = np.where(
            male[members],
            pool.given_male[draw % len(pool.given_male)],
            pool.given_female[draw % len(pool.given_female)],
        )
    full_name = _full_names(given_name, family_name, person_locale)
    name_script = np.array([SCRIPT_OF_LOCALE[name] for name in P.LOCALES], dtype=object)[person_locale]

    # Categories: household statuses, then personal ones.
    household_mask = _household_poverty(
        rng,
        tree=tree,
        household_district=household_district,
        household_locale_is_majority=majority,
        sizes=sizes,
        head_age=head_age,
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
        rng, district=household_district[person_household], birth_date=birth_date, male=male, foreign=foreign
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


def _full_names(given: np.ndarray, family: np.ndarray, locale: np.ndarray) -> np.ndarray:
    full = np.empty(len(given), dtype=object)
    for index, name in enumerate(P.LOCALES):
        members = locale == index
        if not members.any():
            continue
        count = int(members.sum())
        if name == "zh_CN":
            full[members] = _join_text(family[members], given[members])
        elif name in FAMILY_NAME_FIRST:
            full[members] = _join_text(family[members], np.full(count, " ", dtype=object), given[members])
        else:
            full[members] = _join_text(given[members], np.full(count, " ", dtype=object), family[members])
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


def generate_enrolments(rng: np.random.Generator, *, population: Population, year: int) -> Enrolments:
    year_start, year_end = year_bounds(year)
    mask = population.category_mask
    household_count = len(population.household_codes)
    household_takes_up = rng.random(household_count) < P.ENROL_HOUSEHOLD_RATE
    near_poor_takes_up = rng.random(household_count) < P.NEAR_POOR_ENROL_RATE
    household = population.person_household
    poor = (mask & P.CATEGORY_BIT["registered_poor"]) != 0
    near_poor = (mask & P.CATEGORY_BIT["near_poor"]) != 0
    # Registered poor: 100% enrolled, the state pays (Ya'an). Others: the household decides, then
    # a few members are left out (away for work, papers missing).
    enrolled = np.where(
        poor,
        True,
        np.where(near_poor, near_poor_takes_up[household], household_takes_up[household])
        & (rng.random(population.size) >= P.ENROL_INDIVIDUAL_DROP),
    )
    person = np.flatnonzero(enrolled)
    death = population.death_date[person]
    ends = np.where(np.isnat(death), year_end, death)
    starts = np.full(len(person), year_start, dtype="datetime64[D]")

    # Contributions: the first matching subsidy row decides the payers' shares (per mille).
    payer_share = np.zeros((len(person), len(P.PAYERS)), dtype=np.int64)
    decided = np.zeros(len(person), dtype=bool)
    person_mask = mask[person]
    elderly_on_start = population.elderly_from[person] <= year_start
    for category, shares in P.CONTRIBUTION_SUBSIDIES:
        holds = (person_mask & P.CATEGORY_BIT[category]) != 0
        if category == "elderly":
            holds = elderly_on_start
        applies = holds & ~decided
        for payer, per_mille in shares:
            payer_share[applies, P.PAYERS.index(payer)] = per_mille
        decided |= applies
    amounts = (P.CONTRIBUTION_PER_PERSON * payer_share + 500) // 1000  # round half up to the fen
    member_column = P.PAYERS.index("member")
    amounts[:, member_column] = P.CONTRIBUTION_PER_PERSON - amounts.sum(axis=1) + amounts[:, member_column]
    enrolment_index, payer_index = np.nonzero(amounts > 0)
    return Enrolments(
        person=person,
        starts=starts,
        ends=ends,
        contribution_enrolment=enrolment_index,
        contribution_payer=payer_index.astype(np.int8),
        contribution_amount=amounts[enrolment_index, payer_index],
    )


# --------------------------------------------------------------------------------------------
# The whole province (without claims)


def generate_province(*, people: int, seed: int, year: int, today: dt.date | None = None) -> SyntheticProvince:
    if people < 1:
        raise ValueError("people must be at least 1")
    today = today or dt.date.today()
    tree, district_weight = generate_locations(phase_rng(seed, "locations"), people=people, seed=seed)
    providers = generate_providers(phase_rng(seed, "providers"), tree, district_weight)
    pools = build_name_pools(P.LOCALES, seed)
    population = generate_population(
        phase_rng(seed, "population"),
        people=people,
        year=year,
        tree=tree,
        district_weight=district_weight,
        name_pools=pools,
        today=today,
    )
    enrolments = generate_enrolments(phase_rng(seed, "enrolments"), population=population, year=year)
    return SyntheticProvince(
        seed=seed,
        year=year,
        locations=tree,
        providers=providers,
        population=population,
        enrolments=enrolments,
    )
