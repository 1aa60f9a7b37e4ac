"""Payment batches: the only door to ``payment_batches`` and their lines and claims.

Maker-checker: whoever drafts a batch (the maker) cannot approve it; the approver must be a
fund manager. Approval posts the capitation accrual and the payment in the fund ledger.
Keyword-only, never commits.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from equicover.audit.service import record_change
from equicover.auth.roles import Role
from equicover.claims import service as claims_service
from equicover.claims.models import Claim, ClaimPayment, PolicyVersion
from equicover.enrolment.models import Enrolment, Scheme
from equicover.errors import Conflict, Forbidden, NotFound, ValidationFailed
from equicover.exports import safe_csv_writer
from equicover.ledger import service as ledger
from equicover.money import MoneyError, format_money, minor_digits_of
from equicover.payments import corrections
from equicover.payments.models import PaymentBatch, PaymentBatchClaim, PaymentBatchLine, PaymentCorrection
from equicover.providers.models import Contract, Provider
from equicover.registry.models import Person
from equicover.verification import service as verification
from equicover.verification.models import OPEN_STATUSES, ClaimReview, Recovery

APPROVER_ROLE = Role.FUND_MANAGER


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _month_starts(starts: dt.date, ends: dt.date) -> list[dt.date]:
    months = []
    day = starts.replace(day=1)
    while day <= ends:
        if day >= starts:
            months.append(day)
        day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return months


def capitation_person_months(
    *, session: Session, contract: Contract, provider: Provider, starts: dt.date, ends: dt.date
) -> int:
    """Enrolled persons of the contract's scheme living in the provider's location (its commune,
    or anywhere in its district for a provider placed at district level), counted on the first
    day of each month of the period that the contract covers."""
    from equicover.registry.models import Location

    place = session.get(Location, provider.location_id)
    assert place is not None
    people = select(Person.id).join(Location, Location.id == Person.location_id)
    people = (
        people.where(Location.district_id == place.id)
        if place.level == "district"
        else people.where(Person.location_id == place.id)
    )
    total = 0
    for month in _month_starts(starts, ends):
        if not (contract.starts <= month <= contract.ends):
            continue
        total += int(
            session.scalar(
                select(func.count(func.distinct(Enrolment.person_id))).where(
                    Enrolment.scheme_id == contract.scheme_id,
                    Enrolment.status == "active",
                    Enrolment.starts <= month,
                    Enrolment.ends >= month,
                    Enrolment.person_id.in_(people),
                )
            )
            or 0
        )
    return total


def draft_batch(
    *,
    session: Session,
    provider_code: str,
    period_starts: dt.date,
    period_ends: dt.date,
    actor: str,
    currency: str | None = None,
    capitation_per_person_month: int = 0,
    capitation_fund: str = "basic",
) -> PaymentBatch:
    """Draft the batch of one provider for one period (the maker's step).

    Takes the provider's settled claims served in the period (or earlier and not yet paid) that
    are paid by some fund, not in another batch and not held by an open review; deducts the
    provider's recoveries not yet netted; adds capitation per enrolled person-month for a
    capitation contract in force, paid from ``capitation_fund``, an existing fund of the batch's
    currency.

    The batch pays in the currency and minor digits of the scheme of its claims (their policy
    versions; without claims, the policies of the provider's contracts in the period). A
    ``currency`` that is not the scheme's is refused (422); omitted, it is the scheme's.
    """
    currency_asked = currency
    provider = session.scalar(select(Provider).where(Provider.code == provider_code))
    record = f"payment batch {provider_code} {period_starts}"
    if provider is None:
        raise NotFound(record, "provider_code", "unknown provider")
    if period_ends < period_starts:
        raise ValidationFailed(record, "period_ends", "is before period_starts")
    if capitation_per_person_month < 0:
        raise ValidationFailed(record, "capitation_per_person_month", "must not be negative")
    clash = session.scalar(
        select(PaymentBatch.id).where(
            PaymentBatch.provider_id == provider.id,
            PaymentBatch.status != "cancelled",
            PaymentBatch.period_starts <= period_ends,
            PaymentBatch.period_ends >= period_starts,
        )
    )
    if clash is not None:
        raise Conflict(record, "period_starts", f"overlaps batch {clash}")
    batched = select(PaymentBatchClaim.claim_pk)
    held = select(ClaimReview.claim_pk).where(ClaimReview.status.in_(OPEN_STATUSES))
    rows = session.execute(
        select(
            Claim.id,
            ClaimPayment.kind,
            ClaimPayment.item_id,
            ClaimPayment.payer,
            ClaimPayment.amount,
            Claim.policy_version_id,
        )
        .join(ClaimPayment, ClaimPayment.claim_pk == Claim.id)
        # Earlier claims not paid yet (held by a review then, or submitted late) are caught up.
        .where(
            Claim.provider_id == provider.id,
            Claim.status == "settled",
            Claim.service_date <= period_ends,
            ClaimPayment.kind == "layer",
            ClaimPayment.amount > 0,
            Claim.id.not_in(batched),
            Claim.id.not_in(held),
        )
    ).all()
    claims_by_fund: dict[str, int] = defaultdict(int)
    claim_pks: set[int] = set()
    version_ids: set[int] = set()
    for claim_pk, kind, item_id, payer, amount, version_id in rows:
        claims_by_fund[ledger.fund_code_of_payment(kind, item_id, payer)] += int(amount)
        claim_pks.add(claim_pk)
        if version_id is not None:
            version_ids.add(version_id)
    recoveries = verification.unpaid_recoveries(session=session, provider_id=provider.id)
    recovered_by_fund: dict[str, int] = defaultdict(int)
    for recovery in recoveries:
        recovered_by_fund[recovery.fund_code] += recovery.amount
    adjustments = corrections.adjustments_due(session=session, provider_id=provider.id, period_ends=period_ends)
    corrections.add_due_to_funds(adjustments, claims_by_fund, recovered_by_fund)
    version_ids.update(item.policy_version_id for item in adjustments if item.policy_version_id is not None)
    owed = corrections.corrections_due(session=session, provider_id=provider.id)
    corrections.add_corrections_to_funds(owed, claims_by_fund, recovered_by_fund)
    if recoveries:
        version_ids.update(
            session.scalars(
                select(Claim.policy_version_id).where(
                    Claim.id.in_({recovery.claim_pk for recovery in recoveries}),
                    Claim.policy_version_id.is_not(None),
                )
            )
        )
    currency, digits = _batch_money(
        session,
        record,
        provider=provider,
        starts=period_starts,
        ends=period_ends,
        version_ids=version_ids,
        asked=currency_asked,
    )
    if currency_asked is not None and currency_asked != currency:
        raise ValidationFailed(
            record, "currency", f"is {currency_asked}; the scheme of these claims pays in {currency}"
        )
    _check_correction_funds(session, record, owed, currency, digits)
    if capitation_per_person_month:
        _check_capitation_fund(session, record, capitation_fund, currency, digits)
    capitation = 0
    if capitation_per_person_month:
        contracts = session.scalars(
            select(Contract).where(
                Contract.provider_id == provider.id,
                Contract.payment_method == "capitation",
                Contract.starts <= period_ends,
                Contract.ends >= period_starts,
            )
        ).all()
        for contract in contracts:
            capitation += capitation_per_person_month * capitation_person_months(
                session=session, contract=contract, provider=provider, starts=period_starts, ends=period_ends
            )
    batch = PaymentBatch(
        provider_id=provider.id,
        period_starts=period_starts,
        period_ends=period_ends,
        currency=currency,
        minor_digits=digits,
        status="draft",
        claim_count=len(claim_pks),
        claims_amount=sum(claims_by_fund.values()),
        capitation_amount=capitation,
        recoveries_amount=sum(recovered_by_fund.values()),
        net_amount=sum(claims_by_fund.values()) + capitation - sum(recovered_by_fund.values()),
        created_at=_now(),
        created_by=actor,
    )
    session.add(batch)
    session.flush()
    lines = [
        PaymentBatchLine(batch_id=batch.id, fund_code=fund, kind="claims", amount=amount)
        for fund, amount in sorted(claims_by_fund.items())
    ]
    lines += [
        PaymentBatchLine(batch_id=batch.id, fund_code=fund, kind="recoveries", amount=amount)
        for fund, amount in sorted(recovered_by_fund.items())
    ]
    if capitation:
        lines.append(
            PaymentBatchLine(batch_id=batch.id, fund_code=capitation_fund, kind="capitation", amount=capitation)
        )
    session.add_all(lines)
    if claim_pks:
        session.execute(insert(PaymentBatchClaim), [{"claim_pk": pk, "batch_id": batch.id} for pk in sorted(claim_pks)])
    verification.net_recoveries_in_batch(session=session, recoveries=recoveries, payment_batch_id=batch.id)
    corrections.net_adjustments_in_batch(session=session, due=adjustments, batch_id=batch.id)
    corrections.net_corrections_in_batch(session=session, due=owed, batch_id=batch.id)
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="payment_batches",
        entity_id=batch.id,
        action="create",
        after={"provider_id": provider.id, "net_amount": batch.net_amount, "claims": batch.claim_count},
    )
    return batch


def _batch_money(
    session: Session,
    record: str,
    *,
    provider: Provider,
    starts: dt.date,
    ends: dt.date,
    version_ids: set[int],
    asked: str | None,
) -> tuple[str, int]:
    """The currency and minor digits of the scheme whose claims the batch pays."""
    of_versions = select(PolicyVersion.currency, PolicyVersion.minor_digits)
    found: set[tuple[str, int]] = set()
    if version_ids:
        found = {
            (str(currency), int(digits))
            for currency, digits in session.execute(of_versions.where(PolicyVersion.id.in_(version_ids))).all()
        }
    if not found:
        # Claims of the period that paid nothing still name the scheme they were settled under.
        served = select(Claim.policy_version_id).where(
            Claim.provider_id == provider.id, Claim.service_date >= starts, Claim.service_date <= ends
        )
        found = {
            (str(currency), int(digits))
            for currency, digits in session.execute(of_versions.where(PolicyVersion.id.in_(served))).all()
        }
    if not found:
        # Nothing to pay for claims (capitation only, or an empty period): the schemes the
        # provider is contracted with in the period say what it is paid in.
        scheme_ids = list(
            session.scalars(
                select(Contract.scheme_id).where(
                    Contract.provider_id == provider.id, Contract.starts <= ends, Contract.ends >= starts
                )
            )
        )
        found = set(claims_service.money_in_force(session=session, starts=starts, ends=ends, scheme_ids=scheme_ids))
        if not found and scheme_ids:
            found = {
                (str(currency), int(digits))
                for currency, digits in session.execute(
                    select(Scheme.currency, Scheme.minor_digits).where(Scheme.id.in_(scheme_ids))
                ).all()
            }
    if not found:
        # Nothing at all to pay and no scheme to ask: an empty batch in the currency named.
        if asked is None:
            raise ValidationFailed(record, "currency", "no scheme pays this provider in the period: name the currency")
        try:
            return asked, minor_digits_of(asked)
        except MoneyError as error:
            raise ValidationFailed(record, "currency", str(error)) from None
    if len(found) > 1:
        names = ", ".join(f"{currency} ({digits} minor digits)" for currency, digits in sorted(found))
        raise Conflict(record, "currency", f"the claims of the period are paid in several currencies: {names}")
    return found.pop()


def _check_correction_funds(
    session: Session, record: str, owed: Sequence[PaymentCorrection], currency: str, digits: int
) -> None:
    """A correction is netted in the money of its fund: a batch paying in other money is refused
    rather than adding amounts counted in two currencies."""
    for code in sorted({item.fund_code for item in owed}):
        try:
            fund = ledger.get_fund(session=session, code=code)
        except NotFound:
            continue  # a correction the ledger never posted (a recovery repaid) is in the claims' money
        other = ledger.other_money(fund, currency, digits)
        if other is not None:
            raise Conflict(
                record,
                "corrections",
                f"a correction is owed from fund {code}, which {other}; the batch pays in {currency} ({digits})",
            )


def _check_capitation_fund(session: Session, record: str, code: str, currency: str, digits: int) -> None:
    """Capitation is paid out of money a fund holds: the fund must exist and count the batch's money."""
    try:
        fund = ledger.get_fund(session=session, code=code)
    except NotFound:
        raise ValidationFailed(
            record, "capitation_fund", "unknown fund: capitation is paid from an existing fund"
        ) from None
    other = ledger.other_money(fund, currency, digits)
    if other is not None:
        raise ValidationFailed(record, "capitation_fund", f"the fund {other}, the batch pays in {currency} ({digits})")


def get_batch(*, session: Session, batch_id: int) -> PaymentBatch:
    batch = session.get(PaymentBatch, batch_id)
    if batch is None:
        raise NotFound(f"payment batch {batch_id}", "batch_id", "unknown batch")
    return batch


def batch_lines(*, session: Session, batch_id: int) -> list[PaymentBatchLine]:
    return list(
        session.scalars(
            select(PaymentBatchLine).where(PaymentBatchLine.batch_id == batch_id).order_by(PaymentBatchLine.id)
        )
    )


def list_batches(*, session: Session, status: str | None = None, provider_ids: Any = None) -> list[PaymentBatch]:
    query = select(PaymentBatch).order_by(PaymentBatch.id)
    if status is not None:
        query = query.where(PaymentBatch.status == status)
    if provider_ids is not None:
        query = query.where(PaymentBatch.provider_id.in_(provider_ids))
    return list(session.scalars(query))


def batches_page(*, session: Session, limit: int, offset: int) -> tuple[list[tuple[PaymentBatch, str, str]], int]:
    """A page of payment batches, the newest first, each with its facility's code and name, and the count of all."""
    rows = session.execute(
        select(PaymentBatch, Provider.code, Provider.name)
        .join(Provider, Provider.id == PaymentBatch.provider_id)
        .order_by(PaymentBatch.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    total = session.scalar(select(func.count()).select_from(PaymentBatch)) or 0
    return [(batch, code, name) for batch, code, name in rows], int(total)


def approve_batch(
    *, session: Session, batch_id: int, actor: str, actor_role: str, paid_on: dt.date | None = None
) -> PaymentBatch:
    """The checker's step: a fund manager other than the maker approves; the ledger gets the
    capitation accrual (Dr provider payments, Cr payable) and the payment (Dr payable, Cr cash)."""
    batch = get_batch(session=session, batch_id=batch_id)
    record = f"payment batch {batch_id}"
    if actor_role != APPROVER_ROLE:
        raise Forbidden(record, "approved_by", "only a fund manager approves payment batches")
    if actor == batch.created_by:
        raise Forbidden(record, "approved_by", "the maker of a batch cannot approve it (maker-checker)")
    if batch.status != "draft":
        raise Conflict(record, "status", f"is {batch.status}, not draft")
    day = paid_on or _now().date()
    digits = batch.minor_digits
    net_by_fund: dict[str, int] = defaultdict(int)
    for line in batch_lines(session=session, batch_id=batch.id):
        ledger.ensure_fund(
            session=session, code=line.fund_code, name=line.fund_code, currency=batch.currency, minor_digits=digits
        )
        if line.kind == "capitation":
            ledger.post_entry(
                session=session,
                fund_code=line.fund_code,
                posted_on=day,
                kind="capitation",
                lines=[
                    ledger.Line(ledger.PROVIDER_PAYMENTS, debit=line.amount),
                    ledger.Line(ledger.PAYABLE, credit=line.amount, provider_id=batch.provider_id),
                ],
                reference=f"batch {batch.id}",
                actor=actor,
            )
        net_by_fund[line.fund_code] += -line.amount if line.kind == "recoveries" else line.amount
    for fund, net in sorted(net_by_fund.items()):
        if net == 0:
            continue
        # A negative net (recoveries above what is due) is money the provider pays back.
        lines = (
            [
                ledger.Line(ledger.PAYABLE, debit=net, provider_id=batch.provider_id),
                ledger.Line(ledger.CASH, credit=net),
            ]
            if net > 0
            else [
                ledger.Line(ledger.CASH, debit=-net),
                ledger.Line(ledger.PAYABLE, credit=-net, provider_id=batch.provider_id),
            ]
        )
        ledger.post_entry(
            session=session,
            fund_code=fund,
            posted_on=day,
            kind="payment",
            lines=lines,
            reference=f"batch {batch.id}",
            actor=actor,
        )
    batch.status = "approved"
    batch.approved_by = actor
    batch.approved_at = _now()
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="payment_batches",
        entity_id=batch.id,
        action="update",
        before={"status": "draft"},
        after={"status": "approved"},
    )
    return batch


def cancel_batch(*, session: Session, batch_id: int, actor: str) -> PaymentBatch:
    """Drop a draft: its claims and recoveries go back to wait for the next batch."""
    batch = get_batch(session=session, batch_id=batch_id)
    if batch.status != "draft":
        raise Conflict(f"payment batch {batch_id}", "status", f"is {batch.status}: only a draft can be cancelled")
    session.execute(delete(PaymentBatchClaim).where(PaymentBatchClaim.batch_id == batch.id))
    verification.release_recoveries(session=session, payment_batch_id=batch.id)
    corrections.release_adjustments(session=session, batch_id=batch.id)
    corrections.release_corrections(session=session, batch_id=batch.id)
    batch.status = "cancelled"
    session.flush()
    record_change(
        session=session,
        actor=actor,
        entity="payment_batches",
        entity_id=batch.id,
        action="update",
        before={"status": "draft"},
        after={"status": "cancelled"},
    )
    return batch


def _claim_amounts(session: Session, batch_id: int) -> list[tuple[int, str, dt.date, int]]:
    return [
        (pk, claim_id, served, int(amount))
        for pk, claim_id, served, amount in session.execute(
            select(Claim.id, Claim.claim_id, Claim.service_date, func.sum(ClaimPayment.amount))
            .join(PaymentBatchClaim, PaymentBatchClaim.claim_pk == Claim.id)
            .join(ClaimPayment, ClaimPayment.claim_pk == Claim.id)
            .where(PaymentBatchClaim.batch_id == batch_id, ClaimPayment.kind == "layer")
            .group_by(Claim.id, Claim.claim_id, Claim.service_date)
            .order_by(Claim.service_date, Claim.claim_id)
        ).all()
    ]


def batch_csv(*, session: Session, batch_id: int) -> str:
    """The batch as CSV: one row per claim, then recoveries (negative) and capitation."""
    batch = get_batch(session=session, batch_id=batch_id)
    digits = batch.minor_digits
    out = io.StringIO()
    writer = safe_csv_writer(out, lineterminator="\n")
    writer.writerow(["batch_id", "provider_code", "line", "reference", "service_date", "amount", "currency"])
    provider = session.get(Provider, batch.provider_id)
    assert provider is not None
    for _, claim_id, served, amount in _claim_amounts(session, batch.id):
        writer.writerow(
            [
                batch.id,
                provider.code,
                "claim",
                claim_id,
                served.isoformat(),
                format_money(amount, digits),
                batch.currency,
            ]
        )
    for recovery_claim, amount in session.execute(
        select(Claim.claim_id, func.sum(Recovery.amount))
        .join(Claim, Claim.id == Recovery.claim_pk)
        .where(Recovery.payment_batch_id == batch.id)
        .group_by(Claim.claim_id)
        .order_by(Claim.claim_id)
    ).all():
        writer.writerow(
            [
                batch.id,
                provider.code,
                "recovery",
                recovery_claim,
                "",
                format_money(-int(amount), digits),
                batch.currency,
            ]
        )
    for adjustment in corrections.batch_adjustments(session=session, batch_id=batch.id):
        # A member line is not in the net: the provider passes the refund on (or collects the difference).
        line = "reversal_recovery" if adjustment.cause == "reversal" else adjustment.reason
        shown = abs(adjustment.amount) if adjustment.kind == "member" else adjustment.amount
        day = adjustment.service_date.isoformat()
        writer.writerow(
            [batch.id, provider.code, line, adjustment.claim_id, day, format_money(shown, digits), batch.currency]
        )
    for correction in corrections.batch_corrections(session=session, batch_id=batch.id):
        writer.writerow(
            [batch.id, provider.code, "correction", correction.source, "", format_money(correction.amount, digits),
             batch.currency]
        )  # fmt: skip
    if batch.capitation_amount:
        writer.writerow(
            [
                batch.id,
                provider.code,
                "capitation",
                f"{batch.period_starts}/{batch.period_ends}",
                "",
                format_money(batch.capitation_amount, digits),
                batch.currency,
            ]
        )
    writer.writerow(
        [batch.id, provider.code, "net", batch.status, "", format_money(batch.net_amount, digits), batch.currency]
    )
    return out.getvalue()


def payment_reconciliation(*, session: Session, batch_id: int) -> dict[str, Any]:
    """The batch as a FHIR R4 PaymentReconciliation (JSON-ready dict)."""
    from fhir.resources.R4B.paymentreconciliation import PaymentReconciliation

    from equicover import fhir_mapping as mapping

    batch = get_batch(session=session, batch_id=batch_id)
    provider = session.get_one(Provider, batch.provider_id)
    digits = batch.minor_digits
    lines: list[tuple[int | str | None, int]] = [(pk, amount) for pk, _, _, amount in _claim_amounts(session, batch.id)]
    lines += [
        (int(pk), -int(amount))
        for pk, amount in session.execute(
            select(Recovery.claim_pk, func.sum(Recovery.amount))
            .where(Recovery.payment_batch_id == batch.id)
            .group_by(Recovery.claim_pk)
            .order_by(Recovery.claim_pk)
        ).all()
    ]
    lines += [
        (adjustment.claim_pk, adjustment.amount)
        for adjustment in corrections.batch_adjustments(session=session, batch_id=batch.id)
        if adjustment.kind == "layer"
    ]
    # A correction decided on a grievance is for no one claim: a detail without a request.
    lines += [
        (None, correction.amount) for correction in corrections.batch_corrections(session=session, batch_id=batch.id)
    ]
    funds = sorted({line.fund_code for line in batch_lines(session=session, batch_id=batch.id)})
    resource = mapping.payment_reconciliation(
        batch_id=str(batch.id),
        provider=provider,
        period=(batch.period_starts, batch.period_ends),
        payer=", ".join(funds) or "purchaser",
        lines=lines,
        currency=batch.currency,
        minor_digits=digits,
        status="active" if batch.status == "approved" else ("cancelled" if batch.status == "cancelled" else "draft"),
        outcome="complete" if batch.status == "approved" else "queued",
        payment_date=(batch.approved_at.date() if batch.approved_at else batch.period_ends),
        created=batch.created_at,
    )
    data = mapping.to_json_value(resource)
    if batch.capitation_amount:
        # Capitation is paid per enrolled person, not per claim: a detail without a request.
        data.setdefault("detail", []).append(
            {
                "type": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/payment-type", "code": "payment"}],
                    "text": "capitation",
                },
                "payee": {"reference": f"Organization/{provider.id}"},
                "date": data.get("paymentDate"),
                "amount": mapping.money(batch.capitation_amount, batch.currency, digits),
            }
        )
        total = sum(lines_amount for _, lines_amount in lines) + batch.capitation_amount
        data["paymentAmount"] = mapping.money(total, batch.currency, digits)
        data = mapping.to_json_value(PaymentReconciliation.model_validate(data))
    return data


def batch_pdf(*, session: Session, batch_id: int) -> bytes:
    """The batch as a one-page-per-50-claims PDF remittance advice."""
    from equicover.pdf import PdfDocument

    batch = get_batch(session=session, batch_id=batch_id)
    provider = session.get(Provider, batch.provider_id)
    assert provider is not None
    digits = batch.minor_digits
    document = PdfDocument(title=f"Payment batch {batch.id}")
    document.heading(f"Payment batch {batch.id} - provider {provider.code} ({provider.level})")
    document.text(
        f"Period {batch.period_starts} to {batch.period_ends}; status {batch.status}; "
        f"made by {batch.created_by}" + (f", approved by {batch.approved_by}" if batch.approved_by else "")
    )
    document.table(
        ["", f"Amount ({batch.currency})"],
        [
            ["Claims paid", format_money(batch.claims_amount, digits)],
            ["Capitation", format_money(batch.capitation_amount, digits)],
            ["Recoveries deducted", format_money(-batch.recoveries_amount, digits)],
            ["Net payment", format_money(batch.net_amount, digits)],
        ],
    )
    document.heading("By fund")
    document.table(
        ["Fund", "Line", "Amount"],
        [
            [line.fund_code, line.kind, format_money(line.amount, digits)]
            for line in batch_lines(session=session, batch_id=batch.id)
        ],
    )
    adjustments = corrections.batch_adjustments(session=session, batch_id=batch.id)
    if adjustments:
        document.heading(f"Adjustments ({len(adjustments)})")
        document.text("Member lines are not in the net payment: the provider passes a refund on to the member.")
        document.table(
            ["Claim", "Served", "Fund", "Line", "Amount"],
            [
                [
                    adjustment.claim_id,
                    adjustment.service_date.isoformat(),
                    adjustment.fund_code or "member",
                    "reversal_recovery" if adjustment.cause == "reversal" else adjustment.reason,
                    format_money(adjustment.amount, digits),
                ]
                for adjustment in adjustments
            ],
        )
    document.heading(f"Claims ({batch.claim_count})")
    document.table(
        ["Claim", "Served", "Paid"],
        [
            [claim_id, served.isoformat(), format_money(amount, digits)]
            for _, claim_id, served, amount in _claim_amounts(session, batch.id)
        ],
    )
    return document.output()


def write_batch_files(*, session: Session, batch_id: int, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / f"payment-batch-{batch_id}.csv"
    pdf_path = folder / f"payment-batch-{batch_id}.pdf"
    csv_path.write_text(batch_csv(session=session, batch_id=batch_id), encoding="utf-8")
    pdf_path.write_bytes(batch_pdf(session=session, batch_id=batch_id))
    return [csv_path, pdf_path]
