"""The error hierarchy: status codes, record/field, and no personal data from pydantic input."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from equicover.errors import Conflict, EquicoverError, NotFound, ValidationFailed, from_pydantic
from equicover.registry.schemas import PersonIn


@pytest.mark.parametrize(
    ("error_type", "status", "code"),
    [(ValidationFailed, 422, "validation_failed"), (NotFound, 404, "not_found"), (Conflict, 409, "conflict")],
)
def test_record_errors_carry_status_code_record_and_field(error_type, status, code) -> None:
    error = error_type("person 42", "birth_date", "is in the future")
    assert isinstance(error, EquicoverError)
    assert error.to_dict() == {
        "status": status,
        "code": code,
        "message": "person 42: birth_date: is in the future",
        "record": "person 42",
        "field": "birth_date",
        "reason": "is in the future",
    }


def test_from_pydantic_names_the_field_and_drops_the_input() -> None:
    with pytest.raises(ValidationError) as caught:
        PersonIn(full_name="Zahra Ahmadi", sex="female", birth_date=dt.date(1990, 1, 1), phone="0912" * 20)
    error = from_pydantic(caught.value, "household H1 members[0]")
    assert (error.record, error.field) == ("household H1 members[0]", "phone")
    assert "0912" not in str(error) and "Zahra" not in str(error)
