"""Programme indicators by area and period, computed from the registry, enrolments, stored claims
and contributions. Every indicator keeps its numerator and denominator (exact integers); the
rates are derived from them.

Definitions (period = [starts, ends], inclusive; "claims" = stored claims served in the period
that were not reversed; a person's area is their place of residence):

- **coverage rate** = persons enrolled (an active enrolment covering ``ends``) / population on
  ``ends`` (born, registered, and not dead on that day).
- **consultations per person per year** = primary-care consultations (out-patient claims at a
  provider level the claim's policy declares primary care, ``[indicators] primary_care_levels``;
  every out-patient claim of a policy that declares none: :mod:`equicover.reports.primary_care`)
  / population, scaled to a year (× 365 / days in the period). Target in the RAMED seed: 0.6
  GP consultations.
- **OOP share** = Σ member out-of-pocket / Σ allowed.
- **poor inpatients within 10%** = registered-poor persons (category on the claim) with at least
  one in-area in-patient or chronic out-patient claim whose in-area out-of-pocket on that care is
  at most 10% of its allowed amount (the Ya'an target, seed 004), over all such persons.
- **catastrophic spending** (SDG 3.8.2) = households with a known consumption for the period's
  year whose out-of-pocket in the period exceeds 10% (25%) of that consumption scaled to the
  period (× days in period / days in year), over households with a known consumption.
- **fund utilisation** = what the payers paid on the claims / paid contributions of the
  enrolments of the area's persons, each contribution pro-rated to its days inside the period.
- **claim turnaround** = days from the service date to submission (mean and median).
"""

from __future__ import annotations

import calendar
import datetime as dt
import statistics
from dataclasses import dataclass, field
from fractions import Fraction

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from equicover.claims.models import Claim, ClaimPayment
from equicover.enrolment.models import Contribution, Enrolment
from equicover.errors import ValidationFailed
from equicover.registry.models import Location, Person
from equicover.reports.primary_care import consultation_condition

AREA_LEVELS = ("district", "province", "country")
POOR = "registered_poor"
OOP_TARGET_PERCENT = 10
CATASTROPHIC_PERCENTS = (10, 25)


@dataclass
class IndicatorRow:
    area_code: str
    area_name: str
    population: int = 0
    enrolled: int = 0
    consultations: int = 0
    period_days: int = 1
    allowed: int = 0
    member_oop: int = 0
    poor_inpatients: int = 0
    poor_inpatients_within_target: int = 0
    households_with_consumption: int = 0
    catastrophic: dict[int, int] = field(default_factory=lambda: dict.fromkeys(CATASTROPHIC_PERCENTS, 0))
    paid_by_funds: int = 0
    contributions: Fraction = Fraction(0)
    turnaround_days: list[int] = field(default_factory=list)

    @property
    def coverage_rate(self) -> float | None:
        return self.enrolled / self.population if self.population else None

    @property
    def consultations_per_person_year(self) -> float | None:
        return self.consultations * 365 / (self.population * self.period_days) if self.population else None

    @property
    def oop_share(self) -> float | None:
        return self.member_oop / self.allowed if self.allowed else None

    @property
    def poor_within_target_share(self) -> float | None:
        return self.poor_inpatients_within_target / self.poor_inpatients if self.poor_inpatients else None

    def catastrophic_share(self, percent: int) -> float | None:
        return (
            self.catastrophic[percent] / self.households_with_consumption if self.households_with_consumption else None
        )

    @property
    def fund_utilisation(self) -> float | None:
        return float(self.paid_by_funds / self.contributions) if self.contributions else None

    @property
    def turnaround_mean(self) -> float | None:
        return statistics.fmean(self.turnaround_days) if self.turnaround_days else None

    @property
    def turnaround_median(self) -> float | None:
        return float(statistics.median(self.turnaround_days)) if self.turnaround_days else None

    def as_dict(self) -> dict[str, object]:
        return {
            "area_code": self.area_code,
            "area_name": self.area_name,
            "population": self.population,
            "enrolled": self.enrolled,
            "coverage_rate": self.coverage_rate,
            "consultations": self.consultations,
            "consultations_per_person_year": self.consultations_per_person_year,
            "allowed": self.allowed,
            "member_oop": self.member_oop,
            "oop_share": self.oop_share,
            "poor_inpatients": self.poor_inpatients,
            "poor_inpatients_within_10pct": self.poor_inpatients_within_target,
            "poor_within_10pct_share": self.poor_within_target_share,
            "households_with_consumption": self.households_with_consumption,
            "catastrophic_10pct": self.catastrophic[10],
            "catastrophic_25pct": self.catastrophic[25],
            "catastrophic_10pct_share": self.catastrophic_share(10),
            "catastrophic_25pct_share": self.catastrophic_share(25),
            "paid_by_funds": self.paid_by_funds,
            "contributions": int(self.contributions),
            "fund_utilisation": self.fund_utilisation,
            "claims_with_turnaround": len(self.turnaround_days),
            "turnaround_mean_days": self.turnaround_mean,
            "turnaround_median_days": self.turnaround_median,
        }


