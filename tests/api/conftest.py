"""Fixtures of the API tests: a client over the test's rolled-back transaction."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api_helpers import make_client


@pytest.fixture
def client(session_factory) -> TestClient:
    return make_client(session_factory=session_factory)
