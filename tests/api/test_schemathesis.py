"""Property-based run of schemathesis against /openapi.json, on SQLite and PostgreSQL.

Every operation of the JSON API and of FHIR is called with valid and invalid generated requests:
none answers 5xx, and every answer of a documented status matches its documented schema. Each
operation is also called once with a NUL byte in one of its strings (query, path or body), which
is refused 422 before the endpoint runs (``http.limits.TextGuard``). A few examples per operation
keep the run short. The requests carry an admin token so they reach the endpoints' own
validation instead of stopping at 401; the database is the small world with its claims, so that
ids generated at random sometimes name stored records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import response_schema_conformance

from equicover.admin.service import create_user
from equicover.api.app import create_app
from equicover.auth.models import User
from equicover.auth.service import issue_token
from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory, session_scope
from tests.api_helpers import TEST_PASSWORD
from tests.conftest import BACKENDS, _drop_postgres_database, _fresh_database
from tests.factories import vn_claims_world

EXAMPLES_PER_OPERATION = 4
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture(scope="module", params=BACKENDS)
def admin_headers_and_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, object]]:
    """(a function that issues a new admin bearer header, the application on a fresh database)."""
    url = _fresh_database(request.param, "schemathesis", tmp_path_factory)
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        vn_claims_world(session)
        admin = create_user(session=session, username="fuzz-admin", password=TEST_PASSWORD, role="admin")
        admin_id = admin.id

    def admin_headers() -> dict[str, str]:
        with session_scope(factory) as session:
            token = issue_token(session=session, user=session.get(User, admin_id))
        return {"Authorization": f"Bearer {token}"}

    app = create_app(session_factory=factory)
    try:
        yield admin_headers, app
    finally:
        engine.dispose()
        if request.param == "postgresql":
            _drop_postgres_database(url)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_operation_answers_5xx_and_answers_match_their_schema(admin_headers_and_app, mode: GenerationMode) -> None:
    admin_headers, app = admin_headers_and_app
    with ExitStack() as stack:
        operations, failures = _run(stack, app, admin_headers, mode, _validated_call)
    assert operations >= 69  # every operation of /openapi.json: the JSON API and FHIR
    assert failures == []


def test_a_nul_byte_in_any_string_of_any_operation_is_refused_422(admin_headers_and_app) -> None:
    admin_headers, app = admin_headers_and_app
    injected: list[str] = []

    def call_with_nul(case: Any, client: Any, all_headers: dict[str, str]) -> None:
        if f"{case.method} {case.path}" in injected:
            return
        where = _inject_nul(case)
        if where is None:
            return  # an operation without any string to carry one (e.g. GET /fhir/metadata)
        response = case.call(session=client, headers=all_headers)
        assert response.status_code == 422, f"{case.method} {case.path} ({where}) -> {response.status_code}"
        if case.path.startswith("/fhir"):
            outcome = response.json()
            assert outcome["resourceType"] == "OperationOutcome"
            assert outcome["issue"][0]["code"] == "invalid"
        else:
            body = response.json()
            assert body["code"] == "validation_failed" and body["field"].startswith(where.split(".")[0])
            assert "control character" in body["reason"]
        injected.append(f"{case.method} {case.path}")

    with ExitStack() as stack:
        operations, failures = _run(stack, app, admin_headers, GenerationMode.POSITIVE, call_with_nul, examples=3)
    assert failures == []
    # 54 of 73 operations take a string; the others take only integer ids, or nothing at all.
    assert len(injected) >= 50, injected


def _validated_call(case: Any, client: Any, all_headers: dict[str, str]) -> None:
    response = case.call(session=client, headers=all_headers)
    assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}"
    case.validate_response(response, checks=CHECKS, headers=all_headers)


def _run(
    stack: ExitStack, app: object, admin_headers: Any, mode: GenerationMode, call: Any, examples: int = 0
) -> tuple[int, list[str]]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    client = stack.enter_context(asgi.get_client(app))  # one client for the run (not one per call)
    failures: list[str] = []
    operations = 0
    headers = admin_headers()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        # Signing out revokes the token it is called with: give it one of its own.
        used = admin_headers() if operation.path == "/api/v1/auth/logout" else headers
        try:
            _property(
                operation,
                mode,
                examples or EXAMPLES_PER_OPERATION,
                lambda case, used=used: call(case, client, {**(case.headers or {}), **used}),
            )()
        except Exception as failure:
            if "Unsatisfiable" not in type(failure).__name__:
                failures.append(f"{operation.label}: {type(failure).__name__}: {str(failure)[:1500]}")
    return operations, failures


def _property(operation: Any, mode: GenerationMode, examples: int, call: Any) -> Any:
    """The Hypothesis test of one operation: ``call`` on each generated case."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: Any) -> None:
        call(case)

    return check


def _inject_nul(case: Any) -> str | None:
    """Put a NUL byte into the first string of the query, the body or the path; where, or None."""
    for name, value in (case.query or {}).items():
        if isinstance(value, str):
            case.query[name] = value + "\x00"
            return f"query.{name}"
    for parameter in case.operation.query:  # a string parameter the example left out
        if '"string"' in json.dumps(parameter.definition.get("schema", {})):
            case.query = {**(case.query or {}), parameter.name: "x\x00"}
            return f"query.{parameter.name}"
    if isinstance(case.body, (dict, list)):
        location = _nul_into(case.body, "body")
        if location is not None:
            return location
    if case.body is None and case.method in ("POST", "PUT", "PATCH") and case.path.startswith("/fhir"):
        case.body = {"resourceType": "Claim\x00"}
        return "body.resourceType"
    for name, value in (case.path_parameters or {}).items():
        if isinstance(value, str):
            case.path_parameters[name] = value + "\x00"
            return "path"
    return None


def _nul_into(document: Any, location: str) -> str | None:
    if isinstance(document, dict):
        for key, value in document.items():
            if isinstance(value, str):
                document[key] = value + "\x00"
                return f"{location}.{key}"
            found = _nul_into(value, f"{location}.{key}")
            if found is not None:
                return found
    elif isinstance(document, list):
        for index, value in enumerate(document):
            if isinstance(value, str):
                document[index] = value + "\x00"
                return f"{location}.{index}"
            found = _nul_into(value, f"{location}.{index}")
            if found is not None:
                return found
    return None


def test_the_refusal_names_the_field_and_never_echoes_the_input(admin_headers_and_app) -> None:
    admin_headers, app = admin_headers_and_app
    from fastapi.testclient import TestClient

    client = TestClient(app)
    headers = admin_headers()
    secret = "Nguyen Van A 079123456789"
    answer = client.patch("/api/v1/persons/1", json={"full_name": secret + "\u0000"}, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["field"] == "body.full_name"
    assert secret not in answer.text
    # Escaped tab and newline are text; an escaped NUL written with a doubled backslash is too.
    fine = json.dumps({"reason": "line one\nline\ttwo \\u0000"}).encode()
    reversal = client.post(
        "/api/v1/claims/NO-SUCH/reversal", content=fine, headers={**headers, "content-type": "application/json"}
    )
    assert reversal.status_code == 404
    # A lone surrogate (valid JSON, not text) is refused like a control character.
    lone = client.post(
        "/api/v1/households", content=b'{"code": "H\\ud800"}', headers={**headers, "content-type": "application/json"}
    )
    assert lone.status_code == 422 and lone.json()["field"] == "body.code"
    assert lone.json()["reason"] == "contains an unpaired surrogate, which is not text"
