"""The real-time engine: hand-worked settlements of docs/settlement.md, "The arithmetic", and properties of
any settlement.

Amounts in the hand-worked cases are CNY written in major units in the policy text and converted
with ``cny`` so the expectations read as the arithmetic on paper.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from equicover.money import RATIO_SCALE, floor_share, round_half_up
from equicover.settlement.loader import load_policy_text
from equicover.settlement.model import (
    Allowance,
    Band,
    Claim,
    Condition,
    FixedFee,
    Layer,
    Policy,
    Variant,
)
from equicover.settlement.realtime_engine import (
    Accumulator,
    ClaimOutsidePolicyError,
    InMemoryAccumulatorStore,
    RealtimeEngine,
    settle_claims,
)

HEADER = """\
[policy]
id = "hand-worked"
name = "Hand-worked cases"
currency = "CNY"
effective_from = 2018-01-01
effective_to = 2018-12-31
year_start = "{year_start}"
provider_levels = ["township", "county"]
care_types = ["outpatient", "inpatient"]
source = "tests"

[diagnosis_groups]
appendicitis = ["K35"]
"""


def policy_of(body: str, year_start: str = "01-01") -> Policy:
    return load_policy_text(HEADER.format(year_start=year_start) + "\n" + body)


def cny(amount: str) -> int:
    return int(Decimal(amount) * 100)


_claim_numbers = iter(range(1, 10**9))


def claim(
    total: str,
    eligible: str | None = None,
    *,
    member: str = "M1",
    day: date = date(2018, 3, 1),
    claim_id: str | None = None,
    care_type: str = "inpatient",
    level: str = "county",
    diagnosis: str = "J18",
    days: int = 0,
    categories: frozenset[str] = frozenset(),
    in_area: bool = True,
) -> Claim:
    return Claim(
        claim_id=claim_id or f"C{next(_claim_numbers):06d}",
        member_id=member,
        service_date=day,
        provider_id="P1",
        provider_level=level,
        designated=True,
        in_area=in_area,
        referred=False,
        care_type=care_type,
        diagnosis=diagnosis,
        days=days,
        total=cny(total),
        eligible=cny(eligible if eligible is not None else total),
        categories=categories,
    )


DEDUCTIBLE = """
[[layer]]
id = "basic"
payer = "Basic insurance"
  [[layer.variant]]
  bands = [ { upto = "800.00", ratio = 0 }, { ratio = 0.75 } ]
"""


def test_deductible_band() -> None:
    engine = RealtimeEngine(policy_of(DEDUCTIBLE), InMemoryAccumulatorStore())
    settled = engine.settle(claim("5000.00", "4000.00"))
    assert settled.paid == {"basic": cny("2400.00")}  # 0.75 x (4000 - 800)
    assert settled.member_oop == cny("2600.00")
    assert (settled.allowed, settled.provider_writeoff) == (cny("5000.00"), 0)
    assert settled.trail == "basic=v1 b1-2"
    below = engine.settle(claim("500.00"))
    assert (below.paid["basic"], below.trail) == (0, "basic=v1 b1-1")
    nothing = engine.settle(claim("10.00", "0"))
    assert (nothing.paid["basic"], nothing.trail) == (0, "basic=v1 b-")


def test_payment_rounds_half_up() -> None:
    engine = RealtimeEngine(policy_of(DEDUCTIBLE), InMemoryAccumulatorStore())
    # 0.75 x 0.02 = 0.015 -> 0.02 ; 0.75 x 0.01 = 0.0075 -> 0.01
    assert engine.settle(claim("800.02")).paid["basic"] == 2
    assert engine.settle(claim("800.01")).paid["basic"] == 1
    # 0.75 x 0.03 = 0.0225 -> 0.02
    assert engine.settle(claim("800.03")).paid["basic"] == 2


YEAR_SCOPE = """
[[layer]]
id = "critical"
payer = "Critical illness insurance"
scope = "year"
  [[layer.variant]]
  bands = [ { upto = "1000.00", ratio = 0 }, { upto = "5000.00", ratio = 0.5 }, { ratio = 0.8 } ]
