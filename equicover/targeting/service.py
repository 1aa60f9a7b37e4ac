"""Targeting services: the only door to the targeting tables.

A round of identification goes through its steps in order, each one a function here, each audited
in the change log by whom and when:

1. :func:`open_round` for an area (a commune, a district...) and dates, under a rules file whose
   text the round keeps; an on-demand identification is a round of kind ``on_demand``;
2. :func:`import_answers` (CSV, XLSX, KoboToolbox / ODK exports) or :func:`capture_answers` (one
   household, e.g. a web form): answers checked against the rules, row by row, a household outside
   the round's area refused; importing the same file again imports nothing twice;
3. :func:`score_round`: every household scored set-based (DuckDB), the proposed category and its
   reason stored;
4. :func:`preliminary_list` per village, and :func:`decide`: the village group's decisions
   (include, exclude, change level), each with a reason;
5. :func:`publish_notice`: the notice period starts; :func:`lodge_objection` during the objection
   window and :func:`decide_objection` during the notice;
6. :func:`approve_round` by a user whose area is of the level the rules name, after the notice:
   the final categories become the registry categories of every member, valid from the approval
   for the rules' validity, with the round as source; the round supersedes the last approved one
   of the same rules and area. Households that leave a category keep it until its validity ends
   (:func:`transitions` lists who enters, leaves and changes).

At the hospital, :func:`post_identify` scores an admitted patient's household on the spot and
grants the category for the stay (a short validity), later :func:`confirm_hospital_case` (the
category then runs for the rules' validity) or :func:`withdraw_hospital_case`.

Functions are keyword-only, take the caller's session and never commit. Every input is checked
before anything is written, so a refusal leaves nothing behind. Messages name records by id or
code and fields, never a person's data.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text, func, or_, select, update
from sqlalchemy.orm import Session

from equicover.audit.service import record_change
from equicover.auth.models import User
from equicover.auth.roles import Role
from equicover.db.bulk import bulk_insert_rows
from equicover.errors import Conflict, Forbidden, NotFound, ValidationFailed
from equicover.providers.models import Provider
from equicover.registry.models import LOCATION_LEVELS, Category, Household, Location, Person, PersonCategory
from equicover.registry.service import end_category, grant_household_categories, set_category
from equicover.targeting.loader import RulesError, load_rules_text
from equicover.targeting.models import (
    TargetingDecision,
    TargetingHospitalCase,
    TargetingHousehold,
    TargetingObjection,
    TargetingRound,
)
from equicover.targeting.rules import NOT_IDENTIFIED, TargetingRules, valid_until
from equicover.targeting.scoring import (
    fetch_errors,
    load_answer_rows,
    load_answers_file,
    score_answers,
    score_relation,
)

DECISION_KINDS = ("include", "exclude", "change_level")
_LOOKUP_CHUNK = 5_000
_MAX_REASON = 2_000


@dataclass(frozen=True, slots=True)
class RowRejection:
    line: int
    household: str
    field: str
    reason: str


@dataclass
class ImportResult:
    round_id: int
    rows_read: int = 0
    imported: int = 0
    already_imported: int = 0
    rejections: list[RowRejection] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ListedHousehold:
    entry_id: int
    household_code: str
    village: str
    proposed: str | None
    final: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class Transition:
    household_code: str
    before: str  # the category of the superseded round ("none" if absent or not identified)
    after: str
    holds_until: dt.date | None  # for a household leaving: the end of what it keeps


@dataclass(frozen=True, slots=True)
class ApprovalResult:
    round_id: int
    households: int
    categories_written: int
    superseded_round_id: int | None
    transitions: list[Transition]


# --------------------------------------------------------------------------------------------
# Helpers


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def rules_of(round_: TargetingRound | TargetingHospitalCase) -> TargetingRules:
    return load_rules_text(round_.rules_text, path=f"rules {round_.rules_id}")


def _checked_rules(rules_text: str, record: str) -> TargetingRules:
    try:
        return load_rules_text(rules_text, path="rules")
    except RulesError as error:
        first = error.problems[0]
        raise ValidationFailed(record, "rules", f"{len(error.problems)} problem(s), first: {first}") from None


def _inside(session: Session, location_id: int, area_id: int) -> bool:
    """The location is the area itself or lies below it."""
    found = session.scalar(
        select(Location.id).where(
            Location.id == location_id,
            or_(Location.id == area_id, Location.district_id == area_id, Location.province_id == area_id),
        )
    )
    return found is not None


def _reason_text(reason: str, record: str) -> str:
    text = reason.strip()
    if not text:
        raise ValidationFailed(record, "reason", "a reason is required")
    if len(text) > _MAX_REASON:
        raise ValidationFailed(record, "reason", f"at most {_MAX_REASON} characters")
    return text


def _require_area_user(session: Session, user: User, location_id: int, record: str) -> None:
    """The user works in an area holding ``location_id`` (a registrar of the area, or an admin)."""
    if user.role == Role.ADMIN and user.location_id is None:
        return
    if user.role not in (Role.REGISTRAR, Role.ADMIN) or user.location_id is None:
        raise Forbidden(record, "user", "only a registrar of the area records this step")
    if not _inside(session, location_id, user.location_id):
        raise Forbidden(record, "user", "outside your area")


def get_round(*, session: Session, round_id: int) -> TargetingRound:
    row = session.get(TargetingRound, round_id)
    if row is None:
        raise NotFound(f"targeting round {round_id}", "id", "unknown round")
    return row


def round_of_entry(*, session: Session, entry_id: int) -> int:
    """The round a listed household belongs to."""
    round_id = session.scalar(select(TargetingHousehold.round_id).where(TargetingHousehold.id == entry_id))
    if round_id is None:
        raise NotFound(f"targeting household {entry_id}", "id", "unknown household of a round")
    return round_id


def _round_in(session: Session, round_id: int, statuses: Sequence[str], step: str) -> TargetingRound:
    row = get_round(session=session, round_id=round_id)
    if row.status not in statuses:
        raise Conflict(
            f"targeting round {round_id}", "status", f"is {row.status}; {step} needs {' or '.join(statuses)}"
        )
    return row


def _entry(session: Session, round_id: int, household_code: str) -> TargetingHousehold:
    row = session.scalar(
        select(TargetingHousehold)
        .join(Household, Household.id == TargetingHousehold.household_id)
        .where(TargetingHousehold.round_id == round_id, Household.code == household_code)
    )
    if row is None:
        raise NotFound(f"targeting round {round_id}", "household", f"household {household_code} is not in the round")
    return row


def _chunks(values: list[str], size: int = _LOOKUP_CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --------------------------------------------------------------------------------------------
# 1. Rounds


def open_round(
    *,
    session: Session,
    rules_text: str,
    area_code: str,
    starts_on: dt.date,
    ends_on: dt.date,
    user: User,
    kind: str = "regular",
) -> TargetingRound:
    """Open a round of identification for an area under the given rules (kept with the round)."""
    record = "targeting round"
    rules = _checked_rules(rules_text, record)
    if kind not in ("regular", "on_demand"):
        raise ValidationFailed(record, "kind", "must be regular or on_demand")
    if kind == "on_demand" and not rules.procedure.on_demand:
        raise ValidationFailed(record, "kind", f"rules {rules.id} do not provide on-demand identification")
    if ends_on < starts_on:
        raise ValidationFailed(record, "ends_on", "is before starts_on")
    if starts_on < rules.effective_from or (rules.effective_to is not None and starts_on > rules.effective_to):
        raise ValidationFailed(record, "starts_on", f"outside the effective period of rules {rules.id}")
    area = session.scalar(select(Location).where(Location.code == area_code))
    if area is None:
        raise ValidationFailed(record, "area_code", "unknown location")
    if LOCATION_LEVELS[area.level] < LOCATION_LEVELS[rules.procedure.approving_level]:
        raise ValidationFailed(
            record, "area_code", f"a {area.level} is above the approving level ({rules.procedure.approving_level})"
        )
    _require_area_user(session, user, area.id, record)
    row = TargetingRound(
        rules_id=rules.id,
        rules_text=rules_text,
        kind=kind,
        location_id=area.id,
        starts_on=starts_on,
        ends_on=ends_on,
        status="collecting",
        created_by=user.username,
        created_at=_now(),
    )
    session.add(row)
    session.flush()
    record_change(
        session=session,
        actor=user.username,
        entity="targeting_rounds",
        entity_id=row.id,
        action="create",
        after={"rules_id": rules.id, "kind": kind, "location_id": area.id, "starts_on": starts_on, "ends_on": ends_on},
    )
    return row


# --------------------------------------------------------------------------------------------
# 2. Answers


def import_answers(*, session: Session, round_id: int, path: Path, user: User) -> ImportResult:
    """Import a file of answers into a collecting round; every bad row is reported, the good ones kept.

    A row is refused for an answer outside the options, a missing required item, an unknown
    household, a household outside the round's area, or a household already imported with other
    answers. A row whose household is already imported with the same answers is counted as
    already imported (importing a file again imports nothing twice)."""
    return _import(
        session, round_id, user, path.name, lambda connection, rules: load_answers_file(connection, rules, path)
    )


def import_answer_rows(
    *, session: Session, round_id: int, rows: Sequence[dict[str, Any]], user: User, name: str = "request"
) -> ImportResult:
    """Import answers given as dicts (``household``, ``area_type``, ``village``, item ids) like a file:
    row ``i`` is reported as line ``i + 2``. A key that is no item of the questionnaire refuses the whole
    request (the calling programme speaks another questionnaire)."""
    rules = rules_of(get_round(session=session, round_id=round_id))
    known = {item.id for item in rules.items} | {"household", "area_type", "village"}
    for index, row in enumerate(rows):
        unknown = sorted(set(row) - known)
        if unknown:
            raise ValidationFailed(f"answers line {index + 2}", unknown[0], "not an item of the questionnaire")
    return _import(session, round_id, user, name, lambda connection, rules: load_answer_rows(connection, rules, rows))


def _import(
    session: Session,
    round_id: int,
    user: User,
    name: str,
    load: Callable[[duckdb.DuckDBPyConnection, TargetingRules], None],
) -> ImportResult:
    round_ = _round_in(session, round_id, ("collecting",), "importing answers")
    rules = rules_of(round_)
    _require_area_user(session, user, round_.location_id, f"targeting round {round_id}")
    connection = duckdb.connect()
    try:
        load(connection, rules)
        score_relation(connection, rules, "answers_source")
        errors = fetch_errors(connection)
        item_ids = [item.id for item in rules.items]
        names = ", ".join(f'"i_{item_id}"' for item_id in item_ids)
        rows = connection.execute(
            f"SELECT c.line, c.household, c.area_type, c.village, {names} FROM answers_clean c "
            "WHERE c.line IN (SELECT line FROM answer_scores) ORDER BY c.line"
        ).fetchall()
        read = connection.execute("SELECT count(*) FROM answers_source").fetchone()
    finally:
        connection.close()
    result = ImportResult(round_id=round_id, rows_read=read[0] if read else 0)
    result.rejections.extend(RowRejection(e.line, e.household, e.field, e.reason) for e in errors)
    accepted = [
        (
            row[0],
            row[1],
            row[2],
            row[3],
            {item_id: value for item_id, value in zip(item_ids, row[4:]) if value is not None},
        )
        for row in rows
    ]
    _store_answers(session, round_, accepted, user, result)
    result.rejections.sort(key=lambda rejection: (rejection.line, rejection.field))
    record_change(
        session=session,
        actor=user.username,
        entity="targeting_rounds",
        entity_id=round_id,
        action="import_answers",
        after={
            "source": name[:200],
            "read": result.rows_read,
            "imported": result.imported,
            "already_imported": result.already_imported,
            "rejected": len({r.line for r in result.rejections}),
        },
    )
    return result


def _store_answers(
    session: Session,
    round_: TargetingRound,
    accepted: list[tuple[int, str, str, str | None, dict[str, str]]],
    user: User,
    result: ImportResult,
) -> None:
    codes = [row[1] for row in accepted]
    households: dict[str, tuple[int, int, str]] = {}
    for chunk in _chunks(codes):
        query = (
            select(Household.code, Household.id, Household.location_id, Location.code)
            .join(Location, Location.id == Household.location_id)
            .where(Household.code.in_(chunk))
        )
        for code, household_id, location_id, location_code in session.execute(query):
            households[code] = (household_id, location_id, location_code)
    area_ids = set(
        session.scalars(
            select(Location.id).where(
                or_(
                    Location.id == round_.location_id,
                    Location.district_id == round_.location_id,
                    Location.province_id == round_.location_id,
                )
            )
        )
    )
    stored_rows = session.execute(
        select(TargetingHousehold.household_id, TargetingHousehold.answers).where(
            TargetingHousehold.round_id == round_.id
        )
    )
    stored: dict[int, str] = dict(stored_rows.all())  # a Result has keys(): dict() would read it as a mapping
    now = _now()
    new_rows: list[dict[str, Any]] = []
    for line, code, area_type, village, answers in accepted:
        found = households.get(code)
        if found is None:
            result.rejections.append(RowRejection(line, code, "household", "unknown household"))
            continue
        household_id, location_id, location_code = found
        if location_id not in area_ids:
            result.rejections.append(RowRejection(line, code, "household", "not in the area of the round"))
            continue
        text = json.dumps(answers, sort_keys=True, ensure_ascii=False)
        if household_id in stored:
            if stored[household_id] == text:
                result.already_imported += 1
            else:
                result.rejections.append(
                    RowRejection(line, code, "household", "already imported in this round with other answers")
                )
            continue
        stored[household_id] = text
        new_rows.append(
            {
                "round_id": round_.id,
                "household_id": household_id,
                "village": (village or location_code)[:100],
                "area_type": area_type,
                "answers": text,
                "imported_by": user.username,
                "imported_at": now,
            }
        )
    # A round of a province is hundreds of thousands of rows: written in bulk, audited once by the caller.
    result.imported += bulk_insert_rows(session, TargetingHousehold.__table__, new_rows)


def capture_answers(
    *,
    session: Session,
    round_id: int,
    household_code: str,
    answers: dict[str, str],
    user: User,
    area_type: str | None = None,
    village: str | None = None,
) -> TargetingHousehold:
    """One household's answers (a web form, an on-demand request); refused whole with the first reason."""
    round_ = _round_in(session, round_id, ("collecting",), "capturing answers")
    rules = rules_of(round_)
    record = f"targeting round {round_id}"
    _require_area_user(session, user, round_.location_id, record)
    row = {"household": household_code, "area_type": area_type, "village": village, **answers}
    unknown = sorted(set(answers) - {item.id for item in rules.items})
    if unknown:
        raise ValidationFailed(record, unknown[0], "not an item of the questionnaire")
    _, errors = score_answers(rules, [row])
    if errors:
        raise ValidationFailed(record, errors[0].field, errors[0].reason)
    result = ImportResult(round_id=round_id)
    cleaned = {key: value.strip().lower() for key, value in answers.items() if value is not None and value.strip()}
    kind = (area_type or (rules.area_types[0] if len(rules.area_types) == 1 else "")).strip().lower()
    _store_answers(session, round_, [(2, household_code, kind, village, cleaned)], user, result)
    if result.rejections:
        rejection = result.rejections[0]
        raise ValidationFailed(record, rejection.field, rejection.reason)
    entry = _entry(session, round_id, household_code)
    record_change(
        session=session,
        actor=user.username,
        entity="targeting_households",
        entity_id=entry.id,
        action="create",
        after={"round_id": round_id, "household_id": entry.household_id, "village": entry.village},
    )
    return entry


