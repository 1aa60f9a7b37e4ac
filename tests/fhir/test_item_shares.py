"""Each item's share of a claim's amounts (``fhir_mapping.apportion``), as properties: the shares
add up to the amount to the unit, each is within one unit of its exact proportion, and no share
is negative; a ClaimResponse built from them adds up per category for any items."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from equicover import fhir_mapping as mapping

amounts = st.integers(min_value=0, max_value=10**15)
weights = st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=12)


@given(amount=amounts, nets=weights)
def test_shares_add_up_exactly_and_stay_within_a_unit_of_the_proportion(amount: int, nets: list[int]) -> None:
    shares = mapping.apportion(amount, nets)
    assert len(shares) == len(nets) and sum(shares) == amount and min(shares) >= 0
    whole = sum(nets)
    if whole:
        for share, net in zip(shares, nets):
            exact = Fraction(amount * net, whole)
            assert exact - 1 < share < exact + 1
    else:
        assert shares[0] == amount


@given(
    nets=st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=8),
    data=st.data(),
)
def test_a_claim_response_adds_up_per_category_over_any_items(nets: list[int], data: st.DataObject) -> None:
    total = sum(nets)
    eligible = data.draw(st.integers(min_value=0, max_value=total))
    first = data.draw(st.integers(min_value=0, max_value=eligible))
    second = data.draw(st.integers(min_value=0, max_value=eligible - first))
    claim = SimpleNamespace(
        id=7,
        claim_id="B-1",
        status="settled",
        care_type="outpatient",
        person_id=1,
        provider_id=2,
        submitted_at=dt.datetime(2024, 9, 2, tzinfo=dt.UTC),
        service_date=dt.date(2024, 9, 2),
        days=0,
        total=total,
        eligible=eligible,
        member_oop=eligible - first - second,
        provider_writeoff=0,
        zero_reason=None,
    )
    payments = (
        SimpleNamespace(kind="layer", item_id="basic", payer="Fund", amount=first),
        SimpleNamespace(kind="layer", item_id="assistance", payer="Assistance", amount=second),
    )
    items = tuple(
        mapping.SubmittedItem(sequence=index + 1, net=net, product_or_service={"text": f"item {index}"})
        for index, net in enumerate(nets)
    )
    settled = mapping.SettledClaim(
        claim=claim, payments=payments, currency="VND", minor_digits=0, scheme_code="VN-SHI", items=items
    )
    response = mapping.to_json_value(mapping.claim_response(settled))
    per_item = [
        {entry["category"]["coding"][0]["code"]: entry["amount"]["value"] for entry in item["adjudication"]}
        for item in response["item"]
    ]
    assert [item["itemSequence"] for item in response["item"]] == [item.sequence for item in items]
    whole = {
        "submitted": total,
        "eligible": eligible,
        "basic": first,
        "assistance": second,
        "benefit": first + second,
        "copay": claim.member_oop,
    }
    for code, amount in whole.items():
        assert sum(item[code] for item in per_item) == Decimal(amount), code
    for item, net in zip(per_item, nets):
        assert item["submitted"] == net and item["benefit"] == item["basic"] + item["assistance"]
