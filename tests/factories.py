"""Test data, built through the domains' services (never rows inserted by hand where a service exists).

Every factory is keyword-only after the session and has defaults for everything a test does not
care about, so that a test names only the facts it depends on::

    from tests import factories as make

    make.locations(session)                          # VN > LC > D1 (C11, C12), D2 (N21)
    year = make.scheme_year(session)                 # VN-SHI (VND), 2024-07-01..2025-06-30, policy vn-shi-2024
    make.provider(session, code="PA", location_code="D1")
    make.contract(session, provider_code="PA")       # fee for service, for the scheme year
    poor = make.enrolled_person(session, scheme=year, categories=["registered_poor"])
    make.claim(session, claim_id="C-1", person_id=poor.id, total=200_000)   # settled and stored

The smaller steps are there too: :func:`person_in`, :func:`household`, :func:`person`,
:func:`category`, :func:`scheme`, :func:`period`, :func:`enrolment`, :func:`contribution`,
:func:`policy_version`, :func:`claim_in`.

Scenarios many tests share are built from these factories at the end of the module:
:func:`vn_world` (locations, the VN-SHI scheme year, three providers, two households) and
:func:`vn_claims_world` (the same with nine stored claims). Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from equicover.claims.models import Claim, PolicyVersion
from equicover.claims.schemas import ClaimIn
from equicover.claims.settle_and_store import SettledClaim
from equicover.enrolment.models import Contribution, Enrolment, EnrolmentPeriod, Scheme
from equicover.providers.models import Contract, Provider
from equicover.registry.models import Category, Household, Location, Person
from equicover.registry.schemas import CategoryIn, PersonIn

POLICIES = Path(__file__).resolve().parent.parent / "policies"

# The scheme year of the Viet Nam policy (policies/vn-shi-2024.toml).
YEAR_STARTS, YEAR_ENDS = dt.date(2024, 7, 1), dt.date(2025, 6, 30)
LONG_AGO = dt.date(2020, 1, 1)

# (code, level, parent): a country, a province, two districts, two communes in D1, a neighbourhood in D2.
SMALL_TREE: tuple[tuple[str, str, str | None], ...] = (
    ("VN", "country", None),
    ("LC", "province", "VN"),
    ("D1", "district", "LC"),
    ("D2", "district", "LC"),
    ("C11", "commune", "D1"),
    ("C12", "commune", "D1"),
    ("N21", "neighbourhood", "D2"),
)

_household_numbers = itertools.count(1)


# --------------------------------------------------------------------------------------------
# Places


def location(
    session: Session, *, code: str, level: str, parent_code: str | None = None, name: str | None = None
) -> Location:
    from equicover.registry.schemas import LocationIn
    from equicover.registry.service import create_location

    return create_location(
        session=session,
        location=LocationIn(code=code, name=name or f"Place {code}", level=level, parent_code=parent_code),
    )


def locations(session: Session, *, tree: Iterable[tuple[str, str, str | None]] = SMALL_TREE) -> dict[str, Location]:
    """Create a location tree, parents first; returns the locations by code."""
    return {code: location(session, code=code, level=level, parent_code=parent) for code, level, parent in tree}


# --------------------------------------------------------------------------------------------
# Persons and households


def category(session: Session, *, code: str, label: str | None = None) -> Category:
    """A person category beyond the ones the migrations seed (e.g. ``five_year_continuous``)."""
    from equicover.registry.service import create_category

    return create_category(session=session, code=code, label=label or code.replace("_", " "))


def person_in(
    *,
    full_name: str = "A Member",
    sex: str = "female",
    birth_date: dt.date = dt.date(1980, 1, 1),
    categories: Sequence[str | CategoryIn] = (),
    categories_from: dt.date = LONG_AGO,
    **fields: object,
) -> PersonIn:
    """A household member to register; a category given by code holds from ``categories_from`` on."""
    held = [
        item if isinstance(item, CategoryIn) else CategoryIn(category=item, valid_from=categories_from)
        for item in categories
    ]
    return PersonIn(full_name=full_name, sex=sex, birth_date=birth_date, categories=held, **fields)


def household(
    session: Session,
    *,
    code: str | None = None,
    location_code: str = "C11",
    registered_on: dt.date = LONG_AGO,
    members: Sequence[PersonIn] | None = None,
    today: dt.date | None = None,
) -> tuple[Household, list[Person]]:
    """Register a household (default: one member) through the registry; returns it and its members in order."""
    from equicover.registry.schemas import HouseholdIn
    from equicover.registry.service import household_members, register_household

    row = register_household(
        session=session,
        household=HouseholdIn(
            code=code or f"HH-{next(_household_numbers)}",
            location_code=location_code,
            registered_on=registered_on,
            members=list(members) if members is not None else [person_in()],
        ),
        today=today,
    )
    return row, household_members(session=session, household_id=row.id)


def person(
    session: Session,
    *,
    household_code: str | None = None,
    location_code: str = "C11",
    registered_on: dt.date = LONG_AGO,
    **member: object,
) -> Person:
    """One person in a household of their own; ``member`` are the :func:`person_in` fields."""
    _, members = household(
        session,
        code=household_code,
        location_code=location_code,
        registered_on=registered_on,
        members=[person_in(**member)],
    )
    return members[0]


# --------------------------------------------------------------------------------------------
# Schemes, periods, enrolments, contributions, policy versions


def scheme(
    session: Session,
    *,
    code: str = "VN-SHI",
    name: str = "Social health insurance",
    currency: str = "VND",
    minor_digits: int | None = None,
) -> Scheme:
    from equicover.enrolment.schemas import SchemeIn
    from equicover.enrolment.service import create_scheme

    return create_scheme(
        session=session, scheme=SchemeIn(code=code, name=name, currency=currency, minor_digits=minor_digits)
    )


def period(
    session: Session, *, scheme_id: int, starts: dt.date = YEAR_STARTS, ends: dt.date = YEAR_ENDS
) -> EnrolmentPeriod:
    from equicover.enrolment.service import open_period

    return open_period(session=session, scheme_id=scheme_id, starts=starts, ends=ends)


def enrolment(
    session: Session,
    *,
    person_id: int,
    scheme_id: int,
    period_id: int,
    starts: dt.date = YEAR_STARTS,
    ends: dt.date = YEAR_ENDS,
) -> Enrolment:
    from equicover.enrolment.service import enrol

    return enrol(
        session=session, person_id=person_id, scheme_id=scheme_id, period_id=period_id, starts=starts, ends=ends
    )


def contribution(
    session: Session,
    *,
    person_id: int,
    scheme_id: int,
    amount_minor: int,
    payer_kind: str = "state_budget",
    status: str = "paid",
    period_starts: dt.date = YEAR_STARTS,
    period_ends: dt.date = YEAR_ENDS,
) -> Contribution:
    from equicover.enrolment.service import record_contribution

    return record_contribution(
        session=session,
        person_id=person_id,
        scheme_id=scheme_id,
        payer_kind=payer_kind,
        amount_minor=amount_minor,
        status=status,
        period_starts=period_starts,
        period_ends=period_ends,
    )


def policy_version(
    session: Session, *, scheme_code: str = "VN-SHI", policy: str = "vn-shi-2024", source_text: str | None = None
) -> PolicyVersion:
    """Store a policy file of ``policies/`` (or ``source_text``) as a version for the scheme."""
    from equicover.claims.service import store_policy_version

    text = source_text if source_text is not None else (POLICIES / f"{policy}.toml").read_text(encoding="utf-8")
    return store_policy_version(session=session, source_text=text, scheme_code=scheme_code, actor="test")


@dataclass(frozen=True)
class SchemeYear:
    """A scheme, its enrolment period and the policy version stored for it (see :func:`scheme_year`)."""

    scheme_id: int
    scheme_code: str
    period_id: int
    starts: dt.date
    ends: dt.date
    policy_version_id: int


def scheme_year(
    session: Session,
    *,
    code: str = "VN-SHI",
    currency: str = "VND",
    policy: str = "vn-shi-2024",
    starts: dt.date = YEAR_STARTS,
    ends: dt.date = YEAR_ENDS,
) -> SchemeYear:
    """A scheme with one enrolment period and the policy file ``policies/<policy>.toml`` stored for it.

    The period must match the policy's dates (VN-SHI: 2024-07-01..2025-06-30; ``cn-yaan-2018``:
    the year 2018, CNY)."""
    created = scheme(session, code=code, currency=currency)
    opened = period(session, scheme_id=created.id, starts=starts, ends=ends)
    version = policy_version(session, scheme_code=code, policy=policy)
    return SchemeYear(created.id, code, opened.id, starts, ends, version.id)


def enrolled_person(
    session: Session,
    *,
    scheme: SchemeYear,
    location_code: str = "C11",
    household_code: str | None = None,
    starts: dt.date | None = None,
    ends: dt.date | None = None,
    **member: object,
) -> Person:
    """One person in a household of their own, enrolled in ``scheme`` (default: for its whole
    period); ``member`` are the :func:`person_in` fields (e.g. ``categories=["registered_poor"]``)."""
    someone = person(session, household_code=household_code, location_code=location_code, **member)
    enrolment(
        session,
        person_id=someone.id,
        scheme_id=scheme.scheme_id,
        period_id=scheme.period_id,
        starts=starts or scheme.starts,
        ends=ends or scheme.ends,
    )
    return someone


# --------------------------------------------------------------------------------------------
# Providers and contracts


def provider(
    session: Session,
    *,
    code: str = "PA",
    level: str = "district",
    location_code: str = "D1",
    designated: bool = True,
    name: str | None = None,
) -> Provider:
    from equicover.providers.schemas import ProviderIn
    from equicover.providers.service import register_provider

    return register_provider(
        session=session,
        provider=ProviderIn(
            code=code, name=name or f"Facility {code}", level=level, location_code=location_code, designated=designated
        ),
    )


def contract(
    session: Session,
    *,
    provider_code: str = "PA",
    scheme_code: str = "VN-SHI",
    starts: dt.date = YEAR_STARTS,
    ends: dt.date = YEAR_ENDS,
    payment_method: str = "fee_for_service",
    designated_services: str | None = None,
) -> Contract:
    from equicover.providers.schemas import ContractIn
    from equicover.providers.service import sign_contract

    return sign_contract(
        session=session,
        contract=ContractIn(
            scheme_code=scheme_code,
            provider_code=provider_code,
            starts=starts,
            ends=ends,
            payment_method=payment_method,
            designated_services=designated_services,
        ),
    )


# --------------------------------------------------------------------------------------------
# Claims


def claim_in(
    *,
    claim_id: str,
    person_id: int,
    provider_code: str = "PA",
    service_date: dt.date = dt.date(2024, 9, 2),
    care_type: str = "outpatient",
    diagnosis: str = "J06.9",
    days: int = 0,
    total: int = 500_000,
    **extra: object,
) -> ClaimIn:
    """A bill as a facility submits it (not stored)."""
    return ClaimIn(
        claim_id=claim_id,
        person_id=person_id,
        provider_code=provider_code,
        service_date=service_date,
        care_type=care_type,
        diagnosis=diagnosis,
        days=days,
        total=total,
        **extra,
    )


def claim(
    session: Session, *, claim_id: str, person_id: int, actor: str = "test", **bill: object
) -> Claim | SettledClaim:
    """Submit a claim through the claims service (settled and stored); returns the stored claim
    (for a claim id already stored: the stored claim, unchanged)."""
    from equicover.claims.service import submit_claim

    row, _ = submit_claim(
        session=session,
        claim=claim_in(claim_id=claim_id, person_id=person_id, **bill),
        actor=actor,
    )
    return row


# --------------------------------------------------------------------------------------------
# Scenarios


@dataclass
class World:
    """The small Viet Nam world of :func:`vn_world`."""

    scheme_id: int
    scheme_code: str
    period_id: int
    policy_version_id: int
    provider_a: int  # "PA": district hospital in district D1, contracted
    provider_b: int  # "PB": district hospital in district D2, contracted
    provider_c: int  # "PC": commune health station in D1, no contract
    household_id: int  # "H1" in commune C11 (district D1)
    # Members of H1: [0] enrolled registered_poor, [1] enrolled five_year_continuous, [2] not enrolled.
    person_ids: list[int]
    other_person_id: int  # household "H2" in neighbourhood N21 (district D2), enrolled


def vn_world(session: Session) -> World:
    """Locations VN > LC > D1 (C11, C12), D2 (N21); scheme VN-SHI (VND) with the period
    2024-07-01..2025-06-30 and the policy ``vn-shi-2024`` stored for it; providers PA (district,
    D1), PB (district, D2), both with a fee-for-service contract for the period, PC (commune, D1)
    without; household H1 of three persons in C11 (a registered-poor woman born 1980, a man born
    1978 with five years' continuous membership, a girl born 2010 not enrolled) and household H2
    of one man in N21. Every enrolment covers the whole period."""
    locations(session)
    year = scheme_year(session)
    providers = {
        code: provider(session, code=code, level=level, location_code=place)
        for code, level, place in (("PA", "district", "D1"), ("PB", "district", "D2"), ("PC", "commune", "D1"))
    }
    for code in ("PA", "PB"):
        contract(session, provider_code=code)
    category(session, code="five_year_continuous", label="Five or more consecutive years of membership")
    h1, members = household(
        session,
        code="H1",
        location_code="C11",
        members=[
            person_in(
                full_name="Member One", sex="female", birth_date=dt.date(1980, 5, 1), categories=["registered_poor"]
            ),
            person_in(
                full_name="Member Two", sex="male", birth_date=dt.date(1978, 2, 3), categories=["five_year_continuous"]
            ),
            person_in(full_name="Member Three", sex="female", birth_date=dt.date(2010, 9, 9)),
        ],
    )
    _, (other,) = household(
        session,
        code="H2",
        location_code="N21",
        members=[person_in(full_name="Member Four", sex="male", birth_date=dt.date(1990, 1, 1))],
    )
    for member in (members[0], members[1], other):
        enrolment(session, person_id=member.id, scheme_id=year.scheme_id, period_id=year.period_id)
    session.flush()
    return World(
        scheme_id=year.scheme_id,
        scheme_code="VN-SHI",
        period_id=year.period_id,
        policy_version_id=year.policy_version_id,
        provider_a=providers["PA"].id,
        provider_b=providers["PB"].id,
        provider_c=providers["PC"].id,
        household_id=h1.id,
        person_ids=[member.id for member in members],
        other_person_id=other.id,
    )


@dataclass
class ClaimsWorld(World):
    """:func:`vn_world` with the claims of :func:`vn_claims_world`, their primary keys by claim id."""

    claim_pks: dict[str, int]


def vn_claims_world(session: Session) -> ClaimsWorld:
    """:func:`vn_world` with nine claims submitted through the claims service:

    ====== ====== =========== ========== ========= ===== ==========
    claim  member provider    served     care      days  total
    ====== ====== =========== ========== ========= ===== ==========
    A-OP0  two    PA          2024-08-03 outpatient   0     400,000
    A-OP1  poor   PA          2024-08-09 outpatient   0     450,000
    A-OP2  two    PA          2024-08-15 outpatient   0     500,000
    A-OP3  poor   PA          2024-08-21 outpatient   0     550,000
    A-IP0  poor   PA          2024-09-02 inpatient    4   6,000,000  (K35.8)
    A-IP1  two    PA          2024-09-20 inpatient    6   9,000,000  (J18.9)
    B-OP0  H2     PB          2024-08-05 outpatient   0     300,000
    B-IP0  H2     PB          2024-09-07 inpatient    3  12,000,000  (K35.8)
    C-OP0  poor   PC (none)   2024-08-12 outpatient   0     200,000
    ====== ====== =========== ========== ========= ===== ==========

    Out-patient claims are for J06.9. The fund ("shi") pays the registered-poor member 100%, the
    others 80% but 100% of an in-area visit below 351,000 (B-OP0), and nothing at PC: A-OP0
    320,000, A-OP1 450,000, A-OP2 400,000, A-OP3 550,000, A-IP0 6,000,000, A-IP1 7,200,000, B-OP0
    300,000, B-IP0 9,600,000, C-OP0 0."""
    world = vn_world(session)
    poor, member_two, _ = world.person_ids
    far = world.other_person_id
    rows = [
        *(
            claim(
                session,
                claim_id=f"A-OP{i}",
                person_id=poor if i % 2 else member_two,
                provider_code="PA",
                service_date=dt.date(2024, 8, day),
                total=400_000 + 50_000 * i,
            )
            for i, day in enumerate((3, 9, 15, 21))
        ),
        claim(
            session,
            claim_id="A-IP0",
            person_id=poor,
            service_date=dt.date(2024, 9, 2),
            care_type="inpatient",
            diagnosis="K35.8",
            days=4,
            total=6_000_000,
        ),
        claim(
            session,
            claim_id="A-IP1",
            person_id=member_two,
            service_date=dt.date(2024, 9, 20),
            care_type="inpatient",
            diagnosis="J18.9",
            days=6,
            total=9_000_000,
        ),
        claim(
            session,
            claim_id="B-OP0",
            person_id=far,
            provider_code="PB",
            service_date=dt.date(2024, 8, 5),
            total=300_000,
        ),
        claim(
            session,
            claim_id="B-IP0",
            person_id=far,
            provider_code="PB",
            service_date=dt.date(2024, 9, 7),
            care_type="inpatient",
            diagnosis="K35.8",
            days=3,
            total=12_000_000,
        ),
        claim(
            session,
            claim_id="C-OP0",
            person_id=poor,
            provider_code="PC",
            service_date=dt.date(2024, 8, 12),
            total=200_000,
        ),
    ]
    session.flush()
    return ClaimsWorld(**vars(world), claim_pks={row.claim_id: row.id for row in rows})
