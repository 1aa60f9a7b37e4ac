"""What the targeting API takes and gives (Pydantic)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_ROWS_PER_REQUEST = 10_000
Code = Field(min_length=1, max_length=64)
Reason = Field(min_length=1, max_length=2_000)
RulesText = Field(min_length=1, max_length=256 * 1024)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RoundIn(_Strict):
    rules_text: str = RulesText
    area_code: str = Code
    starts_on: dt.date
    ends_on: dt.date
    kind: Literal["regular", "on_demand"] = "regular"


class RoundOut(BaseModel):
    id: int
    rules_id: str
    kind: str
    location_id: int
    starts_on: dt.date
    ends_on: dt.date
    status: str
    notice_from: dt.date | None
    notice_to: dt.date | None
    approved_on: dt.date | None
    approved_by: str | None
    superseded_by_id: int | None


class AnswerRow(_Strict):
    household: str = Code
    village: str | None = Field(default=None, max_length=100)
    area_type: str | None = Field(default=None, max_length=48)
    answers: dict[str, str] = Field(max_length=200)


class AnswersIn(_Strict):
    rows: list[AnswerRow] = Field(min_length=1, max_length=MAX_ROWS_PER_REQUEST)


class RowRejectionOut(BaseModel):
    line: int
    household: str
    field: str
    reason: str


class ImportOut(BaseModel):
    round_id: int
    rows_read: int
    imported: int
    already_imported: int
    rejections: list[RowRejectionOut]


class ListedOut(BaseModel):
    entry_id: int
    household_code: str
    proposed: str | None
    final: str | None
    reason: str | None


class VillageOut(BaseModel):
    village: str
    households: list[ListedOut]


class DecisionIn(_Strict):
    household_code: str = Code
    kind: Literal["include", "exclude", "change_level"]
    to_category: str | None = Field(default=None, max_length=48)
    reason: str = Reason
    on: dt.date


class DecisionOut(BaseModel):
    id: int
    kind: str
    from_category: str
    to_category: str
    decided_on: dt.date
    decided_by: str


class OnIn(_Strict):
    on: dt.date


class ObjectionIn(_Strict):
    household_code: str = Code
    asked_category: str = Field(min_length=1, max_length=48)
    grounds: str = Reason
    on: dt.date


class ObjectionDecisionIn(_Strict):
    uphold: bool
    ruling: str = Reason
    on: dt.date


class ObjectionOut(BaseModel):
    id: int
    entry_id: int
    asked_category: str
    lodged_on: dt.date
    status: str
    decided_on: dt.date | None


class TransitionOut(BaseModel):
    household_code: str
    before: str
    after: str
    holds_until: dt.date | None


class ApprovalOut(BaseModel):
    round_id: int
    households: int
    categories_written: int
    superseded_round_id: int | None
    transitions: list[TransitionOut]


class HospitalIn(_Strict):
    rules_text: str = RulesText
    household_code: str = Code
    answers: dict[str, str] = Field(max_length=200)
    admitted_on: dt.date
    area_type: str | None = Field(default=None, max_length=48)


class HospitalCaseOut(BaseModel):
    id: int
    household_id: int
    provider_id: int | None
    rules_id: str
    category: str
    reason: str
    admitted_on: dt.date
    valid_to: dt.date | None
    status: str
