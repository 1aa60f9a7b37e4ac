"""The summary the demo prints of a settled file: payers, members' and the poor's out of pocket."""

from __future__ import annotations

from pathlib import Path

from equicover.settlement.claims_file import CLAIM_COLUMNS
from equicover.settlement.cli import settle
from equicover.settlement.loader import load_policy
from equicover.settlement.report import settlement_summary

POLICIES = Path(__file__).resolve().parents[2] / "policies"
HEADER = ",".join(CLAIM_COLUMNS)


def test_the_poor_out_of_pocket_share_counts_every_claim_of_the_registered_poor(tmp_path: Path):
    # Ya'an: a poor member's township visit (outpatient pooling 50% of the eligible 80.00: 40.00),
    # a poor member's in-county stay (10% of the bill left, seed 004), an ordinary member's visit.
    rows = [
        "p1,M1,2018-02-01,T1,township,true,true,false,outpatient,J06.9,0,100.00,80.00,registered_poor",
        "p2,M2,2018-03-10,C1,county,true,true,false,inpatient,J18.9,8,10000.00,9000.00,registered_poor",
        "o1,M3,2018-02-01,T1,township,true,true,false,outpatient,J06.9,0,100.00,80.00,",
    ]
    claims = tmp_path / "claims.csv"
    claims.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    out = tmp_path / "settled.csv"
    policy_path = POLICIES / "cn-yaan-2018.toml"
    settle(policy=policy_path, claims=claims, out=out, engine="realtime")
    summary = settlement_summary(policy=load_policy(policy_path), claims_path=claims, settlements_path=out)
    # allowed 100.00 + 10000.00; the poor paid 60.00 + 1000.00
    assert (summary.poor_allowed, summary.poor_oop) == (1_010_000, 106_000)
    assert round(summary.poor_oop_percent, 2) == 10.50
    # everyone: the ordinary member also paid 60.00
    assert (summary.allowed, summary.member_oop) == (1_020_000, 112_000)
    # the 10% indicator: the one poor member with in-county inpatient care, within 10%
    assert (summary.poor_inpatients, summary.poor_inpatients_within_target) == (1, 1)
