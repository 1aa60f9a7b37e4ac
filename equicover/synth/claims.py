"""A year of claims for the enrolled people of a synthetic province, columnar.

Each care type is drawn in one pass over all persons: counts per person (Poisson with a gamma
frailty, so use is over-dispersed), then one row per encounter by ``np.repeat``, then diagnosis,
level, provider, dates and amounts as whole-column draws. Amounts are drawn as lognormal CNY of
2018 (with a Pareto tail for in-patient stays), scaled to the profile's currency and prices, and
turned into integer minor units at once, rounded to the profile's unit of a bill; the eligible
part is an integer per-mille share of the total, so ``eligible <= total`` holds exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from equicover.synth import parameters as P
from equicover.synth.generator import DAY, Claims, SyntheticProvince, age_band, phase_rng

TOWNSHIP, COUNTY, CITY, PROVINCE = range(len(P.PROVIDER_LEVELS))


@dataclass
class _Encounters:
    """Encounters of one care type before providers and amounts are drawn."""

    enrolment: np.ndarray  # enrolment index of each encounter
    care_type: int
    diagnosis: np.ndarray  # index into the shared diagnosis code list
    median: np.ndarray  # CNY at county level
    sigma: np.ndarray
    mean_days: np.ndarray  # 0 for ambulatory care
    level: np.ndarray  # int8
    heavy_tail: bool


class _DiagnosisCodes:
    """The ICD-10 codes used, numbered in order of first use."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}

    def index(self, code: str) -> int:
        return self._codes.setdefault(code, len(self._codes))

    def array(self) -> np.ndarray:
        return np.array(list(self._codes), dtype=object)


def _profiles_arrays(profiles: tuple[P.CareProfile, ...], codes: _DiagnosisCodes) -> dict[str, np.ndarray]:
    return {
        "diagnosis": np.array([codes.index(profile.code) for profile in profiles], dtype=np.int16),
        "weight": np.array([profile.weight for profile in profiles], dtype=np.float64),
        "median": np.array([profile.median for profile in profiles], dtype=np.float64),
        "sigma": np.array([profile.sigma for profile in profiles], dtype=np.float64),
        "mean_days": np.array([profile.mean_days for profile in profiles], dtype=np.float64),
        "level_mix": np.array(
            [profile.level_mix or (0.25, 0.25, 0.25, 0.25) for profile in profiles], dtype=np.float64
        ),
    }


def _draw_levels(rng: np.random.Generator, mix: np.ndarray) -> np.ndarray:
    """One level per row from per-row probabilities (rows of ``mix`` sum to 1)."""
    cumulative = np.cumsum(mix, axis=1)
    cumulative[:, -1] = 1.0
    return (rng.random(len(mix))[:, None] > cumulative).sum(axis=1).astype(np.int8)


def _ambulatory(
    rng: np.random.Generator,
    enrolment: np.ndarray,
    care_type: str,
    profiles: tuple[P.CareProfile, ...],
    codes: _DiagnosisCodes,
) -> _Encounters:
    table = _profiles_arrays(profiles, codes)
    chosen = rng.choice(len(profiles), size=len(enrolment), p=table["weight"] / table["weight"].sum())
    mix = np.broadcast_to(np.asarray(P.LEVEL_MIX[care_type]), (len(enrolment), len(P.PROVIDER_LEVELS)))
    return _Encounters(
        enrolment=enrolment,
        care_type=P.CARE_TYPES.index(care_type),
        diagnosis=table["diagnosis"][chosen],
        median=table["median"][chosen],
        sigma=table["sigma"][chosen],
        mean_days=np.zeros(len(enrolment)),
        level=_draw_levels(rng, mix),
        heavy_tail=False,
    )


