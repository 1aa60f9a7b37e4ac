"""Security headers on every response, and the API documentation served without any other host."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from equicover.http.security_headers import CONTENT_SECURITY_POLICY
from tests.api_helpers import make_client

HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


@pytest.mark.parametrize(
    "path", ["/api/v1/auth/me", "/fhir/metadata", "/login", "/static/app.css", "/no-such-page", "/docs"]
)
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    answer = client.get(path)
    for name, value in HEADERS.items():
        assert answer.headers.get(name) == value, (path, name)
    assert "strict-transport-security" not in answer.headers  # plain HTTP is never pinned


def test_the_policy_forbids_inline_script_framing_and_other_origins() -> None:
    directives = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["default-src"] == "'self'"
    assert "unsafe-inline" not in directives["script-src"] and "unsafe-eval" not in CONTENT_SECURITY_POLICY


def test_https_answers_pin_https(session_factory) -> None:
    client = make_client(session_factory=session_factory)
    client.base_url = client.base_url.copy_with(scheme="https")
    answer = client.get("/fhir/metadata")
    assert answer.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


def test_the_documentation_page_loads_only_its_own_assets_and_no_inline_script(client: TestClient) -> None:
    page = "/docs"
    html = client.get(page).text
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts, page
    for attributes, body in scripts:
        assert body.strip() == "", "inline script"
        source = re.search(r'src="([^"]+)"', attributes)
        assert source is not None and source.group(1).startswith("/docs-assets/")
    for reference in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert reference.startswith("/"), reference
    for reference in re.findall(r'src="(/docs-assets/[^"]+)"', html):
        asset = client.get(reference)
        assert asset.status_code == 200 and asset.headers["content-type"].startswith("text/javascript")
        assert len(asset.content) > 100


def test_an_unknown_documentation_asset_is_not_found(client: TestClient) -> None:
    assert client.get("/docs-assets/../../etc/passwd").status_code == 404
    assert client.get("/docs-assets/nothing.js").status_code == 404