# --------------------------------------------------------------------------------------------
# 3. Scoring


# The scores of a round go to a temporary table in bulk (COPY on PostgreSQL), then into the round's
# rows with one UPDATE ... FROM: an UPDATE per household costs minutes for a province.
_SCORED_BATCH = Table(
    "targeting_scored_batch",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("scores", Text),
    Column("income_per_person", BigInteger),
    Column("deprivations", Integer),
    Column("proposed", String(48)),
    Column("reason", Text),
    prefixes=["TEMPORARY"],
)


def _write_scores(session: Session, columns: dict[str, list[Any]]) -> None:
    connection = session.connection()
    _SCORED_BATCH.drop(connection, checkfirst=True)
    _SCORED_BATCH.create(connection)
    try:
        bulk_insert_rows(session, _SCORED_BATCH, columns)
        batch = _SCORED_BATCH.c
        connection.execute(
            update(TargetingHousehold.__table__)
            .values(
                scores=batch.scores,
                income_per_person=batch.income_per_person,
                deprivations=batch.deprivations,
                proposed=batch.proposed,
                final=batch.proposed,
                reason=batch.reason,
            )
            .where(TargetingHousehold.__table__.c.id == batch.id)
        )
    finally:
        _SCORED_BATCH.drop(connection)


def score_round(*, session: Session, round_id: int, user: User) -> dict[str, int]:
    """Score every household of the round at once; returns the count per proposed category."""
    round_ = _round_in(session, round_id, ("collecting",), "scoring")
    _require_area_user(session, user, round_.location_id, f"targeting round {round_id}")
    rules = rules_of(round_)
    entries = session.execute(
        select(
            TargetingHousehold.id, TargetingHousehold.area_type, TargetingHousehold.village, TargetingHousehold.answers
        ).where(TargetingHousehold.round_id == round_id)
    ).all()
    if not entries:
        raise Conflict(f"targeting round {round_id}", "households", "no answers imported yet")
    rows = [
        {"household": str(entry_id), "area_type": area_type, "village": village, **json.loads(answers)}
        for entry_id, area_type, village, answers in entries
    ]
    scored_rows, errors = score_answers(rules, rows)
    if errors:  # answers were checked on import with the same rules text: a broken invariant, not bad input
        first = errors[0]
        raise Conflict(f"targeting household {rows[first.line - 2]['household']}", first.field, first.reason)
    counts: dict[str, int] = {}
    columns: dict[str, list[Any]] = {column.name: [] for column in _SCORED_BATCH.c}
    for scored in scored_rows:
        scores = {key: None if value is None else str(value.normalize()) for key, value in scored.scores.items()}
        columns["id"].append(int(scored.household))
        columns["scores"].append(json.dumps(scores, sort_keys=True))
        columns["income_per_person"].append(scored.income_per_person)
        columns["deprivations"].append(scored.deprivations)
        columns["proposed"].append(scored.category)
        columns["reason"].append(scored.reason)
        counts[scored.category] = counts.get(scored.category, 0) + 1
    _write_scores(session, columns)
    for loaded in list(session.identity_map.values()):  # a statement leaves loaded objects as they were
        if isinstance(loaded, TargetingHousehold) and loaded.round_id == round_id:
            session.expire(loaded)
    round_.status = "scored"
    record_change(
        session=session,
        actor=user.username,
        entity="targeting_rounds",
        entity_id=round_id,
        action="score",
        after={"households": len(entries), "by_category": counts},
    )
    return counts


