"""The claims CSV contract shared by both engines: columns, validation rules, output format.

The batch engine implements the same rules in SQL and must give the same error rows, so every
rule, pattern and reason text is a module constant here. The rules, in the order fields are
checked (one error row per (row, field); a row with any error is not settled):

 1. claim_id: empty -> required; an earlier row (valid or not) with the same claim_id ->
    "duplicate claim_id, first at line N"
 2. member_id: empty -> required
 3. service_date: empty -> required; not YYYY-MM-DD or not a real date -> not an ISO date;
    outside the policy's period -> outside the policy's effective period
 4. provider_id: empty -> required
 5. provider_level: not one of the policy's (exact, after trimming) -> unknown provider level
 6. designated, in_area, referred: not true/false/1/0/yes/no (any case) -> not a boolean
 7. care_type: not one of the policy's -> unknown care type
 8. diagnosis: empty -> required; upper-cased, not matching ICD10_PATTERN -> not an ICD-10 code
 9. days: not a whole number -> not a whole number >= 0
10. total, then eligible: empty -> required; not DECIMAL_PATTERN -> not a decimal amount;
    below zero -> negative amount; more fraction digits than the currency's -> more than N
    decimal places; when both are good and eligible > total -> (eligible) eligible is more than total

Every field is trimmed first (of ``TRIMMED_CHARACTERS``: space, tab, CR, LF, VT, FF). Days and
amounts in minor units must fit a signed 64-bit integer (else not a whole number / not a decimal
amount). ``line`` is the file line where the row starts (the header is line 1); blank lines are
skipped but counted. Extra columns are ignored; a row with fewer fields than the header has empty
values for the missing ones.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from equicover.errors import EquicoverError
from equicover.money import format_money
from equicover.settlement.model import Claim, ClaimSettlement, Policy

CLAIM_COLUMNS = (
    "claim_id",
    "member_id",
    "service_date",
    "provider_id",
    "provider_level",
    "designated",
    "in_area",
    "referred",
    "care_type",
    "diagnosis",
    "days",
    "total",
    "eligible",
    "categories",
)
BOOLEAN_COLUMNS = ("designated", "in_area", "referred")
ERROR_COLUMNS = ("line", "claim_id", "field", "reason")

TRIMMED_CHARACTERS = " \t\n\v\f\r"
CATEGORY_SEPARATOR = ";"
TRUE_TEXTS = frozenset({"true", "1", "yes"})
FALSE_TEXTS = frozenset({"false", "0", "no"})
ISO_DATE_PATTERN = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
ICD10_PATTERN = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")
WHOLE_NUMBER_PATTERN = re.compile(r"^[0-9]+$")
DECIMAL_PATTERN = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")

# Amounts and day counts must fit a signed 64-bit integer (the batch engine's BIGINT).
LARGEST_INTEGER = 2**63 - 1

REQUIRED = "required"
DUPLICATE_PREFIX = "duplicate claim_id, first at line "
NOT_AN_ISO_DATE = "not an ISO date (YYYY-MM-DD)"
OUTSIDE_POLICY_PERIOD = "outside the policy's effective period"
UNKNOWN_PROVIDER_LEVEL = "unknown provider level"
NOT_A_BOOLEAN = "not a boolean"
UNKNOWN_CARE_TYPE = "unknown care type"
NOT_AN_ICD10_CODE = "not an ICD-10 code"
NOT_A_WHOLE_NUMBER = "not a whole number >= 0"
NOT_A_DECIMAL = "not a decimal amount"
NEGATIVE_AMOUNT = "negative amount"
ELIGIBLE_ABOVE_TOTAL = "eligible is more than total"


def duplicate_claim_id(first_line: int) -> str:
    return f"{DUPLICATE_PREFIX}{first_line}"


def too_many_decimals(minor_digits: int) -> str:
    return f"more than {minor_digits} decimal places"


@dataclass(frozen=True, slots=True)
class ClaimError:
    line: int
    claim_id: str
    field: str
    reason: str


class ClaimFileError(EquicoverError):
    """A claims file that cannot be read at all (missing columns, not CSV, not UTF-8)."""

    status = 422
    code = "bad_claims_file"

    def __init__(self, path: str | Path, message: str) -> None:
        self.path = str(path)
        super().__init__(f"{path}: {message}")


def missing_columns_error(path: str | Path, missing: list[str]) -> ClaimFileError:
    return ClaimFileError(path, "missing columns in the header: " + ", ".join(missing))


def _trim(value: str | None) -> str:
    return "" if value is None else value.strip(TRIMMED_CHARACTERS)


def _boolean(text: str) -> bool | None:
    lowered = text.lower()
    if lowered in TRUE_TEXTS:
        return True
    if lowered in FALSE_TEXTS:
        return False
    return None


def parse_amount(text: str, minor_digits: int) -> int | str:
    """Minor units, or the reason the (trimmed) text is not a good amount."""
    if not text:
        return REQUIRED
    if not DECIMAL_PATTERN.match(text):
        return NOT_A_DECIMAL
    negative = text.startswith("-")
    whole, _, fraction = text.lstrip("-").partition(".")
    if negative and (int(whole) or (fraction and int(fraction))):
        return NEGATIVE_AMOUNT
    if len(fraction) > minor_digits:
        return too_many_decimals(minor_digits)
    minor = int(whole) * 10**minor_digits + int((fraction + "0" * minor_digits)[:minor_digits] or "0")
    return minor if minor <= LARGEST_INTEGER else NOT_A_DECIMAL


class ClaimRowParser:
    """Validates rows in file order; remembers claim ids to report duplicates."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._levels = frozenset(policy.provider_levels)
        self._care_types = frozenset(policy.care_types)
        self._first_line_of: dict[str, int] = {}

    def parse(self, line: int, row: dict[str, str]) -> tuple[Claim | None, list[ClaimError]]:
        values = {column: _trim(row.get(column)) for column in CLAIM_COLUMNS}
        claim_id = values["claim_id"]
        errors: list[ClaimError] = []

        def reject(field: str, reason: str) -> None:
            errors.append(ClaimError(line, claim_id, field, reason))

        if not claim_id:
            reject("claim_id", REQUIRED)
        elif claim_id in self._first_line_of:
            reject("claim_id", duplicate_claim_id(self._first_line_of[claim_id]))
        else:
            self._first_line_of[claim_id] = line
        if not values["member_id"]:
            reject("member_id", REQUIRED)
        service_date = None
        text = values["service_date"]
        if not text:
            reject("service_date", REQUIRED)
        else:
            try:
                service_date = date.fromisoformat(text) if ISO_DATE_PATTERN.match(text) else None
            except ValueError:
                service_date = None
            if service_date is None:
                reject("service_date", NOT_AN_ISO_DATE)
            elif not self.policy.covers(service_date):
                reject("service_date", OUTSIDE_POLICY_PERIOD)
        if not values["provider_id"]:
            reject("provider_id", REQUIRED)
        if values["provider_level"] not in self._levels:
            reject("provider_level", UNKNOWN_PROVIDER_LEVEL)
        flags: dict[str, bool] = {}
        for column in BOOLEAN_COLUMNS:
            flag = _boolean(values[column])
            if flag is None:
                reject(column, NOT_A_BOOLEAN)
            else:
                flags[column] = flag
        if values["care_type"] not in self._care_types:
            reject("care_type", UNKNOWN_CARE_TYPE)
        diagnosis = values["diagnosis"].upper()
        if not diagnosis:
            reject("diagnosis", REQUIRED)
        elif not ICD10_PATTERN.match(diagnosis):
            reject("diagnosis", NOT_AN_ICD10_CODE)
        days = values["days"]
        if not WHOLE_NUMBER_PATTERN.match(days) or int(days) > LARGEST_INTEGER:
            reject("days", NOT_A_WHOLE_NUMBER)
        total = parse_amount(values["total"], self.policy.minor_digits)
        if isinstance(total, str):
            reject("total", total)
        eligible = parse_amount(values["eligible"], self.policy.minor_digits)
        if isinstance(eligible, str):
            reject("eligible", eligible)
        elif isinstance(total, int) and eligible > total:
            reject("eligible", ELIGIBLE_ABOVE_TOTAL)
        # Each of these (a missing date, flag or amount) has put a row in errors already.
        if errors or service_date is None or isinstance(total, str) or isinstance(eligible, str):
            return None, errors
        categories = frozenset(
            category
            for part in values["categories"].split(CATEGORY_SEPARATOR)
            if (category := part.strip(TRIMMED_CHARACTERS))
        )
        return (
            Claim(
                claim_id=claim_id,
                member_id=values["member_id"],
                service_date=service_date,
                provider_id=values["provider_id"],
                provider_level=values["provider_level"],
                designated=flags["designated"],
                in_area=flags["in_area"],
                referred=flags["referred"],
                care_type=values["care_type"],
                diagnosis=diagnosis,
                days=int(days),
                total=total,
                eligible=eligible,
                categories=categories,
            ),
            [],
        )


