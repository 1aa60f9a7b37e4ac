"""The real-time engine: settle one claim against accumulators read and written through a store.

The arithmetic is the one of ``docs/settlement.md`` (docs/settlement.md, "The arithmetic"), in integer minor units with
ratios scaled by ``RATIO_SCALE``. A policy is compiled once when the engine is built (conditions
become predicates, bands become (start, end, ratio) triples) so that settling a claim does no
parsing. Accumulators are kept per (member, layer, benefit year); a claim's accumulator updates
are written only after the whole claim is settled, so a failure leaves the store untouched.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from equicover.errors import ValidationFailed
from equicover.money import RATIO_SCALE, floor_share, format_money, format_ratio, round_half_up
from equicover.settlement.conditions import Predicate, compile_when
from equicover.settlement.model import (
    Claim,
    ClaimSettlement,
    Layer,
    LayerStep,
    Policy,
)


@dataclass(frozen=True, slots=True)
class Accumulator:
    """One member's running amounts in one layer for one benefit year."""

    position: int = 0  # year-scope band layers: Σ this layer's `remaining` on earlier matched claims
    paid: int = 0  # this layer's payments this year (after every cap)
    member_share: int = 0  # oop_cap layers: what this layer left to the member this year


NO_ACCUMULATION = Accumulator()


class AccumulatorStore(Protocol):
    def get(self, member_id: str, layer_id: str, benefit_year: int) -> Accumulator: ...

    def put(self, member_id: str, layer_id: str, benefit_year: int, accumulator: Accumulator) -> None: ...


class InMemoryAccumulatorStore:
    def __init__(self) -> None:
        self._values: dict[tuple[str, str, int], Accumulator] = {}

    def get(self, member_id: str, layer_id: str, benefit_year: int) -> Accumulator:
        return self._values.get((member_id, layer_id, benefit_year), NO_ACCUMULATION)

    def put(self, member_id: str, layer_id: str, benefit_year: int, accumulator: Accumulator) -> None:
        self._values[(member_id, layer_id, benefit_year)] = accumulator

    def __len__(self) -> int:
        return len(self._values)


class ClaimOutsidePolicyError(ValidationFailed):
    """A claim whose service date is not inside the policy's effective period."""

    code = "outside_policy_period"

    def __init__(self, claim_id: str, policy_id: str) -> None:
        self.claim_id = claim_id
        super().__init__(f"claim {claim_id}", "service_date", f"outside the effective period of policy {policy_id}")


@dataclass(slots=True)
class BandTrace:
    index: int  # 1-based
    start: int
    end: int | None
    ratio: int
    overlap: int


@dataclass(slots=True)
class LayerTrace:
    """The details of one layer on one claim, for `policy explain` (not used on the hot path)."""

    layer_id: str
    before: Accumulator | None = None
    after: Accumulator | None = None
    bands: list[BandTrace] = field(default_factory=list)
    limits: list[tuple[str, int]] = field(default_factory=list)  # (limit name, its value) in order


@dataclass(frozen=True, slots=True)
class _CompiledVariant:
    predicate: Predicate
    bands: tuple[tuple[int, int | None, int], ...]  # (start, end or None, ratio)


@dataclass(frozen=True, slots=True)
class _CompiledLayer:
    layer: Layer
    predicate: Predicate
    variants: tuple[_CompiledVariant, ...]
    max_share: int  # oop_cap layers: the layer's max_share (which the loader requires); 0 for band layers


def _compile_layer(layer: Layer, policy: Policy) -> _CompiledLayer:
    variants = []
    for variant in layer.variants:
        bands = []
        start = 0
        for band in variant.bands:
            bands.append((start, band.upto, band.ratio))
            if band.upto is not None:
                start = band.upto
        variants.append(_CompiledVariant(compile_when(variant.when, policy), tuple(bands)))
    max_share = 0
    if layer.kind == "oop_cap":
        if layer.max_share is None:
            raise ValueError(f"oop_cap layer {layer.id!r} has no max_share")
        max_share = layer.max_share
    return _CompiledLayer(layer, compile_when(layer.when, policy), tuple(variants), max_share)


def settlement_order(claim: Claim) -> tuple[str, object, str]:
    """The order claims are settled in, and the order of both engines' output."""
    return (claim.member_id, claim.service_date, claim.claim_id)