# --------------------------------------------------------------------------------------------
# 4. Preliminary list and the village's decisions


def preliminary_list(
    *, session: Session, round_id: int, village: str | None = None
) -> dict[str, list[ListedHousehold]]:
    """The round's households by village (sorted), each with its proposed and final category."""
    get_round(session=session, round_id=round_id)
    query = (
        select(TargetingHousehold, Household.code)
        .join(Household, Household.id == TargetingHousehold.household_id)
        .where(TargetingHousehold.round_id == round_id)
        .order_by(TargetingHousehold.village, Household.code)
    )
    if village is not None:
        query = query.where(TargetingHousehold.village == village)
    listed: dict[str, list[ListedHousehold]] = {}
    for entry, code in session.execute(query):
        listed.setdefault(entry.village, []).append(
            ListedHousehold(entry.id, code, entry.village, entry.proposed, entry.final, entry.reason)
        )
    return listed


def decide(
    *,
    session: Session,
    round_id: int,
    household_code: str,
    kind: str,
    reason: str,
    user: User,
    on: dt.date,
    to_category: str | None = None,
) -> TargetingDecision:
    """Record a decision of the village group on a scored round: ``include`` (``to_category``, default the
    rules' last category), ``exclude`` (to ``none``) or ``change_level`` (``to_category``)."""
    record = f"targeting round {round_id}"
    round_ = _round_in(session, round_id, ("scored",), "a village decision")
    rules = rules_of(round_)
    if kind not in DECISION_KINDS:
        raise ValidationFailed(record, "kind", f"must be one of {', '.join(DECISION_KINDS)}")
    text = _reason_text(reason, record)
    entry = _entry(session, round_id, household_code)
    household = session.get(Household, entry.household_id)
    assert household is not None
    _require_area_user(session, user, household.location_id, record)
    current = entry.final or NOT_IDENTIFIED
    category_ids = [outcome.id for outcome in rules.outcomes]
    if kind == "exclude":
        target = NOT_IDENTIFIED
        if current == NOT_IDENTIFIED:
            raise Conflict(record, "kind", f"household {household_code} is not on the list")
    elif kind == "include":
        target = to_category or category_ids[-1]
        if current != NOT_IDENTIFIED:
            raise Conflict(record, "kind", f"household {household_code} is already on the list ({current})")
    else:
        if to_category is None:
            raise ValidationFailed(record, "to_category", "a change of level names the new category")
        target = to_category
        if current == NOT_IDENTIFIED:
            raise Conflict(record, "kind", f"household {household_code} is not on the list: include it")
        if target == current:
            raise Conflict(record, "to_category", f"household {household_code} is already {current}")
    if target != NOT_IDENTIFIED and target not in category_ids:
        raise ValidationFailed(record, "to_category", f"must be one of {', '.join(category_ids)}")
    if on < round_.starts_on:
        raise ValidationFailed(record, "on", "before the round started")
    row = TargetingDecision(
        entry_id=entry.id,
        kind=kind,
        from_category=current,
        to_category=target,
        reason=text,
        decided_on=on,
        decided_by=user.username,
        decided_at=_now(),
    )
    session.add(row)
    entry.final = target
    session.flush()
    record_change(
        session=session,
        actor=user.username,
        entity="targeting_decisions",
        entity_id=row.id,
        action="create",
        after={"round_id": round_id, "entry_id": entry.id, "kind": kind, "from": current, "to": target},
    )
    return row


