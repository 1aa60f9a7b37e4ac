"""Generate a synthetic province: registry, providers, enrolment into the database, claims to a file.

``generate`` is a service: it writes through the domain services' bulk loaders in the caller's
session and never commits (the caller's unit of work does, once). Without a session it only
generates, and writes the claims file (for benchmarks, or a claims file without a registry).

Claims carry ``member_id`` = the person's registry id as text. Ids are allocated from each
table's next free id, so on a fresh database the same seed gives the same ids, the same rows and
a byte-identical claims file.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from equicover.db.bulk import next_id
from equicover.enrolment import service as enrolment_service
from equicover.enrolment.models import Enrolment, EnrolmentPeriod, Scheme
from equicover.enrolment.schemas import SchemeIn
from equicover.errors import Conflict
from equicover.organisations import service as organisation_service
from equicover.providers import service as provider_service
from equicover.providers.models import Provider
from equicover.registry import service as registry_service
from equicover.registry.models import Category, Household, Location, Person, PersonCategory
from equicover.registry.schemas import LocationIn
from equicover.reports import service as reports_service
from equicover.settlement.model import ContributionRules
from equicover.synth import parameters as P
from equicover.synth.claims import generate_claims
from equicover.synth.claims_file import claims_table, is_parquet_path, write_claims
from equicover.synth.generator import AREA_BIT, SyntheticProvince, categorised_by_round, generate_province
from equicover.synth.profile import Profile

# progress(phase description, units done, units in all)
Progress = Callable[[str, int, int], None]
# Rows per call of a bulk loader: small enough for a smooth progress bar and bounded memory.
LOAD_BATCH = 250_000
ACTOR = "synth"
CATEGORY_LABELS = {"low_income": "Low-income household member"}
# Category holdings renewed every year (the poverty census, school enrolment) end with the year;
# the others are open-ended.
YEARLY_CATEGORIES = {"registered_poor", "near_poor", "low_income", "student"}


@dataclass
class GenerationSummary:
    seed: int
    year: int
    people: int
    households: int
    districts: int
    communes: int
    providers: int
    enrolments: int
    contributions: int
    category_holdings: int
    claims: int
    claims_path: Path | None
    first_person_id: int
    loaded: bool
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def coverage(self) -> float:
        return self.enrolments / self.people if self.people else 0.0


class _Phases:
    """Timing and progress of the phases; units are rows, so the bar moves with the work."""

    def __init__(self, progress: Progress | None, total_units: int) -> None:
        self.progress = progress
        self.total = total_units
        self.done = 0
        self.seconds: dict[str, float] = {}

    def report(self, description: str, units: int = 0) -> None:
        self.done = min(self.total, self.done + units)
        if self.progress is not None:
            self.progress(description, self.done, self.total)

    def timed(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds


def generate(
    *,
    people: int,
    seed: int,
    year: int = 2018,
    session: Session | None = None,
    claims_path: Path | None = None,
    progress: Progress | None = None,
    today: dt.date | None = None,
    profile: Profile | None = None,
    contribution_rules: ContributionRules | None = None,
    period: tuple[dt.date, dt.date] | None = None,
    identified_by_round: frozenset[str] = frozenset(),
    identify: Callable[[Session], object] | None = None,
) -> GenerationSummary:
    """Generate a province of ``people`` persons for ``seed``; load it into ``session`` (if given,
    never committed here) and write one calendar ``year`` of claims to ``claims_path`` (CSV, or
    Parquet for a ``.parquet`` path; if given). ``today`` (default: the real date) bounds death
    dates when ``year`` is the current year. ``profile`` is the country (default: Ya'an);
    ``contribution_rules`` the policy's, for a profile that takes its contributions from the policy.
    ``identified_by_round``: categories (the programme's words) that a round of identification gives
    afterwards (``equicover demo``): their holdings are not written; each household's true
    consumption, which the round's answers follow, is stored whatever the categories. ``identify``:
    the round itself, run in ``session`` once the registry and the consumption are loaded; the
    enrolments, contributions and claims are then drawn from the categories it wrote
    (:func:`equicover.synth.generator.categorised_by_round`), so the round decides who is subsidised.

    The claims are drawn and written on a second thread while this one loads the database: both
    spend their time in code that releases the GIL (SQLite, numpy, Arrow), so two cores overlap.
    With ``identify`` they are drawn after the load, from the round's categories.
    """
    if people < 1:
        raise ValueError("people must be at least 1")
    # Units of the progress bar: generating ~ 2 per person, then one per row loaded.
    load_units = _rows_to_load_estimate(people) if session is not None else 0
    phases = _Phases(progress, people * 2 + load_units)

    started = time.perf_counter()
    phases.report("Generating people")
    province = generate_province(
        people=people,
        seed=seed,
        year=year,
        today=today,
        profile=profile,
        contribution_rules=contribution_rules,
        period=period,
    )
    phases.timed("generate_registry", time.perf_counter() - started)
    phases.report("Generating claims" if session is None else "Loading the database", people)

    first_person_id = 1
    if session is not None:
        _refuse_if_loaded(session, province)
        first_person_id = next_id(session, Person.__table__)

    # The file is written under a temporary name and renamed only once the load has succeeded:
    # a failed load leaves no claims file pointing at persons that were never stored.
    partial_path = None if claims_path is None else claims_path.with_name(claims_path.name + ".partial")
    claim_seconds: dict[str, float] = {}
    parquet = claims_path is not None and is_parquet_path(claims_path)
    if session is not None and identify is not None:
        # The claims follow the round's categories: drawn after it, not beside the load.
        with _removed_on_failure(partial_path):
            started = time.perf_counter()
            category_holdings, province = _load(
                session, province, first_person_id, phases, identified_by_round, identify, contribution_rules
            )
            phases.timed("load_database", time.perf_counter() - started)
            phases.report("Writing claims")
            claim_count = _claims_to_file(province, first_person_id, partial_path, parquet, claim_seconds)
        _keep_claims_file(partial_path, claims_path, claim_seconds, phases)
        return _summary(province, seed, year, category_holdings, claim_count, claims_path, first_person_id, phases)
    with (
        _removed_on_failure(partial_path),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="synth-claims") as pool,
    ):
        claims_done = pool.submit(
            _claims_to_file,
            province,
            first_person_id,
            partial_path,
            parquet,
            claim_seconds,
        )
        category_holdings = 0
        if session is not None:
            started = time.perf_counter()
            category_holdings, _ = _load(session, province, first_person_id, phases, identified_by_round)
            phases.timed("load_database", time.perf_counter() - started)
            phases.report("Writing claims")
        claim_count = claims_done.result()
    _keep_claims_file(partial_path, claims_path, claim_seconds, phases)
    return _summary(
        province, seed, year, category_holdings, claim_count, claims_path, first_person_id, phases, session is not None
    )


@contextmanager
def _removed_on_failure(partial_path: Path | None) -> Iterator[None]:
    """A claims file left half-written by a failure is removed: it would name persons never stored."""
    try:
        yield
    except BaseException:
        if partial_path is not None:
            partial_path.unlink(missing_ok=True)
        raise


def _keep_claims_file(
    partial_path: Path | None, claims_path: Path | None, claim_seconds: dict[str, float], phases: _Phases
) -> None:
    """Once the load has succeeded, the claims file takes its name and its phases are timed."""
    if claims_path is not None and partial_path is not None:
        partial_path.replace(claims_path)
    for name, seconds in claim_seconds.items():
        phases.timed(name, seconds)


def _summary(
    province: SyntheticProvince,
    seed: int,
    year: int,
    category_holdings: int,
    claim_count: int,
    claims_path: Path | None,
    first_person_id: int,
    phases: _Phases,
    loaded: bool = True,
) -> GenerationSummary:
    phases.done = phases.total
    phases.report("Done")
    population = province.population
    return GenerationSummary(
        seed=seed,
        year=year,
        people=population.size,
        households=len(population.household_codes),
        districts=province.locations.district_count,
        communes=len(province.locations.commune_locations),
        providers=len(province.providers.codes),
        enrolments=len(province.enrolments.person),
        contributions=len(province.enrolments.contribution_amount),
        category_holdings=category_holdings,
        claims=claim_count,
        claims_path=claims_path,
        first_person_id=first_person_id,
        loaded=loaded,
        seconds=phases.seconds,
    )


def _rows_to_load_estimate(people: int) -> int:
    """Rows the load writes per person, about: the person, a quarter household, 0.75 category
    holdings, 0.9 enrolment, 1.3 contributions (only for the progress bar)."""
    return int(people * 4.2)


def _claims_to_file(
    province: SyntheticProvince,
    first_person_id: int,
    claims_path: Path | None,
    parquet: bool,
    seconds: dict[str, float],
) -> int:
    started = time.perf_counter()
    claims = generate_claims(province)
    seconds["generate_claims"] = time.perf_counter() - started
    if claims_path is not None:
        started = time.perf_counter()
        table = claims_table(
            claims,
            providers=province.providers,
            first_person_id=first_person_id,
            year=province.year,
            profile=province.profile,
        )
        write_claims(table, claims_path, parquet=parquet)
        seconds["write_claims"] = time.perf_counter() - started
    return claims.size


def _refuse_if_loaded(session: Session, province: SyntheticProvince) -> None:
    code = str(province.locations.codes[0])
    if session.scalar(select(Location.id).where(Location.code == code)) is not None:
        raise Conflict(f"location {code}", "code", "a synthetic province of this seed is already loaded")


# --------------------------------------------------------------------------------------------
# Loading through the domain services


def _in_batches(columns: dict[str, Any], size: int) -> list[dict[str, Any]]:
    count = len(next(iter(columns.values())))
    return [{name: values[start : start + size] for name, values in columns.items()} for start in range(0, count, size)]


def _load_batched(
    loader: Callable[..., int], session: Session, columns: dict[str, Any], phases: _Phases, table: str
) -> int:
    started = time.perf_counter()
    written = 0
    for batch in _in_batches(columns, LOAD_BATCH):
        count = loader(session=session, rows=batch, actor=ACTOR)
        written += count
        phases.report(f"Loading {table}", count)
    phases.timed(f"load_{table}", time.perf_counter() - started)
    return written


def _load(
    session: Session,
    province: SyntheticProvince,
    person_base: int,
    phases: _Phases,
    identified_by_round: frozenset[str] = frozenset(),
    identify: Callable[[Session], object] | None = None,
    contribution_rules: ContributionRules | None = None,
) -> tuple[int, SyntheticProvince]:
    """Write the province, persons from id ``person_base``; return the number of category holdings
    and the province as enrolled (drawn again from the round's categories when ``identify`` runs one)."""
    tree = province.locations
    population = province.population
    enrolments = province.enrolments
    providers = province.providers
    profile = province.profile
    year_start, year_end = province.period

    # Locations: the province sits under its country (shared by every seed's province), then
    # parents come first in the tree's order.
    country_id = _synthetic_country(session, profile)
    location_base = next_id(session, Location.__table__)
    location_ids = location_base + np.arange(len(tree.codes))
    registry_service.bulk_insert_locations(
        session=session,
        actor=ACTOR,
        rows={
            "id": location_ids,
            "code": tree.codes,
            "name": tree.names,
            "level": tree.levels,
            "parent_id": [country_id if parent < 0 else int(location_ids[parent]) for parent in tree.parents],
        },
    )

    _load_organisations(session, province, location_ids, year_start.astype(dt.date))

    # Households and persons.
    household_base = next_id(session, Household.__table__)
    household_count = len(population.household_codes)
    commune_location = location_ids[tree.commune_locations]
    household_location = commune_location[population.household_commune]
    household_registered = population.household_registered_on
    _load_batched(
        registry_service.bulk_insert_households,
        session,
        {
            "id": household_base + np.arange(household_count),
            "code": population.household_codes,
            "location_id": household_location,
            "registered_on": household_registered,
        },
        phases,
        "households",
    )
    person_ids = person_base + np.arange(population.size)
    _load_batched(
        registry_service.bulk_insert_persons,
        session,
        {
            "id": person_ids,
            "household_id": household_base + population.person_household,
            "given_name": population.given_name,
            "family_name": population.family_name,
            "full_name": population.full_name,
            "name_script": population.name_script,
            "sex": np.where(population.male, "male", "female").astype(object),
            "birth_date": population.birth_date,
            "national_id": population.national_id,
            "id_type": population.id_type,
            "location_id": household_location[population.person_household],
            "registered_on": np.maximum(household_registered[population.person_household], population.birth_date),
            "death_date": population.death_date,
        },
        phases,
        "persons",
    )

    # Category holdings: one row per person and category.
    _ensure_categories(session, profile)
    holdings = _category_rows(province, person_ids, year_start, year_end)
    if identified_by_round:
        keep = ~np.isin(holdings["category"], list(identified_by_round))
        holdings = {name: values[keep] for name, values in holdings.items()}
    _store_true_consumption(session, province, household_base)
    category_holdings = _load_batched(
        registry_service.bulk_insert_person_categories, session, holdings, phases, "person_categories"
    )
    if identify is not None:
        started = time.perf_counter()
        identify(session)
        province = categorised_by_round(
            province,
            holders=_round_holders(session, identified_by_round, person_ids, year_start, year_end),
            contribution_rules=contribution_rules,
        )
        population = province.population
        enrolments = province.enrolments
        phases.timed("identification_round", time.perf_counter() - started)

    # Providers, the scheme, its period, contracts, enrolments, contributions.
    provider_base = next_id(session, Provider.__table__)
    provider_ids = provider_base + np.arange(len(providers.codes))
    provider_service.bulk_insert_providers(
        session=session,
        actor=ACTOR,
        rows={
            "id": provider_ids,
            "code": providers.codes,
            "name": providers.names,
            "level": np.array(profile.levels, dtype=object)[providers.levels],
            "location_id": location_ids[providers.location],
            "designated": providers.designated,
            "ownership": np.full(len(providers.codes), "public", dtype=object),
        },
    )
    scheme_id, period_id = _scheme_and_period(session, (year_start.astype(dt.date), year_end.astype(dt.date)), profile)
    designated = np.flatnonzero(providers.designated)
    provider_service.bulk_insert_contracts(
        session=session,
        actor=ACTOR,
        rows={
            "scheme_id": np.full(len(designated), scheme_id),
            "provider_id": provider_ids[designated],
            "starts": np.full(len(designated), year_start),
            "ends": np.full(len(designated), year_end),
            # Primary care is paid by capitation (family-doctor contracts), hospitals per service.
            "payment_method": np.where(providers.levels[designated] == 0, "capitation", "fee_for_service").astype(
                object
            ),
        },
    )
    enrolment_base = next_id(session, Enrolment.__table__)
    enrolment_count = len(enrolments.person)
    _load_batched(
        enrolment_service.bulk_insert_enrolments,
        session,
        {
            "id": enrolment_base + np.arange(enrolment_count),
            "person_id": person_ids[enrolments.person],
            "scheme_id": np.full(enrolment_count, scheme_id),
            "period_id": np.full(enrolment_count, period_id),
            "starts": enrolments.starts,
            "ends": enrolments.ends,
            "status": np.full(enrolment_count, "active", dtype=object),
        },
        phases,
        "enrolments",
    )
    # Contributions, then the per-capita allocations beside them (a government subsidy per
    # enrolled person is a contribution to the fund by the state budget).
    allocation_kinds = [allocation.payer for allocation in profile.allocations]
    allocation_names = [allocation.name for allocation in profile.allocations]
    enrolment_rows = np.concatenate([enrolments.contribution_enrolment, enrolments.allocation_enrolment])
    contribution_count = len(enrolment_rows)
    _load_batched(
        enrolment_service.bulk_insert_contributions,
        session,
        {
            "enrolment_id": enrolment_base + enrolment_rows,
            "payer_kind": np.concatenate(
                [
                    np.array(enrolments.payers, dtype=object)[enrolments.contribution_payer],
                    np.array(allocation_kinds or [""], dtype=object)[enrolments.allocation_index],
                ]
            ),
            "payer_name": np.concatenate(
                [
                    np.array([profile.payer_names.get(name, name) for name in enrolments.payers], dtype=object)[
                        enrolments.contribution_payer
                    ],
                    np.array(allocation_names or [""], dtype=object)[enrolments.allocation_index],
                ]
            ),
            "amount_minor": np.concatenate([enrolments.contribution_amount, enrolments.allocation_amount]),
            "status": np.full(contribution_count, "paid", dtype=object),
            "period_starts": np.full(contribution_count, year_start),
            "period_ends": np.full(contribution_count, year_end),
        },
        phases,
        "contributions",
    )
    return category_holdings, province


def _round_holders(
    session: Session,
    words: frozenset[str],
    person_ids: np.ndarray,
    year_start: np.datetime64,
    year_end: np.datetime64,
) -> dict[str, np.ndarray]:
    """Per category the round gives, the indices of the province's persons holding it in the year."""
    rows = session.execute(
        select(PersonCategory.person_id, PersonCategory.category).where(
            PersonCategory.category.in_(sorted(words)),
            PersonCategory.person_id.between(int(person_ids[0]), int(person_ids[-1])),
            PersonCategory.valid_from <= year_end.astype(dt.date),
            or_(PersonCategory.valid_to.is_(None), PersonCategory.valid_to >= year_start.astype(dt.date)),
        )
    ).all()
    first = int(person_ids[0])
    return {
        word: np.array(sorted({person - first for person, category in rows if category == word}), dtype=np.int64)
        for word in words
    }


def _load_organisations(
    session: Session, province: SyntheticProvince, location_ids: np.ndarray, assigned_on: dt.date
) -> None:
    """The profile's organisations and the areas each answers for: the responsible organisation of
    each deprived neighbourhood, the operator of each district's programme."""
    tree = province.locations
    for role, organisations, owner, areas in (
        (
            "responsible_organisation",
            province.profile.area_organisations,
            tree.commune_organisation,
            tree.commune_locations,
        ),
        ("hef_operator", province.profile.district_organisations, tree.district_organisation, tree.district_locations),
    ):
        for number, (code, name, _) in enumerate(organisations):
            organisation_service.ensure_organisation(session=session, code=code, name=name, role=role, actor=ACTOR)
            organisation_service.assign_areas(
                session=session,
                organisation_code=code,
                location_ids=location_ids[areas[owner == number]].tolist(),
                assigned_on=assigned_on,
                actor=ACTOR,
            )


def _synthetic_country(session: Session, profile: Profile) -> int:
    existing = session.scalar(select(Location).where(Location.code == profile.country_code))
    if existing is not None:
        return existing.id
    country = registry_service.create_location(
        session=session,
        location=LocationIn(code=profile.country_code, name=profile.country_name, level="country"),
        actor=ACTOR,
    )
    return country.id


def _store_true_consumption(session: Session, province: SyntheticProvince, household_base: int) -> None:
    """Each household's consumption for the year(s) of the period: the truth a round of identification
    is measured against, and the denominator of catastrophic health spending. The generator's poor
    households (whether or not their category is written) consume the profile's poor median."""
    population = province.population
    poor_bit = P.CATEGORY_BIT["registered_poor"]
    poor_persons = (population.category_mask & poor_bit) != 0
    poor = {int(household_base + index) for index in np.unique(population.person_household[poor_persons])}
    years = sorted({int(str(day)[:4]) for day in province.period})
    for year in years:
        reports_service.synthesize_household_consumption(
            session=session,
            year=year,
            seed=province.seed,
            minor_digits=province.profile.minor_digits,
            median_per_capita=province.profile.consumption_per_capita,
            poor_households=poor,
        )


def _ensure_categories(session: Session, profile: Profile) -> None:
    known = set(session.scalars(select(Category.code)))
    for code in profile.category_words:
        if code not in known:
            registry_service.create_category(
                session=session, code=code, label=CATEGORY_LABELS.get(code, code.replace("_", " ").capitalize())
            )


def _category_rows(
    province: SyntheticProvince, person_ids: np.ndarray, year_start: np.datetime64, year_end: np.datetime64
) -> dict[str, Any]:
    population = province.population
    profile = province.profile
    persons: list[np.ndarray] = []
    names: list[np.ndarray] = []
    valid_from: list[np.ndarray] = []
    valid_to: list[np.ndarray] = []
    bits = dict(P.CATEGORY_BIT)
    if profile.area_category:
        bits[profile.area_category] = AREA_BIT
    for code, bit in bits.items():
        if code == "elderly":
            # Elderly from the 65th birthday, for those who reach it this year or before.
            holders = np.flatnonzero(population.elderly_from <= year_end)
            starts = population.elderly_from[holders]
        else:
            holders = np.flatnonzero((population.category_mask & bit) != 0)
            starts = np.full(len(holders), year_start)
        persons.append(person_ids[holders])
        names.append(np.full(len(holders), profile.word(code), dtype=object))
        valid_from.append(starts)
        valid_to.append(
            np.full(
                len(holders), year_end if code in YEARLY_CATEGORIES else np.datetime64("NaT"), dtype="datetime64[D]"
            )
        )
    return {
        "person_id": np.concatenate(persons),
        "category": np.concatenate(names),
        "valid_from": np.concatenate(valid_from),
        "valid_to": np.concatenate(valid_to),
        "source": np.full(sum(len(part) for part in persons), "synthetic province", dtype=object),
    }


def _scheme_and_period(session: Session, period: tuple[dt.date, dt.date], profile: Profile) -> tuple[int, int]:
    """The programme's scheme and its enrolment period for the year (created if absent)."""
    scheme = session.scalar(select(Scheme).where(Scheme.code == profile.scheme_code))
    if scheme is None:
        scheme = enrolment_service.create_scheme(
            session=session,
            scheme=SchemeIn(
                code=profile.scheme_code,
                name=profile.scheme_name,
                currency=profile.currency,
                minor_digits=profile.minor_digits,
                names=profile.scheme_names or None,
            ),
            actor=ACTOR,
        )
    starts, ends = period
    stored = session.scalar(
        select(EnrolmentPeriod).where(EnrolmentPeriod.scheme_id == scheme.id, EnrolmentPeriod.starts == starts)
    )
    if stored is None:
        stored = enrolment_service.open_period(
            session=session, scheme_id=scheme.id, starts=starts, ends=ends, actor=ACTOR
        )
    return scheme.id, stored.id
