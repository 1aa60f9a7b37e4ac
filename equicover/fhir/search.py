"""The parameters every FHIR search shares, and the paging links of its answer.

- ``_count`` (default 50) is capped at :data:`MAX_COUNT`, never refused: FHIR lets a server
  return fewer than asked, and the ``self`` link says how many a page holds.
- ``_offset`` pages; the answer links ``self``, ``first``, ``previous``, ``next`` and ``last``,
  each an absolute URL a client follows as it is.
- ``_summary=count`` answers the total alone; ``_format`` is checked by :mod:`.negotiation`.
- ``_elements`` keeps only the elements named (and those R4 makes mandatory) in each entry,
  marked ``SUBSETTED``; ``_sort`` orders by the keys a search offers (``-`` before a key: descending).
- A parameter the endpoint does not support is refused (400) when the client sends
  ``Prefer: handling=strict``; otherwise it is ignored and left out of the ``self`` link, so the
  client sees which parameters were applied.
- A value may be an OR list (``identifier=a,b``; ``\\,`` is a comma inside a value); the same
  parameter given twice is an AND.
- A reference parameter takes ``Patient/42``, ``42`` or the absolute ``<base>Patient/42``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from equicover.fhir.parsing import FhirInputError, row_id

MAX_COUNT = 500
DEFAULT_COUNT = 50
MAX_OFFSET = 10**9
COMMON = frozenset({"_count", "_offset", "_summary", "_format"})
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")
_SHOWN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_:.-]{0,63}$")


def strict_handling(prefer: str | None) -> bool:
    """``Prefer: handling=strict`` (RFC 7240 preferences, case-insensitive)."""
    if not prefer:
        return False
    tokens = (token.strip().lower().replace(" ", "") for token in re.split(r"[,;]", prefer))
    return "handling=strict" in tokens


def or_values(value: str) -> list[str]:
    """``"a,b\\,c"`` -> ``["a", "b,c"]``: the values of one OR list, empty ones dropped."""
    parts = (part.replace("\\,", ",") for part in _UNESCAPED_COMMA.split(value))
    return [part for part in parts if part]


def _shown(name: str) -> str:
    return name if _SHOWN_NAME.match(name) else "(unreadable name)"


def _unsigned(name: str, value: str, limit: int | None) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 19:
        raise FhirInputError(400, [("invalid", f"{name} must be a whole number of 0 or more", name)])
    number = int(value)
    if limit is not None and number > limit:
        raise FhirInputError(400, [("invalid", f"{name} must be at most {limit}", name)])
    return number


@dataclass(frozen=True, slots=True)
class Search:
    """A search request as understood: the supported parameters given (name -> each occurrence's
    value), the page asked for, and the parameters that were applied (for the links)."""

    resource_type: str
    base_url: str  # ends with "/"
    params: dict[str, list[str]]
    count: int
    offset: int
    summary_count: bool
    applied: list[tuple[str, str]] = field(default_factory=list)
    elements: tuple[str, ...] = ()
    sort: tuple[tuple[str, bool], ...] = ()  # (key, descending)

    def values(self, name: str) -> list[list[str]]:
        """Each occurrence of ``name`` as its OR list of values."""
        return [or_values(value) for value in self.params.get(name, [])]

    def has(self, *names: str) -> bool:
        return any(name in self.params for name in names)

    def page_url(self, offset: int) -> str:
        query = [*self.applied, ("_count", str(self.count)), ("_offset", str(offset))]
        return f"{self.base_url}{self.resource_type}?{urlencode(query)}"

    def self_url(self) -> str:
        if self.summary_count:
            return f"{self.base_url}{self.resource_type}?{urlencode([*self.applied, ('_summary', 'count')])}"
        return self.page_url(self.offset)

    def links(self, total: int) -> list[tuple[str, str]]:
        """(relation, url) of the page: self, first, previous, next, last."""
        found = [("self", self.self_url())]
        if self.summary_count or self.count == 0:
            return found
        last = ((total - 1) // self.count) * self.count if total > 0 else 0
        found.append(("first", self.page_url(0)))
        if self.offset > 0:
            found.append(("previous", self.page_url(max(0, min(self.offset, last + self.count) - self.count))))
        if self.offset + self.count < total:
            found.append(("next", self.page_url(self.offset + self.count)))
        found.append(("last", self.page_url(last)))
        return found

    def window(self, items: Sequence[object]) -> Sequence[object]:
        """The page of ``items`` (a list already in search order)."""
        if self.summary_count:
            return []
        return items[self.offset : self.offset + self.count]

    @property
    def limit(self) -> int:
        return 0 if self.summary_count else self.count


def read_search(
    *,
    resource_type: str,
    base_url: str,
    query: Iterable[tuple[str, str]],
    supported: Iterable[str],
    prefer: str | None,
    sortable: Iterable[str] = (),
) -> Search:
    """The search ``query`` (name, value pairs as sent) against the ``supported`` parameters and
    the ``sortable`` keys."""
    strict = strict_handling(prefer)
    known = frozenset(supported)
    sort_keys = frozenset(sortable)
    params: dict[str, list[str]] = {}
    applied: list[tuple[str, str]] = []
    count, offset, summary_count = DEFAULT_COUNT, 0, False
    elements: list[str] = []
    sort: list[tuple[str, bool]] = []
    for name, value in query:
        if name == "_elements":
            elements += [element.strip() for element in or_values(value) if element.strip()]
            applied.append((name, value))
            continue
        if name == "_sort":
            keys = [(key.removeprefix("-"), key.startswith("-")) for key in or_values(value)]
            unknown = [key for key, _descending in keys if key not in sort_keys]
            if not unknown:
                sort += keys
                applied.append((name, value))
            elif strict:
                raise FhirInputError(
                    400,
                    [
                        (
                            "not-supported",
                            f"_sort: {_shown(unknown[0])} is not a sort key of {resource_type}"
                            f" (keys: {', '.join(sorted(sort_keys)) or 'none'})",
                            "_sort",
                        )
                    ],
                )
            continue
        if name == "_count":
            count = min(_unsigned(name, value, None), MAX_COUNT)
        elif name == "_offset":
            offset = _unsigned(name, value, MAX_OFFSET)
        elif name == "_format":
            continue  # a JSON format (anything else was answered 406 before the search ran)
        elif name == "_summary" and value in ("count", "false"):
            summary_count = summary_count or value == "count"
        elif name in known:
            params.setdefault(name, []).append(value)
            applied.append((name, value))
        elif strict:
            raise FhirInputError(
                400,
                [("not-supported", f"search parameter {_shown(name)} is not supported on {resource_type}", name)],
            )
    return Search(
        resource_type=resource_type,
        base_url=base_url,
        params=params,
        count=count,
        offset=offset,
        summary_count=summary_count,
        applied=applied,
        elements=tuple(elements),
        sort=tuple(sort),
    )


def reference_id(value: str, resource_type: str, *, name: str, base_url: str) -> int | None:
    """The row id a reference parameter names: ``Patient/42``, ``42`` or ``<base>Patient/42``.

    None when it is well formed but can name nothing here (an id beyond any stored one); 400 when
    it is not a reference to a ``resource_type`` of this server."""
    text = value
    if text.startswith(("http://", "https://")):
        prefix = f"{base_url}{resource_type}/"
        if not text.startswith(prefix):
            raise FhirInputError(
                400, [("invalid", f"{name} must be a {resource_type} of this server ({base_url})", name)]
            )
        text = text[len(prefix) :]
    text = text.removeprefix(f"{resource_type}/")
    if not text.isascii() or not text.isdigit():
        raise FhirInputError(400, [("invalid", f"{name} must be {resource_type}/<id> or <id>", name)])
    return row_id(text)


def token_parts(value: str) -> tuple[str | None, str]:
    """``system|code`` -> (system, code); ``code`` -> (None, code); ``|code`` -> ("", code)."""
    system, separator, code = value.rpartition("|")
    return (system if separator else None), code