# --------------------------------------------------------------------------------------------
# 5. Notice and objections


def publish_notice(*, session: Session, round_id: int, on: dt.date, user: User) -> TargetingRound:
    """Post the list: the notice period runs ``notice_days`` from ``on`` (inclusive)."""
    round_ = _round_in(session, round_id, ("scored",), "publishing the notice")
    _require_area_user(session, user, round_.location_id, f"targeting round {round_id}")
    if on < round_.starts_on:
        raise ValidationFailed(f"targeting round {round_id}", "on", "before the round started")
    rules = rules_of(round_)
    round_.status = "notice"
    round_.notice_from = on
    round_.notice_to = on + dt.timedelta(days=rules.procedure.notice_days - 1)
    session.flush()
    record_change(
        session=session,
        actor=user.username,
        entity="targeting_rounds",
        entity_id=round_id,
        action="notice",
        after={"notice_from": round_.notice_from, "notice_to": round_.notice_to},
    )
    return round_


def printable_notice(*, session: Session, round_id: int) -> str:
    """The posted list as plain text, village by village (household codes and categories, no names)."""
    round_ = get_round(session=session, round_id=round_id)
    rules = rules_of(round_)
    labels = {outcome.id: outcome.label for outcome in rules.outcomes}
    lines = [f"{rules.name}: round {round_id}"]
    if round_.notice_from and round_.notice_to:
        lines.append(
            f"Notice from {round_.notice_from} to {round_.notice_to}; objections until "
            f"{round_.notice_from + dt.timedelta(days=rules.procedure.objection_days - 1)}"
        )
    for village, households in preliminary_list(session=session, round_id=round_id).items():
        listed = [entry for entry in households if (entry.final or NOT_IDENTIFIED) != NOT_IDENTIFIED]
        lines.append("")
        lines.append(f"Village {village}: {len(listed)} household(s)")
        lines.extend(f"  {entry.household_code}  {labels.get(entry.final or '', entry.final)}" for entry in listed)
    return "\n".join(lines) + "\n"


def lodge_objection(
    *,
    session: Session,
    round_id: int,
    household_code: str,
    asked_category: str,
    grounds: str,
    on: dt.date,
    user: User,
) -> TargetingObjection:
    """Receive an objection about a household of the posted list, during the objection window."""
    record = f"targeting round {round_id}"
    round_ = _round_in(session, round_id, ("notice",), "an objection")
    rules = rules_of(round_)
    assert round_.notice_from is not None
    last_day = round_.notice_from + dt.timedelta(days=rules.procedure.objection_days - 1)
    if not round_.notice_from <= on <= last_day:
        raise ValidationFailed(record, "on", f"objections are received from {round_.notice_from} to {last_day}")
    text = _reason_text(grounds, record)
    if asked_category != NOT_IDENTIFIED and asked_category not in [outcome.id for outcome in rules.outcomes]:
        raise ValidationFailed(record, "asked_category", "not a category of the rules")
    entry = _entry(session, round_id, household_code)
    if asked_category == (entry.final or NOT_IDENTIFIED):
        raise Conflict(record, "asked_category", f"household {household_code} is already {asked_category}")
    household = session.get(Household, entry.household_id)
    assert household is not None
    _require_area_user(session, user, household.location_id, record)
    row = TargetingObjection(
        entry_id=entry.id,
        asked_category=asked_category,
        grounds=text,
        lodged_on=on,
        lodged_by=user.username,
        status="pending",
    )
    session.add(row)
    session.flush()
    record_change(
        session=session,
        actor=user.username,
        entity="targeting_objections",
        entity_id=row.id,
        action="create",
        after={"round_id": round_id, "entry_id": entry.id, "asked_category": asked_category, "lodged_on": on},
    )
    return row


