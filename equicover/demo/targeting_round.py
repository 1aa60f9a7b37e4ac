"""The identification part of ``equicover demo``: the province's poor are identified by a round under
its programme's targeting rules (``targeting/*.toml``), not drawn by the generator.

The synthetic province stores each household's true consumption (``household_consumption``). Each
household answers the rules' questionnaire from its consumption against the rules' own line, with
noise, as in the field (:func:`equicover.targeting.synthetic.answers_following`). The demo runs the
round inside the province's generation, before anybody is enrolled, so that the enrolments, the
subsidised contributions and the claims follow what it decides. Then, for every area at the rules'
approving level, the same service steps a registrar would take: a round opened, the answers
imported and scored, the village group's decisions on a few households (one the rules left out
though it is among the poorest, one they listed though it is well off), the notice posted, and
approval on the first day of the programme's year by the area's own account: the categories of
every member are written in the registry, valid from that day for the rules' validity, with the
round as source. The round's inclusion and exclusion errors against the true consumption are
printed, before and after the village's decisions.

A programme without shipped rules (Iran's insurance has no targeting rules file) keeps the
categories the generator gives.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

import equicover
from equicover.auth.models import User
from equicover.auth.roles import Role
from equicover.auth.service import create_account, hash_password
from equicover.db.session import session_scope
from equicover.registry.models import Household, Location, Person
from equicover.reports.models import HouseholdConsumption
from equicover.synth.profile import Profile
from equicover.targeting import service as targeting
from equicover.targeting.loader import load_rules
from equicover.targeting.quality import AreaQuality, area_quality
from equicover.targeting.rules import NOT_IDENTIFIED, TargetingRules
from equicover.targeting.synthetic import answers_following, eligibility_lines

SHIPPED_RULES = Path(equicover.__file__).resolve().parents[1] / "targeting"
# The targeting rules of each synthetic province's programme (synth/profiles); none for Iran.
RULES_OF_PROFILE = {
    "cn-yaan": "cn-registered-poor-2017.toml",
    "kh-takeo": "kh-idpoor-rural-2012.toml",
    "ma-marrakech": "ma-ramed-2011.toml",
    "vn-laocai": "vn-poverty-2022.toml",
}
ENUMERATOR = "demo-targeting"
# Days between the opening of a round and the posting of its list (the interviews).
COLLECTION_DAYS = 30
RURAL_SHARE = 0.7  # of households, where the rules know both urban and rural areas


@dataclass(frozen=True, slots=True)
class IdentificationSummary:
    rules_id: str
    rounds: int
    households: int
    decisions: int
    categories_written: int
    approved_on: dt.date
    by_category: dict[str, int]
    proposed: AreaQuality
    final: AreaQuality


def rules_path_for(profile: Profile) -> Path | None:
    name = RULES_OF_PROFILE.get(profile.id)
    return None if name is None else SHIPPED_RULES / name


def identified_categories(profile: Profile) -> frozenset[str]:
    """The registry categories the province's round gives (none without rules): the generator leaves
    them to the round."""
    path = rules_path_for(profile)
    if path is None:
        return frozenset()
    rules = load_rules(path)
    return frozenset(code for outcome in rules.outcomes for code in outcome.grants)


def _account(session: Session, username: str, location_id: int, password_hash: str) -> User:
    """The demo's account of an area (a registrar), created if absent with the hash of a random password
    nobody is told: the administrator resets it to hand it over."""
    user = session.scalar(select(User).where(User.username == username))
    if user is not None:
        return user
    return create_account(
        session=session,
        username=username,
        password="",
        password_hash=password_hash,
        role=Role.REGISTRAR,
        location_id=location_id,
        actor="demo",
    )


def _true_lines(rules: TargetingRules, profile: Profile, area_types: np.ndarray, per_person: np.ndarray) -> np.ndarray:
    """Per household, the consumption per person and year (the rules' minor units, as ``per_person``)
    under which it is truly poor, i.e. eligible for one of the rules' categories: the highest income
    line of its area type, or, for rules that score without an income line, the consumption of the
    poorest ``poor_household_rate`` of households."""
    lines = eligibility_lines(rules, area_types.astype(str))
    if lines is not None:
        return lines
    return np.full(len(area_types), int(np.quantile(per_person, profile.poor_household_rate)), dtype=np.int64)


@contextmanager
def _unit(session: Session | None) -> Iterator[Session]:
    """The caller's session (its unit of work commits), or one committed here."""
    if session is not None:
        yield session
        session.flush()
        return
    with session_scope() as own:
        yield own


def run_identification(
    *,
    profile: Profile,
    programme_starts: dt.date,
    seed: int,
    console: Console,
    session: Session | None = None,
) -> IdentificationSummary | None:
    """Identify the province's poor by rounds of its programme's rules, approved on ``programme_starts``:
    in ``session`` (never committed here: the province's generation runs the round before it enrols
    anybody) or one unit of work per round."""
    given = session
    path = rules_path_for(profile)
    if path is None:
        console.print(
            f"{profile.province_name}: the programme has no targeting rules shipped; the registry keeps the "
            "generated categories.",
            highlight=False,
        )
        return None
    rules = load_rules(path)
    rules_text = path.read_text(encoding="utf-8")
    approve_on = programme_starts
    notice_on = approve_on - dt.timedelta(days=rules.procedure.notice_days)
    starts_on = max(rules.effective_from, notice_on - dt.timedelta(days=COLLECTION_DAYS))
    level = rules.procedure.approving_level
    random = np.random.default_rng(seed)
    # One hash for the demo's accounts of the areas: hashing is slow on purpose, and there may be hundreds.
    unknown_password = hash_password(secrets.token_urlsafe(24))

    with _unit(given) as session:
        alive = or_(Person.death_date.is_(None), Person.death_date >= approve_on)
        sizes = (
            select(Person.household_id, func.count().label("size"))
            .where(Person.merged_into_id.is_(None), alive)
            .group_by(Person.household_id)
            .subquery()
        )
        area_column = Location.id if level == "commune" else Location.district_id
        rows = session.execute(
            select(Household.id, Household.code, Location.code, area_column, sizes.c.size, HouseholdConsumption.amount)
            .join(Location, Location.id == Household.location_id)
            .join(sizes, sizes.c.household_id == Household.id)
            .join(
                HouseholdConsumption,
                (HouseholdConsumption.household_id == Household.id) & (HouseholdConsumption.year == approve_on.year),
            )
            .order_by(Household.id)
        ).all()
        areas = dict(session.execute(select(Location.id, Location.code).where(Location.level == level)).all())
        province_id = session.scalar(select(Location.id).where(Location.level == "province").order_by(Location.id))
        assert province_id is not None
        _account(session, ENUMERATOR, province_id, unknown_password)
    if not rows:
        console.print("No household to identify.", highlight=False)
        return None

    codes = [row[1] for row in rows]
    villages = [row[2] for row in rows]
    area_of = np.array([row[3] for row in rows], dtype=np.int64)
    members = np.array([row[4] for row in rows], dtype=np.int64)
    per_person = np.array([row[5] for row in rows], dtype=np.int64) // members
    if len(rules.area_types) == 1:
        area_types = np.full(len(rows), rules.area_types[0], dtype=object)
    else:
        rural = "rural" if "rural" in rules.area_types else rules.area_types[0]
        other = next(kind for kind in rules.area_types if kind != rural)
        area_types = np.where(random.random(len(rows)) < RURAL_SHARE, rural, other).astype(object)
    # The truth and the answers in the rules' units: per person and year, the rules' minor units.
    per_person = per_person * 10**rules.minor_digits // 10**profile.minor_digits
    true_lines = _true_lines(rules, profile, area_types, per_person)
    answers = answers_following(
        rules,
        consumption=per_person,
        members=members,
        area_types=area_types.astype(str),
        true_line=true_lines,
        seed=seed,
    )
    truly_poor = per_person < true_lines

    proposed = np.zeros(len(rows), dtype=bool)
    final = np.zeros(len(rows), dtype=bool)
    position = {code: index for index, code in enumerate(codes)}
    counts: dict[str, int] = {}
    written = decisions = rounds = 0
    for area_id in sorted(set(area_of.tolist()), key=lambda key: areas.get(key, "")):
        chosen = np.flatnonzero(area_of == area_id)
        answer_rows = [
            {
                "household": codes[index],
                "area_type": str(area_types[index]),
                "village": villages[index],
                **{item: str(values[index]) for item, values in answers.items() if values[index] != ""},
            }
            for index in chosen
        ]
        with _unit(given) as session:
            enumerator = session.scalar(select(User).where(User.username == ENUMERATOR))
            assert enumerator is not None
            round_id = targeting.open_round(
                session=session,
                rules_text=rules_text,
                area_code=areas[area_id],
                starts_on=starts_on,
                ends_on=max(starts_on, notice_on - dt.timedelta(days=1)),
                user=enumerator,
            ).id
            targeting.import_answer_rows(
                session=session, round_id=round_id, rows=answer_rows, user=enumerator, name="demo questionnaires"
            )
            targeting.score_round(session=session, round_id=round_id, user=enumerator)
            listed = targeting.preliminary_list(session=session, round_id=round_id)
            entries = {entry.household_code: entry for village in listed.values() for entry in village}
            for code, entry in entries.items():
                proposed[position[code]] = (entry.proposed or NOT_IDENTIFIED) != NOT_IDENTIFIED
            decisions += _village_decisions(
                session, round_id, entries, chosen, codes, per_person, truly_poor, enumerator, notice_on
            )
            targeting.publish_notice(session=session, round_id=round_id, on=notice_on, user=enumerator)
            approver = _account(session, f"demo-approver-{areas[area_id].lower()}", area_id, unknown_password)
            result = targeting.approve_round(session=session, round_id=round_id, on=approve_on, user=approver)
            written += result.categories_written
            # what stands after the village's decisions (read from the entries they changed)
            for code, entry in entries.items():
                category = entry.final or NOT_IDENTIFIED
                counts[category] = counts.get(category, 0) + 1
                final[position[code]] = category != NOT_IDENTIFIED
        rounds += 1
    summary = IdentificationSummary(
        rules_id=rules.id,
        rounds=rounds,
        households=len(rows),
        decisions=decisions,
        categories_written=written,
        approved_on=approve_on,
        by_category=dict(sorted(counts.items())),
        proposed=area_quality("all", truly_poor, proposed),
        final=area_quality("all", truly_poor, final),
    )
    print_identification(summary, rules, console)
    return summary


def _village_decisions(
    session: Session,
    round_id: int,
    entries: dict[str, targeting.ListedHousehold],
    chosen: np.ndarray,
    codes: list[str],
    per_person: np.ndarray,
    truly_poor: np.ndarray,
    user: User,
    on: dt.date,
) -> int:
    """The village group knows its households: it includes the poorest one the rules left out and
    excludes the best-off one they listed, when there is such a household (``entries`` follow)."""
    left_out = [i for i in chosen if truly_poor[i] and (entries[codes[i]].final or NOT_IDENTIFIED) == NOT_IDENTIFIED]
    listed = [i for i in chosen if not truly_poor[i] and (entries[codes[i]].final or NOT_IDENTIFIED) != NOT_IDENTIFIED]
    made = 0
    for candidates, pick, kind, reason in (
        (left_out, min, "include", "the village group knows the household lives on very little"),
        (listed, max, "exclude", "the village group knows the household is well off"),
    ):
        if not candidates:
            continue
        code = codes[pick(candidates, key=lambda i: per_person[i])]
        decision = targeting.decide(
            session=session,
            round_id=round_id,
            household_code=code,
            kind=kind,
            reason=reason,
            user=user,
            on=on - dt.timedelta(days=1),
        )
        entries[code] = replace(entries[code], final=decision.to_category)
        made += 1
    return made


def print_identification(summary: IdentificationSummary, rules: TargetingRules, console: Console) -> None:
    console.print(
        f"{summary.rounds:,} round(s) under {rules.name} ({summary.rules_id}): {summary.households:,} households "
        f"interviewed, {summary.decisions:,} village decisions, approved on {summary.approved_on}: "
        f"{summary.categories_written:,} categories written to the registry.",
        highlight=False,
    )
    labels = {outcome.id: outcome.label for outcome in rules.outcomes}
    console.print(
        "Households by category: "
        + ", ".join(f"{labels.get(code, code)} {count:,}" for code, count in summary.by_category.items()),
        highlight=False,
    )
    table = Table(title="Identification errors against the households' true consumption")
    table.add_column("")
    table.add_column("Truly poor", justify="right")
    table.add_column("Identified", justify="right")
    table.add_column("Inclusion error", justify="right")
    table.add_column("Exclusion error", justify="right")
    for name, errors in (("Rules' proposal", summary.proposed), ("After village decisions", summary.final)):
        table.add_row(
            name,
            f"{errors.truly_poor:,}",
            f"{errors.identified:,}",
            f"{errors.inclusion_error:.1%}",
            f"{errors.exclusion_error:.1%}",
        )
    console.print(table)