"""


def test_year_scope_bands_run_across_claims_and_reset_at_year_start() -> None:
    store = InMemoryAccumulatorStore()
    engine = RealtimeEngine(policy_of(YEAR_SCOPE, year_start="07-01"), store)
    first = engine.settle(claim("600.00", day=date(2018, 3, 1)))  # positions 0 -> 600
    other_member = engine.settle(claim("2000.00", member="M2", day=date(2018, 3, 2)))
    second = engine.settle(claim("1000.00", day=date(2018, 5, 1)))  # 600 -> 1600
    third = engine.settle(claim("4000.00", day=date(2018, 6, 30)))  # 1600 -> 5600
    new_year = engine.settle(claim("600.00", day=date(2018, 7, 1)))  # benefit year 2018 starts
    assert first.paid["critical"] == 0
    assert other_member.paid["critical"] == cny("500.00")  # its own positions: 0.5 x (2000 - 1000)
    assert second.paid["critical"] == cny("300.00")  # 400 at 0 + 600 at 0.5
    assert second.trail == "critical=v1 b1-2"
    assert third.paid["critical"] == cny("2180.00")  # 3400 at 0.5 + 600 at 0.8
    assert third.trail == "critical=v1 b2-3"
    assert third.steps[0].position_start == cny("1600.00")
    assert new_year.paid["critical"] == 0
    assert new_year.steps[0].position_start == 0
    assert store.get("M1", "critical", 2017).position == cny("5600.00")
    assert store.get("M1", "critical", 2018).position == cny("600.00")


CAPS = """
[[layer]]
id = "basic"
payer = "Basic insurance"
cap_per_claim = "1000.00"
cap_per_year = "1500.00"
  [[layer.variant]]
  bands = [ { ratio = 1 } ]
"""


def test_cap_per_claim_and_cap_per_year() -> None:
    engine = RealtimeEngine(policy_of(CAPS, year_start="07-01"), InMemoryAccumulatorStore())
    exactly = engine.settle(claim("1000.00", day=date(2018, 1, 5)))
    assert (exactly.paid["basic"], exactly.trail) == (cny("1000.00"), "basic=v1 b1-1")  # equal: no bite
    over = engine.settle(claim("1200.00", day=date(2018, 1, 6)))
    # 1200 -> 1000 by the claim cap -> 500 left of the yearly 1500
    assert (over.paid["basic"], over.trail) == (cny("500.00"), "basic=v1 b1-1 cap_per_claim cap_per_year")
    assert over.steps[0].raw_pay == cny("1200.00")
    spent = engine.settle(claim("10.00", day=date(2018, 1, 7)))
    assert (spent.paid["basic"], spent.trail) == (0, "basic=v1 b1-1 cap_per_year")
    assert spent.member_oop == cny("10.00")
    next_year = engine.settle(claim("10.00", day=date(2018, 8, 1)))
    assert (next_year.paid["basic"], next_year.trail) == (cny("10.00"), "basic=v1 b1-1")


CUMULATIVE = """
[[layer]]
id = "basic"
payer = "Basic insurance"
  [[layer.variant]]
  bands = [ { ratio = 0.8 } ]

[[layer]]
id = "assist"
payer = "Medical assistance"
base = "total"
max_cumulative_share = 0.9
OF_LINE
  [[layer.variant]]
  bands = [ { ratio = 1 } ]
"""


def test_max_cumulative_share_of_total_and_of_eligible() -> None:
    of_total = RealtimeEngine(policy_of(CUMULATIVE.replace("OF_LINE", "")), InMemoryAccumulatorStore())
    settled = of_total.settle(claim("1000.00", "800.00"))
    # basic 0.8 x 800 = 640; assist could pay 360 but at most 0.9 x 1000 - 640 = 260
    assert settled.paid == {"basic": cny("640.00"), "assist": cny("260.00")}
    assert settled.member_oop == cny("100.00")
    assert settled.trail == "basic=v1 b1-1; assist=v1 b1-1 max_cumulative_share"
    of_eligible = RealtimeEngine(
        policy_of(CUMULATIVE.replace("OF_LINE", 'of = "eligible"')), InMemoryAccumulatorStore()
    )
    settled = of_eligible.settle(claim("1000.00", "800.00"))
    assert settled.paid["assist"] == cny("80.00")  # 0.9 x 800 - 640
    # the ceiling is rounded down: 0.9 x 333.33 = 299.997 -> 299.99, minus 0.8 x 333.33 = 266.66(4) -> 266.66
    settled = of_total.settle(claim("333.33"))
    assert settled.paid == {"basic": 26666, "assist": 29999 - 26666}


def test_cumulative_share_never_negative_when_earlier_layers_paid_more() -> None:
    engine = RealtimeEngine(
        policy_of(CUMULATIVE.replace("OF_LINE", "").replace("ratio = 0.8", "ratio = 1")), InMemoryAccumulatorStore()
    )
    settled = engine.settle(claim("1000.00", "1000.00"))
    assert settled.paid == {"basic": cny("1000.00"), "assist": 0}
    # nothing was left to pay, so the ceiling did not strictly reduce anything
    assert settled.trail == "basic=v1 b1-1; assist=v1 b-"


TOTAL_FIRST = """
[[layer]]
id = "assist"
payer = "Assistance on the whole bill"
base = "total"
  [[layer.variant]]
  bands = [ { ratio = 0.5 } ]

