"""The grievance categories, as data (``deadlines.toml`` beside this module): who may complain,
about which kind of record, who handles it, and the days a decision is due in."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from equicover.grievances.models import COMPLAINANT_KINDS, SUBJECT_KINDS

RULES_FILE = Path(__file__).with_name("deadlines.toml")
HANDLER_ROLES = ("registrar", "verifier", "fund_manager")


@dataclass(frozen=True, slots=True)
class CategoryRule:
    code: str
    complainant: str
    subject: str
    handler: str
    days: int


@dataclass(frozen=True, slots=True)
class GrievanceRules:
    effective_from: dt.date
    appeal_days: int
    categories: dict[str, CategoryRule]


@cache
def grievance_rules(path: Path = RULES_FILE) -> GrievanceRules:
    """The rules of the file, checked: a broken file stops the service from starting, not a case."""
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    categories = {}
    for code, table in document["category"].items():
        rule = CategoryRule(code, table["complainant"], table["subject"], table["handler"], int(table["days"]))
        if rule.complainant not in COMPLAINANT_KINDS or rule.subject not in SUBJECT_KINDS:
            raise ValueError(f"{path.name}: category.{code}: unknown complainant or subject")
        if rule.handler not in HANDLER_ROLES or not 1 <= rule.days <= 365:
            raise ValueError(f"{path.name}: category.{code}: handler or days out of range")
        categories[code] = rule
    appeal_days = int(document["appeal_days"])
    if not 1 <= appeal_days <= 365:
        raise ValueError(f"{path.name}: appeal_days out of range")
    return GrievanceRules(document["effective_from"], appeal_days, categories)