def _chronic_visits(
    rng: np.random.Generator, enrolment: np.ndarray, condition: np.ndarray, codes: _DiagnosisCodes
) -> _Encounters:
    visit_codes = np.array([codes.index(item.code) for item in P.CHRONIC_CONDITIONS], dtype=np.int16)
    medians = np.array([item.visit_median for item in P.CHRONIC_CONDITIONS])
    mix = np.broadcast_to(np.asarray(P.LEVEL_MIX["chronic_outpatient"]), (len(enrolment), len(P.PROVIDER_LEVELS)))
    return _Encounters(
        enrolment=enrolment,
        care_type=P.CARE_TYPES.index("chronic_outpatient"),
        diagnosis=visit_codes[condition],
        median=medians[condition],
        sigma=np.full(len(enrolment), 0.5),
        mean_days=np.zeros(len(enrolment)),
        level=_draw_levels(rng, mix),
        heavy_tail=False,
    )


def _admissions(
    rng: np.random.Generator,
    enrolment: np.ndarray,
    age: np.ndarray,
    condition: np.ndarray,
    codes: _DiagnosisCodes,
) -> _Encounters:
    """In-patient stays: by age group's case mix, or the person's chronic condition itself."""
    count = len(enrolment)
    diagnosis = np.empty(count, dtype=np.int16)
    median = np.empty(count)
    sigma = np.empty(count)
    mean_days = np.empty(count)
    mix = np.empty((count, len(P.PROVIDER_LEVELS)))
    group = np.where(age < 15, 0, np.where(age < P.ELDERLY_AGE, 1, 2))
    for number, name in enumerate(("child", "adult", "elderly")):
        rows = np.flatnonzero(group == number)
        table = _profiles_arrays(P.INPATIENT_DIAGNOSES[name], codes)
        chosen = rng.choice(len(table["weight"]), size=len(rows), p=table["weight"] / table["weight"].sum())
        diagnosis[rows] = table["diagnosis"][chosen]
        median[rows] = table["median"][chosen]
        sigma[rows] = table["sigma"][chosen]
        mean_days[rows] = table["mean_days"][chosen]
        mix[rows] = table["level_mix"][chosen]
    from_condition = np.flatnonzero((condition >= 0) & (rng.random(count) < P.CHRONIC_ADMISSION_SHARE))
    if len(from_condition):
        conditions = P.CHRONIC_CONDITIONS
        own = condition[from_condition]
        diagnosis[from_condition] = np.array([codes.index(item.admission_code) for item in conditions], dtype=np.int16)[
            own
        ]
        median[from_condition] = np.array([item.admission_median for item in conditions])[own]
        sigma[from_condition] = 0.6
        mean_days[from_condition] = np.array([item.admission_days for item in conditions])[own]
        mix[from_condition] = (0.25, 0.45, 0.18, 0.12)
    return _Encounters(
        enrolment=enrolment,
        care_type=P.CARE_TYPES.index("inpatient"),
        diagnosis=diagnosis,
        median=median,
        sigma=sigma,
        mean_days=mean_days,
        level=_draw_levels(rng, mix),
        heavy_tail=True,
    )


def _deliveries(rng: np.random.Generator, enrolment: np.ndarray, codes: _DiagnosisCodes) -> _Encounters:
    caesarean = rng.random(len(enrolment)) < P.CAESAREAN_SHARE
    profiles = (P.DELIVERY, P.CAESAREAN)
    table = _profiles_arrays(profiles, codes)
    chosen = caesarean.astype(np.int64)
    return _Encounters(
        enrolment=enrolment,
        care_type=P.CARE_TYPES.index("inpatient"),
        diagnosis=table["diagnosis"][chosen],
        median=table["median"][chosen],
        sigma=table["sigma"][chosen],
        mean_days=table["mean_days"][chosen],
        level=_draw_levels(rng, table["level_mix"][chosen]),
        heavy_tail=True,
    )


