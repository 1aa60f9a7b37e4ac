"""A small world with stored claims for the issue-7 tests (funds, verification, payments, reports).

Built on ``tests.api_helpers.seed_world`` (VN-SHI scheme, providers PA/PB with contracts, PC
without) with claims submitted through the real claims service.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from tests.api_helpers import World, seed_world


@dataclass
class ClaimsWorld:
    world: World
    claim_pks: dict[str, int]


def submit(
    session: Session,
    world: World,
    claim_id: str,
    *,
    person: int,
    provider: str,
    on: dt.date,
    care_type: str = "outpatient",
    diagnosis: str = "J06.9",
    days: int = 0,
    total: int = 500_000,
) -> int:
    from equicover.claims.schemas import ClaimIn
    from equicover.claims.service import submit_claim

    row, _ = submit_claim(
        session=session,
        claim=ClaimIn(
            claim_id=claim_id,
            person_id=person,
            provider_code=provider,
            service_date=on,
            care_type=care_type,
            diagnosis=diagnosis,
            days=days,
            total=total,
        ),
        actor="test",
    )
    return row.id


def claims_world(session: Session) -> ClaimsWorld:
    """Seed the world and submit: 4 outpatient + 2 inpatient claims at PA, 2 at PB, 1 at PC (no contract)."""
    world = seed_world(session)
    (
        poor,
        other_member,
        _,
    ) = world.person_ids
    far = world.other_person_id
    pks = {}
    for i, day in enumerate((3, 9, 15, 21)):
        pks[f"A-OP{i}"] = submit(
            session,
            world,
            f"A-OP{i}",
            person=poor if i % 2 else other_member,
            provider="PA",
            on=dt.date(2024, 8, day),
            total=400_000 + 50_000 * i,
        )
    pks["A-IP0"] = submit(
        session,
        world,
        "A-IP0",
        person=poor,
        provider="PA",
        on=dt.date(2024, 9, 2),
        care_type="inpatient",
        diagnosis="K35.8",
        days=4,
        total=6_000_000,
    )
    pks["A-IP1"] = submit(
        session,
        world,
        "A-IP1",
        person=other_member,
        provider="PA",
        on=dt.date(2024, 9, 20),
        care_type="inpatient",
        diagnosis="J18.9",
        days=6,
        total=9_000_000,
    )
    pks["B-OP0"] = submit(session, world, "B-OP0", person=far, provider="PB", on=dt.date(2024, 8, 5), total=300_000)
    pks["B-IP0"] = submit(
        session,
        world,
        "B-IP0",
        person=far,
        provider="PB",
        on=dt.date(2024, 9, 7),
        care_type="inpatient",
        diagnosis="K35.8",
        days=3,
        total=12_000_000,
    )
    pks["C-OP0"] = submit(session, world, "C-OP0", person=poor, provider="PC", on=dt.date(2024, 8, 12), total=200_000)
    session.flush()
    return ClaimsWorld(world=world, claim_pks=pks)