def decide_objection(
    *, session: Session, objection_id: int, uphold: bool, ruling: str, on: dt.date, user: User
) -> TargetingObjection:
    """Decide an objection during the notice period; an upheld one changes the household's category."""
    record = f"targeting objection {objection_id}"
    objection = session.get(TargetingObjection, objection_id)
    if objection is None:
        raise NotFound(record, "id", "unknown objection")
    if objection.status != "pending":
        raise Conflict(record, "status", f"already {objection.status}")
    entry = session.get(TargetingHousehold, objection.entry_id)
    assert entry is not None
    round_ = _round_in(session, entry.round_id, ("notice",), "deciding an objection")
    assert round_.notice_from is not None and round_.notice_to is not None
    if not round_.notice_from <= on <= round_.notice_to:
        raise ValidationFailed(record, "on", f"outside the notice period ({round_.notice_from} to {round_.notice_to})")
    if on < objection.lodged_on:
        raise ValidationFailed(record, "on", "before the objection was lodged")
    text = _reason_text(ruling, record)
    household = session.get(Household, entry.household_id)
    assert household is not None
    _require_area_user(session, user, household.location_id, record)
    objection.status = "upheld" if uphold else "rejected"
    objection.ruling = text
    objection.decided_on = on
    objection.decided_by = user.username
    if uphold:
        session.add(
            TargetingDecision(
                entry_id=entry.id,
                kind="objection",
                from_category=entry.final or NOT_IDENTIFIED,
                to_category=objection.asked_category,
                reason=text,
                objection_id=objection.id,
                decided_on=on,
                decided_by=user.username,
                decided_at=_now(),
            )
        )
        entry.final = objection.asked_category
    session.flush()
    record_change(
        session=session,
        actor=user.username,
        entity="targeting_objections",
        entity_id=objection.id,
        action="decide",
        after={"status": objection.status, "decided_on": on},
    )
    return objection


# --------------------------------------------------------------------------------------------
# 6. Approval: categories in the registry


def _require_approver(session: Session, user: User, round_: TargetingRound, level: str) -> None:
    record = f"targeting round {round_.id}"
    if user.role not in (Role.REGISTRAR, Role.ADMIN) or user.location_id is None:
        raise Forbidden(record, "user", f"approval needs an account of a {level}")
    area = session.get(Location, user.location_id)
    assert area is not None
    if area.level != level:
        raise Forbidden(record, "user", f"approval is by the {level}, your area is a {area.level}")
    if not _inside(session, round_.location_id, area.id):
        raise Forbidden(record, "user", "the round's area is outside yours")


def _previous_round(session: Session, round_: TargetingRound) -> TargetingRound | None:
    return session.scalar(
        select(TargetingRound)
        .where(
            TargetingRound.location_id == round_.location_id,
            TargetingRound.rules_id == round_.rules_id,
            TargetingRound.status == "approved",
            TargetingRound.kind == "regular",
            TargetingRound.id != round_.id,
        )
        .order_by(TargetingRound.approved_on.desc(), TargetingRound.id.desc())
        .limit(1)
    )


def _grant(
    session: Session,
    *,
    person_id: int,
    category: str,
    valid_from: dt.date,
    valid_to: dt.date,
    source: str,
    actor: str,
) -> None:
    """Give the category from ``valid_from``; a holding that runs into that day is ended the day before
    (a new decision replaces the old one), one starting on or after it is ended on its first day's eve
    or, when it starts that very day, replaced."""
    clash = session.scalar(
        select(PersonCategory)
        .where(
            PersonCategory.person_id == person_id,
            PersonCategory.category == category,
            or_(PersonCategory.valid_to.is_(None), PersonCategory.valid_to >= valid_from),
            PersonCategory.valid_from <= valid_to,
        )
        .order_by(PersonCategory.valid_from)
        .limit(1)
    )
    if clash is not None:
        if clash.valid_from < valid_from:
            end_category(
                session=session,
                person_id=person_id,
                category=category,
                valid_to=valid_from - dt.timedelta(days=1),
                actor=actor,
            )
        else:
            raise Conflict(f"person {person_id}", "category", f"holds {category} from {clash.valid_from} already")
    set_category(
        session=session,
        person_id=person_id,
        category=category,
        valid_from=valid_from,
        valid_to=valid_to,
        source=source,
        actor=actor,
    )


def _members(session: Session, household_id: int, on: dt.date) -> list[int]:
    return list(
        session.scalars(
            select(Person.id)
            .where(
                Person.household_id == household_id,
                Person.merged_into_id.is_(None),
                or_(Person.death_date.is_(None), Person.death_date >= on),
            )
            .order_by(Person.id)
        )
    )


def _check_categories_known(session: Session, rules: TargetingRules, record: str) -> None:
    known = set(session.scalars(select(Category.code)))
    for outcome in rules.outcomes:
        for code in outcome.grants:
            if code not in known:
                raise ValidationFailed(
                    record, "rules", f"category {outcome.id} grants unknown registry category {code}"
                )


def approve_round(*, session: Session, round_id: int, on: dt.date, user: User) -> ApprovalResult:
    """Approve a round after its notice: write the registry categories of every listed household's members
    (valid from ``on`` for the rules' validity, the round as source) and supersede the last round."""
    record = f"targeting round {round_id}"
    round_ = _round_in(session, round_id, ("notice",), "approval")
    rules = rules_of(round_)
    _require_approver(session, user, round_, rules.procedure.approving_level)
    assert round_.notice_to is not None
    if on <= round_.notice_to:
        raise ValidationFailed(record, "on", f"the notice runs until {round_.notice_to}")
    pending = session.scalar(
        select(TargetingObjection.id)
        .join(TargetingHousehold, TargetingHousehold.id == TargetingObjection.entry_id)
        .where(TargetingHousehold.round_id == round_id, TargetingObjection.status == "pending")
        .order_by(TargetingObjection.id)
        .limit(1)
    )
    if pending is not None:
        raise Conflict(record, "objections", f"objection {pending} is not decided")
    _check_categories_known(session, rules, record)
    previous = _previous_round(session, round_) if round_.kind == "regular" else None
    source = f"targeting round {round_id} ({rules.id})"
    # Plain rows, not loaded objects: a province's round has hundreds of thousands of households.
    entries = [
        (row, row.code)
        for row in session.execute(
            select(TargetingHousehold.household_id, TargetingHousehold.final, Household.code)
            .join(Household, Household.id == TargetingHousehold.household_id)
            .where(TargetingHousehold.round_id == round_id)
            .order_by(Household.code)
        )
    ]
    # A province's round is hundreds of thousands of members: their categories are written set-based
    # by the registry (one statement per step), each holding with its change-log row.
    household_ids: list[int] = []
    categories: list[str] = []
    ends: list[dt.date] = []
    for entry, _code in entries:
        final = entry.final or NOT_IDENTIFIED
        grants = rules.grants_of(final)
        if not grants:
            continue
        until = valid_until(rules, final, on)
        for category in grants:
            household_ids.append(entry.household_id)
            categories.append(category)
            ends.append(until)
    written = grant_household_categories(
        session=session,
        household_ids=household_ids,
        categories=categories,
        valid_to=ends,
        valid_from=on,
        source=source,
        actor=user.username,
    )
    round_.status = "approved"
    round_.approved_on = on
    round_.approved_by = user.username
    transitions: list[Transition] = []
    if previous is not None:
        previous.status = "superseded"
        previous.superseded_by_id = round_.id
        transitions = _transitions(session, previous, round_, entries)
        record_change(
            session=session,
            actor=user.username,
            entity="targeting_rounds",
            entity_id=previous.id,
            action="supersede",
            after={"superseded_by_id": round_.id},
        )
    session.flush()
    record_change(
        session=session,
        actor=user.username,
        entity="targeting_rounds",
        entity_id=round_id,
        action="approve",
        after={"approved_on": on, "households": len(entries), "categories_written": written},
    )
    return ApprovalResult(
        round_id=round_id,
        households=len(entries),
        categories_written=written,
        superseded_round_id=previous.id if previous else None,
        transitions=transitions,
    )


