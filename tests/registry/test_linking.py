"""Linking persons to a national ID register: exact where the ID is present, probabilistic
otherwise, with conflicts and unlinked records reported by id and line only."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from sqlalchemy import select

from equicover.registry.linking import link_ids, read_register, write_link_report
from equicover.registry.quality_models import PersonIdLink
from tests import factories as make

PEOPLE = [
    # key, full name, sex, birth date, national id
    ("exact", "Nguyễn Văn An", "male", dt.date(1980, 5, 1), "001080000001"),
    ("conflict", "Trần Thị Bình", "female", dt.date(1985, 3, 2), "001185000002"),
    ("fuzzy", "Le Van Cuong", "male", dt.date(1990, 1, 10), None),
    ("unknown", "Phạm Thị Dung", "female", dt.date(1991, 7, 7), None),
]


def _register(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["national_id", "full_name", "birth_date", "sex", "location_code"])
        writer.writerows(rows)
    return path


def test_exact_probabilistic_conflicting_and_unlinked(session, geo, tmp_path) -> None:
    _, persons = make.household(
        session,
        code="L1",
        location_code="C11",
        members=[
            make.person_in(
                full_name=name,
                sex=sex,
                birth_date=birth,
                national_id=national_id,
                id_type="vneid" if national_id else None,
            )
            for _, name, sex, birth, national_id in PEOPLE
        ],
    )
    ids = {key: person.id for (key, *_), person in zip(PEOPLE, persons)}
    path = _register(
        tmp_path / "vneid.csv",
        [
            ["001080000001", "NGUYEN VAN AN", "1980-05-01", "male", "C11"],  # line 2: exact
            ["001185000002", "Trần Thị Bình", "1986-03-02", "female", "C11"],  # line 3: same ID, other birth date
            ["001090000003", "Lê Văn Cường", "1990-01-10", "male", "C11"],  # line 4: the fuzzy one, in Vietnamese
            ["", "Nobody", "1990-01-01", "male", "C11"],  # line 5: unusable
            ["001070000004", "Hoàng Văn Em", "1970-02-02", "male", "C12"],  # line 6: nobody's
        ],
    )
    rows, unusable = read_register(path)
    assert [outcome.register_line for outcome in unusable] == [5]
    summary = link_ids(session=session, rows=rows, threshold=0.8)
    by_person = {outcome.person_id: outcome for outcome in summary.outcomes}
    assert by_person[ids["exact"]].status == "linked_exact" and by_person[ids["exact"]].register_line == 2
    assert (
        by_person[ids["conflict"]].status == "conflict"
        and by_person[ids["conflict"]].reason == "same national ID, different birth_date"
    )
    assert by_person[ids["fuzzy"]].status == "linked_probabilistic" and by_person[ids["fuzzy"]].register_line == 4
    assert by_person[ids["unknown"]].status == "unlinked"
    links = {link.person_id: (link.register_id, link.method) for link in session.scalars(select(PersonIdLink))}
    assert links == {ids["exact"]: ("001080000001", "exact"), ids["fuzzy"]: ("001090000003", "probabilistic")}

    summary.outcomes.extend(unusable)
    report = tmp_path / "links.csv"
    write_link_report(report, summary)
    text = report.read_text(encoding="utf-8")
    assert "Nguy" not in text and "001080000001" not in text and "1980" not in text
    assert len(text.strip().splitlines()) == 1 + 5

    # Linking again links nothing twice.
    again = link_ids(session=session, rows=rows, threshold=0.8)
    assert (
        again.count("already_linked") == 2
        and again.count("linked_exact") == 0
        and again.count("linked_probabilistic") == 0
    )
