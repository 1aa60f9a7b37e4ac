"""The commands end to end on a SQLite file: import, dedupe run/review/merge, link ids; bad input
ends in a message and a non-zero exit, never a traceback."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from equicover.cli import app
from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory, session_scope
from equicover.registry.models import Person
from equicover.registry.quality_models import DuplicatePair
from equicover.registry.service import bulk_insert_locations

MAPPING = """
[columns]
source_row_id = "id"
full_name = "name"
sex = "sex"
birth_date = "dob"
household_code = "hh"
location_code = "commune"
national_id = "cccd"
[defaults]
id_type = "vneid"
"""
ROWS = [
    ["1", "Nguyễn Văn An", "male", "1980-05-01", "H1", "C1", "001080000001"],
    ["2", "NGUYEN VAN AN", "male", "1980-05-01", "H2", "C1", ""],  # the same man, from another list
    ["3", "Trần Thị Bình", "female", "1985-03-02", "H1", "C1", ""],
    ["4", "Lê Văn Cường", "male", "1990-13-10", "H3", "C1", ""],  # bad date
]


def test_commands_end_to_end(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        bulk_insert_locations(session=session, rows=[
            {"id": 1, "code": "VN", "name": "VN", "level": "country", "parent_id": None},
            {"id": 2, "code": "P", "name": "P", "level": "province", "parent_id": 1},
            {"id": 3, "code": "D", "name": "D", "level": "district", "parent_id": 2},
            {"id": 4, "code": "C1", "name": "C1", "level": "commune", "parent_id": 3},
        ])  # fmt: skip
    mapping = tmp_path / "m.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    data = tmp_path / "list.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["id", "name", "sex", "dob", "hh", "commune", "cccd"], *ROWS])
    runner = CliRunner()
    db = ["--database-url", url]

    imported = runner.invoke(
        app, ["import", "persons", str(data), "--mapping", str(mapping), "--source", "list-a", *db]
    )
    assert imported.exit_code == 2, imported.output  # some rows rejected
    assert "rejected" in imported.output
    report = (tmp_path / "list.csv.rejected.csv").read_text(encoding="utf-8").splitlines()
    assert report[1].startswith("5,4,birth_date,")
    again = runner.invoke(app, ["import", "persons", str(data), "--mapping", str(mapping), "--source", "list-a", *db])
    assert "already imported" in again.output

    run = runner.invoke(app, ["dedupe", "run", "--review-threshold", "0.3", *db])
    assert run.exit_code == 0, run.output
    with make_session_factory(engine)() as reader:
        pairs = list(reader.scalars(select(DuplicatePair)))
        ids = {p.full_name: p.id for p in reader.scalars(select(Person))}
    assert [(p.person_id_l, p.person_id_r) for p in pairs] == [(ids["Nguyễn Văn An"], ids["NGUYEN VAN AN"])]
    pair = pairs[0]
    if pair.status == "pending":
        decided = runner.invoke(app, ["dedupe", "review", "--decide", f"{pair.id}=confirm", *db])
        assert decided.exit_code == 0, decided.output
    merged = runner.invoke(app, ["dedupe", "merge", *db])
    assert merged.exit_code == 0 and "1 person(s) merged" in merged.output, merged.output

    register = tmp_path / "vneid.csv"
    register.write_text(
        "national_id,full_name,birth_date,sex\n001080000001,Nguyen Van An,1980-05-01,male\n", encoding="utf-8"
    )
    linked = runner.invoke(app, ["link", "ids", str(register), *db])
    assert linked.exit_code == 0, linked.output
    assert "linked_exact" in linked.output

    missing = runner.invoke(
        app, ["import", "persons", str(tmp_path / "nope.csv"), "--mapping", str(mapping), "--source", "x", *db]
    )
    assert missing.exit_code == 1 and "not found" in missing.output and "Traceback" not in missing.output
    bad_mapping = tmp_path / "bad.toml"
    bad_mapping.write_text("[columns]\nfull_name = 1\n", encoding="utf-8")
    refused = runner.invoke(app, ["import", "persons", str(data), "--mapping", str(bad_mapping), "--source", "x", *db])
    assert refused.exit_code == 1 and "required" in refused.output
    bad_decision = runner.invoke(app, ["dedupe", "review", "--decide", "x=maybe", *db])
    assert bad_decision.exit_code == 1
    engine.dispose()