def iter_claims_csv(path: str | Path, policy: Policy) -> Iterator[tuple[Claim | None, list[ClaimError]]]:
    """Rows one at a time, in file order: (claim, []) for a good row, (None, errors) for a bad one.

    Raises ``ClaimFileError`` for a file that cannot be read as a claims CSV at all.
    """
    path = Path(path)
    parser = ClaimRowParser(policy)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise ClaimFileError(path, "the file is empty: expected a header row")
            header = [_trim(name) for name in header]
            missing = [column for column in CLAIM_COLUMNS if column not in header]
            if missing:
                raise missing_columns_error(path, missing)
            positions = {column: header.index(column) for column in CLAIM_COLUMNS}
            last_line = reader.line_num
            for fields in reader:
                line = last_line + 1
                last_line = reader.line_num
                if not fields:
                    continue
                row = {column: fields[index] if index < len(fields) else "" for column, index in positions.items()}
                yield parser.parse(line, row)
    except OSError as error:
        raise ClaimFileError(path, f"cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ClaimFileError(path, "not UTF-8 text") from None
    except csv.Error as error:
        raise ClaimFileError(path, f"not a readable CSV file: {error}") from None


def read_claims_csv(path: str | Path, policy: Policy) -> tuple[list[Claim], list[ClaimError]]:
    claims: list[Claim] = []
    errors: list[ClaimError] = []
    for claim, row_errors in iter_claims_csv(path, policy):
        if claim is not None:
            claims.append(claim)
        else:
            errors.extend(row_errors)
    return claims, errors


def output_columns(policy: Policy) -> list[str]:
    return [
        "claim_id",
        "allowed",
        "provider_writeoff",
        *(f"paid_{layer.id}" for layer in policy.layers),
        "member_oop",
        *(f"allowance_{allowance.id}" for allowance in policy.allowances),
        "trail",
    ]


def settlement_record(policy: Policy, settlement: ClaimSettlement) -> dict[str, int | str]:
    """One output row: ints (minor units) for money, str for claim_id and trail."""
    record: dict[str, int | str] = {
        "claim_id": settlement.claim_id,
        "allowed": settlement.allowed,
        "provider_writeoff": settlement.provider_writeoff,
    }
    for layer in policy.layers:
        record[f"paid_{layer.id}"] = settlement.paid[layer.id]
    record["member_oop"] = settlement.member_oop
    for allowance in policy.allowances:
        record[f"allowance_{allowance.id}"] = settlement.allowances[allowance.id]
    record["trail"] = settlement.trail
    return record


def write_settlements_csv(path: str | Path, policy: Policy, settlements: Iterable[ClaimSettlement]) -> int:
    """Write settlements in the order given, money with the policy's minor digits; returns the count."""
    columns = output_columns(policy)
    digits = policy.minor_digits
    count = 0
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for settlement in settlements:
            record = settlement_record(policy, settlement)
            writer.writerow(
                [value if isinstance(value, str) else format_money(value, digits) for value in record.values()]
            )
            count += 1
    return count


def write_errors_csv(path: str | Path, errors: Iterable[ClaimError]) -> int:
    count = 0
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(ERROR_COLUMNS)
        for error in errors:
            writer.writerow([error.line, error.claim_id, error.field, error.reason])
            count += 1
    return count
