"""Enrolments and contributions: happy paths, and each refusal leaves nothing written."""

from __future__ import annotations

import datetime as dt

import pytest

from equicover.audit.service import history
from equicover.db.session import session_scope
from equicover.enrolment.schemas import SchemeIn
from equicover.enrolment.service import (
    create_scheme,
    enrol,
    enrolments_of,
    is_enrolled,
    open_period,
    record_contribution,
    set_enrolment_status,
)
from equicover.errors import Conflict, ValidationFailed
from tests import factories as make

WRITTEN = ("enrolments", "contributions", "change_log")
Y2024 = (dt.date(2024, 1, 1), dt.date(2024, 12, 31))


@pytest.fixture
def world(session, geo):
    """Household H1 in C11 of two adults; scheme HEF (VND) with the period 2024; the first
    member enrolled from 2024-03-01 to 2024-12-31, the other not enrolled. Committed."""
    _, (enrolled, other) = make.household(
        session,
        code="H1",
        location_code="C11",
        members=[
            make.person_in(full_name="Trần Thị Hoa", sex="female", birth_date=dt.date(1985, 1, 1)),
            make.person_in(full_name="Trần Văn Nam", sex="male", birth_date=dt.date(1983, 1, 1)),
        ],
        today=dt.date(2024, 1, 1),
    )
    scheme = make.scheme(session, code="HEF", name="Health Equity Fund", currency="VND")
    period = make.period(session, scheme_id=scheme.id, starts=Y2024[0], ends=Y2024[1])
    make.enrolment(
        session,
        person_id=enrolled.id,
        scheme_id=scheme.id,
        period_id=period.id,
        starts=dt.date(2024, 3, 1),
        ends=dt.date(2024, 12, 31),
    )
    session.commit()
    return {"enrolled": enrolled.id, "other": other.id, "scheme": scheme.id, "period": period.id}


def _refused(session_factory, row_counts, action, error_type, record: str, field: str):
    before = row_counts(*WRITTEN)
    with pytest.raises(error_type) as caught:
        with session_scope(session_factory) as writer:
            action(writer)
    assert (caught.value.record, caught.value.field) == (record, field)
    assert row_counts(*WRITTEN) == before, "a refused write must leave nothing behind"
    return caught.value


def test_scheme_minor_digits_default_to_iso_4217(session) -> None:
    assert create_scheme(session=session, scheme=SchemeIn(code="A", name="a", currency="VND")).minor_digits == 0
    assert create_scheme(session=session, scheme=SchemeIn(code="B", name="b", currency="MAD")).minor_digits == 2
    with pytest.raises(ValidationFailed) as caught:
        create_scheme(session=session, scheme=SchemeIn(code="C", name="c", currency="QQQ"))
    assert caught.value.field == "minor_digits"


def test_enrol_and_record_contributions(session, world) -> None:
    assert is_enrolled(session=session, person_id=world["enrolled"], on=dt.date(2024, 3, 1))
    assert not is_enrolled(session=session, person_id=world["enrolled"], on=dt.date(2024, 2, 29))
    contribution = record_contribution(
        session=session,
        person_id=world["enrolled"],
        scheme_id=world["scheme"],
        payer_kind="state_budget",
        payer_name="State budget",
        amount_minor=315_000,
        period_starts=dt.date(2024, 3, 1),
        period_ends=dt.date(2024, 12, 31),
        status="paid",
    )
    assert contribution.enrolment_id == enrolments_of(session=session, person_id=world["enrolled"])[0].id
    assert [
        row.after["amount_minor"] for row in history(session=session, entity="contributions", entity_id=contribution.id)
    ] == [315_000]


def test_enrolment_outside_the_scheme_period_is_refused(session_factory, row_counts, world) -> None:
    record = f"enrolment of person {world['other']} in scheme {world['scheme']}"
    _refused(
        session_factory,
        row_counts,
        lambda s: enrol(
            session=s,
            person_id=world["other"],
            scheme_id=world["scheme"],
            period_id=world["period"],
            starts=dt.date(2023, 12, 31),
            ends=dt.date(2024, 6, 30),
        ),
        ValidationFailed,
        record,
        "starts",
    )
    _refused(
        session_factory,
        row_counts,
        lambda s: enrol(
            session=s,
            person_id=world["other"],
            scheme_id=world["scheme"],
            period_id=world["period"],
            starts=dt.date(2024, 1, 1),
            ends=dt.date(2025, 1, 1),
        ),
        ValidationFailed,
        record,
        "ends",
    )
    _refused(
        session_factory,
        row_counts,
        lambda s: enrol(
            session=s,
            person_id=world["other"],
            scheme_id=world["scheme"],
            period_id=world["period"],
            starts=dt.date(2024, 5, 1),
            ends=dt.date(2024, 4, 1),
        ),
        ValidationFailed,
        record,
        "ends",
    )


