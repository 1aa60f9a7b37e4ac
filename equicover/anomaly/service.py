"""Anomaly runs over stored claims: the only door to ``anomaly_runs`` and ``anomaly_flags``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from equicover.anomaly.detect import MODEL_NAME, DetectionResult, detect
from equicover.anomaly.models import AnomalyFlag, AnomalyRun
from equicover.audit.service import SYSTEM_ACTOR, record_change
from equicover.claims.models import Claim
from equicover.db.bulk import bulk_insert_rows
from equicover.enrolment.models import Enrolment
from equicover.errors import ValidationFailed
from equicover.registry.models import Person


def _dates(values: list[dt.date | None]) -> pa.Array:
    return pa.array(values, pa.date32())


def _texts(column: pa.ChunkedArray[Any], limit: int) -> list[str]:
    """A text column without nulls as Python strings, each cut to at most ``limit`` characters."""
    texts = []
    for text in column.to_pylist():
        if text is None:
            raise ValueError("a flag without its text")
        texts.append(text[:limit])
    return texts


def claims_tables(*, session: Session, starts: dt.date, ends: dt.date) -> tuple[pa.Table, pa.Table, pa.Table]:
    """The stored claims of the period (settled), their members' death dates and enrolments, as Arrow."""
    rows = session.execute(
        select(
            Claim.id,
            Claim.person_id,
            Claim.provider_id,
            Claim.provider_level,
            Claim.care_type,
            Claim.diagnosis,
            Claim.service_date,
            Claim.days,
            Claim.allowed,
        )
        .where(Claim.service_date >= starts, Claim.service_date <= ends, Claim.status == "settled")
        .order_by(Claim.id)
    ).all()
    columns: list[Sequence[Any]] = list(zip(*rows)) if rows else [[] for _ in range(9)]
    claims = pa.table(
        {
            "claim_pk": pa.array(columns[0], pa.int64()),
            "member": pa.array(columns[1], pa.int64()),
            "provider": pa.array(columns[2], pa.int64()),
            "provider_level": pa.array(columns[3], pa.string()),
            "care_type": pa.array(columns[4], pa.string()),
            "diagnosis": pa.array(columns[5], pa.string()),
            "service_date": _dates(list(columns[6])),
            "days": pa.array(columns[7], pa.int64()),
            "allowed": pa.array(columns[8], pa.int64()),
        }
    )
    members = select(Claim.person_id).where(Claim.service_date >= starts, Claim.service_date <= ends)
    dead = session.execute(
        select(Person.id, Person.death_date).where(Person.death_date.is_not(None), Person.id.in_(members))
    ).all()
    persons = pa.table(
        {"member": pa.array([r[0] for r in dead], pa.int64()), "death_date": _dates([r[1] for r in dead])}
    )
    cover = session.execute(
        select(Enrolment.person_id, Enrolment.starts, Enrolment.ends).where(
            Enrolment.status != "cancelled",
            Enrolment.starts <= ends,
            Enrolment.ends >= starts,
            Enrolment.person_id.in_(members),
        )
    ).all()
    enrolments = pa.table(
        {
            "member": pa.array([r[0] for r in cover], pa.int64()),
            "starts": _dates([r[1] for r in cover]),
            "ends": _dates([r[2] for r in cover]),
        }
    )
    return claims, persons, enrolments


def run_detection(
    *, session: Session, starts: dt.date, ends: dt.date, seed: int = 0, actor: str = SYSTEM_ACTOR
) -> tuple[AnomalyRun, DetectionResult]:
    """Score the period's stored claims and store every flag (with its reasons)."""
    if ends < starts:
        raise ValidationFailed("anomaly run", "ends", "is before starts")
    claims, persons, enrolments = claims_tables(session=session, starts=starts, ends=ends)
    result = detect(claims, persons, enrolments, seed=seed)
    run = AnomalyRun(
        period_starts=starts,
        period_ends=ends,
        claims_scanned=result.claims,
        flags=result.flags.num_rows,
        model=f"{MODEL_NAME}, seed {seed}"[:100],
        ran_at=dt.datetime.now(dt.UTC),
        ran_by=actor,
    )
    session.add(run)
    session.flush()
    if result.flags.num_rows:
        flags = result.flags
        bulk_insert_rows(
            session,
            AnomalyFlag.__table__,
            {
                "run_id": [run.id] * flags.num_rows,
                "claim_pk": flags.column("claim_pk").to_pylist(),
                "score": np.round(np.asarray(flags.column("score").to_numpy(), dtype=float), 4).tolist(),
                "rules": _texts(flags.column("rules"), 200),
                "reason": _texts(flags.column("reason"), 400),
            },
        )
    record_change(
        session=session,
        actor=actor,
        entity="anomaly_runs",
        entity_id=run.id,
        action="create",
        after={"claims": result.claims, "flags": result.flags.num_rows},
    )
    return run, result


def top_flags(*, session: Session, run_id: int | None = None, limit: int = 100) -> list[tuple[AnomalyFlag, str]]:
    """The run's (default: latest) highest-scored flags with the claim ids."""
    run_id = run_id if run_id is not None else session.scalar(select(func.max(AnomalyRun.id)))
    if run_id is None:
        return []
    return [
        (flag, claim_id)
        for flag, claim_id in session.execute(
            select(AnomalyFlag, Claim.claim_id)
            .join(Claim, Claim.id == AnomalyFlag.claim_pk)
            .where(AnomalyFlag.run_id == run_id)
            .order_by(AnomalyFlag.score.desc(), AnomalyFlag.id)
            .limit(limit)
        ).all()
    ]