def _days_in_year(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


def compute_indicators(
    *, session: Session, starts: dt.date, ends: dt.date, by: str = "district", area_ids: list[int] | None = None
) -> list[IndicatorRow]:
    """One row per area of level ``by`` (district, province, country), then a total row ``ALL``.

    ``area_ids`` limits the result to those areas (a user's scope)."""
    if ends < starts:
        raise ValidationFailed("indicators", "ends", "is before starts")
    if by not in AREA_LEVELS:
        raise ValidationFailed("indicators", "by", f"one of {', '.join(AREA_LEVELS)}")
    area_column = {"district": Location.district_id, "province": Location.province_id, "country": Location.country_id}[
        by
    ]
    home = aliased(Location)
    area_of_person = (
        select(Person.id.label("person_id"), area_column.label("area_id"), Person.household_id)
        .join(Location, Location.id == Person.location_id)
        .subquery()
    )
    areas = {row.id: row for row in session.scalars(select(home).where(home.level == by))}
    rows: dict[int, IndicatorRow] = {}
    period_days = (ends - starts).days + 1

    def row_of(area_id: int | None) -> IndicatorRow | None:
        if area_id is None or (area_ids is not None and area_id not in area_ids) or area_id not in areas:
            return None
        if area_id not in rows:
            rows[area_id] = IndicatorRow(areas[area_id].code, areas[area_id].name, period_days=period_days)
        return rows[area_id]

    alive = and_(
        Person.birth_date <= ends,
        Person.registered_on <= ends,
        or_(Person.death_date.is_(None), Person.death_date > ends),
    )
    for area_id, population in session.execute(
        select(area_of_person.c.area_id, func.count())
        .join(Person, Person.id == area_of_person.c.person_id)
        .where(alive)
        .group_by(area_of_person.c.area_id)
    ).all():
        if (row := row_of(area_id)) is not None:
            row.population = int(population)
    enrolled_persons = select(Enrolment.person_id).where(
        Enrolment.status == "active", Enrolment.starts <= ends, Enrolment.ends >= ends
    )
    for area_id, enrolled in session.execute(
        select(area_of_person.c.area_id, func.count())
        .join(Person, Person.id == area_of_person.c.person_id)
        .where(alive, Person.id.in_(enrolled_persons))
        .group_by(area_of_person.c.area_id)
    ).all():
        if (row := row_of(area_id)) is not None:
            row.enrolled = int(enrolled)

    in_period = and_(Claim.service_date >= starts, Claim.service_date <= ends, Claim.status == "settled")
    outpatient = consultation_condition(session=session)
    for area_id, consultations, allowed, oop in session.execute(
        select(
            area_of_person.c.area_id,
            func.sum(case((outpatient, 1), else_=0)),
            func.sum(Claim.allowed),
            func.sum(Claim.member_oop),
        )
        .join(Claim, Claim.person_id == area_of_person.c.person_id)
        .where(in_period)
        .group_by(area_of_person.c.area_id)
    ).all():
        if (row := row_of(area_id)) is not None:
            row.consultations, row.allowed, row.member_oop = int(consultations or 0), int(allowed or 0), int(oop or 0)

    poor_claim = or_(
        Claim.categories == POOR,
        Claim.categories.startswith(f"{POOR};", autoescape=True),
        Claim.categories.endswith(f";{POOR}", autoescape=True),
        Claim.categories.contains(f";{POOR};", autoescape=True),
    )
    for area_id, _, allowed, oop in session.execute(
        select(area_of_person.c.area_id, Claim.person_id, func.sum(Claim.allowed), func.sum(Claim.member_oop))
        .join(Claim, Claim.person_id == area_of_person.c.person_id)
        .where(in_period, Claim.care_type.in_(("inpatient", "chronic_outpatient")), Claim.in_area.is_(True), poor_claim)
        .group_by(area_of_person.c.area_id, Claim.person_id)
    ).all():
        if (row := row_of(area_id)) is not None:
            row.poor_inpatients += 1
            if int(oop) * 100 <= int(allowed) * OOP_TARGET_PERCENT:
                row.poor_inpatients_within_target += 1

    from equicover.reports.models import HouseholdConsumption

    household_area = (
        select(Person.household_id, func.min(area_column).label("area_id"))
        .join(Location, Location.id == Person.location_id)
        .group_by(Person.household_id)
        .subquery()
    )
    household_oop = dict(
        session.execute(
            select(Person.household_id, func.sum(Claim.member_oop))
            .join(Claim, Claim.person_id == Person.id)
            .where(in_period)
            .group_by(Person.household_id)
        ).all()
    )
    year_days = _days_in_year(starts.year)
    for household_id, area_id, consumption in session.execute(
        select(HouseholdConsumption.household_id, household_area.c.area_id, HouseholdConsumption.amount)
        .join(household_area, household_area.c.household_id == HouseholdConsumption.household_id)
        .where(HouseholdConsumption.year == starts.year)
    ).all():
        if (row := row_of(area_id)) is None:
            continue
        row.households_with_consumption += 1
        oop = int(household_oop.get(household_id) or 0)
        for percent in CATASTROPHIC_PERCENTS:
            # oop / (consumption x period/year) > percent / 100, in integers
            if oop * 100 * year_days > percent * int(consumption) * period_days:
                row.catastrophic[percent] += 1

    for area_id, paid in session.execute(
        select(area_of_person.c.area_id, func.sum(ClaimPayment.amount))
        .join(Claim, Claim.person_id == area_of_person.c.person_id)
        .join(ClaimPayment, ClaimPayment.claim_pk == Claim.id)
        .where(in_period, ClaimPayment.kind == "layer")
        .group_by(area_of_person.c.area_id)
    ).all():
        if (row := row_of(area_id)) is not None:
            row.paid_by_funds = int(paid or 0)
    for area_id, c_starts, c_ends, amount in session.execute(
        select(
            area_of_person.c.area_id,
            Contribution.period_starts,
            Contribution.period_ends,
            func.sum(Contribution.amount_minor),
        )
        .join(Enrolment, Enrolment.person_id == area_of_person.c.person_id)
        .join(Contribution, Contribution.enrolment_id == Enrolment.id)
        .where(Contribution.status == "paid", Contribution.period_starts <= ends, Contribution.period_ends >= starts)
        .group_by(area_of_person.c.area_id, Contribution.period_starts, Contribution.period_ends)
    ).all():
        if (row := row_of(area_id)) is not None:
            overlap = (min(c_ends, ends) - max(c_starts, starts)).days + 1
            row.contributions += Fraction(int(amount) * overlap, (c_ends - c_starts).days + 1)

    for area_id, served, submitted in session.execute(
        select(area_of_person.c.area_id, Claim.service_date, Claim.submitted_at)
        .join(Claim, Claim.person_id == area_of_person.c.person_id)
        .where(in_period)
    ).all():
        if (row := row_of(area_id)) is not None and submitted is not None:
            row.turnaround_days.append((submitted.date() - served).days)

    ordered = [rows[key] for key in sorted(rows, key=lambda key: rows[key].area_code)]
    return ordered + [_total(ordered, period_days)]


def _total(rows: list[IndicatorRow], period_days: int) -> IndicatorRow:
    total = IndicatorRow("ALL", "All areas", period_days=period_days)
    for row in rows:
        for name in (
            "population",
            "enrolled",
            "consultations",
            "allowed",
            "member_oop",
            "poor_inpatients",
            "poor_inpatients_within_target",
            "households_with_consumption",
            "paid_by_funds",
            "contributions",
        ):
            setattr(total, name, getattr(total, name) + getattr(row, name))
        for percent in CATASTROPHIC_PERCENTS:
            total.catastrophic[percent] += row.catastrophic[percent]
        total.turnaround_days.extend(row.turnaround_days)
    return total


def half_year(year: int, half: int) -> tuple[dt.date, dt.date]:
    if half not in (1, 2):
        raise ValidationFailed("semi-annual report", "half", "1 or 2")
    return (dt.date(year, 1, 1), dt.date(year, 6, 30)) if half == 1 else (dt.date(year, 7, 1), dt.date(year, 12, 31))
