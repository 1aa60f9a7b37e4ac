"""The fund ledger: the only door to funds, accounts, entries and claim postings.

Double entry: every entry belongs to one fund and its lines balance (sum of debits = sum of
credits, at least one line, no line with both sides). Entries are append-only; a correction is a
reversing entry (:func:`reverse_entry`). Services never commit.

Which fund pays a stored claim payment: a layer's payments come from the fund named by the layer
id (``basic``, ``critical_illness``, ...); an allowance (which has no payer of its own in a
policy) from the fund named in the payment's ``payer`` column.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Row, and_, exists, func, insert, literal, select
from sqlalchemy.orm import Session

from equicover.audit.service import SYSTEM_ACTOR
from equicover.claims.models import Claim, ClaimPayment, PaymentKind
from equicover.errors import Conflict, NotFound, ValidationFailed
from equicover.ledger.models import (
    SOURCE_ACCOUNTS,
    USE_ACCOUNTS,
    ClaimPosting,
    Fund,
    LedgerAccount,
    LedgerEntry,
    LedgerLine,
)

CASH = "cash"
PAYABLE = "payable"
PROVIDER_PAYMENTS = "provider_payments"
ALLOWANCES = "allowances"

# Contribution payer kinds of the enrolment tables -> the fund's source accounts.
CONTRIBUTION_SOURCES = {
    "state_budget": "state_budget",
    "local_budget": "local_budget",
    "member": "member_contributions",
    "employer": "member_contributions",
    "donor": "donors",
}


def account_kind(code: str) -> str:
    """The kind of a fund account code; refuses a code that is not one of the chart's."""
    if code == CASH:
        return "cash"
    if code == PAYABLE:
        return "payable"
    if code in SOURCE_ACCOUNTS:
        return "source"
    if code in USE_ACCOUNTS:
        return "use"
    raise ValidationFailed("ledger account", "code", f"unknown account {code!r}")


@dataclass(frozen=True, slots=True)
class Line:
    """One line of an entry to post: an account code of the entry's fund, one side, an optional provider."""

    account: str
    debit: int = 0
    credit: int = 0
    provider_id: int | None = None


def fund_code_of_payment(kind: str, item_id: str, payer: str) -> str:
    return item_id if kind == "layer" else payer


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def ensure_fund(*, session: Session, code: str, name: str, currency: str, minor_digits: int) -> Fund:
    """The fund with ``code``, created with its cash and payable accounts if new."""
    fund = session.scalar(select(Fund).where(Fund.code == code))
    if fund is not None:
        if fund.currency != currency:
            raise Conflict(f"fund {code}", "currency", f"the fund keeps its books in {fund.currency}")
        if fund.minor_digits != minor_digits:
            # Same currency counted in other units (whole riel against sen): the sums would mix them.
            raise Conflict(
                f"fund {code}",
                "minor_digits",
                f"the fund counts {fund.currency} in {fund.minor_digits} minor digits, not {minor_digits}",
            )
        return fund
    if not code or len(code) > 64:
        raise ValidationFailed(f"fund {code[:64]}", "code", "must be 1 to 64 characters")
    if not 0 <= minor_digits <= 4:
        raise ValidationFailed(f"fund {code}", "minor_digits", "a fund counts 0 to 4 minor digits")
    fund = Fund(code=code, name=name[:200], currency=currency, minor_digits=minor_digits)
    session.add(fund)
    session.flush()
    for account in (CASH, PAYABLE):
        session.add(LedgerAccount(fund_id=fund.id, code=account, kind=account_kind(account)))
    session.flush()
    return fund


def other_money(fund: Fund, currency: str, minor_digits: int) -> str | None:
    """How the fund's books differ from this money ("keeps its books in USD (2 minor digits)"), or
    None when the fund counts in it: amounts of two kinds of money are never added up."""
    if (fund.currency, fund.minor_digits) == (currency, minor_digits):
        return None
    return f"keeps its books in {fund.currency} ({fund.minor_digits} minor digits)"


def get_fund(*, session: Session, code: str) -> Fund:
    fund = session.scalar(select(Fund).where(Fund.code == code))
    if fund is None:
        raise NotFound(f"fund {code}", "code", "unknown fund")
    return fund


def list_funds(*, session: Session) -> list[Fund]:
    return list(session.scalars(select(Fund).order_by(Fund.code)))