def _transitions(
    session: Session, previous: TargetingRound, current: TargetingRound, entries: list[Any]
) -> list[Transition]:
    rules = rules_of(previous)
    before: dict[str, str] = {
        code: entry.final or NOT_IDENTIFIED
        for entry, code in session.execute(
            select(TargetingHousehold, Household.code)
            .join(Household, Household.id == TargetingHousehold.household_id)
            .where(TargetingHousehold.round_id == previous.id)
        )
    }
    after = {code: entry.final or NOT_IDENTIFIED for entry, code in entries}
    assert previous.approved_on is not None
    result = []
    for code in sorted(set(before) | set(after)):
        old, new = before.get(code, NOT_IDENTIFIED), after.get(code, NOT_IDENTIFIED)
        if old == new:
            continue
        leaving = old != NOT_IDENTIFIED and not rules_of(current).grants_of(new)
        holds_until = valid_until(rules, old, previous.approved_on) if leaving else None
        result.append(Transition(household_code=code, before=old, after=new, holds_until=holds_until))
    return result


_ROUND_SOURCE = re.compile(r"^targeting round (\d+) \(([^()]+)\)$")
_HOSPITAL_SOURCE = re.compile(r"^hospital post-identification (\d+)(?: \(([^()]+)\)| confirmed)$")


@dataclass(frozen=True, slots=True)
class CategorySource:
    programme: str | None  # the rules' id
    round_id: int | None  # the round whose approval gave the category


def category_source(*, session: Session, source: str | None) -> CategorySource:
    """Which programme (rules) and round gave a registry category, from the holding's source as
    approval and post-identification write it; nothing for a category decided elsewhere."""
    found = _ROUND_SOURCE.match(source or "")
    if found:
        return CategorySource(programme=found.group(2), round_id=int(found.group(1)))
    found = _HOSPITAL_SOURCE.match(source or "")
    if found:
        programme = found.group(2) or session.scalar(
            select(TargetingHospitalCase.rules_id).where(TargetingHospitalCase.id == int(found.group(1)))
        )
        return CategorySource(programme=programme, round_id=None)
    return CategorySource(programme=None, round_id=None)


def programme_categories(*, session: Session) -> dict[str, list[str]]:
    """The registry categories each programme's rules (by id) give, for the rules the rounds and hospital
    cases have run under (one rules text read per id: the first round's or case's)."""
    texts: dict[str, str] = {}
    for model in (TargetingRound, TargetingHospitalCase):
        firsts = select(model.rules_id, func.min(model.id).label("first")).group_by(model.rules_id).subquery()
        for rules_id, text in session.execute(
            select(model.rules_id, model.rules_text).join(firsts, firsts.c.first == model.id)
        ):
            texts.setdefault(rules_id, text)
    return {
        rules_id: sorted({code for outcome in load_rules_text(text, path=rules_id).outcomes for code in outcome.grants})
        for rules_id, text in sorted(texts.items())
    }


def round_category_members(
    *, session: Session, round_id: int, category: str
) -> list[tuple[int, dt.date, dt.date | None]]:
    """The persons an approved round gave ``category`` to, with the period it holds for them (as it
    stands: a later round may have ended it early), by person id."""
    round_ = get_round(session=session, round_id=round_id)
    rules = rules_of(round_)
    source = f"targeting round {round_id} ({rules.id})"
    rows = session.execute(
        select(PersonCategory.person_id, PersonCategory.valid_from, PersonCategory.valid_to)
        .where(PersonCategory.source == source, PersonCategory.category == category)
        .order_by(PersonCategory.person_id)
    )
    return [(person_id, valid_from, valid_to) for person_id, valid_from, valid_to in rows]


def transitions(*, session: Session, round_id: int) -> list[Transition]:
    """Who entered, left or changed category between the round this one superseded and this one."""
    round_ = get_round(session=session, round_id=round_id)
    previous = session.scalar(select(TargetingRound).where(TargetingRound.superseded_by_id == round_id))
    if previous is None:
        return []
    entries = list(
        session.execute(
            select(TargetingHousehold, Household.code)
            .join(Household, Household.id == TargetingHousehold.household_id)
            .where(TargetingHousehold.round_id == round_.id)
        )
    )
    return _transitions(session, previous, round_, entries)


# --------------------------------------------------------------------------------------------
# Post-identification at the hospital


def post_identify(
    *,
    session: Session,
    rules_text: str,
    household_code: str,
    answers: dict[str, str],
    admitted_on: dt.date,
    user: User,
    area_type: str | None = None,
) -> TargetingHospitalCase:
    """Interview an admitted patient's household, score it on the spot and, if it is identified, grant
    its members the category for the stay (``hospital_validity_days`` from admission)."""
    record = f"household {household_code}"
    rules = _checked_rules(rules_text, record)
    days = rules.procedure.hospital_validity_days
    if days is None:
        raise ValidationFailed(record, "rules", f"rules {rules.id} provide no post-identification at the hospital")
    if user.role not in (Role.CLERK, Role.ADMIN):
        raise Forbidden(record, "user", "post-identification is done at a facility's window")
    household = session.scalar(select(Household).where(Household.code == household_code))
    if household is None:
        raise NotFound(record, "household_code", "unknown household")
    unknown = sorted(set(answers) - {item.id for item in rules.items})
    if unknown:
        raise ValidationFailed(record, unknown[0], "not an item of the questionnaire")
    scored, errors = score_answers(rules, [{"household": household_code, "area_type": area_type, **answers}])
    if errors:
        raise ValidationFailed(record, errors[0].field, errors[0].reason)
    result = scored[0]
    valid_to = admitted_on + dt.timedelta(days=days - 1) if result.grants else None
    _check_categories_known(session, rules, record)
    members = _members(session, household.id, admitted_on)
    if valid_to is not None:
        for person_id in members:
            for category in result.grants:
                held = session.scalar(
                    select(PersonCategory.id).where(
                        PersonCategory.person_id == person_id,
                        PersonCategory.category == category,
                        PersonCategory.valid_from <= admitted_on,
                        or_(PersonCategory.valid_to.is_(None), PersonCategory.valid_to >= admitted_on),
                    )
                )
                if held is not None:
                    raise Conflict(
                        record, "category", f"a member holds {category} already: no post-identification needed"
                    )
    case = TargetingHospitalCase(
        household_id=household.id,
        provider_id=user.provider_id,
        rules_id=rules.id,
        rules_text=rules_text,
        area_type=result.area_type,
        answers=json.dumps(answers, sort_keys=True, ensure_ascii=False),
        category=result.category,
        reason=result.reason,
        admitted_on=admitted_on,
        valid_to=valid_to,
        status="granted" if valid_to is not None else "not_eligible",
        interviewed_by=user.username,
        interviewed_at=_now(),
    )
    session.add(case)
    session.flush()
    if valid_to is not None:
        for person_id in members:
            for category in result.grants:
                _grant(
                    session,
                    person_id=person_id,
                    category=category,
                    valid_from=admitted_on,
                    valid_to=valid_to,
                    source=f"hospital post-identification {case.id} ({rules.id})",
                    actor=user.username,
                )
    record_change(
        session=session,
        actor=user.username,
        entity="targeting_hospital_cases",
        entity_id=case.id,
        action="create",
        after={
            "household_id": household.id,
            "category": case.category,
            "admitted_on": admitted_on,
            "valid_to": valid_to,
            "status": case.status,
        },
    )
    return case


