"""Summaries of a settled file: what each payer paid, and what the poor were left to pay.

Computed set-based in DuckDB from the claims file and the settlement output, so it costs the
same few seconds for a province as for a county. Money stays integer minor units: settlement
files are read as DECIMAL with the policy's minor digits and scaled to HUGEINT.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from equicover.settlement.batch_engine import one_row
from equicover.settlement.model import Policy

POOR_CATEGORY = "registered_poor"
OOP_TARGET_SHARE_PERCENT = 10  # Ya'an: the poor patient pays at most 10% in county


@dataclass(frozen=True)
class PayerLine:
    layer_id: str
    payer: str
    claims_paid: int  # claims on which this payer paid something
    amount: int  # minor units


@dataclass(frozen=True)
class SettlementSummary:
    claims: int
    allowed: int
    member_oop: int
    allowances: int
    payers: tuple[PayerLine, ...]
    # registered-poor members with at least one in-area inpatient or chronic outpatient claim (the
    # care the Ya'an 10% promise covers)
    poor_inpatients: int
    poor_inpatients_within_target: int  # ... whose OOP on that care <= 10% of its allowed
    # every claim of registered-poor members: what was allowed, what they paid
    poor_allowed: int = 0
    poor_oop: int = 0

    @property
    def member_oop_percent(self) -> float:
        return 100.0 * self.member_oop / self.allowed if self.allowed else 0.0

    @property
    def poor_oop_percent(self) -> float:
        return 100.0 * self.poor_oop / self.poor_allowed if self.poor_allowed else 0.0

    @property
    def poor_within_target_percent(self) -> float:
        if not self.poor_inpatients:
            return 0.0
        return 100.0 * self.poor_inpatients_within_target / self.poor_inpatients


def _read(path: Path) -> str:
    if path.suffix.lower() == ".parquet":
        return f"read_parquet('{path.as_posix()}')"
    return f"read_csv('{path.as_posix()}', all_varchar = true, header = true)"


def settlement_summary(*, policy: Policy, claims_path: Path, settlements_path: Path) -> SettlementSummary:
    """Per-payer totals and the poor patients' OOP indicator for one settled file."""
    scale = 10**policy.minor_digits

    def minor(column: str) -> str:
        return f"CAST(CAST(s.{column} AS DECIMAL(38, {policy.minor_digits})) * {scale} AS HUGEINT)"

    layer_columns = [f"paid_{layer.id}" for layer in policy.layers]
    allowance_columns = [f"allowance_{allowance.id}" for allowance in policy.allowances]
    money_select = ", ".join(
        f"{minor(column)} AS {column}" for column in ["allowed", "member_oop", *layer_columns, *allowance_columns]
    )
    connection = duckdb.connect()
    try:
        connection.execute(
            f"""
            CREATE TEMP TABLE settled AS
            SELECT s.claim_id, {money_select},
                   lower(trim(c.care_type)) AS care_type,
                   lower(trim(c.in_area)) IN ('true', '1', 'yes') AS in_area,
                   list_contains(
                       list_transform(string_split(coalesce(c.categories, ''), ';'), lambda x: trim(x)),
                       '{POOR_CATEGORY}') AS poor,
                   c.member_id
            FROM {_read(settlements_path)} AS s
            JOIN {_read(claims_path)} AS c USING (claim_id)
            """
        )
        sums = ", ".join(f"sum({column}), count(*) FILTER (WHERE {column} > 0)" for column in layer_columns)
        allowance_sum = " + ".join(f"coalesce(sum({c}), 0)" for c in allowance_columns) or "0"
        row = one_row(
            connection,
            f"SELECT count(*), coalesce(sum(allowed), 0), coalesce(sum(member_oop), 0), "
            f"{allowance_sum}{', ' + sums if sums else ''} FROM settled",
        )
        claims, allowed, member_oop, allowances = (int(v or 0) for v in row[:4])
        payers = []
        for index, layer in enumerate(policy.layers):
            amount, count = row[4 + 2 * index], row[5 + 2 * index]
            payers.append(PayerLine(layer.id, layer.payer, int(count or 0), int(amount or 0)))
        poor_total, poor_within = one_row(
            connection,
            f"""
            SELECT count(*), count(*) FILTER (
                       WHERE oop * 100 <= allowed * {OOP_TARGET_SHARE_PERCENT})
            FROM (SELECT member_id, sum(member_oop) AS oop, sum(allowed) AS allowed
                  FROM settled
                  WHERE poor AND in_area AND care_type IN ('inpatient', 'chronic_outpatient')
                  GROUP BY member_id)
            """,
        )
        poor_allowed, poor_oop = one_row(
            connection,
            "SELECT coalesce(sum(allowed), 0), coalesce(sum(member_oop), 0) FROM settled WHERE poor",
        )
    finally:
        connection.close()
    return SettlementSummary(
        claims=claims,
        allowed=allowed,
        member_oop=member_oop,
        allowances=allowances,
        payers=tuple(payers),
        poor_inpatients=int(poor_total),
        poor_inpatients_within_target=int(poor_within),
        poor_allowed=int(poor_allowed or 0),
        poor_oop=int(poor_oop or 0),
    )
