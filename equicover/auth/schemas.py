"""Pydantic shapes of the auth endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from equicover.auth.roles import Role


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: dt.datetime
    username: str
    role: Role


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=12, max_length=200)
    role: Role
    area: str | None = Field(
        default=None, max_length=64, description="location code of any level (province, district, commune...)"
    )
    provider: str | None = Field(default=None, max_length=64, description="provider code of a clerk")
    language: str = Field(default="en", min_length=2, max_length=8)


class UserOut(BaseModel):
    id: int
    username: str
    role: Role
    location_id: int | None
    provider_id: int | None
    language: str
    active: bool