class RealtimeEngine:
    def __init__(self, policy: Policy, store: AccumulatorStore) -> None:
        self.policy = policy
        self.store = store
        self._fixed_fees = tuple(
            (index, compile_when(fee.when, policy), fee.fee) for index, fee in enumerate(policy.fixed_fees, start=1)
        )
        self._layers = tuple(_compile_layer(layer, policy) for layer in policy.layers)
        self._allowances = tuple(
            (allowance.id, compile_when(allowance.when, policy), allowance.per == "day", allowance.amount)
            for allowance in policy.allowances
        )

    def with_store(self, store: AccumulatorStore) -> RealtimeEngine:
        """The same compiled policy over another store: compile a policy once per process, not per claim."""
        engine = copy.copy(self)
        engine.store = store
        return engine

    def settle(self, claim: Claim) -> ClaimSettlement:
        return self._settle(claim, None)

    def settle_traced(self, claim: Claim) -> tuple[ClaimSettlement, list[LayerTrace]]:
        traces: list[LayerTrace] = []
        return self._settle(claim, traces), traces

    def _settle(self, claim: Claim, traces: list[LayerTrace] | None) -> ClaimSettlement:
        policy = self.policy
        if not policy.covers(claim.service_date):
            raise ClaimOutsidePolicyError(claim.claim_id, policy.id)
        benefit_year = policy.benefit_year(claim.service_date)
        member_id = claim.member_id

        allowed = claim.total
        eligible = claim.eligible
        fixed_fee_index = None
        for index, predicate, fee in self._fixed_fees:
            if predicate(claim, allowed):
                fixed_fee_index = index
                allowed = fee
                eligible = min(eligible, fee)
                break
        provider_writeoff = claim.total - allowed

        remaining_eligible = eligible
        remaining_allowed = allowed
        paid_on_claim = 0
        paid: dict[str, int] = {}
        steps: list[LayerStep] = []
        updates: list[tuple[str, Accumulator]] = []

        for compiled in self._layers:
            layer = compiled.layer
            trace = None
            if traces is not None:
                trace = LayerTrace(layer.id)
                traces.append(trace)
            if not compiled.predicate(claim, allowed):
                paid[layer.id] = 0
                steps.append(LayerStep(layer.id, False))
                continue
            remaining = remaining_eligible if layer.base == "eligible" else remaining_allowed
            if layer.kind == "oop_cap":
                accumulator = self.store.get(member_id, layer.id, benefit_year)
                reference = allowed if layer.base == "total" else eligible
                limit = floor_share(reference, compiled.max_share)
                binding = "max_share"
                if trace is not None:
                    trace.limits.append(("max_share", limit))
                if layer.max_per_year is not None:
                    year_limit = max(0, layer.max_per_year - accumulator.member_share)
                    if trace is not None:
                        trace.limits.append(("max_per_year", year_limit))
                    if year_limit < limit:
                        limit = year_limit
                        binding = "max_per_year"
                pay = max(0, remaining - limit)
                updated = Accumulator(
                    accumulator.position, accumulator.paid + pay, accumulator.member_share + remaining - pay
                )
                step = LayerStep(layer.id, True, pay, remaining=remaining, raw_pay=pay, capped_by=(binding,))
            else:
                variant_index = 0
                variant = None
                for index, candidate in enumerate(compiled.variants, start=1):
                    if candidate.predicate(claim, allowed):
                        variant_index, variant = index, candidate
                        break
                if variant is None:
                    paid[layer.id] = 0
                    steps.append(LayerStep(layer.id, False))
                    continue
                accumulator = self.store.get(member_id, layer.id, benefit_year)
                start = accumulator.position if layer.scope == "year" else 0
                end = start + remaining
                numerator = 0
                applied: list[int] = []
                for index, (band_start, band_end, ratio) in enumerate(variant.bands, start=1):
                    if band_start >= end:
                        break
                    if band_end is not None and band_end <= start:
                        continue
                    overlap = (end if band_end is None or band_end > end else band_end) - max(band_start, start)
                    if overlap > 0:
                        numerator += ratio * overlap
                        applied.append(index)
                        if trace is not None:
                            trace.bands.append(BandTrace(index, band_start, band_end, ratio, overlap))
                pay = round_half_up(numerator, RATIO_SCALE)
                raw_pay = pay
                capped_by: list[str] = []
                if layer.cap_per_claim is not None:
                    if trace is not None:
                        trace.limits.append(("cap_per_claim", layer.cap_per_claim))
                    if pay > layer.cap_per_claim:
                        pay = layer.cap_per_claim
                        capped_by.append("cap_per_claim")
                if layer.max_cumulative_share is not None:
                    reference = allowed if layer.cumulative_share_of == "total" else eligible
                    limit = max(0, floor_share(reference, layer.max_cumulative_share) - paid_on_claim)
                    if trace is not None:
                        trace.limits.append(("max_cumulative_share", limit))
                    if pay > limit:
                        pay = limit
                        capped_by.append("max_cumulative_share")
                if layer.cap_per_year is not None:
                    limit = max(0, layer.cap_per_year - accumulator.paid)
                    if trace is not None:
                        trace.limits.append(("cap_per_year", limit))
                    if pay > limit:
                        pay = limit
                        capped_by.append("cap_per_year")
                position = accumulator.position + remaining if layer.scope == "year" else accumulator.position
                updated = Accumulator(position, accumulator.paid + pay, accumulator.member_share)
                step = LayerStep(
                    layer.id,
                    True,
                    pay,
                    variant=variant_index,
                    bands=tuple(applied),
                    remaining=remaining,
                    position_start=start,
                    raw_pay=raw_pay,
                    capped_by=tuple(capped_by),
                )
            if trace is not None:
                trace.before, trace.after = accumulator, updated
            updates.append((layer.id, updated))
            paid[layer.id] = pay
            steps.append(step)
            paid_on_claim += pay
            remaining_eligible -= pay if pay < remaining_eligible else remaining_eligible
            remaining_allowed -= pay

        allowances: dict[str, int] = {}
        for allowance_id, predicate, per_day, amount in self._allowances:
            if predicate(claim, allowed):
                allowances[allowance_id] = amount * claim.days if per_day else amount
            else:
                allowances[allowance_id] = 0

        for layer_id, accumulator in updates:
            self.store.put(member_id, layer_id, benefit_year, accumulator)
        return ClaimSettlement(
            claim_id=claim.claim_id,
            member_id=member_id,
            allowed=allowed,
            provider_writeoff=provider_writeoff,
            paid=paid,
            member_oop=allowed - paid_on_claim,
            allowances=allowances,
            fixed_fee=fixed_fee_index,
            steps=steps,
        )


