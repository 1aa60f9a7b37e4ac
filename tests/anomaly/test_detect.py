"""Anomaly detection: each rule flags what it should, with its reason; stored runs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from equicover.anomaly.detect import detect
from equicover.anomaly.service import run_detection, top_flags
from tests import factories as make
from tests.factories import vn_claims_world

JAN = dt.date(2024, 1, 1)


def _claims(rows: list[tuple]) -> pa.Table:
    names = [
        "claim_pk",
        "member",
        "provider",
        "provider_level",
        "care_type",
        "diagnosis",
        "service_date",
        "days",
        "allowed",
    ]
    columns = list(zip(*rows))
    types = [
        pa.int64(),
        pa.int64(),
        pa.int64(),
        pa.string(),
        pa.string(),
        pa.string(),
        pa.date32(),
        pa.int64(),
        pa.int64(),
    ]
    return pa.table({name: pa.array(values, kind) for name, values, kind in zip(names, columns, types)})


def test_each_rule_flags_with_its_reason() -> None:
    rng = np.random.default_rng(0)
    rows = []
    # 200 ordinary pneumonia stays of 200 members at county hospitals 1-4: ~5 days, ~5,000.00.
    for i in range(200):
        rows.append(
            (
                i + 1,
                i + 1,
                1 + i % 4,
                "county",
                "inpatient",
                "J18.9",
                JAN + dt.timedelta(days=int(rng.integers(0, 300))),
                int(rng.integers(4, 7)),
                int(500_000 * rng.uniform(0.8, 1.25)),
            )
        )
    rows += [
        (1001, 1, 1, "county", "inpatient", "J18.9", dt.date(2024, 12, 1), 5, 10_000_000),  # cost 20x
        (1002, 2, 2, "county", "inpatient", "J18.9", dt.date(2024, 11, 20), 60, 520_000),  # 60-day stay
        (1003, 900, 1, "county", "inpatient", "J18.9", dt.date(2024, 3, 3), 5, 500_000),  # not enrolled
        (1004, 3, 3, "county", "inpatient", "J18.9", dt.date(2024, 12, 20), 5, 500_000),  # after death
        (1005, 4, 1, "county", "outpatient", "J06.9", dt.date(2024, 5, 5), 0, 10_000),
        (1006, 4, 1, "county", "outpatient", "J06.9", dt.date(2024, 5, 5), 0, 10_000),  # duplicate of 1005
        (1007, 5, 2, "county", "inpatient", "K35.8", dt.date(2024, 12, 1), 3, 800_000),
        (1008, 5, 2, "county", "inpatient", "K35.8", dt.date(2024, 12, 4), 2, 500_000),  # split: starts at discharge
        (1009, 6, 3, "county", "inpatient", "K35.8", dt.date(2024, 12, 10), 6, 800_000),
        (1010, 6, 4, "county", "inpatient", "I63.9", dt.date(2024, 12, 12), 6, 800_000),  # inside the previous stay
    ]
    persons = pa.table(
        {"member": pa.array([3], pa.int64()), "death_date": pa.array([dt.date(2024, 12, 15)], pa.date32())}
    )
    members = list(range(1, 201))
    enrolments = pa.table(
        {
            "member": pa.array(members, pa.int64()),
            "starts": pa.array([JAN] * 200, pa.date32()),
            "ends": pa.array([dt.date(2024, 12, 31)] * 200, pa.date32()),
        }
    )
    result = detect(_claims(rows), persons, enrolments, seed=1)
    flags = {row["claim_pk"]: row for row in result.flags.to_pylist()}
    assert "cost" in flags[1001]["rules"] and "peer median" in flags[1001]["reason"]
    assert "stay" in flags[1002]["rules"] and "60 days" in flags[1002]["reason"]
    assert "not_enrolled" in flags[1003]["rules"] and "not covered" in flags[1003]["reason"]
    assert "after_death" in flags[1004]["rules"]
    assert "duplicate" in flags[1006]["rules"] and "duplicate" not in flags.get(1005, {"rules": ""})["rules"]
    assert "split" in flags[1008]["rules"] and "split admission" in flags[1008]["reason"]
    assert "overlap" in flags[1010]["rules"]
    # Hard evidence first.
    top = [row["claim_pk"] for row in result.flags.to_pylist()[:2]]
    assert set(top) == {1003, 1004}
    assert result.claims == len(rows)
    # Reproducible for a seed.
    again = detect(_claims(rows), persons, enrolments, seed=1)
    assert again.flags.column("claim_pk").to_pylist() == result.flags.column("claim_pk").to_pylist()


def test_run_over_stored_claims_keeps_flags(session) -> None:
    world = vn_claims_world(session)
    make.claim(
        session,
        claim_id="B-IP0-AGAIN",
        person_id=world.other_person_id,
        provider_code="PB",
        service_date=dt.date(2024, 9, 7),
        care_type="inpatient",
        diagnosis="K35.8",
        days=3,
        total=12_000_000,
    )
    run, result = run_detection(
        session=session, starts=dt.date(2024, 7, 1), ends=dt.date(2024, 12, 31), seed=0, actor="analyst"
    )
    assert run.claims_scanned == 10 and run.flags == result.flags.num_rows
    flagged = {claim_id: flag for flag, claim_id in top_flags(session=session)}
    assert "duplicate" in flagged["B-IP0-AGAIN"].rules and flagged["B-IP0-AGAIN"].reason
