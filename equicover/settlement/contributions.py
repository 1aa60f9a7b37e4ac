"""Contributions (docs/settlement.md, "Contributions"): what each member owes for a year, and who pays it.

- flat: each member owes ``amount``; with ``household_cap``, member k of a household owes
  min(amount, max(0, household_cap - what the earlier members of the household owe)).
- wage_share: member k owes round_half_up(reference_wage x share x factor_k), computed exactly in
  one step; factor_k is ``rank_factors[k-1]``, the last factor repeating for later ranks.
- The first subsidy rule whose ``when`` matches the member's categories decides the payers: each
  payer's part is round_half_up(amount x share), taken in file order and never more than what is
  left, and the member pays the rest.

Rank in the household is the order of appearance in the members file. Output: per member, one row
per payer of the matched rule then a ``member`` row, zero amounts included.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from equicover.errors import EquicoverError
from equicover.money import RATIO_SCALE, format_money, round_half_up
from equicover.settlement.conditions import categories_match
from equicover.settlement.loader import MEMBER_PAYER
from equicover.settlement.model import ContributionRules

MEMBER_COLUMNS = ("household_id", "member_id", "categories")
CONTRIBUTION_COLUMNS = ("member_id", "payer", "amount")


@dataclass(frozen=True, slots=True)
class ContributionMember:
    household_id: str
    member_id: str
    categories: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ContributionRow:
    member_id: str
    payer: str
    amount: int  # minor units


@dataclass(frozen=True, slots=True)
class MemberRowError:
    line: int
    member_id: str
    field: str
    reason: str

    def __str__(self) -> str:
        who = f" (member {self.member_id})" if self.member_id else ""
        return f"line {self.line}{who}: {self.field}: {self.reason}"


class MembersFileError(EquicoverError):
    """A members file that cannot be used; ``errors`` lists every bad row (or the file problem)."""

    status = 422
    code = "bad_members_file"

    def __init__(self, path: str | Path, errors: list[MemberRowError], message: str | None = None) -> None:
        self.path = str(path)
        self.errors = errors
        super().__init__(message or f"{path}: {len(errors)} bad member row(s)")


def _required(value: int | None, key: str) -> int:
    """A value the rules' kind cannot do without (the policy loader refuses rules that leave it out)."""
    if value is None:
        raise ValueError(f"the contribution rules have no {key!r}")
    return value


def member_amounts(rules: ContributionRules, members: list[ContributionMember]) -> list[int]:
    """What each member owes, before subsidies, in the order given."""
    earlier_in_household: dict[str, int] = {}
    owed_in_household: dict[str, int] = {}
    amounts = []
    for member in members:
        rank = earlier_in_household.get(member.household_id, 0)
        earlier_in_household[member.household_id] = rank + 1
        if rules.kind == "flat":
            amount = _required(rules.amount, "amount")
            if rules.household_cap is not None:
                owed = owed_in_household.get(member.household_id, 0)
                amount = min(amount, max(0, rules.household_cap - owed))
                owed_in_household[member.household_id] = owed + amount
        else:
            factors = rules.rank_factors
            factor = factors[min(rank, len(factors) - 1)]
            wage = _required(rules.reference_wage, "reference_wage")
            amount = round_half_up(wage * _required(rules.share, "share") * factor, RATIO_SCALE * RATIO_SCALE)
        amounts.append(amount)
    return amounts


def compute_contributions(rules: ContributionRules, members: Iterable[ContributionMember]) -> list[ContributionRow]:
    members = list(members)
    rows: list[ContributionRow] = []
    for member, amount in zip(members, member_amounts(rules, members), strict=True):
        rule = next((rule for rule in rules.subsidies if categories_match(rule.when, member.categories)), None)
        left = amount
        if rule is not None:
            for payer, share in rule.shares:
                part = min(round_half_up(amount * share, RATIO_SCALE), left)
                rows.append(ContributionRow(member.member_id, payer, part))
                left -= part
        rows.append(ContributionRow(member.member_id, MEMBER_PAYER, left))
    return rows


def read_members_csv(path: str | Path) -> list[ContributionMember]:
    """Members in file order; raises ``MembersFileError`` listing every bad row.

    A bad row is not skipped: ranks in a household follow the file, so dropping a row would change
    what the next members owe.
    """
    path = Path(path)
    members: list[ContributionMember] = []
    errors: list[MemberRowError] = []
    first_line_of: dict[str, int] = {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = [name.strip(" \t") for name in next(reader, [])]
            missing = [column for column in MEMBER_COLUMNS if column not in header]
            if missing:
                raise MembersFileError(path, [], f"{path}: missing columns in the header: {', '.join(missing)}")
            positions = {column: header.index(column) for column in MEMBER_COLUMNS}
            last_line = reader.line_num
            for fields in reader:
                line = last_line + 1
                last_line = reader.line_num
                if not fields:
                    continue
                values = {
                    column: (fields[index] if index < len(fields) else "").strip(" \t")
                    for column, index in positions.items()
                }
                member_id = values["member_id"]
                if not values["household_id"]:
                    errors.append(MemberRowError(line, member_id, "household_id", "required"))
                if not member_id:
                    errors.append(MemberRowError(line, member_id, "member_id", "required"))
                elif member_id in first_line_of:
                    errors.append(
                        MemberRowError(
                            line,
                            member_id,
                            "member_id",
                            f"duplicate member_id, first at line {first_line_of[member_id]}",
                        )
                    )
                else:
                    first_line_of[member_id] = line
                categories = frozenset(
                    category for part in values["categories"].split(";") if (category := part.strip(" \t"))
                )
                members.append(ContributionMember(values["household_id"], member_id, categories))
    except OSError as error:
        raise MembersFileError(path, [], f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise MembersFileError(path, [], f"{path}: not UTF-8 text") from None
    except csv.Error as error:
        raise MembersFileError(path, [], f"{path}: not a readable CSV file: {error}") from None
    if errors:
        raise MembersFileError(path, errors)
    return members


def write_contributions_csv(path: str | Path, rows: Iterable[ContributionRow], minor_digits: int) -> int:
    count = 0
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CONTRIBUTION_COLUMNS)
        for row in rows:
            writer.writerow([row.member_id, row.payer, format_money(row.amount, minor_digits)])
            count += 1
    return count
