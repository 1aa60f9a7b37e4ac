"""The claims CSV contract: every error rule, line numbers, and the output format."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from equicover.settlement import claims_file as contract
from equicover.settlement.claims_file import (
    CLAIM_COLUMNS,
    ClaimError,
    ClaimFileError,
    output_columns,
    read_claims_csv,
    settlement_record,
    write_errors_csv,
    write_settlements_csv,
)
from equicover.settlement.loader import load_policy_text
from equicover.settlement.realtime_engine import settle_claims

POLICY = load_policy_text(
    """
[policy]
id = "claims-test"
name = "Claims test"
currency = "CNY"
effective_from = 2018-01-01
effective_to = 2018-12-31
provider_levels = ["township", "county"]
care_types = ["outpatient", "inpatient"]
source = "tests"

[[layer]]
id = "basic"
payer = "Basic"
  [[layer.variant]]
  bands = [ { upto = "100.00", ratio = 0 }, { ratio = 0.5 } ]

[[allowance]]
id = "food"
per = "day"
amount = "5.00"
"""
)

GOOD_ROW = {
    "claim_id": "C1",
    "member_id": "M1",
    "service_date": "2018-03-01",
    "provider_id": "P1",
    "provider_level": "county",
    "designated": "true",
    "in_area": "false",
    "referred": "no",
    "care_type": "inpatient",
    "diagnosis": "K35.8",
    "days": "2",
    "total": "1000.00",
    "eligible": "800.50",
    "categories": "registered_poor; elderly;;",
}


def write_csv(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = CLAIM_COLUMNS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def errors_of(tmp_path: Path, **changes: str) -> list[tuple[str, str]]:
    claims, errors = read_claims_csv(write_csv(tmp_path / "c.csv", [{**GOOD_ROW, **changes}]), POLICY)
    assert (len(claims) == 0) == bool(errors)
    return [(error.field, error.reason) for error in errors]


def test_good_row_is_read(tmp_path: Path) -> None:
    row = {**GOOD_ROW, "diagnosis": " k35.8 ", "designated": " YES ", "claim_id": " C1 "}
    claims, errors = read_claims_csv(write_csv(tmp_path / "c.csv", [row]), POLICY)
    assert errors == []
    (claim,) = claims
    assert claim.claim_id == "C1"
    assert claim.service_date == date(2018, 3, 1)
    assert (claim.designated, claim.in_area, claim.referred) == (True, False, False)
    assert claim.diagnosis == "K35.8"
    assert (claim.days, claim.total, claim.eligible) == (2, 100000, 80050)
    assert claim.categories == frozenset({"registered_poor", "elderly"})


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("claim_id", "", contract.REQUIRED),
        ("member_id", " ", contract.REQUIRED),
        ("service_date", "", contract.REQUIRED),
        ("service_date", "01/03/2018", contract.NOT_AN_ISO_DATE),
        ("service_date", "2018-02-30", contract.NOT_AN_ISO_DATE),
        ("service_date", "20180301", contract.NOT_AN_ISO_DATE),
        ("service_date", "2019-01-01", contract.OUTSIDE_POLICY_PERIOD),
        ("provider_id", "", contract.REQUIRED),
        ("provider_level", "village", contract.UNKNOWN_PROVIDER_LEVEL),
        ("provider_level", "County", contract.UNKNOWN_PROVIDER_LEVEL),
        ("designated", "maybe", contract.NOT_A_BOOLEAN),
        ("in_area", "", contract.NOT_A_BOOLEAN),
        ("referred", "2", contract.NOT_A_BOOLEAN),
        ("care_type", "dental", contract.UNKNOWN_CARE_TYPE),
        ("diagnosis", "", contract.REQUIRED),
        ("diagnosis", "35K", contract.NOT_AN_ICD10_CODE),
        ("diagnosis", "K35..8", contract.NOT_AN_ICD10_CODE),
        ("days", "-1", contract.NOT_A_WHOLE_NUMBER),
        ("days", "1.5", contract.NOT_A_WHOLE_NUMBER),
        ("days", "", contract.NOT_A_WHOLE_NUMBER),
        ("total", "", contract.REQUIRED),
        ("total", "1,000.00", contract.NOT_A_DECIMAL),
        ("total", "1e3", contract.NOT_A_DECIMAL),
        ("total", ".5", contract.NOT_A_DECIMAL),
        ("total", "-1000.00", contract.NEGATIVE_AMOUNT),
        ("total", "-1000.001", contract.NEGATIVE_AMOUNT),
        ("total", "1000.001", "more than 2 decimal places"),
        ("total", "1000.000", "more than 2 decimal places"),
        ("eligible", "", contract.REQUIRED),
        ("eligible", "abc", contract.NOT_A_DECIMAL),
        ("eligible", "1000.01", contract.ELIGIBLE_ABOVE_TOTAL),
    ],
)
def test_each_error_rule(tmp_path: Path, field: str, value: str, reason: str) -> None:
    assert errors_of(tmp_path, **{field: value}) == [(field, reason)]


def test_values_at_the_edges_are_accepted(tmp_path: Path) -> None:
    assert errors_of(tmp_path, total="-0.00", eligible="0") == []
    assert errors_of(tmp_path, eligible="1000.00", days="0", designated="0", in_area="Yes") == []
    assert errors_of(tmp_path, diagnosis="A00", service_date="2018-12-31") == []


def test_several_problems_in_field_order_and_duplicates(tmp_path: Path) -> None:
    rows = [
        {**GOOD_ROW, "claim_id": "A"},
        {**GOOD_ROW, "claim_id": "B", "total": "x", "care_type": "dental", "member_id": ""},
        {**GOOD_ROW, "claim_id": "A", "days": "many"},
        {**GOOD_ROW, "claim_id": "B"},
        {**GOOD_ROW, "claim_id": "C"},
    ]
    claims, errors = read_claims_csv(write_csv(tmp_path / "c.csv", rows), POLICY)
    assert [c.claim_id for c in claims] == ["A", "C"]
    assert errors == [
        ClaimError(3, "B", "member_id", contract.REQUIRED),
        ClaimError(3, "B", "care_type", contract.UNKNOWN_CARE_TYPE),
        ClaimError(3, "B", "total", contract.NOT_A_DECIMAL),
        ClaimError(4, "A", "claim_id", "duplicate claim_id, first at line 2"),
        ClaimError(4, "A", "days", contract.NOT_A_WHOLE_NUMBER),
        ClaimError(5, "B", "claim_id", "duplicate claim_id, first at line 3"),
    ]


def test_line_numbers_count_blank_lines_and_quoted_line_breaks(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    good = ",".join(GOOD_ROW[c] for c in CLAIM_COLUMNS if c != "categories")
    path.write_text(
        ",".join(CLAIM_COLUMNS)
        + "\n"
        + good.replace("C1", "A")
        + ',"poor\nelderly"\n'  # lines 2-3
        + "\n"  # line 4, skipped
        + good.replace("C1", "B").replace("county", "moon")
        + ",\n",  # line 5
        encoding="utf-8",
    )
    claims, errors = read_claims_csv(path, POLICY)
    assert [c.claim_id for c in claims] == ["A"]
    assert errors == [ClaimError(5, "B", "provider_level", contract.UNKNOWN_PROVIDER_LEVEL)]


def test_missing_columns_are_a_file_error(tmp_path: Path) -> None:
    columns = tuple(c for c in CLAIM_COLUMNS if c not in ("eligible", "days"))
    path = write_csv(tmp_path / "c.csv", [GOOD_ROW], columns)
    with pytest.raises(ClaimFileError) as raised:
        read_claims_csv(path, POLICY)
    assert "days, eligible" in str(raised.value)


def test_unreadable_files_are_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ClaimFileError):
        read_claims_csv(tmp_path / "absent.csv", POLICY)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00claim_id")
    with pytest.raises(ClaimFileError):
        read_claims_csv(binary, POLICY)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ClaimFileError):
        read_claims_csv(empty, POLICY)


def test_short_rows_and_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    header = ",".join(("note",) + CLAIM_COLUMNS)
    full = ",".join(["hello"] + [GOOD_ROW[c] for c in CLAIM_COLUMNS])
    short = ",".join(["x"] + [GOOD_ROW[c] for c in CLAIM_COLUMNS[:11]]).replace("C1", "C2")
    path.write_text(f"{header}\n{full}\n{short}\n", encoding="utf-8")
    claims, errors = read_claims_csv(path, POLICY)
    assert [c.claim_id for c in claims] == ["C1"]
    assert [(e.field, e.reason) for e in errors] == [("total", contract.REQUIRED), ("eligible", contract.REQUIRED)]


def test_output_columns_record_and_files(tmp_path: Path) -> None:
    claims, _ = read_claims_csv(write_csv(tmp_path / "c.csv", [GOOD_ROW]), POLICY)
    (settled,) = settle_claims(POLICY, claims)
    assert output_columns(POLICY) == [
        "claim_id", "allowed", "provider_writeoff", "paid_basic", "member_oop", "allowance_food", "trail",
    ]  # fmt: skip
    record = settlement_record(POLICY, settled)
    # 0.5 x (800.50 - 100) = 350.25 ; days 2 x 5.00
    assert record == {
        "claim_id": "C1", "allowed": 100000, "provider_writeoff": 0, "paid_basic": 35025,
        "member_oop": 64975, "allowance_food": 1000, "trail": "basic=v1 b1-2",
    }  # fmt: skip
    out = tmp_path / "out.csv"
    assert write_settlements_csv(out, POLICY, [settled]) == 1
    assert out.read_text(encoding="utf-8") == (
        "claim_id,allowed,provider_writeoff,paid_basic,member_oop,allowance_food,trail\n"
        "C1,1000.00,0.00,350.25,649.75,10.00,basic=v1 b1-2\n"
    )
    errors_file = tmp_path / "out.errors.csv"
    write_errors_csv(errors_file, [ClaimError(3, "X", "total", "negative amount")])
    assert errors_file.read_text(encoding="utf-8") == "line,claim_id,field,reason\n3,X,total,negative amount\n"
