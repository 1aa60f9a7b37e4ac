"""Identification of the poor on the web: the registrar's rounds, the HEF operator's interview at
the hospital window and the fund manager's targeting quality.

A round goes through the steps of :mod:`equicover.targeting.service` (answers imported or captured,
scores, the village group's decisions, the notice and its objections, approval by the level the
rules name); each page only shows what the step allows and says, in the user's language, why the
service refused a form. Every step is the service's: a refusal writes nothing (the request is
rolled back before the page is shown again).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import tempfile
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import numpy as np
from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from starlette.datastructures import FormData

import equicover
from equicover.auth.roles import Role
from equicover.claims import service as claims_service
from equicover.errors import EquicoverError, NotFound, ValidationFailed
from equicover.registry.models import Location
from equicover.registry.scoping import ensure_person_visible
from equicover.reports import service as reports_service
from equicover.targeting import service
from equicover.targeting.loader import RulesError, load_rules_text
from equicover.targeting.quality import AreaQuality, QualityReport, quality_of
from equicover.targeting.rules import NOT_IDENTIFIED, TargetingRules, valid_until
from equicover.targeting.scoping import (
    ensure_hospital_case_visible,
    ensure_round_visible,
    hospital_cases_filter,
    rounds_filter,
)
from equicover.targeting.scoring import AnswersFileError
from equicover.targeting.synthetic import eligibility_lines, generate
from equicover.web import queries
from equicover.web.i18n import Localiser
from equicover.web.pages import MAX_PAGE, N_, Page, PageDep, RecordId, WebRoute, label_of, redirect

router = APIRouter(route_class=WebRoute)

ROUND_ROLES = (Role.REGISTRAR,)
HOSPITAL_ROLES = (Role.CLERK,)
QUALITY_ROLES = (Role.FUND_MANAGER, Role.REGISTRAR)
PAGE_SIZE = 25
REJECTIONS_SHOWN = 200
MAX_ANSWERS_BYTES = 20 * 1024 * 1024
MAX_ANSWER_CHARS = 100
ANSWER_FILE_SUFFIXES = (".csv", ".xlsx", ".xlsm")
RULES_DIR = Path(equicover.__file__).resolve().parents[1] / "targeting"
QUALITY_HOUSEHOLDS = 4_000
QUALITY_AREAS = 8

STATUS_LABELS = {
    "collecting": N_("collecting answers"),
    "scored": N_("scored: village review"),
    "notice": N_("list posted: notice period"),
    "approved": N_("approved"),
    "superseded": N_("superseded"),
    "regular": N_("regular round"),
    "on_demand": N_("on-demand identification"),
    "pending": N_("pending"),
    "upheld": N_("upheld"),
    "rejected": N_("rejected"),
    "include": N_("include"),
    "exclude": N_("exclude"),
    "change_level": N_("change level"),
    "objection": N_("objection upheld"),
    "granted": N_("granted for the stay"),
    "not_eligible": N_("not eligible"),
    "commune": N_("commune"),
    "district": N_("district"),
    "province": N_("province"),
    NOT_IDENTIFIED: N_("not identified"),
}

AREA_TYPE_LABELS = {"rural": N_("rural"), "urban": N_("urban")}

# The parts of a scoring reason (written by the scoring in the rules' own words, see
# equicover.targeting.scoring), said again in the page's language.
REASON = N_("%(category)s: %(why)s")
REASON_NONE = N_("no category's conditions hold")
REASON_NONE_FIGURES = N_("no category's conditions hold (%(figures)s)")
REASON_ALWAYS = N_("always")
REASON_AREA = N_("%(types)s area")
REASON_SCORE = {
    "at least": N_("%(score)s score %(value)s, at least %(bound)s"),
    "at most": N_("%(score)s score %(value)s, at most %(bound)s"),
}
REASON_INCOME = {
    "below": N_("income per person %(value)s, below the line of %(bound)s"),
    "at or below": N_("income per person %(value)s, at or below the line of %(bound)s"),
    "at least": N_("income per person %(value)s, at least the line of %(bound)s"),
}
REASON_DEPRIVATIONS = {
    "at least": N_("deprivations %(count)s, at least %(bound)s"),
    "at most": N_("deprivations %(count)s, at most %(bound)s"),
}
REASON_SCORE_FIGURE = N_("%(score)s score %(value)s")
REASON_INCOME_FIGURE = N_("income per person %(value)s")
REASON_DEPRIVATIONS_FIGURE = N_("deprivations %(count)s")
REASON_SEPARATOR = N_(", ")
_FIGURE = r"-?[0-9]+(?:\.[0-9]+)?|-"
_REASON_PARTS = (
    ("area", re.compile(r"(?P<types>[a-z0-9_/]+) area")),
    (
        "score",
        re.compile(
            rf"(?P<score>[a-z][a-z0-9_]*) score (?P<value>{_FIGURE}) (?P<op>at least|at most) (?P<bound>{_FIGURE})"
        ),
    ),
    (
        "income",
        re.compile(
            rf"income per person (?P<value>{_FIGURE}) (?P<op>at or below|below|at least) "
            rf"[a-z][a-z0-9_]* (?P<bound>{_FIGURE})"
        ),
    ),
    ("deprivations", re.compile(r"(?P<count>[0-9]+) deprivation\(s\), (?P<op>at least|at most) (?P<bound>[0-9]+)")),
    ("always", re.compile(r"always")),
)
_REASON_FIGURES = (
    ("score", re.compile(rf"(?P<score>[a-z][a-z0-9_]*) score (?P<value>{_FIGURE})")),
    ("income", re.compile(rf"income per person (?P<value>{_FIGURE})")),
    ("deprivations", re.compile(r"(?P<count>[0-9]+) deprivation\(s\)")),
)
_NONE_REASON = "no category's conditions hold"

ROUND_CHANGES = {
    "opened": N_("Round opened."),
    "captured": N_("Answers recorded."),
    "scored": N_("Every household is scored: the preliminary list is ready."),
    "decided": N_("Decision recorded."),
    "posted": N_("The list is posted: the notice period has started."),
    "objection": N_("Objection received."),
    "ruled": N_("Objection decided."),
    "approved": N_("Round approved: the categories are written in the registry."),
}

# The service's refusals, as the page says them: (field, part of the reason or None, message).
# The first that matches wins, so the more particular come first.
Known = tuple[tuple[str, str | None, str], ...]
ANSWER_REFUSALS: Known = (
    ("household", "missing", N_("Give the household's code.")),
    ("household", "unknown household", N_("No household has this code.")),
    ("household", "not in the area of the round", N_("This household lives outside the round's area.")),
    (
        "household",
        "already imported",
        N_("This household's answers are already recorded in this round, with other answers."),
    ),
    ("household", "more than once", N_("This household appears more than once in the file.")),
    ("area_type", None, N_("Choose the type of area.")),
    ("*", "missing required item", N_("Answer this question: it is required.")),
    ("*", "answer outside the options", N_("Choose one of the options.")),
    ("*", "must be a whole number", N_("Write a whole number within the limits of the question.")),
    ("*", "must be an amount", N_("Write an amount, with no more decimals than the currency has.")),
    ("*", "not an item of the questionnaire", N_("This is not a question of the questionnaire.")),
)
STEP_REFUSALS: Known = (
    ("status", None, N_("This step is not open at this stage of the round.")),
    ("households", "no answers", N_("No answers are recorded yet: import or capture them first.")),
    ("user", "only a registrar", N_("Only a registrar of the area records this step.")),
    ("user", "outside your area", N_("This is outside your area.")),
    ("user", "approval needs an account", N_("Approval needs an account of the level the rules name.")),
    ("user", "approval is by the", N_("Approval is by the level the rules name, not yours.")),
    ("user", "the round's area is outside yours", N_("The round's area is outside yours.")),
    ("on", "before the round started", N_("This day is before the round started.")),
    ("on", "objections are received from", N_("This day is outside the period in which objections are received.")),
    ("on", "outside the notice period", N_("This day is outside the notice period.")),
    ("on", "before the objection was lodged", N_("This day is before the objection was received.")),
    ("on", "the notice runs until", N_("The notice period has not ended yet: approval comes after it.")),
    ("objections", None, N_("An objection is not decided yet: decide every objection first.")),
    ("reason", "a reason is required", N_("Give the reason: it is required.")),
    ("reason", "at most", N_("The reason is too long.")),
    ("kind", "on-demand", N_("These rules provide no on-demand identification.")),
    ("kind", "must be regular or on_demand", N_("Choose a regular round or an on-demand identification.")),
    ("kind", "is not on the list: include it", N_("This household is not on the list: include it instead.")),
    ("kind", "is not on the list", N_("This household is not on the list.")),
    ("kind", "already on the list", N_("This household is already on the list.")),
    ("kind", None, N_("Choose include, exclude or change level.")),
    ("to_category", "a change of level names", N_("Choose the new category.")),
    ("to_category", "is already", N_("The household is already in this category.")),
    ("to_category", None, N_("Choose a category of the rules.")),
    ("asked_category", "is already", N_("The household is already in this category.")),
    ("asked_category", None, N_("Choose a category of the rules.")),
    ("household", "is not in the round", N_("This household is not in the round.")),
    ("category", "holds", N_("A member already holds this category: no new decision is needed.")),
    ("rules", "grants unknown", N_("The rules grant a category the registry does not know.")),
    ("rules", "no post-identification", N_("These rules provide no identification at the hospital.")),
    ("rules", None, N_("These rules cannot be used.")),
    ("starts_on", "outside the effective period", N_("The rules are not in force on this day.")),
    ("ends_on", None, N_("The round would end before it starts.")),
    ("area_code", "unknown location", N_("No area has this code.")),
    ("area_code", "above the approving level", N_("This area is above the level that approves the rounds.")),
    ("household_code", "unknown household", N_("No household has this code.")),
    ("id", "unknown", N_("There is no such record.")),
)
FILE_REFUSED = N_(
    "The file cannot be read as answers: send a CSV file in UTF-8 or an Excel workbook with a header row."
)
FILE_COLUMNS = N_("The file lacks the column(s) of: %(columns)s.")
FILE_TWICE = N_("Two columns of the file answer the same question.")
FILE_TOO_LARGE = N_("The file is larger than 20 MB.")
FILE_KIND = N_("Send a CSV or Excel (.xlsx) file.")
DATE_REFUSED = N_("Dates are written YYYY-MM-DD.")
ANSWER_TOO_LONG = N_("The answer is too long.")
NOT_A_FIELD = N_("%(field)s: the value is not accepted.")
CHOOSE_RULES = N_("Choose the rules.")
APPROVAL_LEVEL = N_(
    "Approval is by an account at the %(level)s level of the round's area; your account is at the %(yours)s level."
)
CHOOSE_RULING = N_("Choose whether the objection is upheld or rejected.")
CASE_CHANGES = {
    "confirmed": N_("The stay's identification is confirmed: the category runs for the rules' validity."),
    "withdrawn": N_("The stay's identification is withdrawn: the category ends on the day given."),
}
CASE_REFUSALS: Known = (
    ("on", "is not a date", DATE_REFUSED),
    ("on", "before the admission", N_("This day is before the admission.")),
    ("status", None, N_("This stay is already confirmed or withdrawn.")),
    *STEP_REFUSALS,
)


@functools.lru_cache(maxsize=8)
def shipped_rules() -> dict[str, tuple[str, TargetingRules]]:
    """The rules files shipped with the application, by rules id: (text, rules)."""
    found: dict[str, tuple[str, TargetingRules]] = {}
    for path in sorted(RULES_DIR.glob("*.toml")):
        text = path.read_text(encoding="utf-8")
        try:
            rules = load_rules_text(text, path=path.name)
        except RulesError:
            continue
        found[rules.id] = (text, rules)
    return found


async def posted_form(request: Request) -> FormData:
    """The whole posted form (the questionnaire's fields are named after its items)."""
    return await request.form()


FormDep = Annotated[FormData, Depends(posted_form)]


def _refuse(page: Page, error: EquicoverError, known: Known, field_prefix: dict[str, str] | None = None) -> None:
    """Say a service's refusal in the page's language, on its field (``a_<item>`` for a question)."""
    field = getattr(error, "field", None)
    reason = str(getattr(error, "reason", error.message))
    shown_field = (field_prefix or {}).get(field or "", field)
    for known_field, part, message in known:
        if (known_field == field or (known_field == "*" and field is not None)) and (part is None or part in reason):
            page.error(page.lang.gettext(message), field=shown_field)
            return
    page.error(page.lang.gettext(NOT_A_FIELD, field=field or "—"), field=shown_field)


def _file_refusal(page: Page, message: str) -> str:
    """An answers file's refusal in the user's language: the missing columns are named (they are the
    questionnaire's item ids, as in the rules file), the reader's own words are not shown."""
    if "missing column(s)" in message:
        columns = message.split("missing column(s)", 1)[1].strip(" []").replace("'", "")
        return page.lang.gettext(FILE_COLUMNS, columns=columns)
    if "both answer" in message:
        return page.lang.gettext(FILE_TWICE)
    return page.lang.gettext(FILE_REFUSED)


def _date(text: str, field: str, record: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(record, field, "is not a date") from None


def _page_number(p: int) -> int:
    if p > MAX_PAGE:
        raise NotFound("page", "p", "beyond the last page")
    return max(1, p)


def outcome_label(lang: Localiser, rules: TargetingRules | None, code: str | None) -> str:
    """A category as the reader says it: the rules file's text in their language, else English."""
    if code is None:
        return "—"
    if code == NOT_IDENTIFIED:
        return lang.gettext(STATUS_LABELS[NOT_IDENTIFIED])
    for outcome in rules.outcomes if rules else ():
        if outcome.id == code:
            return outcome.label_in(lang.language)
    return code


def _figure(lang: Localiser, text: str, money_digits: int | None = None) -> str:
    """A figure of a reason as the reader writes numbers; money with all the currency's decimals."""
    if text == "-":
        return "—"
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the patterns only let figures through
        return text
    if money_digits is not None:
        return lang.money(int(number.scaleb(money_digits)), money_digits)
    return lang.number(number)


def _reason_parts(
    lang: Localiser,
    text: str,
    patterns: tuple[tuple[str, re.Pattern[str]], ...],
    figures_only: bool,
    money_digits: int,
) -> list[str] | None:
    """The parts of ``text`` (joined by ", ") in the reader's language; None when a part is not known."""
    parts: list[str] = []
    position = 0
    while position < len(text):
        for kind, pattern in patterns:
            found = pattern.match(text, position)
            if found is None or (found.end() != len(text) and not text.startswith(", ", found.end())):
                continue
            values = found.groupdict()
            if kind == "area":
                types = [
                    lang.gettext(AREA_TYPE_LABELS[name]) if name in AREA_TYPE_LABELS else name
                    for name in values["types"].split("/")
                ]
                parts.append(lang.gettext(REASON_AREA, types=" / ".join(types)))
            elif kind == "always":
                parts.append(lang.gettext(REASON_ALWAYS))
            elif figures_only:
                message = {"score": REASON_SCORE_FIGURE, "income": REASON_INCOME_FIGURE}.get(
                    kind, REASON_DEPRIVATIONS_FIGURE
                )
                parts.append(
                    lang.gettext(message, **_localised(lang, values, money_digits if kind == "income" else None))
                )
            else:
                table = {"score": REASON_SCORE, "income": REASON_INCOME}.get(kind, REASON_DEPRIVATIONS)
                message = table[values["op"]]
                parts.append(
                    lang.gettext(message, **_localised(lang, values, money_digits if kind == "income" else None))
                )
            position = found.end() + 2
            break
        else:
            return None
    return parts


def _localised(lang: Localiser, values: dict[str, str], money_digits: int | None) -> dict[str, str]:
    return {
        key: (value if key in ("score", "op") else _figure(lang, value, money_digits))
        for key, value in values.items()
        if value is not None
    }


def reason_in(lang: Localiser, rules: TargetingRules | None, reason: str | None) -> str:
    """The scoring's reason ("level_1: idpoor score 61 at least 59") in the reader's language, made of
    the category's label, the figures and the thresholds; a reason of another form is shown as stored."""
    if not reason:
        return ""
    code, _, why = reason.partition(": ")
    if not why:
        return reason
    separator = lang.gettext(REASON_SEPARATOR)
    category = outcome_label(lang, rules, code)
    digits = rules.minor_digits if rules else 0
    if code == NOT_IDENTIFIED and why.startswith(_NONE_REASON):
        rest = why[len(_NONE_REASON) :]
        if not rest:
            return lang.gettext(REASON, category=category, why=lang.gettext(REASON_NONE))
        figures = (
            _reason_parts(lang, rest.strip()[1:-1], _REASON_FIGURES, True, digits)
            if rest.strip().startswith("(")
            else None
        )
        if figures is None:
            return reason
        return lang.gettext(
            REASON, category=category, why=lang.gettext(REASON_NONE_FIGURES, figures=separator.join(figures))
        )
    parts = _reason_parts(lang, why, _REASON_PARTS, False, digits)
    if parts is None:
        return reason
    return lang.gettext(REASON, category=category, why=separator.join(parts))


def _labels(page: Page, rules: TargetingRules | None = None) -> dict[str, Any]:
    status = label_of(page.lang, STATUS_LABELS)

    def area_type(code: str) -> str:
        return page.lang.gettext(AREA_TYPE_LABELS[code]) if code in AREA_TYPE_LABELS else code

    return {
        "status_label": status,
        "outcome_label": functools.partial(outcome_label, page.lang, rules),
        "reason_text": functools.partial(reason_in, page.lang, rules),
        "area_type_label": area_type,
    }


def programme_rules(page: Page) -> str:
    """The shipped rules of the province's own programme: those in the currency of the stored benefit
    policy (in force on the pages' day, else any stored), in force that day if several; else the first."""
    shipped = shipped_rules()
    day = page.data_day.day
    currencies = [currency for currency, _ in claims_service.money_in_force(session=page.session, starts=day, ends=day)]
    if not currencies:
        versions, _ = claims_service.list_policy_versions(session=page.session, limit=20)
        currencies = [version.currency for version in versions]
    for currency in currencies:
        matching = [rules_id for rules_id, (_, rules) in shipped.items() if rules.currency == currency]
        in_force = [
            rules_id
            for rules_id in matching
            if shipped[rules_id][1].effective_from <= day <= (shipped[rules_id][1].effective_to or dt.date.max)
        ]
        if in_force or matching:
            return (in_force or matching)[0]
    return next(iter(shipped), "")


def _answers_of(form: FormData, rules: TargetingRules) -> dict[str, str]:
    """The questionnaire's answers of a posted form (``a_<item>``), empty ones left out."""
    answers: dict[str, str] = {}
    for item in rules.items:
        value = form.get(f"a_{item.id}")
        if isinstance(value, str) and value.strip():
            if len(value) > MAX_ANSWER_CHARS:
                raise ValidationFailed("answers", item.id, "too long")
            answers[item.id] = value.strip()
    return answers


def _text(form: FormData, name: str, limit: int = 200) -> str:
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    if len(value) > limit:
        raise ValidationFailed("form", name, "too long")
    return value.strip()


# --------------------------------------------------------------------------------------------
# Rounds of the area


@router.get("/targeting")
def rounds_home(page: PageDep, p: int = 1) -> Response:
    page.require(*ROUND_ROLES)
    return _render_rounds(page, _page_number(p))


def _render_rounds(page: Page, p: int = 1, status_code: int = 200, form: dict[str, str] | None = None) -> Response:
    rows, total = service.rounds_page(
        session=page.session, visible=rounds_filter(page.current_user), limit=PAGE_SIZE, offset=(p - 1) * PAGE_SIZE
    )
    area = page.session.get_one(Location, page.current_user.location_id) if page.current_user.location_id else None
    day = page.data_day.day
    defaults = {
        "rules": programme_rules(page),
        "area_code": area.code if area else "",
        "starts_on": day.isoformat(),
        "ends_on": (day + dt.timedelta(days=30)).isoformat(),
        "kind": "regular",
    }
    return page.render(
        "targeting_rounds.html",
        status_code=status_code,
        rows=rows,
        total=total,
        p=p,
        pages=max(1, -(-total // PAGE_SIZE)),
        pager_query="",
        rules=shipped_rules(),
        form={**defaults, **(form or {})},
        area=area,
        **_labels(page),
    )


@router.post("/targeting/rounds")
def open_round(
    page: PageDep,
    rules: Annotated[str, Form(max_length=64)] = "",
    area_code: Annotated[str, Form(max_length=64)] = "",
    starts_on: Annotated[str, Form(max_length=10)] = "",
    ends_on: Annotated[str, Form(max_length=10)] = "",
    kind: Annotated[str, Form(max_length=16)] = "regular",
) -> Response:
    page.require(*ROUND_ROLES)
    form = {"rules": rules, "area_code": area_code, "starts_on": starts_on, "ends_on": ends_on, "kind": kind}
    shipped = shipped_rules()
    if rules not in shipped:
        page.error(page.lang.gettext(CHOOSE_RULES), field="rules")
        return _render_rounds(page, status_code=422, form=form)
    try:
        row = service.open_round(
            session=page.session,
            rules_text=shipped[rules][0],
            area_code=area_code.strip(),
            starts_on=_date(starts_on, "starts_on", "targeting round"),
            ends_on=_date(ends_on, "ends_on", "targeting round"),
            user=page.current_user,
            kind=kind,
        )
    except EquicoverError as error:
        page.undo_refused(error)
        _refuse(
            page,
            error,
            (
                (("starts_on", "is not a date", DATE_REFUSED), ("ends_on", "is not a date", DATE_REFUSED))
                + STEP_REFUSALS
            ),
        )
        return _render_rounds(page, status_code=error.status, form=form)
    return redirect(f"/targeting/rounds/{row.id}?changed=opened")


# --------------------------------------------------------------------------------------------
# One round


@dataclass
class Imported:
    read: int
    imported: int
    already: int
    rejected_rows: int
    rejections: list[tuple[int, str, str, str]]  # line, household, field, message


def _answer_message(page: Page, field: str, reason: str) -> str:
    for known_field, part, message in ANSWER_REFUSALS:
        if (known_field == field or (known_field == "*" and field not in ("household", "area_type"))) and (
            part is None or part in reason
        ):
            return page.lang.gettext(message)
    return page.lang.gettext(NOT_A_FIELD, field=field)


def _refuse_answers(
    page: Page, error: EquicoverError, rules: TargetingRules, own_fields: tuple[str, ...], known: Known
) -> None:
    """A refused questionnaire: an answer's refusal goes on its question (``a_<item>``), any other as a step's."""
    field = getattr(error, "field", None) or ""
    reason = str(getattr(error, "reason", ""))
    questions = {item.id: f"a_{item.id}" for item in rules.items}
    if reason == "too long" and field in questions:
        page.error(page.lang.gettext(ANSWER_TOO_LONG), field=questions[field])
    elif field in questions or field in own_fields:
        page.error(_answer_message(page, field, reason), field=questions.get(field, field))
    else:
        _refuse(page, error, known)


def _visible_round(page: Page, round_id: int) -> Any:
    ensure_round_visible(session=page.session, user=page.current_user, round_id=round_id)
    return service.get_round(session=page.session, round_id=round_id)


@router.get("/targeting/rounds/{round_id}")
def round_page(page: PageDep, round_id: RecordId, village: str = "", p: int = 1, changed: str = "") -> Response:
    page.require(*ROUND_ROLES)
    if changed in ROUND_CHANGES:
        page.flashes.append(("ok", page.lang.gettext(ROUND_CHANGES[changed])))
    return _render_round(page, round_id, village=village, p=_page_number(p))


def _render_round(
    page: Page,
    round_id: int,
    *,
    village: str = "",
    p: int = 1,
    status_code: int = 200,
    form: dict[str, Any] | None = None,
    imported: Imported | None = None,
) -> Response:
    round_ = _visible_round(page, round_id)
    rules = service.rules_of(round_)
    villages = service.villages(session=page.session, round_id=round_id)
    counts = dict(villages)
    chosen = village if village in counts else (villages[0][0] if villages else "")
    in_village = counts.get(chosen, 0)
    listed = (
        service.village_page(
            session=page.session, round_id=round_id, village=chosen, limit=PAGE_SIZE, offset=(p - 1) * PAGE_SIZE
        )
        if chosen
        else []
    )
    refusal = service.approval_refusal(session=page.session, round_id=round_id, user=page.current_user)
    objection_end = (
        round_.notice_from + dt.timedelta(days=rules.procedure.objection_days - 1) if round_.notice_from else None
    )
    area = page.session.get_one(Location, round_.location_id)
    refusal_text = None
    if refusal is not None:
        level = service.area_level(session=page.session, location_id=page.current_user.location_id)
        refusal_text = page.lang.gettext(
            APPROVAL_LEVEL,
            level=page.lang.gettext(STATUS_LABELS[rules.procedure.approving_level]),
            yours=page.lang.gettext(STATUS_LABELS.get(level or "", N_("none")))
            if level
            else page.lang.gettext(N_("none")),
        )
    return page.render(
        "targeting_round.html",
        status_code=status_code,
        round=round_,
        rules=rules,
        area=area,
        villages=villages,
        village=chosen,
        listed=listed,
        p=p,
        pages=max(1, -(-in_village // PAGE_SIZE)),
        pager_query=f"village={quote(chosen, safe='')}&",
        objections=service.objections_of(session=page.session, round_id=round_id),
        decisions=service.decisions_of(session=page.session, round_id=round_id),
        approval_refusal=refusal_text,
        objection_end=objection_end,
        on=page.data_day.day,
        # approval comes the day after the notice ends, unless the pages' day is later
        approve_on=max(page.data_day.day, round_.notice_to + dt.timedelta(days=1)) if round_.notice_to else None,
        form=form or {},
        imported=imported,
        **_labels(page, rules),
    )


@router.post("/targeting/rounds/{round_id}/answers")
def import_answers(page: PageDep, round_id: RecordId, answers: Annotated[UploadFile | None, File()] = None) -> Response:
    """Import an answers file (CSV, Excel, KoboToolbox or ODK export): every refused row listed."""
    page.require(*ROUND_ROLES)
    _visible_round(page, round_id)
    if answers is None or not answers.filename:
        page.error(page.lang.gettext(FILE_KIND), field="answers")
        return _render_round(page, round_id, status_code=422)
    suffix = Path(answers.filename).suffix.lower()
    if suffix not in ANSWER_FILE_SUFFIXES:
        page.error(page.lang.gettext(FILE_KIND), field="answers")
        return _render_round(page, round_id, status_code=422)
    content = answers.file.read(MAX_ANSWERS_BYTES + 1)
    if len(content) > MAX_ANSWERS_BYTES:
        page.error(page.lang.gettext(FILE_TOO_LARGE), field="answers")
        return _render_round(page, round_id, status_code=422)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"answers{suffix}"
        path.write_bytes(content)
        try:
            result = service.import_answers(session=page.session, round_id=round_id, path=path, user=page.current_user)
        except AnswersFileError as error:
            page.session.rollback()
            page.error(_file_refusal(page, error.message), field="answers")
            return _render_round(page, round_id, status_code=422)
        except EquicoverError as error:
            page.undo_refused(error)
            _refuse(page, error, STEP_REFUSALS)
            return _render_round(page, round_id, status_code=error.status)
    imported = Imported(
        read=result.rows_read,
        imported=result.imported,
        already=result.already_imported,
        rejected_rows=len({r.line for r in result.rejections}),
        rejections=[
            (r.line, r.household, r.field, _answer_message(page, r.field, r.reason))
            for r in result.rejections[:REJECTIONS_SHOWN]
        ],
    )
    return _render_round(page, round_id, imported=imported)


@router.post("/targeting/rounds/{round_id}/household")
def capture_answers(page: PageDep, round_id: RecordId, form: FormDep) -> Response:
    """One household's answers, typed in the questionnaire's form."""
    page.require(*ROUND_ROLES)
    round_ = _visible_round(page, round_id)
    rules = service.rules_of(round_)
    values = {key: value for key, value in form.items() if isinstance(value, str) and len(value) <= MAX_ANSWER_CHARS}
    try:
        household = _text(form, "household", 64)
        if not household:
            raise ValidationFailed(f"targeting round {round_id}", "household", "missing")
        entry = service.capture_answers(
            session=page.session,
            round_id=round_id,
            household_code=household,
            answers=_answers_of(form, rules),
            user=page.current_user,
            area_type=_text(form, "area_type", 48) or None,
            village=_text(form, "village", 100) or None,
        )
    except EquicoverError as error:
        page.undo_refused(error)
        _refuse_answers(page, error, rules, ("household", "area_type"), STEP_REFUSALS)
        return _render_round(page, round_id, status_code=error.status, form=values)
    return redirect(f"/targeting/rounds/{round_id}?changed=captured&village={quote(entry.village, safe='')}")


@router.post("/targeting/rounds/{round_id}/scoring")
def score_round(page: PageDep, round_id: RecordId) -> Response:
    page.require(*ROUND_ROLES)
    _visible_round(page, round_id)
    try:
        service.score_round(session=page.session, round_id=round_id, user=page.current_user)
    except EquicoverError as error:
        page.undo_refused(error)
        _refuse(page, error, STEP_REFUSALS)
        return _render_round(page, round_id, status_code=error.status)
    return redirect(f"/targeting/rounds/{round_id}?changed=scored")


def _step(page: Page, round_id: int, form: dict[str, Any], village: str, work: Any, changed: str) -> Response:
    """Run one step of the service; a refusal is shown on the round's page with what was typed."""
    try:
        work()
    except EquicoverError as error:
        page.undo_refused(error)
        known: Known = (("on", "is not a date", DATE_REFUSED), ("uphold", None, CHOOSE_RULING), *STEP_REFUSALS)
        _refuse(page, error, known, {"household": "household_code"})
        return _render_round(page, round_id, village=village, status_code=error.status, form=form)
    return redirect(f"/targeting/rounds/{round_id}?changed={changed}&village={quote(village, safe='')}")


@router.post("/targeting/rounds/{round_id}/decisions")
def decide(
    page: PageDep,
    round_id: RecordId,
    household_code: Annotated[str, Form(max_length=64)] = "",
    kind: Annotated[str, Form(max_length=16)] = "",
    to_category: Annotated[str, Form(max_length=48)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    on: Annotated[str, Form(max_length=10)] = "",
    village: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    page.require(*ROUND_ROLES)
    _visible_round(page, round_id)
    form = {"step": "decision", "household_code": household_code, "kind": kind, "to_category": to_category,
            "reason": reason, "on": on}  # fmt: skip
    return _step(
        page,
        round_id,
        form,
        village,
        lambda: service.decide(
            session=page.session,
            round_id=round_id,
            household_code=household_code.strip(),
            kind=kind,
            reason=reason,
            user=page.current_user,
            on=_date(on, "on", f"targeting round {round_id}"),
            to_category=to_category or None,
        ),
        "decided",
    )


@router.post("/targeting/rounds/{round_id}/notice")
def publish_notice(page: PageDep, round_id: RecordId, on: Annotated[str, Form(max_length=10)] = "") -> Response:
    page.require(*ROUND_ROLES)
    _visible_round(page, round_id)
    return _step(
        page,
        round_id,
        {"step": "notice", "on": on},
        "",
        lambda: service.publish_notice(
            session=page.session,
            round_id=round_id,
            on=_date(on, "on", f"targeting round {round_id}"),
            user=page.current_user,
        ),
        "posted",
    )


@router.get("/targeting/rounds/{round_id}/notice")
def printable_notice(page: PageDep, round_id: RecordId) -> Response:
    """The list to post in the villages: household codes and categories, no names."""
    page.require(*ROUND_ROLES)
    round_ = _visible_round(page, round_id)
    rules = service.rules_of(round_)
    listed = service.preliminary_list(session=page.session, round_id=round_id)
    villages = {
        village: [entry for entry in rows if (entry.final or NOT_IDENTIFIED) != NOT_IDENTIFIED]
        for village, rows in listed.items()
    }
    objection_end = (
        round_.notice_from + dt.timedelta(days=rules.procedure.objection_days - 1) if round_.notice_from else None
    )
    return page.render(
        "targeting_notice.html",
        round=round_,
        rules=rules,
        area=page.session.get_one(Location, round_.location_id),
        villages=villages,
        objection_end=objection_end,
        **_labels(page, rules),
    )


@router.post("/targeting/rounds/{round_id}/objections")
def lodge_objection(
    page: PageDep,
    round_id: RecordId,
    household_code: Annotated[str, Form(max_length=64)] = "",
    asked_category: Annotated[str, Form(max_length=48)] = "",
    grounds: Annotated[str, Form(max_length=2000)] = "",
    on: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    page.require(*ROUND_ROLES)
    _visible_round(page, round_id)
    form = {"step": "objection", "household_code": household_code, "asked_category": asked_category,
            "grounds": grounds, "on": on}  # fmt: skip

    def work() -> None:
        try:
            service.lodge_objection(
                session=page.session,
                round_id=round_id,
                household_code=household_code.strip(),
                asked_category=asked_category,
                grounds=grounds,
                on=_date(on, "on", f"targeting round {round_id}"),
                user=page.current_user,
            )
        except ValidationFailed as error:
            if error.field == "reason":  # the grounds of the objection are its reason
                raise ValidationFailed(error.record, "grounds", error.reason) from None
            raise

    return _step(page, round_id, form, "", work, "objection")


@router.post("/targeting/rounds/{round_id}/objections/{objection_id}/decision")
def decide_objection(
    page: PageDep,
    round_id: RecordId,
    objection_id: RecordId,
    uphold: Annotated[str, Form(max_length=8)] = "",
    ruling: Annotated[str, Form(max_length=2000)] = "",
    on: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    page.require(*ROUND_ROLES)
    _visible_round(page, round_id)
    if objection_id not in {o.id for o in service.objections_of(session=page.session, round_id=round_id)}:
        raise NotFound(f"targeting objection {objection_id}", "id", "unknown objection")
    form = {"step": "ruling", "objection_id": objection_id, "uphold": uphold, "ruling": ruling, "on": on}

    def work() -> None:
        if uphold not in ("yes", "no"):
            raise ValidationFailed(f"targeting objection {objection_id}", "uphold", "choose")
        try:
            service.decide_objection(
                session=page.session,
                objection_id=objection_id,
                uphold=uphold == "yes",
                ruling=ruling,
                on=_date(on, "on", f"targeting objection {objection_id}"),
                user=page.current_user,
            )
        except ValidationFailed as error:
            if error.field == "reason":
                raise ValidationFailed(error.record, "ruling", error.reason) from None
            raise

    return _step(page, round_id, form, "", work, "ruled")


@router.post("/targeting/rounds/{round_id}/approval")
def approve_round(page: PageDep, round_id: RecordId, on: Annotated[str, Form(max_length=10)] = "") -> Response:
    page.require(*ROUND_ROLES)
    _visible_round(page, round_id)
    return _step(
        page,
        round_id,
        {"step": "approval", "on": on},
        "",
        lambda: service.approve_round(
            session=page.session,
            round_id=round_id,
            on=_date(on, "on", f"targeting round {round_id}"),
            user=page.current_user,
        ),
        "approved",
    )


# --------------------------------------------------------------------------------------------
# At the hospital window: a patient admitted without being identified before


def _hospital_rules() -> dict[str, tuple[str, TargetingRules]]:
    return {key: value for key, value in shipped_rules().items() if value[1].procedure.hospital_validity_days}


@router.get("/window/persons/{person_id}/post-identification")
def hospital_form(page: PageDep, person_id: RecordId, rules: str = "") -> Response:
    page.require(*HOSPITAL_ROLES)
    ensure_person_visible(session=page.session, user=page.current_user, person_id=person_id)
    return _render_hospital(page, person_id, form={"rules": rules})


def _render_hospital(
    page: Page, person_id: int, *, status_code: int = 200, form: dict[str, Any] | None = None, case: Any = None
) -> Response:
    person = queries.person_row(session=page.session, person_id=person_id)
    if person is None:
        raise NotFound(f"person {person_id}", "id", "unknown person")
    choices = _hospital_rules()
    form = form or {}
    own = programme_rules(page)
    chosen = form.get("rules") if form.get("rules") in choices else (own if own in choices else next(iter(choices), ""))
    rules = choices[chosen][1] if chosen else None
    return page.render(
        "targeting_hospital.html",
        status_code=status_code,
        person=person,
        choices=choices,
        chosen=chosen,
        rules=rules,
        form=form,
        case=case,
        on=page.data_day.day,
        **_labels(page, rules),
    )


@router.post("/window/persons/{person_id}/post-identification")
def post_identify(page: PageDep, person_id: RecordId, form: FormDep) -> Response:
    """Interview the household at the window, score it there and then, and cover the stay if it is poor."""
    page.require(*HOSPITAL_ROLES)
    ensure_person_visible(session=page.session, user=page.current_user, person_id=person_id)
    person = queries.person_row(session=page.session, person_id=person_id)
    if person is None:
        raise NotFound(f"person {person_id}", "id", "unknown person")
    values = {key: value for key, value in form.items() if isinstance(value, str) and len(value) <= MAX_ANSWER_CHARS}
    choices = _hospital_rules()
    chosen = _text(form, "rules", 64)
    if chosen not in choices:
        page.error(page.lang.gettext(CHOOSE_RULES), field="rules")
        return _render_hospital(page, person_id, status_code=422, form=values)
    text, rules = choices[chosen]
    try:
        case = service.post_identify(
            session=page.session,
            rules_text=text,
            household_code=person.household_code,
            answers=_answers_of(form, rules),
            admitted_on=_date(_text(form, "admitted_on", 10), "admitted_on", f"person {person_id}"),
            user=page.current_user,
            area_type=_text(form, "area_type", 48) or None,
        )
    except EquicoverError as error:
        page.undo_refused(error)
        _refuse_answers(page, error, rules, ("area_type",), (("admitted_on", None, DATE_REFUSED), *STEP_REFUSALS))
        return _render_hospital(page, person_id, status_code=error.status, form=values)
    return _render_hospital(page, person_id, form=values, case=case)


# --------------------------------------------------------------------------------------------
# Stays awaiting confirmation: the area's registrar confirms or withdraws each hospital identification


@router.get("/targeting/hospital-cases")
def hospital_cases(page: PageDep, p: int = 1, changed: str = "") -> Response:
    page.require(*ROUND_ROLES)
    if changed in CASE_CHANGES:
        page.flashes.append(("ok", page.lang.gettext(CASE_CHANGES[changed])))
    return _render_cases(page, _page_number(p))


def _render_cases(page: Page, p: int = 1, *, status_code: int = 200, form: dict[str, Any] | None = None) -> Response:
    rows, total = service.hospital_cases_awaiting(
        session=page.session,
        visible=hospital_cases_filter(page.current_user),
        limit=PAGE_SIZE,
        offset=(p - 1) * PAGE_SIZE,
    )
    lang = page.lang
    cases = []
    for row in rows:
        rules = _case_rules(row.case.rules_text)
        cases.append(
            {
                "row": row,
                "category": outcome_label(lang, rules, row.case.category),
                "reason": reason_in(lang, rules, row.case.reason),
                "until": valid_until(rules, row.case.category, row.case.admitted_on) if rules else None,
            }
        )
    return page.render(
        "targeting_cases.html",
        status_code=status_code,
        cases=cases,
        total=total,
        p=p,
        pages=max(1, -(-total // PAGE_SIZE)),
        pager_query="",
        on=page.data_day.day,
        form=form or {},
    )


@functools.lru_cache(maxsize=16)
def _case_rules(rules_text: str) -> TargetingRules | None:
    try:
        return load_rules_text(rules_text, path="rules")
    except RulesError:
        return None


def _decide_case(page: Page, case_id: int, on: str, action: str, reason: str | None = None) -> Response:
    page.require(*ROUND_ROLES)
    ensure_hospital_case_visible(session=page.session, user=page.current_user, case_id=case_id)
    try:
        day = _date(on, "on", f"targeting hospital case {case_id}")
        if action == "confirmed":
            service.confirm_hospital_case(session=page.session, case_id=case_id, on=day, user=page.current_user)
        else:
            service.withdraw_hospital_case(
                session=page.session, case_id=case_id, on=day, user=page.current_user, reason=reason or ""
            )
    except EquicoverError as error:
        page.undo_refused(error)
        _refuse(page, error, CASE_REFUSALS)
        form = {"case": case_id, "action": action, "on": on, "reason": reason or ""}
        return _render_cases(page, status_code=error.status, form=form)
    return redirect(f"/targeting/hospital-cases?changed={action}")


@router.post("/targeting/hospital-cases/{case_id}/confirmation")
def confirm_case(page: PageDep, case_id: RecordId, on: Annotated[str, Form(max_length=10)] = "") -> Response:
    return _decide_case(page, case_id, on, "confirmed")


@router.post("/targeting/hospital-cases/{case_id}/withdrawal")
def withdraw_case(
    page: PageDep,
    case_id: RecordId,
    on: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """End a stay's identification on a day given, for a reason the change log keeps."""
    return _decide_case(page, case_id, on, "withdrawn", reason)


# --------------------------------------------------------------------------------------------
# Targeting quality: inclusion and exclusion errors of each rule set


@functools.lru_cache(maxsize=8)
def _synthetic_quality(rules_id: str) -> QualityReport:
    """The errors of a rule set on synthetic households whose true consumption is known (fixed seed:
    the same figures every time, computed once per process)."""
    rules = shipped_rules()[rules_id][1]
    households = generate(rules, QUALITY_HOUSEHOLDS, seed=1, areas=QUALITY_AREAS)
    return quality_of(rules, households.table, true_line=households.true_line)


@dataclass(frozen=True, slots=True)
class RoundsQuality:
    by_area: list[AreaQuality]  # one row per approved round, named after its area
    total: AreaQuality
    without_consumption: int  # households of the rounds with no consumption recorded that year
    ranked: bool  # some rules have no income line: their truly poor are the poorest, as many as identified


def _rounds_quality(page: Page) -> RoundsQuality:
    """The approved rounds' errors against the consumption recorded for the households in the year of
    approval: truly poor under the rules' highest income line of the area type (per person and year),
    or, for rules that score without a line, the poorest households of the round, as many as it
    identified (the errors of who was chosen for the same coverage)."""
    approved = service.approved_households(session=page.session, visible=rounds_filter(page.current_user))
    # the consumption is recorded in the units of the province's benefit policy (its own minor digits)
    policy_digits = dict(
        claims_service.money_in_force(session=page.session, starts=dt.date(1900, 1, 1), ends=dt.date(2999, 12, 31))
    )
    consumption: dict[int, dict[int, int]] = {}
    rows: list[AreaQuality] = []
    missing = 0
    ranked = False
    for entry in approved:
        rules = _case_rules(entry.round.rules_text)
        if rules is None or not entry.household_ids:
            continue
        year = (entry.round.approved_on or entry.round.ends_on).year
        if year not in consumption:
            recorded_ids, recorded = reports_service.household_consumption_of_year(session=page.session, year=year)
            consumption[year] = dict(zip(recorded_ids, recorded, strict=True))
        of_year = consumption[year]
        keep = [index for index, household in enumerate(entry.household_ids) if household in of_year]
        missing += len(entry.household_ids) - len(keep)
        if not keep:
            continue
        digits = policy_digits.get(rules.currency, rules.minor_digits)
        amounts = np.array([of_year[entry.household_ids[index]] for index in keep], dtype=np.int64)
        members = np.array([max(entry.members[index], 1) for index in keep], dtype=np.int64)
        # per person and year, in the rules' minor units (integers throughout)
        per_person = amounts * 10**rules.minor_digits // 10**digits // members
        identified = np.array([entry.identified[index] for index in keep], dtype=bool)
        lines = eligibility_lines(rules, np.array([entry.area_types[index] for index in keep], dtype=object))
        if lines is None:
            ranked = True
            truly_poor = np.zeros(len(keep), dtype=bool)
            truly_poor[np.argsort(per_person, kind="stable")[: int(identified.sum())]] = True
        else:
            truly_poor = per_person < lines
        rows.append(
            AreaQuality(
                area=f"{entry.area_name} ({entry.area_code})",
                households=len(keep),
                truly_poor=int(truly_poor.sum()),
                identified=int(identified.sum()),
                included_not_poor=int((identified & ~truly_poor).sum()),
                excluded_poor=int((truly_poor & ~identified).sum()),
            )
        )
    total = AreaQuality(
        area="all",
        households=sum(row.households for row in rows),
        truly_poor=sum(row.truly_poor for row in rows),
        identified=sum(row.identified for row in rows),
        included_not_poor=sum(row.included_not_poor for row in rows),
        excluded_poor=sum(row.excluded_poor for row in rows),
    )
    return RoundsQuality(by_area=rows, total=total, without_consumption=missing, ranked=ranked)


@router.get("/targeting/quality")
def quality_page(page: PageDep, rules: str = "") -> Response:
    page.require(*QUALITY_ROLES)
    shipped = shipped_rules()
    chosen = rules if rules in shipped else programme_rules(page)
    report = _synthetic_quality(chosen)
    own = _rounds_quality(page)
    lang = page.lang
    rows = [*report.by_area, report.total]
    summary = [
        {
            "rules": rules_id,
            "name": loaded.name,
            "total": _synthetic_quality(rules_id).total,
            "inclusion": round(100 * _synthetic_quality(rules_id).total.inclusion_error, 1),
            "exclusion": round(100 * _synthetic_quality(rules_id).total.exclusion_error, 1),
        }
        for rules_id, (_, loaded) in shipped.items()
    ]
    data = {
        "rtl": lang.direction == "rtl",
        "locale": lang.locale.replace("_", "-"),
        "areas": [row.area for row in report.by_area],
        "inclusion": [round(100 * row.inclusion_error, 1) for row in report.by_area],
        "exclusion": [round(100 * row.exclusion_error, 1) for row in report.by_area],
        "rule_sets": [item["rules"] for item in summary],
        "rule_inclusion": [item["inclusion"] for item in summary],
        "rule_exclusion": [item["exclusion"] for item in summary],
        "labels": {"inclusion": lang.gettext(N_("Inclusion error")), "exclusion": lang.gettext(N_("Exclusion error"))},
        "round_areas": [row.area for row in own.by_area],
        "round_inclusion": [round(100 * row.inclusion_error, 1) for row in own.by_area],
        "round_exclusion": [round(100 * row.exclusion_error, 1) for row in own.by_area],
    }
    return page.render(
        "targeting_quality.html",
        shipped=shipped,
        chosen=chosen,
        rows=rows,
        report=report,
        summary=summary,
        households=QUALITY_HOUSEHOLDS,
        own=own,
        own_rows=[*own.by_area, own.total] if own.by_area else [],
        payload=json.dumps(data, ensure_ascii=False).replace("</", "<\\/"),
    )