def _account_ids(session: Session, fund: Fund, codes: Iterable[str]) -> dict[str, int]:
    wanted = set(codes)
    for code in wanted:
        account_kind(code)
    found = dict(
        session.execute(
            select(LedgerAccount.code, LedgerAccount.id).where(
                LedgerAccount.fund_id == fund.id, LedgerAccount.code.in_(wanted)
            )
        ).all()
    )
    for code in sorted(wanted - set(found)):
        account = LedgerAccount(fund_id=fund.id, code=code, kind=account_kind(code))
        session.add(account)
        session.flush()
        found[code] = account.id
    return found


def post_entry(
    *,
    session: Session,
    fund_code: str,
    posted_on: dt.date,
    kind: str,
    lines: list[Line],
    reference: str | None = None,
    memo: str = "",
    actor: str = SYSTEM_ACTOR,
    reverses_id: int | None = None,
) -> LedgerEntry:
    """Post one balanced entry in a fund. Refused: no lines, a negative or two-sided line, debits
    that differ from credits."""
    fund = get_fund(session=session, code=fund_code)
    record = f"ledger entry ({fund_code}, {kind})"
    kept = [line for line in lines if line.debit or line.credit]
    if not kept:
        raise ValidationFailed(record, "lines", "an entry needs at least one non-zero line")
    for index, line in enumerate(kept):
        if line.debit < 0 or line.credit < 0:
            raise ValidationFailed(record, f"lines[{index}]", "amounts are never negative: swap the sides")
        if line.debit and line.credit:
            raise ValidationFailed(record, f"lines[{index}]", "a line is either a debit or a credit")
    debits = sum(line.debit for line in kept)
    credits = sum(line.credit for line in kept)
    if debits != credits:
        raise ValidationFailed(record, "lines", f"not balanced: debits {debits} != credits {credits}")
    accounts = _account_ids(session, fund, (line.account for line in kept))
    entry = LedgerEntry(
        fund_id=fund.id,
        posted_on=posted_on,
        kind=kind,
        reference=reference,
        memo=memo[:400],
        reverses_id=reverses_id,
        created_at=_now(),
        created_by=actor,
    )
    session.add(entry)
    session.flush()
    session.add_all(
        LedgerLine(
            entry_id=entry.id,
            account_id=accounts[line.account],
            provider_id=line.provider_id,
            debit=line.debit,
            credit=line.credit,
        )
        for line in kept
    )
    session.flush()
    return entry


def reverse_entry(
    *, session: Session, entry_id: int, posted_on: dt.date, memo: str, actor: str = SYSTEM_ACTOR
) -> LedgerEntry:
    """Correct an entry by posting its mirror image (each entry can be reversed once)."""
    original = session.get(LedgerEntry, entry_id)
    if original is None:
        raise NotFound(f"ledger entry {entry_id}", "entry_id", "unknown entry")
    if original.kind == "reversal":
        raise ValidationFailed(f"ledger entry {entry_id}", "entry_id", "a reversal is corrected by a new entry")
    if session.scalar(select(LedgerEntry.id).where(LedgerEntry.reverses_id == entry_id)) is not None:
        raise Conflict(f"ledger entry {entry_id}", "entry_id", "already reversed")
    rows = session.execute(
        select(LedgerAccount.code, LedgerLine.debit, LedgerLine.credit, LedgerLine.provider_id)
        .join(LedgerAccount, LedgerAccount.id == LedgerLine.account_id)
        .where(LedgerLine.entry_id == entry_id)
        .order_by(LedgerLine.id)
    ).all()
    fund = session.get(Fund, original.fund_id)
    assert fund is not None
    return post_entry(
        session=session,
        fund_code=fund.code,
        posted_on=posted_on,
        kind="reversal",
        lines=[Line(code, debit=credit, credit=debit, provider_id=provider) for code, debit, credit, provider in rows],
        reference=f"reverses {entry_id}",
        memo=memo,
        actor=actor,
        reverses_id=entry_id,
    )


def record_contribution(
    *,
    session: Session,
    fund_code: str,
    source: str,
    amount: int,
    received_on: dt.date,
    reference: str | None = None,
    actor: str = SYSTEM_ACTOR,
) -> LedgerEntry:
    """Money received from a source (state budget, donors, members, ...): Dr cash, Cr source."""
    if account_kind(source) != "source":
        raise ValidationFailed("contribution", "source", f"{source!r} is not a source account")
    if amount <= 0:
        raise ValidationFailed("contribution", "amount", "must be positive")
    return post_entry(
        session=session,
        fund_code=fund_code,
        posted_on=received_on,
        kind="contribution",
        lines=[Line(CASH, debit=amount), Line(source, credit=amount)],
        reference=reference,
        actor=actor,
    )