def generate_claims(province: SyntheticProvince) -> Claims:
    """One calendar year of claims of the province's enrolled people."""
    rng = phase_rng(province.seed, "claims")
    population = province.population
    enrolments = province.enrolments
    year_start, year_end = province.period
    # Rates are yearly: a programme's year shorter than twelve months sees a share of them.
    days_in_year = max(int((year_end - year_start) / DAY) + 1, 365)
    codes = _DiagnosisCodes()

    member = enrolments.person
    starts = enrolments.starts
    span = ((enrolments.ends - starts) / DAY).astype(np.int64) + 1
    exposure = span / days_in_year
    age = population.age[member]
    band = age_band(age)
    mask = population.category_mask[member]
    poor = (mask & (P.CATEGORY_BIT["registered_poor"] | P.CATEGORY_BIT["near_poor"])) != 0
    condition = population.chronic_condition[member]
    chronic = condition >= 0
    frailty = rng.gamma(P.FRAILTY_SHAPE, 1.0 / P.FRAILTY_SHAPE, size=len(member))
    use = frailty * exposure * np.where(poor, P.POOR_USE_FACTOR, 1.0) * np.where(chronic, P.CHRONIC_USE_FACTOR, 1.0)

    profile = province.profile
    outpatient_count = rng.poisson(profile.outpatient_rate * np.asarray(P.OUTPATIENT_AGE_FACTOR)[band] * use)
    inpatient_count = rng.poisson(profile.inpatient_rate * np.asarray(P.INPATIENT_AGE_FACTOR)[band] * use)
    emergency_count = rng.poisson(profile.emergency_rate * frailty * exposure)
    visits_per_year = np.array([item.visits_per_year for item in P.CHRONIC_CONDITIONS])
    chronic_count = np.where(chronic, rng.poisson(visits_per_year[np.maximum(condition, 0)] * exposure), 0)
    woman_of_age = ~population.male[member] & (age >= 20) & (age <= 39)
    delivery = woman_of_age & (rng.random(len(member)) < P.DELIVERY_RATE * exposure)

    # Encounters point at enrolments (not persons) so that dates stay inside the enrolment.
    enrolment_index = np.arange(len(member))
    batches = [
        _ambulatory(rng, np.repeat(enrolment_index, outpatient_count), "outpatient", P.OUTPATIENT_DIAGNOSES, codes),
        _chronic_visits(rng, np.repeat(enrolment_index, chronic_count), np.repeat(condition, chronic_count), codes),
        _admissions(
            rng,
            np.repeat(enrolment_index, inpatient_count),
            np.repeat(age, inpatient_count),
            np.repeat(condition, inpatient_count),
            codes,
        ),
        _deliveries(rng, enrolment_index[delivery], codes),
        _ambulatory(rng, np.repeat(enrolment_index, emergency_count), "emergency", P.EMERGENCY_DIAGNOSES, codes),
    ]
    enrolment_of_claim = np.concatenate([batch.enrolment for batch in batches])
    care_type = np.concatenate([np.full(len(batch.enrolment), batch.care_type, dtype=np.int8) for batch in batches])
    diagnosis = np.concatenate([batch.diagnosis for batch in batches])
    median = np.concatenate([batch.median for batch in batches])
    sigma = np.concatenate([batch.sigma for batch in batches])
    mean_days = np.concatenate([batch.mean_days for batch in batches])
    level = np.concatenate([batch.level for batch in batches])
    heavy_tail = np.concatenate([np.full(len(batch.enrolment), batch.heavy_tail) for batch in batches])
    count = len(enrolment_of_claim)

    person = member[enrolment_of_claim]
    service_date = starts[enrolment_of_claim] + (rng.random(count) * span[enrolment_of_claim]).astype(np.int64) * DAY

    # Where: the home commune's health centre, the district's county hospital, or the city and
    # provincial hospitals; some primary visits happen in another district (work, family).
    providers = province.providers
    district = population.person_district[person]
    commune = population.person_commune[person]
    provider = np.empty(count, dtype=np.int64)
    at_township = level == TOWNSHIP
    at_county = level == COUNTY
    provider[at_township] = providers.township_of_commune[commune[at_township]]
    provider[at_county] = providers.county_of_district[district[at_county]]
    at_city = level == CITY
    provider[at_city] = providers.city_hospitals[
        rng.integers(0, len(providers.city_hospitals), size=int(at_city.sum()))
    ]
    provider[level == PROVINCE] = providers.provincial_hospital
    away = (at_township | at_county) & (rng.random(count) < P.OUT_OF_AREA_SHARE)
    away_rows = np.flatnonzero(away)
    if len(away_rows) and province.locations.district_count > 1:
        other_district = (
            district[away_rows] + rng.integers(1, province.locations.district_count, size=len(away_rows))
        ) % province.locations.district_count
        provider[away_rows] = providers.county_of_district[other_district]
        level[away_rows] = COUNTY

    # Referrals: most admissions above the county come with one; emergencies never need one.
    inpatient = care_type == P.CARE_TYPES.index("inpatient")
    emergency = care_type == P.CARE_TYPES.index("emergency")
    higher = level >= CITY
    referral_chance = np.where(
        inpatient,
        np.where(higher, P.REFERRED_TO_HIGHER, np.where(level == COUNTY, P.REFERRED_AT_COUNTY, 0.0)),
        np.where(higher & ~emergency, 0.5, 0.0),
    )
    referred = rng.random(count) < referral_chance
    # In area as the profile's programme decides it: a facility of the member's own district
    # (a referral to a city or provincial hospital does not make it in-county), or any health
    # centre or district hospital of the province (Viet Nam's interconnected primary levels).
    same_district = providers.district[provider] == district
    in_area = level <= COUNTY if profile.in_area == "province_primary" else same_district

    # Length of stay (gamma around the diagnosis's mean, longer higher up); a few emergency visits
    # end with an observation night.
    stay_mean = mean_days * np.asarray(P.LEVEL_STAY_FACTOR)[level]
    days = np.zeros(count, dtype=np.int32)
    stay_rows = np.flatnonzero(stay_mean > 0)
    days[stay_rows] = np.maximum(1, np.rint(rng.gamma(2.5, stay_mean[stay_rows] / 2.5))).astype(np.int32)
    observed = np.flatnonzero(emergency & (rng.random(count) < 0.1))
    days[observed] = 1
    # An emergency that the programme counts as an out-patient visit declares no night.
    if "outpatient" in profile.care_type("emergency"):
        days[emergency] = 0

    # Amounts: lognormal around the diagnosis's median, scaled by level and stay, heavy tail.
    amount = median * np.asarray(profile.level_cost_factors)[level] * np.exp(sigma * rng.standard_normal(count))
    amount[stay_rows] *= (days[stay_rows] / np.maximum(stay_mean[stay_rows], 1.0)) ** P.DAYS_COST_ELASTICITY
    tail = np.flatnonzero(heavy_tail & (rng.random(count) < P.INPATIENT_TAIL_SHARE))
    amount[tail] *= np.minimum(1.0 + rng.pareto(P.INPATIENT_TAIL_ALPHA, size=len(tail)), P.INPATIENT_TAIL_CAP)
    units = amount * profile.cost_scale * 10**profile.minor_digits / profile.rounding
    total = np.clip(np.rint(units) * profile.rounding, profile.min_amount, profile.max_amount).astype(np.int64)
    share = np.asarray(P.ELIGIBLE_SHARE)[level] + rng.uniform(-P.ELIGIBLE_SPREAD, P.ELIGIBLE_SPREAD, size=count)
    per_mille = np.clip(np.rint(share * 1000), 600, 1000).astype(np.int64)
    eligible = total * per_mille // 1000

    # Categories on the service date: the year-long ones plus `elderly` from the 65th birthday.
    category_mask = population.category_mask[person].copy()
    category_mask[service_date >= population.elderly_from[person]] |= P.CATEGORY_BIT["elderly"]

    # One int64 key (day of the year, person, care type) sorts much faster than a lexsort.
    day_of_year = ((service_date - year_start) / DAY).astype(np.int64)
    order = np.argsort(
        (day_of_year * (len(population.male) + 1) + person) * len(P.CARE_TYPES) + care_type, kind="stable"
    )
    return Claims(
        person=person[order],
        service_date=service_date[order],
        provider=provider[order],
        level=level[order],
        designated=providers.designated[provider][order],
        in_area=in_area[order],
        referred=referred[order],
        care_type=care_type[order],
        diagnosis=diagnosis[order],
        diagnosis_codes=codes.array(),
        days=days[order],
        total=total[order],
        eligible=eligible[order],
        category_mask=category_mask[order],
    )