def test_overlapping_enrolment_in_the_same_scheme_is_refused_until_cancelled(
    session_factory, row_counts, world
) -> None:
    record = f"enrolment of person {world['enrolled']} in scheme {world['scheme']}"
    overlapping = lambda s: enrol(  # noqa: E731
        session=s,
        person_id=world["enrolled"],
        scheme_id=world["scheme"],
        period_id=world["period"],
        starts=dt.date(2024, 1, 1),
        ends=dt.date(2024, 3, 1),
    )
    error = _refused(session_factory, row_counts, overlapping, Conflict, record, "starts")
    assert error.status == 409
    # The day before the existing enrolment starts is free.
    with session_scope(session_factory) as writer:
        enrol(
            session=writer,
            person_id=world["enrolled"],
            scheme_id=world["scheme"],
            period_id=world["period"],
            starts=dt.date(2024, 1, 1),
            ends=dt.date(2024, 2, 29),
        )
        existing = enrolments_of(session=writer, person_id=world["enrolled"])
        for row in existing:
            set_enrolment_status(session=writer, enrolment_id=row.id, status="cancelled")
    with session_scope(session_factory) as writer:
        overlapping(writer)


def test_unknown_person_scheme_or_foreign_period_is_refused(session_factory, row_counts, world, session) -> None:
    other_scheme = create_scheme(session=session, scheme=SchemeIn(code="BHYT", name="Basic insurance", currency="VND"))
    other_period = open_period(session=session, scheme_id=other_scheme.id, starts=Y2024[0], ends=Y2024[1])
    session.commit()
    _refused(
        session_factory,
        row_counts,
        lambda s: enrol(
            session=s,
            person_id=987654,
            scheme_id=world["scheme"],
            period_id=world["period"],
            starts=Y2024[0],
            ends=Y2024[1],
        ),
        ValidationFailed,
        f"enrolment of person 987654 in scheme {world['scheme']}",
        "person_id",
    )
    _refused(
        session_factory,
        row_counts,
        lambda s: enrol(
            session=s,
            person_id=world["other"],
            scheme_id=world["scheme"],
            period_id=other_period.id,
            starts=Y2024[0],
            ends=Y2024[1],
        ),
        ValidationFailed,
        f"enrolment of person {world['other']} in scheme {world['scheme']}",
        "period_id",
    )


def test_contribution_for_a_person_not_enrolled_is_refused(session_factory, row_counts, world) -> None:
    def contribute(person_id: int, starts: dt.date, ends: dt.date, **extra):
        arguments = dict(payer_kind="member", amount_minor=135_000, period_starts=starts, period_ends=ends)
        arguments.update(extra)
        return lambda s: record_contribution(session=s, person_id=person_id, scheme_id=world["scheme"], **arguments)

    record_other = f"contribution for person {world['other']} in scheme {world['scheme']}"
    record_enrolled = f"contribution for person {world['enrolled']} in scheme {world['scheme']}"
    # Never enrolled.
    _refused(
        session_factory, row_counts, contribute(world["other"], *Y2024), ValidationFailed, record_other, "person_id"
    )
    # Enrolled, but not for the whole period of the contribution (enrolment starts 2024-03-01).
    _refused(
        session_factory,
        row_counts,
        contribute(world["enrolled"], *Y2024),
        ValidationFailed,
        record_enrolled,
        "person_id",
    )
    # Other bad fields.
    _refused(
        session_factory,
        row_counts,
        contribute(world["enrolled"], dt.date(2024, 3, 1), dt.date(2024, 12, 31), payer_kind="uncle"),
        ValidationFailed,
        record_enrolled,
        "payer_kind",
    )
    _refused(
        session_factory,
        row_counts,
        contribute(world["enrolled"], dt.date(2024, 3, 1), dt.date(2024, 12, 31), amount_minor=-1),
        ValidationFailed,
        record_enrolled,
        "amount_minor",
    )
    _refused(
        session_factory,
        row_counts,
        contribute(world["enrolled"], dt.date(2024, 3, 1), dt.date(2024, 12, 31), status="lost"),
        ValidationFailed,
        record_enrolled,
        "status",
    )
    # A suspended enrolment takes no contributions either.
    with session_scope(session_factory) as writer:
        enrolment_id = enrolments_of(session=writer, person_id=world["enrolled"])[0].id
        set_enrolment_status(session=writer, enrolment_id=enrolment_id, status="suspended")
    _refused(
        session_factory,
        row_counts,
        contribute(world["enrolled"], dt.date(2024, 3, 1), dt.date(2024, 12, 31)),
        ValidationFailed,
        record_enrolled,
        "person_id",
    )