def settle_claims(policy: Policy, claims: Iterable[Claim]) -> list[ClaimSettlement]:
    """Settle claims in (member, service date, claim id) order with fresh in-memory accumulators."""
    engine = RealtimeEngine(policy, InMemoryAccumulatorStore())
    return [engine.settle(claim) for claim in sorted(claims, key=settlement_order)]


# -- the readable trail --------------------------------------------------------------------------


def _ratio_text(scaled: int) -> str:
    return format_ratio(scaled)


def describe_settlement(policy: Policy, claim: Claim, settlement: ClaimSettlement, traces: list[LayerTrace]) -> str:
    """A multi-line account of one claim for an analyst: what each layer did and why."""
    digits = policy.minor_digits

    def money(amount: int) -> str:
        return format_money(amount, digits)

    def exact(numerator: int) -> str:
        if numerator % RATIO_SCALE == 0:
            return money(numerator // RATIO_SCALE)
        text = f"{Decimal(numerator) / Decimal(RATIO_SCALE * 10**digits):f}"
        return text.rstrip("0").rstrip(".") if "." in text else text

    lines = [
        f"claim {claim.claim_id}: member {claim.member_id}, {claim.service_date.isoformat()} "
        f"(benefit year {policy.benefit_year(claim.service_date)}), {claim.care_type} at "
        f"{claim.provider_level} level, provider {claim.provider_id}",
        f"  total {money(claim.total)}, eligible {money(claim.eligible)}, days {claim.days}",
    ]
    if settlement.fixed_fee is not None:
        lines.append(
            f"  fixed fee {settlement.fixed_fee} applies: allowed {money(settlement.allowed)}, "
            f"provider write-off {money(settlement.provider_writeoff)}"
        )
    else:
        lines.append(f"  no fixed fee: allowed = total = {money(settlement.allowed)}")
    layers = {layer.id: layer for layer in policy.layers}
    for step, trace in zip(settlement.steps, traces, strict=True):
        layer = layers[step.layer_id]
        lines.append(f"  layer {layer.id} ({layer.payer}), {layer.kind}, base {layer.base}:")
        if not step.matched:
            lines.append("    does not apply to this claim: pays 0, accumulators unchanged")
            continue
        if layer.kind == "oop_cap":
            lines.append(f"    the member would pay {money(step.remaining)}")
            for name, limit in trace.limits:
                lines.append(f"    limit {name}: {money(limit)}")
            lines.append(f"    binding limit: {step.capped_by[0]}")
        else:
            start, end = step.position_start, step.position_start + step.remaining
            lines.append(
                f"    variant {step.variant}; remaining {money(step.remaining)}; "
                f"positions {money(start)} to {money(end)} (scope {layer.scope})"
            )
            if not trace.bands:
                lines.append("    no band overlaps these positions")
            for band in trace.bands:
                band_end = "open" if band.end is None else money(band.end)
                lines.append(
                    f"    band {band.index} [{money(band.start)}, {band_end}] ratio "
                    f"{_ratio_text(band.ratio)}: overlap {money(band.overlap)} -> "
                    f"{exact(band.ratio * band.overlap)}"
                )
            lines.append(f"    bands give {money(step.raw_pay)} (rounded half up)")
            for name, limit in trace.limits:
                verdict = "bit" if name in step.capped_by else "did not bite"
                lines.append(f"    {name}: at most {money(limit)}, {verdict}")
        lines.append(f"    pays {money(step.paid)}")
        if trace.before is not None and trace.after is not None:
            lines.append(
                f"    accumulators: position {money(trace.before.position)} -> {money(trace.after.position)}, "
                f"paid this year {money(trace.before.paid)} -> {money(trace.after.paid)}, "
                f"left to member this year {money(trace.before.member_share)} -> {money(trace.after.member_share)}"
            )
    lines.append(f"  member pays {money(settlement.member_oop)}")
    for allowance_id, amount in settlement.allowances.items():
        lines.append(f"  allowance {allowance_id}: {money(amount)}")
    lines.append(f"  trail: {settlement.trail}")
    return "\n".join(lines)
