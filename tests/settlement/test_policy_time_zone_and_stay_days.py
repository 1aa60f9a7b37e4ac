"""A policy declares the scheme's time zone (which day is today) and the days of stay each care
type may bill; the loader refuses a bad declaration with its file, line and key."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equicover.settlement.loader import PolicyError, load_policy, load_policy_text
from tests.factories import POLICIES

SHIPPED = sorted(POLICIES.glob("*.toml"))
KH = (POLICIES / "kh-hef-2015.toml").read_text(encoding="utf-8")
KH_ZONE = 'time_zone = "Asia/Phnom_Penh"'
KH_STAYS = "stay_days = { inpatient = { min = 1 }, outpatient = { max = 0 } }"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.stem)
def test_every_shipped_policy_declares_its_zone_and_that_a_stay_is_at_least_a_day(path) -> None:
    policy = load_policy(path)
    ZoneInfo(policy.time_zone)
    assert policy.time_zone != "UTC"
    assert policy.stay_days["inpatient"] == (1, None)
    assert policy.stay_days["outpatient"] == (0, 0)


def test_without_a_declaration_the_zone_is_utc_and_any_days_go() -> None:
    policy = load_policy_text(KH.replace(KH_ZONE, "").replace(KH_STAYS, ""), path="bare.toml")
    assert policy.time_zone == "UTC" and policy.stay_days == {}
    assert policy.days_refusal("inpatient", 0) is None and policy.days_refusal("outpatient", 40) is None


@given(instant=st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)))
def test_today_is_the_date_on_the_schemes_own_clock(instant: dt.datetime) -> None:
    now = instant.replace(tzinfo=dt.UTC)
    policy = load_policy(POLICIES / "cn-yaan-2018.toml")  # Asia/Shanghai: UTC+8, no summer time
    assert policy.today(now) == (instant + dt.timedelta(hours=8)).date()
    utc = load_policy_text(KH.replace(KH_ZONE, 'time_zone = "UTC"'), path="utc.toml")
    assert utc.today(now) == instant.date()


@given(days=st.integers(0, 3660))
def test_days_fit_the_care_type_as_declared(days: int) -> None:
    policy = load_policy(POLICIES / "kh-hef-2015.toml")
    assert (policy.days_refusal("inpatient", days) is None) == (days >= 1)
    assert (policy.days_refusal("outpatient", days) is None) == (days == 0)


@pytest.mark.parametrize(
    ("replacement", "key", "message"),
    [
        ((KH_ZONE, 'time_zone = "Mars/Olympus_Mons"'), "policy.time_zone", "must be an IANA time zone name"),
        ((KH_ZONE, "time_zone = 7"), "policy.time_zone", "must be an IANA time zone name"),
        ((KH_ZONE, 'time_zone = "../../etc/passwd"'), "policy.time_zone", "must be an IANA time zone name"),
        ((KH_STAYS, "stay_days = { surgery = { min = 1 } }"), "policy.stay_days.surgery", "unknown care type"),
        ((KH_STAYS, "stay_days = { inpatient = { min = -1 } }"), "policy.stay_days.inpatient.min", "whole number"),
        ((KH_STAYS, "stay_days = { inpatient = { min = 3, max = 1 } }"), "policy.stay_days.inpatient", "below min"),
        ((KH_STAYS, "stay_days = { inpatient = { least = 1 } }"), "policy.stay_days.inpatient.least", "unknown key"),
        ((KH_STAYS, "stay_days = 1"), "policy.stay_days", "must be a table"),
    ],
)
def test_a_bad_declaration_is_refused_with_file_line_and_key(replacement, key, message) -> None:
    old, new = replacement
    text = KH.replace(old, new)
    line = text[: text.index(new)].count("\n") + 1
    with pytest.raises(PolicyError) as refused:
        load_policy_text(text, path="kh.toml")
    problems = [(problem.file, problem.line, problem.key) for problem in refused.value.problems]
    assert ("kh.toml", line, key) in problems, refused.value.problems
    assert message in str(refused.value)
