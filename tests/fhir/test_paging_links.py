"""The paging links of a search (``equicover.fhir.search``), as properties: from the first page,
``next`` visits every match exactly once and stops at ``last``; ``previous`` leads back; a
``_count`` above the maximum is capped; what the server does not support never reaches ``self``."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from equicover.fhir.parsing import FhirInputError
from equicover.fhir.search import MAX_COUNT, or_values, read_search

BASE = "http://hospital.example/fhir/"


def search(count: int, offset: int = 0, *extra: tuple[str, str], prefer: str | None = None):
    return read_search(
        resource_type="ExplanationOfBenefit",
        base_url=BASE,
        query=[("patient", "Patient/1"), ("_count", str(count)), ("_offset", str(offset)), *extra],
        supported=("patient",),
        prefer=prefer,
    )


def offset_of(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["_offset"][0])


@settings(deadline=None)
@given(total=st.integers(min_value=0, max_value=600), count=st.integers(min_value=1, max_value=MAX_COUNT))
def test_next_links_visit_every_match_once_and_previous_leads_back(total: int, count: int) -> None:
    offsets, current = [], search(count)
    while True:
        links = dict(current.links(total))
        offsets.append(current.offset)
        assert offset_of(links["first"]) == 0 and offset_of(links["self"]) == current.offset
        if "next" not in links:
            assert offset_of(links["last"]) == current.offset
            break
        following = search(count, offset_of(links["next"]))
        assert offset_of(dict(following.links(total))["previous"]) == current.offset
        current = following
    covered = [index for offset in offsets for index in range(offset, min(offset + count, total))]
    assert covered == list(range(total))


@given(count=st.integers(min_value=MAX_COUNT + 1, max_value=10**18))
def test_a_count_above_the_maximum_is_capped(count: int) -> None:
    assert search(count).count == MAX_COUNT


def test_unsupported_parameters_never_reach_self_and_strict_refuses_them() -> None:
    lenient = search(10, 0, ("_include", "ExplanationOfBenefit:claim"), ("colour", "blue"))
    query = parse_qs(urlsplit(dict(lenient.links(30))["self"]).query)
    assert set(query) == {"patient", "_count", "_offset"}
    with pytest.raises(FhirInputError) as refused:
        search(10, 0, ("colour", "blue"), prefer="return=minimal, handling=strict")
    assert refused.value.status == 400 and refused.value.issues[0][0] == "not-supported"


@given(
    values=st.lists(
        st.text(alphabet="ab|,\\", min_size=1, max_size=6).filter(lambda v: not v.endswith("\\")),
        min_size=1,
        max_size=4,
    )
)
def test_an_or_list_reads_back_the_values_it_was_made_of(values: list[str]) -> None:
    escaped = ",".join(value.replace(",", "\\,") for value in values)
    assert or_values(escaped) == [value for value in values if value]
