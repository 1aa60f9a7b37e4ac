"""Property: the set-based coverage query equals a person-by-person count done in Python."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from equicover.enrolment.schemas import SchemeIn
from equicover.enrolment.service import (
    bulk_insert_contributions,
    bulk_insert_enrolments,
    coverage,
    create_scheme,
    open_period,
)
from equicover.registry.service import bulk_insert_households, bulk_insert_person_categories, bulk_insert_persons

D = dt.date(2024, 6, 30)
EPOCH = dt.date(2024, 1, 1)
COMMUNES = ("C11", "C12", "N21", "D2", "LC")  # the last two sit above commune level
CATEGORIES = ("registered_poor", "near_poor", "student")


def day(offset: int) -> dt.date:
    return EPOCH + dt.timedelta(days=offset)


span = st.tuples(st.integers(0, 365), st.integers(0, 365)).map(lambda pair: (day(min(pair)), day(max(pair))))
person = st.fixed_dictionaries(
    {
        "home": st.sampled_from(COMMUNES),
        "born": st.integers(-20_000, 300).map(day),
        "registered_after_birth": st.integers(0, 400),
        "death": st.one_of(st.none(), st.integers(150, 250).map(day)),
        "categories": st.lists(
            st.tuples(st.sampled_from(CATEGORIES), span), max_size=2, unique_by=lambda item: item[0]
        ),
        "enrolments": st.lists(
            st.tuples(
                st.sampled_from(("HEF", "BHYT")), span, st.sampled_from(("active", "active", "suspended", "cancelled"))
            ),
            max_size=2,
        ),
        "contribution": st.tuples(
            st.sampled_from(("state_budget", "member", "donor")),
            st.integers(0, 10_000),
            st.sampled_from(("due", "paid", "waived")),
        ),
    }
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=st.lists(person, min_size=1, max_size=25))
def test_coverage_equals_a_count_person_by_person(session, geo, people) -> None:
    savepoint = session.begin_nested()
    try:
        _check(session, geo, people)
    finally:
        savepoint.rollback()


def _check(session, geo, people) -> None:
    schemes = {
        code: create_scheme(session=session, scheme=SchemeIn(code=code, name=code, currency="VND"))
        for code in ("HEF", "BHYT")
    }
    periods = {
        code: open_period(session=session, scheme_id=scheme.id, starts=EPOCH, ends=dt.date(2024, 12, 31))
        for code, scheme in schemes.items()
    }
    bulk_insert_households(
        session=session, rows=[{"id": 900_001, "code": "HX", "location_id": geo["C11"].id, "registered_on": EPOCH}]
    )
    person_rows, category_rows, enrolment_rows, contribution_rows = [], [], [], []
    for index, data in enumerate(people):
        person_id = 800_000 + index
        registered = data["born"] + dt.timedelta(days=data["registered_after_birth"])
        death = data["death"] if data["death"] and data["death"] >= data["born"] else None
        person_rows.append(
            {
                "id": person_id,
                "household_id": 900_001,
                "full_name": f"P{index}",
                "sex": "unknown",
                "birth_date": data["born"],
                "location_id": geo[data["home"]].id,
                "registered_on": registered,
                "death_date": death,
            }
        )
        for category, (start, end) in data["categories"]:
            category_rows.append({"person_id": person_id, "category": category, "valid_from": start, "valid_to": end})
        for position, (code, (start, end), status) in enumerate(data["enrolments"]):
            enrolment_id = 700_000 + index * 10 + position
            enrolment_rows.append(
                {
                    "id": enrolment_id,
                    "person_id": person_id,
                    "scheme_id": schemes[code].id,
                    "period_id": periods[code].id,
                    "starts": start,
                    "ends": end,
                    "status": status,
                }
            )
            kind, amount, status_of_payment = data["contribution"]
            contribution_rows.append(
                {
                    "enrolment_id": enrolment_id,
                    "payer_kind": kind,
                    "amount_minor": amount,
                    "status": status_of_payment,
                    "period_starts": start,
                    "period_ends": end,
                }
            )
    bulk_insert_persons(session=session, rows=person_rows)
    if category_rows:
        bulk_insert_person_categories(session=session, rows=category_rows)
    if enrolment_rows:
        bulk_insert_enrolments(session=session, rows=enrolment_rows)
        bulk_insert_contributions(session=session, rows=contribution_rows)

    # The reference: walk the persons one by one with the documented definitions.
    district_of = {"C11": "D1", "C12": "D1", "N21": "D2", "D2": "D2", "LC": "-"}
    for scheme_filter in (None, "HEF"):
        expected_by_district: dict[str, list] = defaultdict(lambda: [0, 0, defaultdict(int)])
        expected_by_category: dict[str, list] = defaultdict(lambda: [0, 0, defaultdict(int)])
        for row, data in zip(person_rows, people):
            alive = (
                row["birth_date"] <= D
                and row["registered_on"] <= D
                and (row["death_date"] is None or row["death_date"] > D)
            )
            if not alive:
                continue
            counted = [
                (code, status)
                for code, (start, end), status in data["enrolments"]
                if status == "active" and start <= D <= end and (scheme_filter is None or code == scheme_filter)
            ]
            enrolled = bool(counted)
            kind, amount, payment_status = data["contribution"]
            # Each counted enrolment carries one contribution; an amount of 0 still shows as a payer row.
            contributes = bool(counted) and payment_status in ("due", "paid")
            groups = [expected_by_district[district_of[data["home"]]]]
            groups_by_category = [
                expected_by_category[c] for c, (start, end) in data["categories"] if start <= D <= end
            ]
            for group in groups + groups_by_category:
                group[0] += 1
                group[1] += enrolled
                if contributes:
                    group[2][kind] += amount * len(counted)
        scheme_id = schemes[scheme_filter].id if scheme_filter else None
        for by, expected in (("district", expected_by_district), ("category", expected_by_category)):
            actual = {
                row.group_code: (row.eligible, row.enrolled, row.amounts.get("VND", {}))
                for row in coverage(session=session, on=D, by=by, scheme_id=scheme_id)
            }
            assert actual == {code: (e, n, dict(amounts)) for code, (e, n, amounts) in expected.items()}, (
                by,
                scheme_filter,
            )
