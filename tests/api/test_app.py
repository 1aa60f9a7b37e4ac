"""The application mounts every domain's router: a router that goes missing fails here, not in production."""

from __future__ import annotations

from pathlib import Path

import pytest

import equicover
from equicover.api.app import ROUTERS

# One route of each router that the application must serve: (method, path, the router's owner).
EXPECTED_ROUTES = [
    ("POST", "/api/v1/claims", "claims"),
    ("POST", "/api/v1/auth/token", "auth"),
    ("POST", "/api/v1/users", "admin"),
    ("GET", "/api/v1/audit", "admin"),
    ("GET", "/api/v1/persons/1", "registry"),
    ("POST", "/api/v1/schemes", "enrolment"),
    ("POST", "/api/v1/providers", "providers"),
    ("GET", "/fhir/metadata", "fhir"),
    ("GET", "/api/v1/funds/balances", "ledger"),
    ("POST", "/api/v1/payments/batches", "payments"),
    ("GET", "/api/v1/care/untreated", "care"),
    ("GET", "/api/v1/reports/indicators", "reports"),
    ("POST", "/api/v1/verification/samples", "verification"),
    ("GET", "/api/v1/anomaly/flags", "anomaly"),
    ("GET", "/login", "web"),
]


@pytest.mark.parametrize(("method", "path", "owner"), EXPECTED_ROUTES)
def test_every_domain_route_is_served(client, method: str, path: str, owner: str) -> None:
    # Without credentials a served route answers (200, 401 or 422); a route that is not mounted answers 404 or 405.
    answer = client.request(method, path, json={} if method == "POST" else None)
    assert answer.status_code not in (404, 405), f"{owner}: {method} {path} is not served"


def test_an_unknown_route_is_not_served(client) -> None:
    assert client.get("/api/v1/no-such-domain").status_code == 404


def test_every_router_is_listed_once() -> None:
    # Each domain with an HTTP face has one router; listing one twice would register its routes twice.
    assert len(ROUTERS) == len({id(router) for router in ROUTERS})
    assert all(router.routes for router in ROUTERS)
    modules = {router.routes[0].endpoint.__module__.rsplit(".", 1)[0] for router in ROUTERS}
    domains_with_api = {f"equicover.{path.parent.name}" for path in Path(equicover.__file__).parent.glob("*/api.py")}
    assert domains_with_api <= modules | {"equicover.api"}
