"""The bulk loader's column path: multi-row statements, defaults, numpy dates, constraint errors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import text

from equicover.errors import ValidationFailed
from equicover.registry.service import bulk_insert_households, bulk_insert_persons

# Not a multiple of the rows per SQLite statement nor of the chunk size used below, so every
# remainder path (last statement of a chunk, last chunk) is taken.
COUNT = 1_237
FIRST_ID = 610_000


def _household(session, geo) -> int:
    bulk_insert_households(
        session=session,
        rows=[{"id": 610_000, "code": "BULK-H", "location_id": geo["C11"].id, "registered_on": "2020-01-01"}],
    )
    return 610_000


def test_numpy_columns_load_every_row_with_dates_nulls_and_defaults(session, geo) -> None:
    household = _household(session, geo)
    ids = FIRST_ID + np.arange(COUNT)
    birth = np.datetime64("1950-01-01") + np.arange(COUNT) * np.timedelta64(9, "D")
    death = np.full(COUNT, np.datetime64("NaT"), dtype="datetime64[D]")
    death[::100] = np.datetime64("2024-03-01")
    written = bulk_insert_persons(
        session=session,
        chunk_size=700,
        rows={
            "id": ids,
            "household_id": np.full(COUNT, household),
            "full_name": np.array([f"Person {index}" for index in range(COUNT)], dtype=object),
            "sex": np.where(ids % 2 == 0, "female", "male").astype(object),
            "birth_date": birth,
            "location_id": np.full(COUNT, geo["C11"].id),
            "death_date": death,
        },
    )
    assert written == COUNT
    stored = session.execute(
        text(
            "SELECT id, full_name, birth_date, registered_on, death_date, given_name FROM persons "
            "WHERE id >= :first ORDER BY id"
        ),
        {"first": FIRST_ID},
    ).all()
    assert [row.id for row in stored] == ids.tolist()

    def as_date(value: object) -> dt.date | None:
        return dt.date.fromisoformat(value) if isinstance(value, str) else value

    for index in (0, 1, 499, 500, 699, 700, 1_236):
        row = stored[index]
        expected_birth = dt.date(1950, 1, 1) + dt.timedelta(days=9 * index)
        assert row.full_name == f"Person {index}"
        assert as_date(row.birth_date) == expected_birth
        assert as_date(row.registered_on) == expected_birth  # defaults to the birth date
        assert as_date(row.death_date) == (dt.date(2024, 3, 1) if index % 100 == 0 else None)
        assert row.given_name is None


def test_row_dicts_take_defaults_per_row(session, geo) -> None:
    household = _household(session, geo)
    common = {"household_id": household, "full_name": "X", "sex": "unknown", "location_id": geo["C11"].id}
    bulk_insert_persons(
        session=session,
        rows=[
            {"id": FIRST_ID, **common, "birth_date": dt.date(1990, 5, 1)},
            {"id": FIRST_ID + 1, **common, "birth_date": dt.date(1991, 6, 2), "registered_on": "2015-07-03"},
        ],
    )
    registered = (
        session.execute(text("SELECT registered_on FROM persons WHERE id >= :first ORDER BY id"), {"first": FIRST_ID})
        .scalars()
        .all()
    )
    assert [value if isinstance(value, dt.date) else dt.date.fromisoformat(value) for value in registered] == [
        dt.date(1990, 5, 1),
        dt.date(2015, 7, 3),
    ]


def test_a_bad_row_inside_a_multi_row_statement_is_refused_naming_the_table(session, geo) -> None:
    household = _household(session, geo)
    sexes = ["female"] * COUNT
    sexes[733] = "alien"  # not one of the sexes the check constraint allows
    savepoint = session.begin_nested()
    with pytest.raises(ValidationFailed) as caught:
        bulk_insert_persons(
            session=session,
            rows={
                "id": list(range(FIRST_ID, FIRST_ID + COUNT)),
                "household_id": [household] * COUNT,
                "full_name": ["X"] * COUNT,
                "sex": sexes,
                "birth_date": ["1980-01-01"] * COUNT,
                "location_id": [geo["C11"].id] * COUNT,
            },
        )
    savepoint.rollback()
    assert caught.value.record == "persons (bulk load)"
    assert (
        session.execute(text("SELECT COUNT(*) FROM persons WHERE id >= :first"), {"first": FIRST_ID}).scalar_one() == 0
    )


def test_a_malformed_date_is_refused_before_anything_is_written(session, geo) -> None:
    with pytest.raises(ValueError, match="day is out of range for month"):
        bulk_insert_households(
            session=session,
            rows={"id": [610_001], "code": ["BAD"], "location_id": [geo["C11"].id], "registered_on": ["2020-02-30"]},
        )
