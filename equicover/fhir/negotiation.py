"""Which formats ``/fhir`` speaks: JSON only, said plainly rather than answered in JSON anyway.

- ``_format`` or ``Accept`` naming only formats not served (XML, Turtle, ...) -> **406**;
- a request body declared as anything but JSON (``application/fhir+xml``, ``text/xml``, ...) ->
  **415**; a search by POST (``<type>/_search``) takes a form (``application/x-www-form-urlencoded``).

``Accept`` lists such as a browser's (``text/html, */*;q=0.8``) accept JSON through ``*/*``.
"""

from __future__ import annotations

from collections.abc import Mapping

JSON_MEDIA_TYPES = frozenset({"application/fhir+json", "application/json", "application/json+fhir"})
JSON_FORMATS = JSON_MEDIA_TYPES | {"json"}
_ACCEPTING_RANGES = JSON_MEDIA_TYPES | {"*/*", "application/*"}
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _media_type(text: str) -> str:
    return text.split(";", 1)[0].strip().lower()


def _quality(text: str) -> float:
    for parameter in text.split(";")[1:]:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0


def accepts_json(accept: str | None) -> bool:
    """Whether an ``Accept`` header lets us answer ``application/fhir+json``."""
    if accept is None or not accept.strip():
        return True
    return any(
        _media_type(item) in _ACCEPTING_RANGES and _quality(item) > 0 for item in accept.split(",") if item.strip()
    )


FORM = "application/x-www-form-urlencoded"


def refusal(
    *, method: str, path: str = "", query: Mapping[str, str], headers: Mapping[str, str]
) -> tuple[int, str] | None:
    """(status, reason) when the request asks for a format not served, else None. A search by
    POST (``.../_search``) sends its parameters as a form, as FHIR says."""
    requested = query.get("_format")
    if requested is not None and _media_type(requested) not in JSON_FORMATS:
        return 406, "_format: only JSON (application/fhir+json) is served"
    if not accepts_json(headers.get("accept")):
        return 406, "Accept: only application/fhir+json is served"
    content_type = headers.get("content-type")
    if path.endswith("/_search"):
        if content_type and _media_type(content_type) != FORM:
            return 415, f"Content-Type: a search by POST sends its parameters as {FORM}"
        return None
    if method in _BODY_METHODS and content_type and _media_type(content_type) not in JSON_MEDIA_TYPES:
        return 415, "Content-Type: send the resource as application/fhir+json"
    return None
