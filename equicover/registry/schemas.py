"""Pydantic inputs of the registry services (shape and types; business rules live in the service)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LocationLevel = Literal["country", "province", "district", "commune", "neighbourhood"]
Sex = Literal["female", "male", "other", "unknown"]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class LocationIn(_Input):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    level: LocationLevel
    parent_code: str | None = None


class CategoryIn(_Input):
    category: str = Field(min_length=1, max_length=32)
    valid_from: dt.date
    valid_to: dt.date | None = None  # inclusive; None = open-ended
    source: str | None = Field(default=None, max_length=200)


class PersonIn(_Input):
    full_name: str = Field(min_length=1, max_length=400)
    given_name: str | None = Field(default=None, max_length=200)
    family_name: str | None = Field(default=None, max_length=200)
    name_script: str | None = Field(default=None, pattern=r"^[A-Z][a-z]{3}$")  # ISO 15924
    sex: Sex
    birth_date: dt.date
    national_id: str | None = Field(default=None, min_length=1, max_length=64)
    id_type: str | None = Field(default=None, min_length=1, max_length=32)
    phone: str | None = Field(default=None, max_length=32)
    # Default: the household's location.
    location_code: str | None = None
    # Default: the later of the household's registration and the birth date.
    registered_on: dt.date | None = None
    categories: list[CategoryIn] = Field(default_factory=list)


class HouseholdIn(_Input):
    code: str = Field(min_length=1, max_length=64)
    location_code: str
    registered_on: dt.date | None = None  # default: today
    members: list[PersonIn] = Field(min_length=1)


class PersonUpdate(_Input):
    """Fields to change on a person; only the fields given are changed."""

    full_name: str | None = Field(default=None, min_length=1, max_length=400)
    given_name: str | None = Field(default=None, max_length=200)
    family_name: str | None = Field(default=None, max_length=200)
    name_script: str | None = Field(default=None, pattern=r"^[A-Z][a-z]{3}$")
    sex: Sex | None = None
    birth_date: dt.date | None = None
    national_id: str | None = Field(default=None, min_length=1, max_length=64)
    id_type: str | None = Field(default=None, min_length=1, max_length=32)
    phone: str | None = Field(default=None, max_length=32)
    location_code: str | None = None
    death_date: dt.date | None = None