[[layer]]
id = "basic"
payer = "Basic insurance"
  [[layer.variant]]
  bands = [ { ratio = 1 } ]
"""


def test_total_base_payment_counts_against_eligible_first() -> None:
    engine = RealtimeEngine(policy_of(TOTAL_FIRST), InMemoryAccumulatorStore())
    settled = engine.settle(claim("1000.00", "600.00"))
    # assist pays 500 of the 1000; that uses 500 of the 600 eligible, so basic has 100 left
    assert settled.paid == {"assist": cny("500.00"), "basic": cny("100.00")}
    assert settled.steps[1].remaining == cny("100.00")
    assert settled.member_oop == cny("400.00")
    settled = engine.settle(claim("1000.00", "300.00"))
    assert settled.paid == {"assist": cny("500.00"), "basic": 0}


OOP_CAP = """
[[layer]]
id = "basic"
payer = "Basic insurance"
  [[layer.variant]]
  bands = [ { ratio = RATIO } ]

[[layer]]
id = "tilt"
payer = "Tilt payment"
kind = "oop_cap"
max_share = 0.1
EXTRA
"""


def oop_cap_policy(ratio: str, extra: str) -> str:
    return OOP_CAP.replace("RATIO", ratio).replace("EXTRA", extra)


def test_oop_cap_with_max_share_on_total_and_on_eligible() -> None:
    engine = RealtimeEngine(policy_of(oop_cap_policy("0.5", "")), InMemoryAccumulatorStore())
    settled = engine.settle(claim("1000.00", "800.00"))
    # basic 400; the member would pay 600; at most 0.1 x 1000 = 100 -> tilt pays 500
    assert settled.paid == {"basic": cny("400.00"), "tilt": cny("500.00")}
    assert (settled.member_oop, settled.trail) == (cny("100.00"), "basic=v1 b1-1; tilt=max_share")
    on_eligible = RealtimeEngine(policy_of(oop_cap_policy("0.5", 'base = "eligible"')), InMemoryAccumulatorStore())
    settled = on_eligible.settle(claim("1000.00", "800.00"))
    # eligible left 400, at most 0.1 x 800 = 80 of it -> tilt pays 320; the 200 outside stays
    assert settled.paid["tilt"] == cny("320.00")
    assert settled.member_oop == cny("280.00")


def test_oop_cap_with_max_per_year() -> None:
    store = InMemoryAccumulatorStore()
    engine = RealtimeEngine(policy_of(oop_cap_policy("0.5", 'max_per_year = "150.00"')), store)
    first = engine.settle(claim("1000.00", day=date(2018, 2, 1)))
    second = engine.settle(claim("1000.00", day=date(2018, 2, 2)))
    third = engine.settle(claim("1000.00", day=date(2018, 2, 3)))
    assert (first.member_oop, first.trail) == (cny("100.00"), "basic=v1 b1-1; tilt=max_share")
    assert (second.member_oop, second.trail) == (cny("50.00"), "basic=v1 b1-1; tilt=max_per_year")
    assert (third.member_oop, third.trail) == (0, "basic=v1 b1-1; tilt=max_per_year")
    assert third.paid["tilt"] == cny("500.00")
    assert store.get("M1", "tilt", 2018).member_share == cny("150.00")


def test_oop_cap_below_its_limit_pays_nothing_but_counts() -> None:
    store = InMemoryAccumulatorStore()
    engine = RealtimeEngine(policy_of(oop_cap_policy("0.95", 'max_per_year = "150.00"')), store)
    settled = engine.settle(claim("100.00"))
    # the member would pay 5.00, below 0.1 x 100 = 10.00
    assert settled.paid["tilt"] == 0
    assert settled.trail == "basic=v1 b1-1; tilt=max_share"
    assert store.get("M1", "tilt", 2018) == Accumulator(position=0, paid=0, member_share=cny("5.00"))


FIXED_FEE = """
[[fixed_fee]]
when = { diagnosis_group = ["appendicitis"], provider_level = ["county"] }
fee = "3800.00"

