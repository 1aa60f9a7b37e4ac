"""A claims file may name each claim's referral letter; the bulk load checks it as the service does."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from equicover.claims.bulk import load_settled_claims
from equicover.claims.models import Claim, ClaimPayment
from equicover.errors import ValidationFailed
from equicover.referrals import service
from equicover.settlement.claims_file import CLAIM_COLUMNS
from equicover.settlement.loader import load_policy
from tests import factories as make
from tests.referrals.test_referred_claims import ISSUED, _province_world

POLICY = load_policy(make.POLICIES / "vn-shi-2024.toml")


def _file(path: Path, rows: list[dict[str, str]], letters: bool = True) -> Path:
    columns = [*CLAIM_COLUMNS, "referral_letter"] if letters else list(CLAIM_COLUMNS)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _row(claim_id: str, person_id: int, letter: str = "", **changes: str) -> dict[str, str]:
    row = {
        "claim_id": claim_id,
        "member_id": str(person_id),
        "service_date": (ISSUED + dt.timedelta(days=2)).isoformat(),
        "provider_id": "PP",
        "provider_level": "province",
        "designated": "true",
        "in_area": "false",
        "referred": "false",
        "care_type": "outpatient",
        "diagnosis": "I10",
        "days": "0",
        "total": "300000",
        "eligible": "300000",
        "categories": "five_year_continuous",
        "referral_letter": letter,
    }
    row.update(changes)
    return row


def _paid(session: Session, claim_id: str) -> int:
    pk = session.scalar(select(Claim.id).where(Claim.claim_id == claim_id))
    return (
        session.scalar(select(func.coalesce(func.sum(ClaimPayment.amount), 0)).where(ClaimPayment.claim_pk == pk)) or 0
    )


def test_a_letter_in_the_file_refers_its_claim(session: Session, tmp_path: Path) -> None:
    world, letter = _province_world(session)
    member = world.person_ids[1]
    path = _file(tmp_path / "claims.csv", [_row("F-1", member, f" {letter.number.lower()} "), _row("F-2", member)])
    report = load_settled_claims(session=session, policy=POLICY, claims_path=path, scheme_code="VN-SHI")
    assert report.claims == 2
    referred = dict(session.execute(select(Claim.claim_id, Claim.referred)).all())
    assert referred == {"F-1": True, "F-2": False}
    assert _paid(session, "F-1") > 0 and _paid(session, "F-2") == 0
    first = session.scalar(select(Claim.id).where(Claim.claim_id == "F-1"))
    assert service.claims_using(session=session, letter_id=letter.id) == [first]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"member_id": "other"}, "the letter is for another patient"),
        ({"service_date": (ISSUED + dt.timedelta(days=30)).isoformat()}, "the letter was valid until 2024-09-30"),
        ({"letter": "R0000000000"}, "no referral letter has this number"),
    ],
)
def test_a_letter_that_does_not_hold_refuses_the_file(
    session: Session, tmp_path: Path, row: dict[str, str], reason: str
) -> None:
    world, letter = _province_world(session)
    changes = dict(row)
    number = changes.pop("letter", letter.number)
    if changes.get("member_id") == "other":
        changes["member_id"] = str(world.other_person_id)
    path = _file(
        tmp_path / "claims.csv", [_row("F-0", world.person_ids[1]), _row("F-1", world.person_ids[1], number, **changes)]
    )
    with pytest.raises(ValidationFailed) as refused:
        load_settled_claims(session=session, policy=POLICY, claims_path=path, scheme_code="VN-SHI")
    assert (refused.value.record, refused.value.field, refused.value.reason) == (
        "claims file claims.csv (claim F-1)",
        "referral_letter",
        reason,
    )
    assert session.scalar(select(func.count()).select_from(Claim)) == 0


def test_a_file_without_the_letter_column_keeps_its_referred_column(session: Session, tmp_path: Path) -> None:
    world, _ = _province_world(session)
    path = _file(tmp_path / "claims.csv", [_row("F-1", world.person_ids[1], referred="true")], letters=False)
    load_settled_claims(session=session, policy=POLICY, claims_path=path, scheme_code="VN-SHI")
    assert session.scalar(select(Claim.referred).where(Claim.claim_id == "F-1")) is True