def _granted_case(session: Session, case_id: int, user: User) -> TargetingHospitalCase:
    record = f"targeting hospital case {case_id}"
    case = session.get(TargetingHospitalCase, case_id)
    if case is None:
        raise NotFound(record, "id", "unknown case")
    if case.status != "granted":
        raise Conflict(record, "status", f"is {case.status}; only a granted case is confirmed or withdrawn")
    household = session.get(Household, case.household_id)
    assert household is not None
    _require_area_user(session, user, household.location_id, record)
    return case


def confirm_hospital_case(*, session: Session, case_id: int, on: dt.date, user: User) -> TargetingHospitalCase:
    """Confirm a stay's eligibility: the category then runs for the rules' validity from admission."""
    case = _granted_case(session, case_id, user)
    rules = rules_of(case)
    assert case.valid_to is not None
    until = valid_until(rules, case.category, case.admitted_on)
    if until > case.valid_to:
        for person_id in _members(session, case.household_id, case.admitted_on):
            for category in rules.grants_of(case.category):
                set_category(
                    session=session,
                    person_id=person_id,
                    category=category,
                    valid_from=case.valid_to + dt.timedelta(days=1),
                    valid_to=until,
                    source=f"hospital post-identification {case.id} confirmed",
                    actor=user.username,
                )
    case.status = "confirmed"
    case.decided_on = on
    case.decided_by = user.username
    session.flush()
    record_change(
        session=session,
        actor=user.username,
        entity="targeting_hospital_cases",
        entity_id=case.id,
        action="confirm",
        after={"status": case.status, "decided_on": on, "valid_to": until},
    )
    return case


def withdraw_hospital_case(
    *, session: Session, case_id: int, on: dt.date, user: User, reason: str | None = None
) -> TargetingHospitalCase:
    """Withdraw a stay's eligibility: the members' category ends on ``on`` (or stays as it is if it ended).
    A ``reason``, when given, is checked like a decision's and kept in the change log."""
    case = _granted_case(session, case_id, user)
    why = _reason_text(reason, f"targeting hospital case {case_id}") if reason is not None else None
    rules = rules_of(case)
    assert case.valid_to is not None
    if on < case.admitted_on:
        raise ValidationFailed(f"targeting hospital case {case_id}", "on", "before the admission")
    if on < case.valid_to:
        for person_id in _members(session, case.household_id, case.admitted_on):
            for category in rules.grants_of(case.category):
                end_category(session=session, person_id=person_id, category=category, valid_to=on, actor=user.username)
    case.status = "withdrawn"
    case.decided_on = on
    case.decided_by = user.username
    session.flush()
    record_change(
        session=session,
        actor=user.username,
        entity="targeting_hospital_cases",
        entity_id=case.id,
        action="withdraw",
        after={"status": case.status, "decided_on": on, **({"reason": why} if why is not None else {})},
    )
    return case


# --------------------------------------------------------------------------------------------
# Reading for the web pages: rounds of an area with their counts, one village's list a page at a
# time, the objections and decisions of a round, and whether a user may approve it. They write
# nothing.


@dataclass(frozen=True, slots=True)
class RoundSummary:
    round: TargetingRound
    area_code: str
    area_name: str
    households: int
    listed: int  # households whose final category is not "none"
    pending_objections: int


@dataclass(frozen=True, slots=True)
class ObjectionView:
    id: int
    household_code: str
    asked_category: str
    grounds: str
    lodged_on: dt.date
    status: str
    ruling: str | None
    decided_on: dt.date | None


@dataclass(frozen=True, slots=True)
class DecisionView:
    household_code: str
    kind: str
    from_category: str
    to_category: str
    reason: str
    decided_on: dt.date
    decided_by: str