[[fixed_fee]]
when = { diagnosis = ["K35.8"] }
fee = "1.00"

[[layer]]
id = "basic"
payer = "Basic insurance"
  [[layer.variant]]
  bands = [ { ratio = 1 } ]
"""


def test_fixed_fee_with_positive_and_negative_write_off() -> None:
    engine = RealtimeEngine(policy_of(FIXED_FEE), InMemoryAccumulatorStore())
    settled = engine.settle(claim("5000.00", "4500.00", diagnosis="K35.8"))
    # the first matching fee: allowed 3800, eligible min(4500, 3800)
    assert (settled.allowed, settled.provider_writeoff, settled.fixed_fee) == (cny("3800.00"), cny("1200.00"), 1)
    assert settled.paid["basic"] == cny("3800.00")
    assert settled.member_oop == 0
    assert settled.trail == "fixed_fee=1; basic=v1 b1-1"
    cheaper_bill = engine.settle(claim("3000.00", "2500.00", diagnosis="K35.9"))
    assert (cheaper_bill.allowed, cheaper_bill.provider_writeoff) == (cny("3800.00"), cny("-800.00"))
    assert cheaper_bill.paid["basic"] == cny("2500.00")
    assert cheaper_bill.member_oop == cny("1300.00")
    township = engine.settle(claim("5000.00", diagnosis="K35.8", level="township"))
    assert (township.fixed_fee, township.allowed) == (2, cny("1.00"))
    no_fee = engine.settle(claim("5000.00", level="township", diagnosis="K35.1"))
    assert (no_fee.fixed_fee, no_fee.allowed, no_fee.provider_writeoff) == (None, cny("5000.00"), 0)


ALLOWANCES = """
[[fixed_fee]]
when = { diagnosis_group = ["appendicitis"] }
fee = "3800.00"

[[allowance]]
id = "food"
per = "day"
amount = "50.00"
when = [ { care_type = ["inpatient"], member_category = ["registered_poor", "near_poor"] } ]

[[allowance]]
id = "transport"
per = "claim"
amount = "20.00"
when = { allowed_below = "4000.00" }
"""


def test_allowances_per_day_and_per_claim() -> None:
    engine = RealtimeEngine(policy_of(ALLOWANCES), InMemoryAccumulatorStore())
    poor = frozenset({"registered_poor", "elderly"})
    settled = engine.settle(claim("5000.00", days=3, categories=poor))
    assert settled.allowances == {"food": cny("150.00"), "transport": 0}
    # the fixed fee makes the allowed amount 3800, below 4000
    settled = engine.settle(claim("5000.00", days=3, diagnosis="K35", categories=frozenset({"student"})))
    assert settled.allowances == {"food": 0, "transport": cny("20.00")}
    assert settled.member_oop == cny("3800.00")
    outpatient = engine.settle(claim("100.00", care_type="outpatient", days=0, categories=poor))
    assert outpatient.allowances == {"food": 0, "transport": cny("20.00")}


UNMATCHED = """
[[layer]]
id = "basic"
payer = "Basic insurance"
scope = "year"
when = { care_type = ["inpatient"] }
  [[layer.variant]]
  when = { provider_level = ["county"] }
  bands = [ { ratio = 0.5 } ]
