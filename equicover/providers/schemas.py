"""Pydantic inputs of the provider services."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Ownership = Literal["public", "private", "non_profit"]
PaymentMethod = Literal["fee_for_service", "fixed_fee", "capitation"]


class ProviderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    level: str = Field(min_length=1, max_length=32)
    location_code: str
    designated: bool = False
    ownership: Ownership = "public"


class ContractIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    scheme_code: str
    provider_code: str
    starts: dt.date
    ends: dt.date
    payment_method: PaymentMethod
    designated_services: str | None = None