def record_transfer(
    *,
    session: Session,
    fund_code: str,
    use: str,
    amount: int,
    paid_on: dt.date,
    reference: str | None = None,
    memo: str = "",
    actor: str = SYSTEM_ACTOR,
) -> LedgerEntry:
    """Money spent on a use other than claims (transplants special account, administration): Dr use, Cr cash."""
    if account_kind(use) != "use":
        raise ValidationFailed("transfer", "use", f"{use!r} is not a use account")
    if amount <= 0:
        raise ValidationFailed("transfer", "amount", "must be positive")
    return post_entry(
        session=session,
        fund_code=fund_code,
        posted_on=paid_on,
        kind="transfer",
        lines=[Line(use, debit=amount), Line(CASH, credit=amount)],
        reference=reference,
        memo=memo,
        actor=actor,
    )


def post_enrolment_contributions(*, session: Session, fund_code: str, scheme_id: int, actor: str = SYSTEM_ACTOR) -> int:
    """Post the scheme's paid contributions not yet in the ledger, one entry per period start
    (the reference ``contributions <scheme> <date>`` makes this idempotent). Returns entries posted."""
    from equicover.enrolment.models import Contribution, Enrolment

    rows = session.execute(
        select(Contribution.period_starts, Contribution.payer_kind, func.sum(Contribution.amount_minor))
        .join(Enrolment, Enrolment.id == Contribution.enrolment_id)
        .where(Enrolment.scheme_id == scheme_id, Contribution.status == "paid")
        .group_by(Contribution.period_starts, Contribution.payer_kind)
    ).all()
    by_start: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for starts, payer_kind, amount in rows:
        by_start[starts][CONTRIBUTION_SOURCES[payer_kind]] += int(amount or 0)
    posted = 0
    for starts, sources in sorted(by_start.items()):
        reference = f"contributions {scheme_id} {starts.isoformat()}"
        if session.scalar(select(LedgerEntry.id).where(LedgerEntry.reference == reference)) is not None:
            continue
        total = sum(sources.values())
        if not total:
            continue
        lines = [Line(CASH, debit=total)] + [Line(source, credit=amount) for source, amount in sorted(sources.items())]
        post_entry(
            session=session,
            fund_code=fund_code,
            posted_on=starts,
            kind="contribution",
            lines=lines,
            reference=reference,
            memo="member contributions and subsidies",
            actor=actor,
        )
        posted += 1
    return posted


def _unposted_payments(
    session: Session, kind: str, up_to: dt.date, claim_pk: int | None = None
) -> tuple[Sequence[Row[PaymentKind, str, str, int, dt.date, int]], list[ColumnElement[bool]]]:
    """(payment kind, item_id, payer, provider_id, service_date, amount) of claims not yet posted as ``kind``."""
    posted = exists().where(and_(ClaimPosting.claim_pk == Claim.id, ClaimPosting.kind == kind))
    condition = [Claim.service_date <= up_to, ~posted]
    if claim_pk is not None:
        condition.append(Claim.id == claim_pk)
    if kind == "reversal":
        settled_posted = exists().where(and_(ClaimPosting.claim_pk == Claim.id, ClaimPosting.kind == "settlement"))
        condition += [Claim.status == "reversed", settled_posted]
    return session.execute(
        select(
            ClaimPayment.kind,
            ClaimPayment.item_id,
            ClaimPayment.payer,
            Claim.provider_id,
            Claim.service_date,
            func.sum(ClaimPayment.amount),
        )
        .join(Claim, Claim.id == ClaimPayment.claim_pk)
        .where(*condition, ClaimPayment.amount != 0)
        .group_by(ClaimPayment.kind, ClaimPayment.item_id, ClaimPayment.payer, Claim.provider_id, Claim.service_date)
    ).all(), condition