def rounds_page(*, session: Session, visible: Any, limit: int, offset: int) -> tuple[list[RoundSummary], int]:
    """The rounds ``visible`` (a scoping filter on the rounds) admits, newest first, with their counts."""
    total = session.scalar(select(func.count()).select_from(TargetingRound).where(visible)) or 0
    rows = session.execute(
        select(TargetingRound, Location.code, Location.name)
        .join(Location, Location.id == TargetingRound.location_id)
        .where(visible)
        .order_by(TargetingRound.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    ids = [row[0].id for row in rows]
    households: dict[int, int] = {}
    listed: dict[int, int] = {}
    pending: dict[int, int] = {}
    if ids:
        for round_id, count, on_list in session.execute(
            select(
                TargetingHousehold.round_id,
                func.count(),
                func.count().filter(TargetingHousehold.final.is_not(None), TargetingHousehold.final != NOT_IDENTIFIED),
            )
            .where(TargetingHousehold.round_id.in_(ids))
            .group_by(TargetingHousehold.round_id)
        ):
            households[round_id], listed[round_id] = count, on_list
        for round_id, count in session.execute(
            select(TargetingHousehold.round_id, func.count())
            .join(TargetingObjection, TargetingObjection.entry_id == TargetingHousehold.id)
            .where(TargetingHousehold.round_id.in_(ids), TargetingObjection.status == "pending")
            .group_by(TargetingHousehold.round_id)
        ):
            pending[round_id] = count
    summaries = [
        RoundSummary(
            round=row,
            area_code=code,
            area_name=name,
            households=households.get(row.id, 0),
            listed=listed.get(row.id, 0),
            pending_objections=pending.get(row.id, 0),
        )
        for row, code, name in rows
    ]
    return summaries, total


def villages(*, session: Session, round_id: int) -> list[tuple[str, int]]:
    """The villages of a round with their household counts, by name."""
    return [
        (village, count)
        for village, count in session.execute(
            select(TargetingHousehold.village, func.count())
            .where(TargetingHousehold.round_id == round_id)
            .group_by(TargetingHousehold.village)
            .order_by(TargetingHousehold.village)
        )
    ]


def village_page(*, session: Session, round_id: int, village: str, limit: int, offset: int) -> list[ListedHousehold]:
    """One village's households of a round (by household code), a page at a time."""
    query = (
        select(TargetingHousehold, Household.code)
        .join(Household, Household.id == TargetingHousehold.household_id)
        .where(TargetingHousehold.round_id == round_id, TargetingHousehold.village == village)
        .order_by(Household.code)
        .limit(limit)
        .offset(offset)
    )
    return [
        ListedHousehold(entry.id, code, entry.village, entry.proposed, entry.final, entry.reason)
        for entry, code in session.execute(query)
    ]


def objections_of(*, session: Session, round_id: int) -> list[ObjectionView]:
    rows = session.execute(
        select(TargetingObjection, Household.code)
        .join(TargetingHousehold, TargetingHousehold.id == TargetingObjection.entry_id)
        .join(Household, Household.id == TargetingHousehold.household_id)
        .where(TargetingHousehold.round_id == round_id)
        .order_by(TargetingObjection.id)
    )
    return [
        ObjectionView(o.id, code, o.asked_category, o.grounds, o.lodged_on, o.status, o.ruling, o.decided_on)
        for o, code in rows
    ]


def decisions_of(*, session: Session, round_id: int) -> list[DecisionView]:
    rows = session.execute(
        select(TargetingDecision, Household.code)
        .join(TargetingHousehold, TargetingHousehold.id == TargetingDecision.entry_id)
        .join(Household, Household.id == TargetingHousehold.household_id)
        .where(TargetingHousehold.round_id == round_id)
        .order_by(TargetingDecision.id)
    )
    return [
        DecisionView(code, d.kind, d.from_category, d.to_category, d.reason, d.decided_on, d.decided_by)
        for d, code in rows
    ]


def approval_refusal(*, session: Session, round_id: int, user: User) -> Forbidden | None:
    """Why ``user`` may not approve the round (the level the rules name, the area), or None if it may."""
    round_ = get_round(session=session, round_id=round_id)
    try:
        _require_approver(session, user, round_, rules_of(round_).procedure.approving_level)
    except Forbidden as refusal:
        return refusal
    return None


def area_level(*, session: Session, location_id: int | None) -> str | None:
    """The level of a user's area (commune, district...), None for no area."""
    if location_id is None:
        return None
    return session.scalar(select(Location.level).where(Location.id == location_id))


# --------------------------------------------------------------------------------------------
# Reading for the web pages: the stays awaiting confirmation, and the approved rounds' households
# for measuring their errors against the households' consumption. They write nothing.


@dataclass(frozen=True, slots=True)
class HospitalCaseView:
    case: TargetingHospitalCase
    household_code: str
    facility_code: str | None
    facility_name: str | None


def hospital_cases_awaiting(
    *, session: Session, visible: Any, limit: int, offset: int
) -> tuple[list[HospitalCaseView], int]:
    """Granted stays (``visible``: a scoping filter on the cases) still to be confirmed or withdrawn,
    the oldest admission first, a page at a time, with their count."""
    awaiting = (TargetingHospitalCase.status == "granted", visible)
    total = session.scalar(select(func.count(TargetingHospitalCase.id)).where(*awaiting)) or 0
    rows = session.execute(
        select(TargetingHospitalCase, Household.code, Provider.code, Provider.name)
        .join(Household, Household.id == TargetingHospitalCase.household_id)
        .outerjoin(Provider, Provider.id == TargetingHospitalCase.provider_id)
        .where(*awaiting)
        .order_by(TargetingHospitalCase.admitted_on, TargetingHospitalCase.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [HospitalCaseView(case, code, facility, name) for case, code, facility, name in rows], total


@dataclass(frozen=True, slots=True)
class ApprovedHouseholds:
    """One approved round's households as columns: registry id, area type, whether the round's final
    list identifies it, and its members on the day of approval."""

    round: TargetingRound
    area_code: str
    area_name: str
    household_ids: list[int]
    area_types: list[str]
    identified: list[bool]
    members: list[int]


def approved_households(*, session: Session, visible: Any) -> list[ApprovedHouseholds]:
    """The households of every approved round ``visible`` admits (a scoping filter on the rounds), by
    round in the order of their areas' codes; members counted alive and unmerged on approval day."""
    rounds = session.execute(
        select(TargetingRound, Location.code, Location.name)
        .join(Location, Location.id == TargetingRound.location_id)
        .where(TargetingRound.status == "approved", visible)
        .order_by(Location.code, TargetingRound.id)
    ).all()
    result: list[ApprovedHouseholds] = []
    for round_, code, name in rounds:
        on = round_.approved_on or round_.ends_on
        sizes = (
            select(Person.household_id, func.count().label("size"))
            .where(
                # only the round's households: each round reads its own members, not the whole registry
                Person.household_id.in_(
                    select(TargetingHousehold.household_id).where(TargetingHousehold.round_id == round_.id)
                ),
                Person.merged_into_id.is_(None),
                or_(Person.death_date.is_(None), Person.death_date >= on),
            )
            .group_by(Person.household_id)
            .subquery()
        )
        rows = session.execute(
            select(
                TargetingHousehold.household_id, TargetingHousehold.area_type, TargetingHousehold.final, sizes.c.size
            )
            .join(sizes, sizes.c.household_id == TargetingHousehold.household_id)
            .where(TargetingHousehold.round_id == round_.id)
            .order_by(TargetingHousehold.household_id)
        ).all()
        result.append(
            ApprovedHouseholds(
                round=round_,
                area_code=code,
                area_name=name,
                household_ids=[row[0] for row in rows],
                area_types=[row[1] for row in rows],
                identified=[(row[2] or NOT_IDENTIFIED) != NOT_IDENTIFIED for row in rows],
                members=[int(row[3]) for row in rows],
            )
        )
    return result


__all__ = [
    "ApprovalResult",
    "ImportResult",
    "approve_round",
    "approved_households",
    "category_source",
    "capture_answers",
    "confirm_hospital_case",
    "decide",
    "decide_objection",
    "hospital_cases_awaiting",
    "import_answer_rows",
    "import_answers",
    "lodge_objection",
    "open_round",
    "post_identify",
    "preliminary_list",
    "programme_categories",
    "printable_notice",
    "publish_notice",
    "round_category_members",
    "score_round",
    "transitions",
    "withdraw_hospital_case",
]
