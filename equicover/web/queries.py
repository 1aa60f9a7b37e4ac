"""Read-only lists the pages show, scoped to the signed-in user's area.

Pages never write here: every change goes through a domain service (``enrolment.service.enrol``,
``claims.service.submit_claim``, the verification service). What is here are the few SELECTs
that no service offers yet, built for screens (a page of rows, a search box); each takes the
user's scoping filter from :mod:`equicover.auth.scoping` so that a registrar or verifier only
ever sees its own area. Candidates to move into the domains' services when the JSON API needs the
same lists.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exists, func, literal_column, or_, select, union
from sqlalchemy.orm import Session, aliased

from equicover.cards.models import MemberCard
from equicover.cards.numbers import normalise as normalise_card_number
from equicover.cards.numbers import number_problem as card_number_problem
from equicover.cards.service import UNPAID as UNPAID_SUSPENSION
from equicover.claims.models import Claim, ClaimPayment, PolicyVersion
from equicover.claims.scoping import claims_filter
from equicover.db.like import LIKE_ESCAPE, PatternOrder, contains_pattern, prefix_pattern
from equicover.enrolment.models import Contribution, Enrolment, EnrolmentPeriod, Scheme
from equicover.enrolment.service import alive_and_registered_on, enrolment_active_on
from equicover.providers.models import Provider
from equicover.registry.models import Category, Household, Location, Person, PersonCategory
from equicover.registry.normalise import romanise
from equicover.registry.quality_models import PersonNameForms, romanised_words
from equicover.registry.scoping import households_filter, persons_filter, registry_area
from equicover.registry.service import holds_on
from equicover.reports import dashboard_totals

SEARCH_LIMIT = 50


@dataclass(frozen=True)
class DataDay:
    """The day every page opens on, and whether it is today (the data is live) or the end of the
    latest period the data holds (a province of a past year, such as the demo's)."""

    day: dt.date
    live: bool


def data_day(*, session: Session, today: dt.date) -> DataDay:
    """Today while a stored policy version or enrolment period covers it; otherwise the last day
    of the latest one that ended before today, so that the window settles, the registry shows
    gaps and enrolment defaults to a day the data can answer for, all on the same day."""
    spans = [
        *session.execute(select(PolicyVersion.effective_from, PolicyVersion.effective_to)).all(),
        *session.execute(select(EnrolmentPeriod.starts, EnrolmentPeriod.ends)).all(),
    ]
    if not spans or any(starts <= today and (ends is None or today <= ends) for starts, ends in spans):
        return DataDay(today, live=True)
    ended = [ends for _, ends in spans if ends is not None and ends < today]
    return DataDay(max(ended), live=False) if ended else DataDay(today, live=True)


def claim_dates(*, session: Session) -> tuple[dt.date, dt.date] | None:
    """The first and the last date of care of the stored claims (None while there is none)."""
    first, last = session.execute(select(func.min(Claim.service_date), func.max(Claim.service_date))).one()
    return (first, last) if first is not None and last is not None else None


@dataclass
class PersonRow:
    id: int
    full_name: str
    name_script: str | None
    sex: str
    birth_date: dt.date
    national_id: str | None
    id_type: str | None
    household_code: str
    location_name: str
    death_date: dt.date | None = None


def _person_rows(session: Session, query: Any) -> list[PersonRow]:
    """The rows of ``query`` (a select of :func:`_person_select`'s columns), or rows already read."""
    rows = query if isinstance(query, list) else session.execute(query).all()
    return [
        PersonRow(
            id=row.id,
            full_name=row.full_name,
            name_script=row.name_script,
            sex=row.sex,
            birth_date=row.birth_date,
            national_id=row.national_id,
            id_type=row.id_type,
            household_code=row.household_code,
            location_name=row.location_name,
            death_date=row.death_date,
        )
        for row in rows
    ]


def _person_select() -> Any:
    return (
        select(
            Person.id,
            Person.full_name,
            Person.name_script,
            Person.sex,
            Person.birth_date,
            Person.national_id,
            Person.id_type,
            Person.death_date,
            Household.code.label("household_code"),
            Location.name.label("location_name"),
        )
        .join(Household, Household.id == Person.household_id)
        .join(Location, Location.id == Person.location_id)
    )


def search_persons(*, session: Session, user: Any, text: str, limit: int = SEARCH_LIMIT) -> list[PersonRow]:
    """Find by national ID (exact), card number (exact: a member card's number, issued or active
    and still valid, finding its holder or the members of the household holding it; the
    household's code; the person's own number ``P<id>``) or name (:func:`_by_name`)."""
    text = text.strip()
    if not text:
        return []
    base = _person_select().where(persons_filter(user))
    # Each kind of number is its own indexed lookup of person ids: an OR across the tables would
    # read every person.
    by_number: list[Any] = [
        select(Person.id).where(Person.national_id == text),
        select(Person.id).join(Household, Household.id == Person.household_id).where(Household.code == text),
    ]
    if text[:1] in "Pp" and text[1:].isdigit():
        by_number.append(select(Person.id).where(Person.id == int(text[1:])))
    if card_number_problem(text) is None:
        card = select(MemberCard).where(
            MemberCard.number == normalise_card_number(text),
            MemberCard.status.in_(("issued", "active")),
            MemberCard.valid_to >= dt.date.today(),
        )
        by_number.append(card.where(MemberCard.person_id.is_not(None)).with_only_columns(MemberCard.person_id))
        by_number.append(
            select(Person.id).where(
                Person.household_id.in_(
                    card.where(MemberCard.person_id.is_(None)).with_only_columns(MemberCard.household_id)
                )
            )
        )
    exact = _person_rows(session, base.where(Person.id.in_(union(*by_number))).order_by(Person.id).limit(limit))
    if exact:
        return exact
    return _by_name(session, base, text, limit)


def _by_name(session: Session, base: Any, text: str, limit: int) -> list[PersonRow]:
    """Persons whose name matches ``text`` in its own script or romanised (pinyin for Han: "杨飞",
    "Yang Fei", "yáng fēi" and "yangfei" find the same person), best first: the name begins with
    it (for a Chinese name, the family name), then its romanised form does, written together or
    apart, then a later part of the name does, then it appears anywhere in the name; in name order
    within each.

    Each of these tiers is its own query, run in turn until the page is full: the prefix tiers read
    the pattern indexes on ``lower(persons.full_name)``, ``person_name_forms.romanised`` and the
    romanised form written together, and only a page they leave short looks for the text later in
    the names ("fei" finds "Yang Fei"), which PostgreSQL reads from trigram indexes on the same
    expressions and SQLite from the table. A tier is reached only when every tier before it has
    given all its persons, so leaving out the persons already found leaves out exactly those that
    rank higher."""
    romanised = romanise(text)
    compact = romanised.replace(" ", "")
    name = func.lower(Person.full_name)
    forms = PersonNameForms.romanised
    # The expression of the index on the romanised form written together, as the index has it.
    joined = func.replace(forms, literal_column("' '"), literal_column("''"))
    by_form = base.join(PersonNameForms, PersonNameForms.person_id == Person.id)
    tiers = [base.where(name.like(func.lower(prefix_pattern(text)), escape=LIKE_ESCAPE))]
    if romanised:
        tiers += [
            by_form.where(forms.like(prefix_pattern(romanised), escape=LIKE_ESCAPE)),
            by_form.where(joined.like(prefix_pattern(compact), escape=LIKE_ESCAPE)),
            by_form.where(romanised_words().like(contains_pattern(" " + romanised), escape=LIKE_ESCAPE)),
        ]
    tiers.append(base.where(name.like(func.lower(contains_pattern(text)), escape=LIKE_ESCAPE)))
    # The names beginning with the text in the order of their pattern index: read from it in order.
    orders = [PatternOrder(name)] + [Person.full_name] * (len(tiers) - 1)
    found: list[PersonRow] = []
    for tier, order in zip(tiers, orders):
        if len(found) >= limit:
            break
        if found:
            tier = tier.where(Person.id.not_in([row.id for row in found]))
        found += _person_rows(session, tier.order_by(order, Person.id).limit(limit - len(found)))
    return found


def card_out_of_use(*, session: Session, text: str, today: dt.date) -> str | None:
    """The status of the member card numbered ``text`` when it no longer finds its holder (lost,
    suspended, replaced, expired, cancelled), so the window says so; a suspension for an unpaid
    contribution reads ``suspended_unpaid``; None for anything else."""
    if card_number_problem(text) is not None:
        return None
    card = session.execute(
        select(MemberCard.status, MemberCard.valid_to, MemberCard.status_reason).where(
            MemberCard.number == normalise_card_number(text)
        )
    ).first()
    if card is None:
        return None
    status, valid_to, reason = card
    if status in ("issued", "active"):
        return "expired" if valid_to < today else None
    if status == "suspended" and (reason or "").startswith(UNPAID_SUSPENSION):
        return "suspended_unpaid"
    return str(status)


def person_row(*, session: Session, person_id: int) -> PersonRow | None:
    rows = _person_rows(session, _person_select().where(Person.id == person_id))
    return rows[0] if rows else None


@dataclass
class CategoryHolding:
    category: str
    label: str
    valid_from: dt.date
    valid_to: dt.date | None
    source: str | None
    current: bool


def category_holdings(*, session: Session, person_ids: list[int], on: dt.date) -> dict[int, list[CategoryHolding]]:
    rows = session.execute(
        select(PersonCategory, Category.label)
        .join(Category, Category.code == PersonCategory.category)
        .where(PersonCategory.person_id.in_(person_ids))
        .order_by(PersonCategory.person_id, PersonCategory.valid_from)
    ).all()
    result: dict[int, list[CategoryHolding]] = {person_id: [] for person_id in person_ids}
    for holding, label in rows:
        current = holding.valid_from <= on and (holding.valid_to is None or holding.valid_to >= on)
        result[holding.person_id].append(
            CategoryHolding(holding.category, label, holding.valid_from, holding.valid_to, holding.source, current)
        )
    return result


@dataclass
class EnrolmentView:
    id: int
    scheme_code: str
    scheme_name: str
    currency: str
    minor_digits: int
    starts: dt.date
    ends: dt.date
    status: str
    active_on: bool
    contributions: list[Contribution] = field(default_factory=list)


def enrolment_views(*, session: Session, person_ids: list[int], on: dt.date) -> dict[int, list[EnrolmentView]]:
    rows = session.execute(
        select(Enrolment, Scheme)
        .join(Scheme, Scheme.id == Enrolment.scheme_id)
        .where(Enrolment.person_id.in_(person_ids))
        .order_by(Enrolment.person_id, Enrolment.starts)
    ).all()
    enrolment_ids = [enrolment.id for enrolment, _ in rows]
    contributions: dict[int, list[Contribution]] = {}
    if enrolment_ids:
        for contribution in session.scalars(
            select(Contribution).where(Contribution.enrolment_id.in_(enrolment_ids)).order_by(Contribution.id)
        ):
            contributions.setdefault(contribution.enrolment_id, []).append(contribution)
    result: dict[int, list[EnrolmentView]] = {person_id: [] for person_id in person_ids}
    for enrolment, scheme in rows:
        result[enrolment.person_id].append(
            EnrolmentView(
                id=enrolment.id,
                scheme_code=scheme.code,
                scheme_name=scheme.name,
                currency=scheme.currency,
                minor_digits=scheme.minor_digits,
                starts=enrolment.starts,
                ends=enrolment.ends,
                status=enrolment.status,
                active_on=enrolment.status == "active" and enrolment.starts <= on <= enrolment.ends,
                contributions=contributions.get(enrolment.id, []),
            )
        )
    return result


def open_periods(*, session: Session, on: dt.date) -> list[tuple[EnrolmentPeriod, Scheme]]:
    """Enrolment periods a registrar can enrol into: those not yet over on ``on``."""
    return list(
        session.execute(
            select(EnrolmentPeriod, Scheme)
            .join(Scheme, Scheme.id == EnrolmentPeriod.scheme_id)
            .where(EnrolmentPeriod.ends >= on)
            .order_by(Scheme.code, EnrolmentPeriod.starts)
        ).all()
    ) or list(
        # A demo province of a past year: offer its last periods rather than nothing.
        session.execute(
            select(EnrolmentPeriod, Scheme)
            .join(Scheme, Scheme.id == EnrolmentPeriod.scheme_id)
            .order_by(EnrolmentPeriod.ends.desc())
            .limit(3)
        ).all()
    )


@dataclass
class HouseholdRow:
    id: int
    code: str
    location_name: str
    registered_on: dt.date
    members: int
    enrolled: int
    head_name: str | None
    head_script: str | None


def households_page(
    *, session: Session, user: Any, on: dt.date, text: str = "", limit: int = 25, offset: int = 0
) -> tuple[list[HouseholdRow], int]:
    """Households of the user's area with their member and enrolled counts on ``on``."""
    conditions: list[Any] = [households_filter(user)]
    text = text.strip()
    if text:
        pattern = contains_pattern(text)
        conditions.append(
            or_(
                Household.code == text,
                exists().where(
                    Person.household_id == Household.id,
                    or_(
                        Person.national_id == text,
                        func.lower(Person.full_name).like(func.lower(pattern), escape=LIKE_ESCAPE),
                    ),
                ),
            )
        )
    total = session.scalar(select(func.count()).select_from(Household).where(*conditions)) or 0
    households = session.execute(
        select(Household.id, Household.code, Household.registered_on, Location.name.label("location_name"))
        .join(Location, Location.id == Household.location_id)
        .where(*conditions)
        .order_by(Household.code)
        .limit(limit)
        .offset(offset)
    ).all()
    ids = [row.id for row in households]
    members: dict[int, int] = {}
    enrolled: dict[int, int] = {}
    heads: dict[int, tuple[str, str | None]] = {}
    if ids:
        for household_id, count in session.execute(
            select(Person.household_id, func.count()).where(Person.household_id.in_(ids)).group_by(Person.household_id)
        ):
            members[household_id] = count
        active = exists().where(
            Enrolment.person_id == Person.id, Enrolment.status == "active", Enrolment.starts <= on, Enrolment.ends >= on
        )
        for household_id, count in session.execute(
            select(Person.household_id, func.count())
            .where(Person.household_id.in_(ids), active)
            .group_by(Person.household_id)
        ):
            enrolled[household_id] = count
        # The first registered member stands for the household in the list.
        for person in session.execute(
            select(Person.household_id, Person.full_name, Person.name_script)
            .where(Person.household_id.in_(ids))
            .order_by(Person.id)
        ):
            heads.setdefault(person.household_id, (person.full_name, person.name_script))
    return [
        HouseholdRow(
            id=row.id,
            code=row.code,
            location_name=row.location_name,
            registered_on=row.registered_on,
            members=members.get(row.id, 0),
            enrolled=enrolled.get(row.id, 0),
            head_name=heads.get(row.id, (None, None))[0],
            head_script=heads.get(row.id, (None, None))[1],
        )
        for row in households
    ], total


def household_by_code(*, session: Session, code: str) -> tuple[Household, Location] | None:
    row = session.execute(
        select(Household, Location).join(Location, Location.id == Household.location_id).where(Household.code == code)
    ).first()
    return (row[0], row[1]) if row else None


def members_of(*, session: Session, household_id: int) -> list[PersonRow]:
    return _person_rows(session, _person_select().where(Person.household_id == household_id).order_by(Person.id))


@dataclass
class GapRow:
    person: PersonRow
    categories: list[str]


def coverage_gaps(
    *, session: Session, user: Any, on: dt.date, category: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[GapRow], int]:
    """Eligible but not enrolled: alive, registered persons of the area holding a category on ``on``
    (the categories that make a person eligible for subsidised cover) without an active enrolment;
    the page in household order, and how many there are.

    On a date whose coverage is kept (the day the pages open on, the dashboard's), the gaps are
    read as kept with it (``reports.dashboard_totals.coverage_gaps``, an index range); on another
    date they are counted from the persons (:func:`counted_gaps`)."""
    kept = dashboard_totals.coverage_gaps(
        session=session, on=on, category=category, area=registry_area(user), limit=limit, offset=offset
    )
    if kept is None:
        rows, total = counted_gaps(session=session, user=user, on=on, category=category, limit=limit, offset=offset)
    else:
        ids, total = kept
        found = {row.id: row for row in _person_rows(session, _person_select().where(Person.id.in_(ids)))}
        rows = [found[person_id] for person_id in ids if person_id in found]
    holdings = category_holdings(session=session, person_ids=[row.id for row in rows], on=on)
    return [GapRow(row, [h.category for h in holdings.get(row.id, []) if h.current]) for row in rows], total


def counted_gaps(
    *, session: Session, user: Any, on: dt.date, category: str | None, limit: int, offset: int
) -> tuple[list[PersonRow], int]:
    """The gaps counted from the persons: reads every person of the area and every active enrolment.

    The gaps are found once, as a set (a materialised common table expression: the holdings of the
    category on the day, the persons of the area, less the enrolled), then counted and sorted. Asked
    for the first rows in household order directly, PostgreSQL would walk every household of the
    province in order looking for them, and read them all when there are few or none."""
    holding = [PersonCategory.person_id == Person.id, *holds_on(on)]
    if category:
        holding.append(PersonCategory.category == category)
    enrolled = exists().where(Enrolment.person_id == Person.id, *enrolment_active_on(on))
    gaps = (
        select(Person.id)
        .where(persons_filter(user), *alive_and_registered_on(on), exists().where(*holding), ~enrolled)
        .cte("gaps")
        .prefix_with("MATERIALIZED")
    )
    counted = select(func.count()).select_from(gaps).scalar_subquery()
    found = session.execute(
        _person_select()
        .add_columns(counted.label("total"))
        .join(gaps, gaps.c.id == Person.id)
        .order_by(Household.code, Person.id)
        .limit(limit)
        .offset(offset)
    ).all()
    total = found[0].total if found else 0
    if not found and offset:  # a page past the end has no row to carry the count: count alone
        total = session.scalar(select(func.count()).select_from(gaps)) or 0
    return _person_rows(session, found), total


def categories(*, session: Session) -> list[Category]:
    return list(session.scalars(select(Category).order_by(Category.code)))


def area_name(*, session: Session, location_id: int | None) -> str | None:
    if location_id is None:
        return None
    return session.scalar(select(Location.name).where(Location.id == location_id))


@dataclass
class ClaimRow:
    claim: Claim
    provider_code: str
    provider_name: str
    district_name: str | None


def claims_of_person(*, session: Session, user: Any, person_id: int, limit: int = 20) -> list[Claim]:
    return list(
        session.scalars(
            select(Claim)
            .where(Claim.person_id == person_id, claims_filter(user))
            .order_by(Claim.service_date.desc(), Claim.id.desc())
            .limit(limit)
        )
    )


def claim_payments(*, session: Session, claim_pk: int) -> list[ClaimPayment]:
    return list(
        session.scalars(select(ClaimPayment).where(ClaimPayment.claim_pk == claim_pk).order_by(ClaimPayment.id))
    )


def provider_with_district(*, session: Session, provider_id: int) -> tuple[Provider, Location | None]:
    district = aliased(Location)
    home = aliased(Location)
    row = session.execute(
        select(Provider, district)
        .join(home, home.id == Provider.location_id)
        .outerjoin(district, district.id == home.district_id)
        .where(Provider.id == provider_id)
    ).one()
    return row[0], row[1]


def districts_of(*, session: Session, user: Any) -> list[Location]:
    """The districts a user works in (its own district, or those of its province, or all)."""
    query = select(Location).where(Location.level == "district")
    if user.location_id is not None:
        query = query.where(or_(Location.id == user.location_id, Location.province_id == user.location_id))
    return list(session.scalars(query.order_by(Location.code)))
