"""Fixtures the targeting tests share with others: the commune of the round tests, and the small Viet
Nam world with its FHIR client."""

from tests.fhir.conftest import client, world  # noqa: F401
from tests.targeting.test_rounds import commune  # noqa: F401