def post_claim_settlements(
    *,
    session: Session,
    up_to: dt.date,
    currency: str,
    minor_digits: int,
    actor: str = SYSTEM_ACTOR,
    claim_pk: int | None = None,
    posted_on: dt.date | None = None,
) -> dict[str, int]:
    """Take every stored claim served on or before ``up_to`` into the ledger, once.

    A layer payment: Dr provider_payments, Cr payable (per provider). An allowance, paid to the
    member beside the bill: Dr allowances, Cr cash. A reversed claim posts the mirror entry. One
    entry per fund and service month (dated the month's last day), lines per provider.
    Returns {"settlement": claims posted, "reversal": claims posted, "entries": entries posted}.

    ``claim_pk`` takes one claim in now (a paid claim reversed: the provider owes its payments back
    today), its entries dated ``posted_on`` rather than at the end of the service month.
    """
    counts = {"settlement": 0, "reversal": 0, "entries": 0}
    for kind in ("settlement", "reversal"):
        rows, condition = _unposted_payments(session, kind, up_to, claim_pk)
        grouped: dict[tuple[str, dt.date], dict[tuple[str, int | None], int]] = defaultdict(lambda: defaultdict(int))
        for payment_kind, item_id, payer, provider_id, service_date, amount in rows:
            fund = fund_code_of_payment(payment_kind, item_id, payer)
            month = posted_on or month_end(service_date)
            if payment_kind == "layer":
                grouped[(fund, month)][(PROVIDER_PAYMENTS, None)] += int(amount)
                grouped[(fund, month)][(PAYABLE, provider_id)] -= int(amount)
            else:
                grouped[(fund, month)][(ALLOWANCES, None)] += int(amount)
                grouped[(fund, month)][(CASH, None)] -= int(amount)
        for (fund, month), amounts in sorted(grouped.items()):
            ensure_fund(session=session, code=fund, name=fund, currency=currency, minor_digits=minor_digits)
            sign = 1 if kind == "settlement" else -1
            lines = []
            for (account, line_provider), net in sorted(
                amounts.items(), key=lambda item: (item[0][0], item[0][1] or 0)
            ):
                signed = sign * net
                lines.append(Line(account, debit=max(signed, 0), credit=max(-signed, 0), provider_id=line_provider))
            post_entry(
                session=session,
                fund_code=fund,
                posted_on=month,
                kind="settlement" if kind == "settlement" else "reversal",
                lines=lines,
                reference=f"claims {kind} {month:%Y-%m}" if claim_pk is None else f"claim row {claim_pk} {kind}",
                actor=actor,
            )
            counts["entries"] += 1
        counts[kind] = int(session.scalar(select(func.count()).select_from(Claim).where(*condition)) or 0)
        selected = select(Claim.id, literal(kind), literal(up_to)).where(*condition)
        session.execute(insert(ClaimPosting).from_select(["claim_pk", "kind", "posted_on"], selected))
    return counts


def post_claim_adjustments(
    *,
    session: Session,
    amounts: Iterable[tuple[str, int, int]],
    posted_on: dt.date,
    currency: str,
    minor_digits: int,
    reference: str,
    memo: str = "",
    actor: str = SYSTEM_ACTOR,
) -> list[LedgerEntry]:
    """Post adjustments of settled claims: (fund, provider id, signed amount) each.

    What a payer pays more is owed to the provider like a settlement (Dr provider_payments, Cr
    payable); what it pays less is recovered like a verifier's finding (Dr payable, Cr
    provider_payments). Per fund, at most one entry of each kind, lines per provider; the payment
    batch that nets them moves the cash."""
    grouped: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for fund, provider_id, amount in amounts:
        if amount:
            grouped[(fund, "settlement" if amount > 0 else "recovery")][provider_id] += abs(amount)
    entries = []
    for (fund, kind), by_provider in sorted(grouped.items()):
        ensure_fund(session=session, code=fund, name=fund, currency=currency, minor_digits=minor_digits)
        total = sum(by_provider.values())
        owed = [
            Line(PAYABLE, credit=amount, provider_id=provider) if kind == "settlement" else
            Line(PAYABLE, debit=amount, provider_id=provider)
            for provider, amount in sorted(by_provider.items())
        ]  # fmt: skip
        lines = (
            [Line(PROVIDER_PAYMENTS, debit=total), *owed]
            if kind == "settlement"
            else [*owed, Line(PROVIDER_PAYMENTS, credit=total)]
        )
        entries.append(
            post_entry(
                session=session,
                fund_code=fund,
                posted_on=posted_on,
                kind=kind,
                lines=lines,
                reference=reference[:100],
                memo=memo,
                actor=actor,
            )
        )
    return entries


