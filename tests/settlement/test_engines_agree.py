"""Two engines, one answer (docs/settlement.md, "Two engines, one answer").

Random valid policies (written as TOML text, so the loader is exercised too) and random claims,
many per member across several benefit years, are settled by the real-time engine and by the
DuckDB batch engine; every column of every record must agree to the minor unit. The same through
files, bad rows included: output and errors files byte for byte. And the arithmetic invariants
that hold whatever the policy, checked on the batch output.

Profiles: the default runs a moderate number of examples; ``EQUICOVER_HYPOTHESIS_PROFILE=thorough``
runs many more. Each run draws a fresh seed (shown in every failure) unless
``EQUICOVER_HYPOTHESIS_SEED`` fixes it.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import random
import tempfile
import tomllib
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import HealthCheck, event, given, note, seed, settings
from typer.testing import CliRunner

from equicover.money import floor_share
from equicover.settlement.batch_engine import settle_file, settle_records
from equicover.settlement.claims_file import read_claims_csv, settlement_record, write_errors_csv, write_settlements_csv
from equicover.settlement.cli import settle as settle_command
from equicover.settlement.loader import load_policy_text
from equicover.settlement.model import Claim, Policy
from equicover.settlement.realtime_engine import ClaimOutsidePolicyError, settle_claims

if __package__:
    from .strategies import (
        PolicyCase,
        claim_row,
        claims_csv_with_bad_rows,
        policies_with_claims,
        policy_cases,
        render_toml,
    )
else:  # pytest's default rootdir-less import: this directory is on sys.path
    from strategies import (
        PolicyCase,
        claim_row,
        claims_csv_with_bad_rows,
        policies_with_claims,
        policy_cases,
        render_toml,
    )

_COMMON = dict(
    deadline=None,
    derandomize=False,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
settings.register_profile("equicover-moderate", max_examples=100, **_COMMON)
settings.register_profile("thorough", max_examples=500, **_COMMON)
settings.register_profile("ci", max_examples=500, **_COMMON)
PROFILE_NAME = os.environ.get("EQUICOVER_HYPOTHESIS_PROFILE", "equicover-moderate")
PROFILE = settings.get_profile(PROFILE_NAME)
FILE_EXAMPLES = max(8, PROFILE.max_examples // 10)
SEED = int(os.environ.get("EQUICOVER_HYPOTHESIS_SEED") or random.SystemRandom().randrange(2**32))
REPRODUCE = f"profile {PROFILE_NAME}, reproduce with EQUICOVER_HYPOTHESIS_SEED={SEED}"


# --------------------------------------------------------------------------------------------
# Running the two engines


def realtime_records(policy: Policy, claims: list[Claim]) -> list[dict[str, Any]]:
    return [settlement_record(policy, settlement) for settlement in settle_claims(policy, claims)]


def batch_records(policy: Policy, claims: list[Claim]) -> list[dict[str, Any]]:
    return settle_records(policy, claims)


def _claim_text(claim: Claim, minor_digits: int) -> str:
    row = claim_row(claim, minor_digits)
    return ",".join(row.values())


def describe_difference(
    realtime: list[dict[str, Any]], batch: list[dict[str, Any]], case: PolicyCase, claims: list[Claim]
) -> str | None:
    """None when the records are equal; else the first difference, with what is needed to redo it."""
    problem: str | None = None
    claim_id: str | None = None
    if len(realtime) != len(batch):
        problem = f"realtime gave {len(realtime)} records, batch {len(batch)}"
    else:
        for position, (left, right) in enumerate(zip(realtime, batch)):
            if left.get("claim_id") != right.get("claim_id"):
                same_set = sorted(r["claim_id"] for r in realtime) == sorted(r["claim_id"] for r in batch)
                problem = (
                    f"record {position}: realtime claim {left.get('claim_id')!r}, batch claim "
                    f"{right.get('claim_id')!r} ({'same claims, different order' if same_set else 'different claims'})"
                )
                break
            if left.keys() != right.keys() or list(left) != list(right):
                problem = f"claim {left['claim_id']!r}: columns differ: realtime {list(left)}, batch {list(right)}"
                claim_id = left["claim_id"]
                break
            for column in left:
                if left[column] != right[column] or type(left[column]) is not type(right[column]):
                    problem = (
                        f"claim {left['claim_id']!r} column {column!r}: realtime {left[column]!r}, "
                        f"batch {right[column]!r}\n  realtime record: {left}\n  batch record:    {right}"
                    )
                    claim_id = left["claim_id"]
                    break
            if problem:
                break
    if problem is None:
        return None
    lines = [problem, f"({REPRODUCE})", "", "policy:", case.text]
    if claim_id is not None:
        member = next(claim.member_id for claim in claims if claim.claim_id == claim_id)
        same_member = sorted(
            (claim for claim in claims if claim.member_id == member), key=lambda c: (c.service_date, c.claim_id)
        )
        lines.append(f'claims of member {member} in settlement order (columns of docs/settlement.md, "A claim"):')
        lines.extend(_claim_text(claim, case.minor_digits) for claim in same_member)
    else:
        lines.append(f"{len(claims)} claims")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# The strategies themselves: the emitter writes what it was given


def _toml_equivalent(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if "." in format(value, "f") else int(value)
    if isinstance(value, dict):
        return {key: _toml_equivalent(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_toml_equivalent(item) for item in value]
    return value


@seed(SEED)
@settings(PROFILE, max_examples=max(25, PROFILE.max_examples // 4))
@given(policy_cases())
def test_policy_text_is_the_drawn_document(case: PolicyCase) -> None:
    assert tomllib.loads(case.text) == _toml_equivalent(case.document)
    assert render_toml(case.document) == case.text  # deterministic


# --------------------------------------------------------------------------------------------
# One answer


@seed(SEED)
@settings(PROFILE)
@given(policies_with_claims())
def test_realtime_and_batch_agree_on_every_column(drawn: tuple[PolicyCase, list[Claim]]) -> None:
    case, claims = drawn
    note(REPRODUCE)
    policy = load_policy_text(case.text, path="<generated policy>")
    realtime = realtime_records(policy, claims)
    batch = batch_records(policy, claims)
    difference = describe_difference(realtime, batch, case, claims)
    assert difference is None, difference
    record_what_was_exercised(policy, claims, realtime)


def record_what_was_exercised(policy: Policy, claims: list[Claim], records: list[dict[str, Any]]) -> None:
    """Hypothesis events (see --hypothesis-show-statistics): evidence the cases reach the rules."""
    trails = " ".join(record["trail"] for record in records)
    for token in ("fixed_fee=", "cap_per_claim", "max_cumulative_share", "cap_per_year", "max_per_year", "b-"):
        if token in trails:
            event(f"trail has {token}")
    if any(layer.scope == "year" for layer in policy.layers):
        event("a year-scope band layer")
    if any(record["provider_writeoff"] < 0 for record in records):
        event("a negative provider write-off (fixed fee above total)")
    years_per_member: dict[str, set[int]] = defaultdict(set)
    for claim in claims:
        years_per_member[claim.member_id].add(policy.benefit_year(claim.service_date))
    if any(len(years) > 1 for years in years_per_member.values()):
        event("a member with claims in several benefit years")
    if max(len([c for c in claims if c.member_id == m]) for m in years_per_member) >= 20:
        event("a member with 20 or more claims")


@seed(SEED)
@settings(PROFILE, max_examples=FILE_EXAMPLES)
@given(claims_csv_with_bad_rows())
def test_files_agree_byte_for_byte_bad_rows_included(drawn: tuple[PolicyCase, str, tuple[int, ...]]) -> None:
    case, claims_text, bad_lines = drawn
    note(REPRODUCE)
    note(f"policy:\n{case.text}\nclaims.csv:\n{claims_text}")
    policy = load_policy_text(case.text, path="<generated policy>")
    with tempfile.TemporaryDirectory(prefix="equicover-agree-") as directory:
        folder = Path(directory)
        claims_path = folder / "claims.csv"
        claims_path.write_text(claims_text, encoding="utf-8")

        batch_out, batch_errors = folder / "batch.csv", folder / "batch.errors.csv"
        settle_file(policy, claims_path, batch_out, errors_path=batch_errors)

        realtime_out, realtime_errors = folder / "realtime.csv", folder / "realtime.errors.csv"
        # the real-time command's path: read and check rows in Python, settle, write; errors only if any
        claims, errors = read_claims_csv(claims_path, policy)
        write_settlements_csv(realtime_out, policy, settle_claims(policy, claims))
        if errors:
            write_errors_csv(realtime_errors, errors)

        assert realtime_out.read_bytes() == batch_out.read_bytes(), (
            f"output files differ ({REPRODUCE})\nrealtime:\n{realtime_out.read_text()}\nbatch:\n{batch_out.read_text()}"
        )
        realtime_error_bytes = realtime_errors.read_bytes() if realtime_errors.exists() else None
        batch_error_bytes = batch_errors.read_bytes() if batch_errors.exists() else None
        assert realtime_error_bytes == batch_error_bytes, (
            f"errors files differ ({REPRODUCE})\nrealtime:\n{realtime_error_bytes!r}\nbatch:\n{batch_error_bytes!r}"
        )
        # every bad row reported, by its line, and every good row settled
        rejected = set()
        if batch_error_bytes is not None:
            rejected = {int(row["line"]) for row in csv.DictReader(io.StringIO(batch_error_bytes.decode("utf-8")))}
        assert rejected == set(bad_lines)
        row_count = len(claims_text.splitlines()) - 1
        assert len(batch_out.read_text(encoding="utf-8").splitlines()) == 1 + row_count - len(bad_lines)


@seed(SEED)
@settings(PROFILE, max_examples=max(4, FILE_EXAMPLES // 2))
@given(claims_csv_with_bad_rows(max_claims=20))
def test_settle_command_gives_the_same_files_and_status_with_either_engine(
    drawn: tuple[PolicyCase, str, tuple[int, ...]],
) -> None:
    """`equicover settle --engine batch|realtime`: same output, same errors file, same exit status."""
    case, claims_text, bad_lines = drawn
    note(REPRODUCE)
    note(f"policy:\n{case.text}\nclaims.csv:\n{claims_text}")
    runner = CliRunner()
    cli_app = typer.Typer()
    cli_app.callback()(lambda: None)  # keep `settle` a sub-command, as in the `equicover` app
    cli_app.command("settle")(settle_command)
    with tempfile.TemporaryDirectory(prefix="equicover-agree-") as directory:
        folder = Path(directory)
        policy_path, claims_path = folder / "policy.toml", folder / "claims.csv"
        policy_path.write_text(case.text, encoding="utf-8")
        claims_path.write_text(claims_text, encoding="utf-8")
        outcome: dict[str, tuple[int, bytes, bytes | None]] = {}
        for engine in ("batch", "realtime"):
            out = folder / engine / "settled.csv"
            out.parent.mkdir()
            result = runner.invoke(
                cli_app,
                ["settle", "--policy", str(policy_path), "--claims", str(claims_path), "--out", str(out)]
                + ["--engine", engine],
            )
            assert result.exception is None or isinstance(result.exception, SystemExit), result.output
            errors = out.with_name("settled.errors.csv")
            outcome[engine] = (result.exit_code, out.read_bytes(), errors.read_bytes() if errors.exists() else None)
        assert outcome["realtime"] == outcome["batch"], (
            f"({REPRODUCE})\nrealtime: {outcome['realtime']}\nbatch: {outcome['batch']}"
        )
        # the exit status says whether any row was rejected
        assert (outcome["batch"][0] != 0) == bool(bad_lines), outcome["batch"][0]


@seed(SEED)
@settings(PROFILE, max_examples=max(5, FILE_EXAMPLES // 2))
@given(policies_with_claims(max_claims=10))
def test_both_engines_refuse_a_claim_outside_the_policy_period(drawn: tuple[PolicyCase, list[Claim]]) -> None:
    """Neither engine settles any claim of a list holding one dated outside the period
    (docs/settlement.md, "A claim")."""
    case, claims = drawn
    policy = load_policy_text(case.text, path="<generated policy>")
    last = claims[-1]
    outside = dataclasses.replace(last, service_date=case.effective_from - timedelta(days=1))
    claims = claims[:-1] + [outside]
    for engine in (realtime_records, batch_records):
        with pytest.raises(ClaimOutsidePolicyError) as raised:
            engine(policy, claims)
        assert raised.value.claim_id == outside.claim_id and raised.value.field == "service_date"


# --------------------------------------------------------------------------------------------
# Invariants of any settlement, on the batch output


@seed(SEED)
@settings(PROFILE, max_examples=max(20, PROFILE.max_examples // 4))
@given(policies_with_claims())
def test_batch_output_keeps_the_invariants(drawn: tuple[PolicyCase, list[Claim]]) -> None:
    case, claims = drawn
    note(REPRODUCE)
    note(case.text)
    policy = load_policy_text(case.text, path="<generated policy>")
    records = batch_records(policy, claims)
    by_id = {claim.claim_id: claim for claim in claims}
    # one record per claim, in settlement order (member, service date, claim id)
    expected_order = sorted(claims, key=lambda c: (c.member_id, c.service_date, c.claim_id))
    assert [record["claim_id"] for record in records] == [claim.claim_id for claim in expected_order]

    paid_this_year: dict[tuple[str, int, str], int] = defaultdict(int)
    oop_under_yearly_cap: dict[tuple[str, int, str], int] = defaultdict(int)
    for record in records:
        claim = by_id[record["claim_id"]]
        year = policy.benefit_year(claim.service_date)
        payments = [record[f"paid_{layer.id}"] for layer in policy.layers]
        assert all(payment >= 0 for payment in payments), record
        assert sum(payments) + record["member_oop"] == record["allowed"], record
        assert record["member_oop"] >= 0, record
        assert record["allowed"] + record["provider_writeoff"] == claim.total, record
        fixed_fee = record["trail"].startswith("fixed_fee=")
        eligible = min(claim.eligible, record["allowed"]) if fixed_fee else claim.eligible
        matched = {
            token.split("=", 1)[0]: not token.endswith("=-")
            for token in record["trail"].split("; ")
            if not token.startswith("fixed_fee=")
        }
        paid_before = 0
        for layer, payment in zip(policy.layers, payments):
            if not matched[layer.id]:
                assert payment == 0, (layer.id, record)
            if layer.cap_per_claim is not None:
                assert payment <= layer.cap_per_claim, (layer.id, record)
            if layer.base == "eligible":  # never pays non-eligible amounts
                assert payment <= eligible, (layer.id, record)
            if layer.max_cumulative_share is not None:
                reference = record["allowed"] if layer.cumulative_share_of == "total" else eligible
                ceiling = floor_share(reference, layer.max_cumulative_share)
                assert payment <= max(0, ceiling - paid_before), (layer.id, record)
            if layer.kind == "oop_cap" and layer.base == "total" and matched[layer.id]:
                # later layers only lower what the member pays: the cap holds at the end
                assert record["member_oop"] <= floor_share(record["allowed"], layer.max_share), (layer.id, record)
                if layer.max_per_year is not None:
                    oop_under_yearly_cap[(claim.member_id, year, layer.id)] += record["member_oop"]
            paid_before += payment
            paid_this_year[(claim.member_id, year, layer.id)] += payment
        for allowance in policy.allowances:
            amount = record[f"allowance_{allowance.id}"]
            full = allowance.amount * (claim.days if allowance.per == "day" else 1)
            assert amount in (0, full), (allowance.id, record)

    caps = {layer.id: layer.cap_per_year for layer in policy.layers if layer.cap_per_year is not None}
    for (member, year, layer_id), total in paid_this_year.items():
        if layer_id in caps:
            assert total <= caps[layer_id], (member, year, layer_id, total)
    # an oop_cap layer's max_per_year bounds what the member pays in a year on the claims it covered
    yearly_limits = {layer.id: layer.max_per_year for layer in policy.layers if layer.kind == "oop_cap"}
    for (member, year, layer_id), total in oop_under_yearly_cap.items():
        assert total <= yearly_limits[layer_id], (member, year, layer_id, total)
