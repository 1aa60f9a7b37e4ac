"""Anomaly detection, one rule or one property of a run per test.

The database tests store claims through the claims service (VN-SHI scheme year, district
hospital PA under contract) and run the detection over them; the peer-statistics tests give the
detector hand-built Arrow tables, where the median and the median absolute deviation can be
worked out by hand. With fewer than 500 claims the single most isolated claim is always among
the top 0.2% of the forest, so a test asserts on the rule it is about, never on "no flag at all".
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from equicover.anomaly.detect import MAD_SCALE, detect
from equicover.anomaly.service import run_detection, top_flags
from equicover.errors import ValidationFailed
from tests import factories as make
from tests.factories import SchemeYear

AUGUST = (dt.date(2024, 8, 1), dt.date(2024, 8, 31))


@pytest.fixture
def year(session) -> SchemeYear:
    make.locations(session)
    scheme = make.scheme_year(session)
    make.provider(session, code="PA", location_code="D1")
    make.contract(session, provider_code="PA")
    return scheme


def _flags(session, starts: dt.date = AUGUST[0], ends: dt.date = AUGUST[1]) -> dict[str, tuple[set[str], str, float]]:
    """Run the detection over the period; {claim id: (rule codes, reason, score)} of the flagged claims."""
    run_detection(session=session, starts=starts, ends=ends, seed=0, actor="analyst")
    return {
        claim_id: (set(flag.rules.split(";")), flag.reason, flag.score)
        for flag, claim_id in top_flags(session=session, limit=1_000)
    }


def _rules(flags, claim_id: str) -> set[str]:
    return flags[claim_id][0] if claim_id in flags else set()


def _stay(session, claim_id: str, person_id: int, day: int, days: int, diagnosis: str = "K35.8") -> None:
    make.claim(
        session,
        claim_id=claim_id,
        person_id=person_id,
        service_date=dt.date(2024, 8, day),
        care_type="inpatient",
        diagnosis=diagnosis,
        days=days,
        total=3_000_000,
    )


def test_a_claim_of_a_member_not_covered_on_the_day_is_flagged(session, year) -> None:
    later = make.enrolled_person(session, scheme=year, starts=dt.date(2024, 8, 15))
    make.claim(session, claim_id="BEFORE-COVER", person_id=later.id, service_date=dt.date(2024, 8, 14))
    make.claim(session, claim_id="COVERED", person_id=later.id, service_date=dt.date(2024, 8, 15))
    flags = _flags(session)
    rules, reason, score = flags["BEFORE-COVER"]
    assert "not_enrolled" in rules and "member not covered on the service date" in reason and score >= 10
    assert "not_enrolled" not in _rules(flags, "COVERED")


def test_a_claim_served_after_the_members_recorded_death_is_flagged(session, year) -> None:
    from equicover.registry.schemas import PersonUpdate
    from equicover.registry.service import update_person

    member = make.enrolled_person(session, scheme=year)
    make.claim(session, claim_id="ALIVE", person_id=member.id, service_date=dt.date(2024, 8, 19))
    make.claim(session, claim_id="AFTER", person_id=member.id, service_date=dt.date(2024, 8, 25))
    # The death on 20 August is registered only after the claims were paid.
    update_person(session=session, person_id=member.id, changes=PersonUpdate(death_date=dt.date(2024, 8, 20)))
    flags = _flags(session)
    rules, reason, score = flags["AFTER"]
    assert "after_death" in rules and "served after the member's death" in reason and score >= 10
    assert "after_death" not in _rules(flags, "ALIVE")


def test_the_same_bill_sent_twice_is_flagged_on_its_second_copy(session, year) -> None:
    member = make.enrolled_person(session, scheme=year)
    for claim_id in ("BILL-1", "BILL-2"):
        make.claim(session, claim_id=claim_id, person_id=member.id, service_date=dt.date(2024, 8, 7), total=420_000)
    make.claim(session, claim_id="OTHER-AMOUNT", person_id=member.id, service_date=dt.date(2024, 8, 7), total=421_000)
    flags = _flags(session)
    assert "duplicate" in _rules(flags, "BILL-2")
    assert "same member, provider, date and diagnosis billed again" in flags["BILL-2"][1]
    assert "duplicate" not in _rules(flags, "BILL-1") and "duplicate" not in _rules(flags, "OTHER-AMOUNT")


def test_a_readmission_on_the_discharge_day_for_the_same_diagnosis_is_a_split_admission(session, year) -> None:
    member = make.enrolled_person(session, scheme=year)
    _stay(session, "STAY-1", member.id, day=1, days=3)  # discharged on 4 August
    _stay(session, "STAY-2", member.id, day=4, days=2)  # admitted again on 4 August, same K35
    flags = _flags(session)
    assert "split" in _rules(flags, "STAY-2") and "split admission" in flags["STAY-2"][1]
    assert "overlap" not in _rules(flags, "STAY-2")  # it starts on the discharge day, not before
    assert "split" not in _rules(flags, "STAY-1")


def test_a_readmission_for_another_diagnosis_is_not_a_split_admission(session, year) -> None:
    member = make.enrolled_person(session, scheme=year)
    _stay(session, "STAY-1", member.id, day=1, days=3)
    _stay(session, "STAY-2", member.id, day=4, days=2, diagnosis="J18.9")
    assert "split" not in _rules(_flags(session), "STAY-2")


def test_an_admission_inside_the_previous_stay_is_flagged_as_overlapping(session, year) -> None:
    member = make.enrolled_person(session, scheme=year)
    _stay(session, "LONG", member.id, day=1, days=6)  # 1 to 7 August
    _stay(session, "INSIDE", member.id, day=3, days=1, diagnosis="J18.9")
    flags = _flags(session)
    assert "overlap" in _rules(flags, "INSIDE") and "admission inside the member's previous stay" in flags["INSIDE"][1]
    assert "overlap" not in _rules(flags, "LONG")


def test_a_run_scans_only_the_settled_claims_served_in_its_period(session, year) -> None:
    from equicover.claims.service import reverse_claim

    member = make.enrolled_person(session, scheme=year)
    for claim_id, day in (("A", dt.date(2024, 8, 1)), ("B", dt.date(2024, 8, 31)), ("C", dt.date(2024, 8, 15))):
        make.claim(session, claim_id=claim_id, person_id=member.id, service_date=day)
    make.claim(session, claim_id="SEPT", person_id=member.id, service_date=dt.date(2024, 9, 1))
    reverse_claim(session=session, claim_id="C", reason="entered in error")
    run, result = run_detection(session=session, starts=AUGUST[0], ends=AUGUST[1], seed=0)
    assert run.claims_scanned == result.claims == 2
    assert (run.period_starts, run.period_ends, run.flags) == (*AUGUST, result.flags.num_rows)


def test_a_run_ending_before_it_starts_is_refused(session, year) -> None:
    with pytest.raises(ValidationFailed, match="is before starts"):
        run_detection(session=session, starts=AUGUST[1], ends=AUGUST[0])


def test_the_flags_shown_are_those_of_the_latest_run_riskiest_first(session, year) -> None:
    member = make.enrolled_person(session, scheme=year, starts=dt.date(2024, 8, 15))
    make.claim(session, claim_id="AUG-UNCOVERED", person_id=member.id, service_date=dt.date(2024, 8, 2))
    for claim_id in ("SEP-1", "SEP-2"):
        make.claim(session, claim_id=claim_id, person_id=member.id, service_date=dt.date(2024, 9, 3))
    earlier, _ = run_detection(session=session, starts=AUGUST[0], ends=AUGUST[1])
    latest, _ = run_detection(session=session, starts=dt.date(2024, 9, 1), ends=dt.date(2024, 9, 30))
    shown = top_flags(session=session)
    assert {flag.run_id for flag, _ in shown} == {latest.id}
    assert "SEP-2" in {claim_id for _, claim_id in shown} and "AUG-UNCOVERED" not in {c for _, c in shown}
    scores = [flag.score for flag, _ in shown]
    assert scores == sorted(scores, reverse=True)
    assert [claim_id for _, claim_id in top_flags(session=session, run_id=earlier.id)] == ["AUG-UNCOVERED"]


# --------------------------------------------------------------------------------------------
# Peer statistics on hand-built claims

COLUMNS = (
    ("claim_pk", pa.int64()),
    ("member", pa.int64()),
    ("provider", pa.int64()),
    ("provider_level", pa.string()),
    ("care_type", pa.string()),
    ("diagnosis", pa.string()),
    ("service_date", pa.date32()),
    ("days", pa.int64()),
    ("allowed", pa.int64()),
)


def _detect(rows: list[tuple]) -> dict[int, dict]:
    """Flags by claim_pk; every member is covered all year and alive."""
    claims = pa.table({name: pa.array(values, kind) for (name, kind), values in zip(COLUMNS, zip(*rows))})
    members = sorted({row[1] for row in rows})
    enrolments = pa.table(
        {
            "member": pa.array(members, pa.int64()),
            "starts": pa.array([dt.date(2024, 1, 1)] * len(members), pa.date32()),
            "ends": pa.array([dt.date(2024, 12, 31)] * len(members), pa.date32()),
        }
    )
    persons = pa.table({"member": pa.array([], pa.int64()), "death_date": pa.array([], pa.date32())})
    return {row["claim_pk"]: row for row in detect(claims, persons, enrolments, seed=0).flags.to_pylist()}


def _visit(pk: int, allowed: int, *, member: int | None = None, day: int = 1) -> tuple:
    return (pk, member or pk, 1, "district", "outpatient", "J06.9", dt.date(2024, 3, day), 0, allowed)


def _rule_list(flags: dict[int, dict], pk: int) -> list[str]:
    return flags[pk]["rules"].split(";") if pk in flags else []


def test_a_cost_far_above_its_peers_is_flagged_with_its_ratio_to_their_median() -> None:
    # 21 visits at 90,000 .. 110,000 (steps of 1,000) and one at 2,000,000. Sorted, the 11th and
    # 12th of the 22 costs are 100,000 and 101,000: the median of log(1 + cost) is the mean of
    # their logs, so the peer cost + 1 is sqrt(100,001 x 101,001) = 100,499.76 and the ratio
    # is 2,000,001 / 100,499.76 = 19.9.
    rows = [_visit(k + 11, 100_000 + 1_000 * k) for k in range(-10, 11)]
    rows.append(_visit(99, 2_000_000))
    flags = _detect(rows)
    assert "cost" in _rule_list(flags, 99)
    assert "cost 19.9x the peer median" in flags[99]["reason"] and "district outpatient" in flags[99]["reason"]
    assert all("cost" not in _rule_list(flags, k + 11) for k in range(-10, 11))


def test_a_cost_is_judged_only_among_at_least_twenty_peers() -> None:
    def outlier_rules(peers: int) -> list[str]:
        rows = [_visit(pk, 100_000 + 1_000 * pk) for pk in range(1, peers)]
        rows.append(_visit(99, 2_000_000))
        return _rule_list(_detect(rows), 99)

    assert "cost" in outlier_rules(20)  # 19 ordinary visits and the outlier: 20 claims in the group
    assert "cost" not in outlier_rules(19)


def test_a_stay_far_longer_than_its_peers_is_flagged() -> None:
    # 25 pneumonia stays of 4, 5 and 6 days and one of 40, each of another member, all at one
    # price. Median stay 5; deviations: nine 0, sixteen 1 and 35, whose median is 1; so the
    # 40-day stay's z is (40 - 5) / 1.4826 = 23.6.
    days = [4] * 8 + [5] * 9 + [6] * 8 + [40]
    rows = [
        (pk, pk, 1, "district", "inpatient", "J18.9", dt.date(2024, 5, 1), stay, 2_000_000)
        for pk, stay in enumerate(days, start=1)
    ]
    flags = _detect(rows)
    z = (40 - 5) / MAD_SCALE
    assert "stay" in _rule_list(flags, 26)
    assert f"stay 40 days vs peer median 5 (z {z:.1f})" in flags[26]["reason"] and f"{z:.1f}" == "23.6"
    assert all("stay" not in _rule_list(flags, pk) for pk in range(1, 26))
    assert "cost" not in _rule_list(flags, 26)  # every stay costs the same: no cost spread to judge


def test_many_claims_of_one_member_at_one_provider_are_flagged_as_frequent() -> None:
    # Twenty members with one visit each, one member with ten. Pair counts: median 1, no spread
    # (the deviation counts as at least 0.5), so z = (10 - 1) / (1.4826 x 0.5) = 12.1.
    rows = [_visit(pk, 100_000) for pk in range(1, 21)]
    rows += [_visit(100 + visit, 100_000, member=500, day=1 + visit) for visit in range(10)]
    flags = _detect(rows)
    z = (10 - 1) / (MAD_SCALE * 0.5)
    for pk in range(100, 110):
        assert "frequency" in _rule_list(flags, pk)
        assert f"10 claims of the member at this provider vs peer median 1 (z {z:.1f})" in flags[pk]["reason"]
    assert all("frequency" not in _rule_list(flags, pk) for pk in range(1, 21))
