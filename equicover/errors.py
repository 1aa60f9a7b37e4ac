"""The typed errors of equicover.

Every refusal a service makes is one of these. Each carries an HTTP-like ``status`` and a stable
machine ``code`` so that a CLI, an API or a batch report can act on it without parsing text.

Messages name the record (its table-like name and id or position) and the field, never personal
data: a national ID, a name or a phone number must not appear in an exception message, because
messages end up in logs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class EquicoverError(Exception):
    """Base of every error equicover raises on purpose."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, object]:
        return {"status": self.status, "code": self.code, "message": self.message}


class RecordError(EquicoverError):
    """An error about one field of one record.

    ``record`` names the record, e.g. ``"person 42"``, ``"household H-001"`` (a code, not a name),
    or ``"household.members[2]"`` for a record not yet written. ``field`` is the attribute name.
    """

    def __init__(self, record: str, field: str, reason: str) -> None:
        self.record = record
        self.field = field
        self.reason = reason
        super().__init__(f"{record}: {field}: {reason}")

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "record": self.record, "field": self.field, "reason": self.reason}


class ValidationFailed(RecordError):
    """The input breaks a rule (a date in the future, an unknown reference, a date outside a period)."""

    status = 422
    code = "validation_failed"


class NotFound(RecordError):
    """The record asked for does not exist."""

    status = 404
    code = "not_found"


class Conflict(RecordError):
    """The input clashes with data already stored (a duplicate key, an overlapping period)."""

    status = 409
    code = "conflict"


class Unauthorized(RecordError):
    """No valid credentials: a missing, unknown or expired token, a wrong password."""

    status = 401
    code = "unauthorized"


class Forbidden(RecordError):
    """The caller is known but its role or area does not allow this (also for records outside its area)."""

    status = 403
    code = "forbidden"


class PayloadTooLarge(RecordError):
    """The request body is larger than the service accepts."""

    status = 413
    code = "payload_too_large"


class Overloaded(RecordError):
    """The service is too far behind to take this request now; retry shortly (``Retry-After``)."""

    status = 503
    code = "overloaded"


class TooManyAttempts(RecordError):
    """Too many failed sign-ins for this account or from this address: wait ``retry_after`` seconds."""

    status = 429
    code = "too_many_requests"

    def __init__(self, record: str, field: str, reason: str, retry_after: int) -> None:
        super().__init__(record, field, reason)
        self.retry_after = max(1, retry_after)

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "retry_after": self.retry_after}


def from_pydantic(exc: ValidationError, record: str) -> ValidationFailed:
    """Turn the first error of a ``pydantic.ValidationError`` into a :class:`ValidationFailed`.

    Only the location and pydantic's reason are kept: the offending input value is dropped,
    because it may be personal data.
    """
    errors = exc.errors(include_input=False)
    first = errors[0]
    location = ".".join(str(part) for part in first.get("loc", ())) or "(record)"
    return ValidationFailed(record, location, str(first.get("msg", "invalid")))