"""


def test_unmatched_layer_or_variant_pays_nothing_and_keeps_accumulators() -> None:
    store = InMemoryAccumulatorStore()
    engine = RealtimeEngine(policy_of(UNMATCHED), store)
    outpatient = engine.settle(claim("100.00", care_type="outpatient"))
    township = engine.settle(claim("100.00", level="township"))
    for settled in (outpatient, township):
        assert settled.paid == {"basic": 0}
        assert settled.steps[0].matched is False
        assert settled.trail == "basic=-"
        assert settled.member_oop == cny("100.00")
    assert len(store) == 0
    county = engine.settle(claim("100.00"))
    assert county.paid == {"basic": cny("50.00")}
    assert store.get("M1", "basic", 2018).position == cny("100.00")


def test_claim_outside_the_policy_period_is_refused() -> None:
    engine = RealtimeEngine(policy_of(DEDUCTIBLE), InMemoryAccumulatorStore())
    with pytest.raises(ClaimOutsidePolicyError) as raised:
        engine.settle(claim("10.00", day=date(2019, 1, 1), claim_id="LATE"))
    assert raised.value.field == "service_date"
    assert "LATE" in str(raised.value)


def test_settle_claims_orders_by_member_date_and_claim_id() -> None:
    policy = policy_of(YEAR_SCOPE)
    claims = [
        claim("3000.00", member="M2", day=date(2018, 5, 1), claim_id="B"),
        claim("3000.00", member="M1", day=date(2018, 6, 1), claim_id="A"),
        claim("3000.00", member="M1", day=date(2018, 5, 1), claim_id="Z"),
        claim("3000.00", member="M1", day=date(2018, 5, 1), claim_id="Y"),
    ]
    settled = settle_claims(policy, claims)
    assert [s.claim_id for s in settled] == ["Y", "Z", "A", "B"]
    # Y comes first in the year, so it carries the deductible: 0.5 x 2000; Z then 0.5 x 2000 + 0.8 x 1000
    assert [s.paid["critical"] for s in settled] == [cny("1000.00"), cny("1800.00"), cny("2400.00"), cny("1000.00")]


# -- properties --------------------------------------------------------------------------------

START = date(2018, 1, 1)
LEVELS = ("township", "county")
CARE = ("outpatient", "inpatient")

ratios = st.integers(0, RATIO_SCALE)
amounts = st.integers(0, 500_000)
conditions = st.one_of(
    st.just(()),
    st.builds(
        lambda care, level, area: (Condition(care_type=care, provider_level=level, in_area=area),),
        st.none() | st.frozensets(st.sampled_from(CARE), min_size=1),
        st.none() | st.frozensets(st.sampled_from(LEVELS), min_size=1),
        st.none() | st.frozensets(st.booleans(), min_size=1),
    ),
)


@st.composite
def band_lists(draw: st.DrawFn) -> tuple[Band, ...]:
    ends = sorted(draw(st.sets(st.integers(1, 400_000), max_size=3)))
    open_end = draw(st.booleans())
    uptos: list[int | None] = list(ends) + ([None] if open_end or not ends else [])
    return tuple(Band(upto=upto, ratio=draw(ratios)) for upto in uptos)


@st.composite
def layers(draw: st.DrawFn, index: int) -> Layer:
    if draw(st.integers(0, 3)) == 0:
        return Layer(
            id=f"l{index}",
            payer="p",
            kind="oop_cap",
            base=draw(st.sampled_from(("total", "eligible"))),
            when=draw(conditions),
            max_share=draw(ratios),
            max_per_year=draw(st.none() | amounts),
        )
    variants = tuple(Variant(when=draw(conditions), bands=draw(band_lists())) for _ in range(draw(st.integers(1, 2))))
    return Layer(
        id=f"l{index}",
        payer="p",
        kind="bands",
        base=draw(st.sampled_from(("eligible", "total"))),
        when=draw(conditions),
        scope=draw(st.sampled_from(("claim", "year"))),
        variants=variants,
        cap_per_claim=draw(st.none() | amounts),
        cap_per_year=draw(st.none() | amounts),
        max_cumulative_share=draw(st.none() | ratios),
        cumulative_share_of=draw(st.sampled_from(("eligible", "total"))),
    )


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    count = draw(st.integers(1, 4))
    month, day = draw(st.sampled_from(((1, 1), (7, 1), (3, 15))))
    return Policy(
        id="random",
        name="random",
        currency="CNY",
        minor_digits=2,
        effective_from=START,
        effective_to=date(2019, 12, 31),
        year_start=(month, day),
        provider_levels=LEVELS,
        care_types=CARE,
        source="hypothesis",
        fixed_fees=tuple(FixedFee(when=draw(conditions), fee=draw(amounts)) for _ in range(draw(st.integers(0, 1)))),
        layers=tuple(draw(layers(index)) for index in range(count)),
        allowances=(Allowance(id="food", per="day", amount=draw(amounts), when=draw(conditions)),),
    )


@st.composite
def claim_lists(draw: st.DrawFn) -> list[Claim]:
    result = []
    for number in range(draw(st.integers(1, 12))):
        total = draw(st.integers(0, 1_000_000))
        result.append(
            Claim(
                claim_id=f"C{number:03d}",
                member_id=draw(st.sampled_from(("M1", "M2"))),
                service_date=START + timedelta(days=draw(st.integers(0, 729))),
                provider_id="P",
                provider_level=draw(st.sampled_from(LEVELS)),
                designated=draw(st.booleans()),
                in_area=draw(st.booleans()),
                referred=draw(st.booleans()),
                care_type=draw(st.sampled_from(CARE)),
                diagnosis="J18",
                days=draw(st.integers(0, 30)),
                total=total,
                eligible=draw(st.integers(0, total)),
            )
        )
    return result


@settings(max_examples=100, deadline=None)
@given(policies(), claim_lists())
def test_settlement_invariants(policy: Policy, claims: list[Claim]) -> None:
    settled = settle_claims(policy, claims)
    by_id = {c.claim_id: c for c in claims}
    layers_by_id = {layer.id: layer for layer in policy.layers}
    yearly_paid: dict[tuple[str, str, int], int] = defaultdict(int)
    yearly_oop_under_cap: dict[tuple[str, str, int], int] = defaultdict(int)
    for settlement in settled:
        source = by_id[settlement.claim_id]
        year = policy.benefit_year(source.service_date)
        assert settlement.provider_writeoff == source.total - settlement.allowed
        assert sum(settlement.paid.values()) + settlement.member_oop == settlement.allowed
        assert settlement.member_oop >= 0
        assert list(settlement.paid) == [layer.id for layer in policy.layers]
        for step in settlement.steps:
            layer = layers_by_id[step.layer_id]
            assert 0 <= step.paid <= step.remaining or (not step.matched and step.paid == 0)
            if layer.cap_per_claim is not None:
                assert step.paid <= layer.cap_per_claim
            yearly_paid[(source.member_id, layer.id, year)] += step.paid
            if layer.cap_per_year is not None:
                assert yearly_paid[(source.member_id, layer.id, year)] <= layer.cap_per_year
            if layer.kind == "oop_cap" and step.matched and layer.base == "total":
                # later layers only lower what the member pays
                assert settlement.member_oop <= floor_share(settlement.allowed, layer.max_share)
                if layer.max_per_year is not None:
                    yearly_oop_under_cap[(source.member_id, layer.id, year)] += settlement.member_oop
                    assert yearly_oop_under_cap[(source.member_id, layer.id, year)] <= layer.max_per_year
        assert settlement.allowances["food"] >= 0


@settings(max_examples=100, deadline=None)
@given(band_lists(), st.lists(st.integers(0, 300_000), min_size=1, max_size=8))
def test_year_scope_is_one_long_claim_up_to_rounding(bands: tuple[Band, ...], eligibles: list[int]) -> None:
    """Year-scope bands over several claims pay what the same bands pay on their sum, within the
    half-unit rounding of each claim."""
    layer = Layer(
        id="year", payer="p", kind="bands", base="eligible", when=(), scope="year", variants=(Variant((), bands),)
    )
    policy = Policy(
        id="p", name="p", currency="CNY", minor_digits=2, effective_from=START, effective_to=None,
        year_start=(1, 1), provider_levels=LEVELS, care_types=CARE, source="s", layers=(layer,),
    )  # fmt: skip
    claims = [
        Claim(
            f"C{i:02d}", "M", START + timedelta(days=i), "P", "county", True, True, False, "inpatient", "J18", 0, e, e
        )
        for i, e in enumerate(eligibles)
    ]
    paid = sum(s.paid["year"] for s in settle_claims(policy, claims))
    position, exact = 0, 0
    for band in bands:
        end = sum(eligibles) if band.upto is None else min(band.upto, sum(eligibles))
        if end > position:
            exact += band.ratio * (end - position)
            position = end
    assert abs(2 * paid * RATIO_SCALE - 2 * exact) <= len(eligibles) * RATIO_SCALE
    assert paid >= 0 and round_half_up(exact, RATIO_SCALE) <= sum(eligibles)
