"""Property-based run of schemathesis against /openapi.json: no operation answers 5xx.

SQLite only (the point is input handling, not the database), a small number of examples per
operation to keep the suite fast. The requests carry an admin token so they reach the
endpoints' own validation instead of stopping at 401.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.python import asgi

from equicover.admin.service import create_user
from equicover.api.app import create_app
from equicover.auth.service import issue_token
from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory, session_scope
from tests.api_helpers import TEST_PASSWORD
from tests.factories import vn_world

EXAMPLES_PER_OPERATION = 8


@pytest.fixture(scope="module")
def admin_headers_and_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], object]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('schemathesis') / 'equicover.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        vn_world(session)
        admin = create_user(session=session, username="fuzz-admin", password=TEST_PASSWORD, role="admin")
        token = issue_token(session=session, user=admin)
    app = create_app(session_factory=factory)
    yield {"Authorization": f"Bearer {token}"}, app
    engine.dispose()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_operation_answers_5xx(admin_headers_and_app, mode: GenerationMode) -> None:  # type: ignore[no-untyped-def]
    headers, app = admin_headers_and_app
    with ExitStack() as stack:
        _run(stack, app, headers, mode)


def _run(stack: ExitStack, app: object, headers: dict[str, str], mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    client = stack.enter_context(asgi.get_client(app))  # one client for the run (not one per call)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(session=client, headers={**(case.headers or {}), **headers})
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}"
            )

        try:
            check()
        except AssertionError as failure:
            failures.append(str(failure).splitlines()[0])
        except Exception as failure:
            if "Unsatisfiable" not in type(failure).__name__:
                failures.append(f"{operation.label}: {type(failure).__name__}: {str(failure)[:200]}")
    assert operations > 20
    assert failures == []
