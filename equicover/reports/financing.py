"""The financing report: the mix of sources that financed the programme in a period, from the ledger.

Seed 000 (Morocco, RAMED, action 291) names the mix: from the scheme's generalisation to the end of
2019, 9.02 bn MAD, of which 8.02 bn from the Social Cohesion Support Fund (FACS), 819 M from the
territorial communities and 179 M from the members in vulnerability; and the payments: 1.17 bn
to the university hospitals and 0.5 bn to the central pharmacy's special account. It also names
an earmarked account, the organ and tissue transplants' (the ANAM account of the vulnerable
members' sums), kept apart from the mix.

For the period [starts, ends] (entries posted in it, one currency):

- **contributions** of a source = the credits to that source account (``social_cohesion_fund``,
  ``territorial_communities``, ``member_contributions``, ...) over the funds, net of reversals;
  its **share** = its contributions / all contributions;
- **payments** = the net debits to the use accounts (provider payments, allowances, the transfers
  to the transplants account, administration; recoveries and reversals taken off);
- **financed** by a source: the ledger does not follow a dirham from a source to a payment, so
  each fund's payments are attributed to its sources in proportion to what each contributed to
  that fund in the period (exact integers, largest remainder); a fund that received nothing in
  the period pays from earlier balances: its payments are **unattributed**.

Earmarked funds (by fund code; the Morocco policy's transplant layer pays from the fund
``transplant``) are reported apart, each with its own sources and payments.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from equicover.errors import ValidationFailed
from equicover.ledger import service as ledger

DEFAULT_EARMARKED = ("transplant",)


@dataclass(frozen=True)
class SourceRow:
    source: str  # the source account
    contributions: int
    share: float | None  # of all contributions (a ratio, not money)
    financed: int  # the payments attributed to it


@dataclass(frozen=True)
class EarmarkedFund:
    fund: str
    contributions: dict[str, int]  # by source account
    payments: dict[str, int]  # by use account


@dataclass(frozen=True)
class FinancingReport:
    starts: dt.date
    ends: dt.date
    currency: str
    minor_digits: int
    sources: list[SourceRow]
    payments: dict[str, int]  # by use account, earmarked funds excluded
    unattributed: int
    earmarked: list[EarmarkedFund] = field(default_factory=list)

    @property
    def total_contributions(self) -> int:
        return sum(row.contributions for row in self.sources)

    @property
    def total_payments(self) -> int:
        return sum(self.payments.values())


def apportion(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (non-negative, not all zero), exactly, by
    largest remainder (ties to the first)."""
    whole = sum(weights)
    shares = [total * weight // whole for weight in weights]
    remainders = [total * weight % whole for weight in weights]
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[: total - sum(shares)]:
        shares[index] += 1
    return shares


def financing_report(
    *,
    session: Session,
    starts: dt.date,
    ends: dt.date,
    currency: str | None = None,
    earmarked: Sequence[str] = DEFAULT_EARMARKED,
) -> FinancingReport:
    """The financing mix of the funds keeping books in ``currency`` (default: the only currency
    of the funds with entries in the period) over [starts, ends]."""
    if ends < starts:
        raise ValidationFailed("financing report", "ends", "is before starts")
    funds = {fund.code: fund for fund in ledger.list_funds(session=session)}
    flows = ledger.flows_by_month(session=session, starts=starts, ends=ends)
    currencies = sorted({funds[flow.fund].currency for flow in flows})
    if currency is None:
        if len(currencies) > 1:
            raise ValidationFailed(
                "financing report", "currency", f"the funds keep books in {', '.join(currencies)}: name one"
            )
        currency = currencies[0] if currencies else "XXX"
    chosen = {code for code, fund in funds.items() if fund.currency == currency}
    digits = next((funds[code].minor_digits for code in sorted(chosen)), 2)
    received: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    spent: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for flow in flows:
        if flow.fund not in chosen:
            continue
        if flow.kind == "source":
            received[flow.fund][flow.account] += flow.credit - flow.debit
        elif flow.kind == "use":
            spent[flow.fund][flow.account] += flow.debit - flow.credit
    financed: dict[str, int] = defaultdict(int)
    contributions: dict[str, int] = defaultdict(int)
    payments: dict[str, int] = defaultdict(int)
    unattributed = 0
    kept_apart = []
    for fund in sorted(set(received) | set(spent)):
        if fund in earmarked:
            kept_apart.append(
                EarmarkedFund(
                    fund,
                    {source: amount for source, amount in sorted(received[fund].items()) if amount},
                    {use: amount for use, amount in sorted(spent[fund].items()) if amount},
                )
            )
            continue
        for source, amount in received[fund].items():
            contributions[source] += amount
        for use, amount in spent[fund].items():
            payments[use] += amount
        paid = sum(spent[fund].values())
        sources = sorted((source, amount) for source, amount in received[fund].items() if amount > 0)
        if not sources:
            unattributed += paid
            continue
        for (source, _), share in zip(sources, apportion(paid, [amount for _, amount in sources])):
            financed[source] += share
    everything = sum(contributions.values())
    rows = [
        SourceRow(source, amount, amount / everything if everything else None, financed.get(source, 0))
        for source, amount in sorted(contributions.items(), key=lambda item: (-item[1], item[0]))
        if amount
    ]
    return FinancingReport(
        starts=starts,
        ends=ends,
        currency=currency,
        minor_digits=digits,
        sources=rows,
        payments={use: amount for use, amount in sorted(payments.items()) if amount},
        unattributed=unattributed,
        earmarked=kept_apart,
    )