@dataclass(frozen=True, slots=True)
class AccountBalance:
    fund: str
    account: str
    kind: str
    debit: int
    credit: int

    @property
    def balance(self) -> int:
        """In the account's natural sign: cash and uses debit-positive, sources and payables credit-positive."""
        return self.debit - self.credit if self.kind in ("cash", "use") else self.credit - self.debit


def balances(*, session: Session, fund_code: str | None = None, as_of: dt.date | None = None) -> list[AccountBalance]:
    """Totals per account (and fund), entries posted on or before ``as_of``."""
    query = (
        select(
            Fund.code,
            LedgerAccount.code,
            LedgerAccount.kind,
            func.coalesce(func.sum(LedgerLine.debit), 0),
            func.coalesce(func.sum(LedgerLine.credit), 0),
        )
        .join(LedgerAccount, LedgerAccount.id == LedgerLine.account_id)
        .join(LedgerEntry, LedgerEntry.id == LedgerLine.entry_id)
        .join(Fund, Fund.id == LedgerEntry.fund_id)
        .group_by(Fund.code, LedgerAccount.code, LedgerAccount.kind)
        .order_by(Fund.code, LedgerAccount.kind, LedgerAccount.code)
    )
    if fund_code is not None:
        query = query.where(Fund.code == fund_code)
    if as_of is not None:
        query = query.where(LedgerEntry.posted_on <= as_of)
    return [AccountBalance(f, a, k, int(d), int(c)) for f, a, k, d, c in session.execute(query).all()]


def provider_payable(*, session: Session, provider_id: int, fund_code: str | None = None) -> int:
    """What the fund(s) owe the provider now (credit minus debit of the payable lines naming it)."""
    query = (
        select(func.coalesce(func.sum(LedgerLine.credit - LedgerLine.debit), 0))
        .join(LedgerAccount, LedgerAccount.id == LedgerLine.account_id)
        .where(LedgerAccount.code == PAYABLE, LedgerLine.provider_id == provider_id)
    )
    if fund_code is not None:
        query = query.join(Fund, Fund.id == LedgerAccount.fund_id).where(Fund.code == fund_code)
    return int(session.scalar(query) or 0)


@dataclass(frozen=True, slots=True)
class MonthlyFlow:
    fund: str
    month: str  # YYYY-MM
    account: str
    kind: str
    debit: int
    credit: int


def flows_by_month(
    *, session: Session, starts: dt.date, ends: dt.date, fund_code: str | None = None
) -> list[MonthlyFlow]:
    """Debits and credits per fund, month and account for entries posted within [starts, ends]."""
    query = (
        select(
            Fund.code,
            LedgerEntry.posted_on,
            LedgerAccount.code,
            LedgerAccount.kind,
            func.sum(LedgerLine.debit),
            func.sum(LedgerLine.credit),
        )
        .join(LedgerAccount, LedgerAccount.id == LedgerLine.account_id)
        .join(LedgerEntry, LedgerEntry.id == LedgerLine.entry_id)
        .join(Fund, Fund.id == LedgerEntry.fund_id)
        .where(LedgerEntry.posted_on >= starts, LedgerEntry.posted_on <= ends)
        .group_by(Fund.code, LedgerEntry.posted_on, LedgerAccount.code, LedgerAccount.kind)
    )
    if fund_code is not None:
        query = query.where(Fund.code == fund_code)
    months: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for fund, posted_on, account, kind, debit, credit in session.execute(query).all():
        totals = months[(fund, f"{posted_on:%Y-%m}", account, kind)]
        totals[0] += int(debit)
        totals[1] += int(credit)
    return [MonthlyFlow(f, m, a, k, d, c) for (f, m, a, k), (d, c) in sorted(months.items())]


def trial_balance(*, session: Session) -> tuple[int, int]:
    """(all debits, all credits) of the whole ledger: equal in a sound ledger."""
    debit, credit = session.execute(
        select(func.coalesce(func.sum(LedgerLine.debit), 0), func.coalesce(func.sum(LedgerLine.credit), 0))
    ).one()
    return int(debit), int(credit)


def unbalanced_entries(*, session: Session) -> list[int]:
    """Ids of entries whose lines do not balance (always empty unless the tables were tampered with)."""
    return list(
        session.scalars(
            select(LedgerLine.entry_id)
            .group_by(LedgerLine.entry_id)
            .having(func.sum(LedgerLine.debit) != func.sum(LedgerLine.credit))
        )
    )
