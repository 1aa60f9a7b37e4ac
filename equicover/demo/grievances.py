"""The grievance flow of ``equicover demo``: a few cases opened, decided and acted on.

A member charged more than the settlement left to them (upheld: the claim's member share is
refunded, a policy layer pays it instead), a provider contesting a verifier's finding (upheld: the
finding is reversed, its recovery cancelled), a provider contesting a payment batch (partly
upheld: a correction paid in its next batch). Each case goes through the grievance service as a
handler at the window would; the step prints what each decision did.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.admin.demo_accounts import ensure_demo_user
from equicover.auth.models import User
from equicover.auth.roles import Role
from equicover.claims.models import Claim, ClaimPayment
from equicover.db.session import session_scope
from equicover.demo.funds import CHECKER
from equicover.errors import EquicoverError
from equicover.grievances import service as grievances
from equicover.grievances.models import GrievanceCase
from equicover.money import format_money
from equicover.payments import service as payments
from equicover.providers.models import Provider
from equicover.registry.models import Location
from equicover.verification import service as verification

VERIFIER = "demo-grievance-verifier"


@dataclass(frozen=True, slots=True)
class DecidedCase:
    case_id: int
    category: str
    complainant: str
    outcome: str
    act: str
    amount: int


def _district_code(session: Session, provider_id: int) -> str:
    location = session.get_one(Location, session.get_one(Provider, provider_id).location_id)
    district_id = location.id if location.level in ("district", "province", "country") else location.district_id
    return session.get_one(Location, district_id or location.id).code


def _user(session: Session, username: str) -> User:
    return session.scalars(select(User).where(User.username == username)).one()


def _overcharge(session: Session, starts: dt.date, ends: dt.date) -> DecidedCase | None:
    """The first claim of the period that left its member a share: she says the counter took it
    twice; the verifier of the facility's district upholds and half of her share is refunded."""
    found = session.execute(
        select(Claim, ClaimPayment.item_id)
        .join(ClaimPayment, ClaimPayment.claim_pk == Claim.id)
        .where(
            Claim.status == "settled",
            Claim.member_oop > 1,
            Claim.policy_version_id.is_not(None),
            Claim.service_date.between(starts, ends),
            ClaimPayment.kind == "layer",
            ClaimPayment.amount > 0,
        )
        .order_by(Claim.id, ClaimPayment.id)
        .limit(1)
    ).first()
    if found is None:
        return None
    claim, layer_id = found
    case = grievances.open_case(
        session=session, category="overcharged", subject_id=claim.id, channel="phone",
        description="charged at the counter for care the scheme covers", opened_on=ends,
        complainant_person_id=claim.person_id, actor="demo-window",
    )  # fmt: skip
    ensure_demo_user(
        session=session, username=VERIFIER, role=Role.VERIFIER, scope="grievances: overcharges",
        area=_district_code(session, claim.provider_id),
    )  # fmt: skip
    amount = claim.member_oop // 2
    grievances.decide(
        session=session, case=case, user=_user(session, VERIFIER), outcome="upheld",
        reasons="the receipt shows the share was taken twice", on=ends + dt.timedelta(days=7),
        refund=grievances.Refund(amount, layer_id),
    )  # fmt: skip
    return DecidedCase(case.id, case.category, "member", "upheld", "member refunded", amount)


def _contested_finding(session: Session, ends: dt.date) -> DecidedCase | None:
    """The riskiest open review is partly disallowed; its provider contests with the missing
    documents and the fund manager upholds: the finding is reversed."""
    queue = [item for item in verification.verifier_queue(session=session, limit=50) if item.paid > 1]
    if not queue:
        return None
    item = queue[0]
    amount = max(1, item.paid // 5)
    verification.decide(
        session=session, review_id=item.review_id, decision="disallow", amount=amount,
        reason="two days of the stay not documented", actor=VERIFIER, on=ends + dt.timedelta(days=3),
    )  # fmt: skip
    case = grievances.open_case(
        session=session, category="verification_finding", subject_id=item.review_id, channel="web",
        description="the nursing notes of both days were filed late; copies attached",
        opened_on=ends + dt.timedelta(days=5), complainant_provider_code=item.provider_code, actor="demo-provider",
    )  # fmt: skip
    grievances.decide(
        session=session, case=case, user=_user(session, CHECKER), outcome="upheld",
        reasons="the notes document both days", on=ends + dt.timedelta(days=12),
    )  # fmt: skip
    return DecidedCase(case.id, case.category, "provider", "upheld", "finding reversed, recovery cancelled", amount)


def _contested_batch(session: Session, ends: dt.date) -> DecidedCase | None:
    """The first approved batch: its provider says a claim was paid short; partly upheld, a
    correction of one per cent of the batch goes into its next batch."""
    batches = [batch for batch in payments.list_batches(session=session, status="approved") if batch.net_amount > 100]
    if not batches:
        return None
    batch = batches[0]
    lines = [line for line in payments.batch_lines(session=session, batch_id=batch.id) if line.kind == "claims"]
    if not lines:
        return None
    provider_code = session.get_one(Provider, batch.provider_id).code
    case = grievances.open_case(
        session=session, category="payment_batch", subject_id=batch.id, channel="web",
        description="one bill of the period was paid at the old fee", opened_on=ends + dt.timedelta(days=15),
        complainant_provider_code=provider_code, actor="demo-provider",
    )  # fmt: skip
    amount = max(1, batch.net_amount // 100)
    grievances.decide(
        session=session, case=case, user=_user(session, CHECKER), outcome="partly_upheld",
        reasons="one bill was paid at the old fee; the others were right", on=ends + dt.timedelta(days=20),
        batch_correction=grievances.BatchCorrection(amount, lines[0].fund_code),
    )  # fmt: skip
    return DecidedCase(case.id, case.category, "provider", "partly_upheld", "paid in the next batch", amount)


def run_grievance_demo(
    *, starts: dt.date, ends: dt.date, minor_digits: int, console: Console, currency: str = ""
) -> list[DecidedCase]:
    """Open and decide the demo's cases (claims served from ``starts`` to ``ends``) and print them."""
    console.rule("10. Grievances: a member overcharged, a provider contesting a finding and a batch")
    with session_scope() as session:

        def attempt(flow: Callable[[], DecidedCase | None]) -> DecidedCase | None:
            # Each case in a savepoint: a decision the data refuses leaves no half-opened case behind.
            savepoint = session.begin_nested()
            try:
                found = flow()
            except EquicoverError as error:
                savepoint.rollback()
                console.print(f"A case was not decided: {error.message}", highlight=False, markup=False)
                return None
            savepoint.commit()
            return found

        overcharge = attempt(lambda: _overcharge(session, starts, ends))
        if overcharge is None:
            console.print("No claim of the period left its member a share: no overcharge to refund.", highlight=False)
        decided = [
            found
            for found in (
                overcharge,
                attempt(lambda: _contested_finding(session, ends)),
                attempt(lambda: _contested_batch(session, ends)),
            )
            if found is not None
        ]
        open_cases = len(session.scalars(select(GrievanceCase.id).where(GrievanceCase.status == "open")).all())
    table = Table(title="Grievance cases decided, and what each decision did")
    for column in ("case", "category", "complainant", "outcome", "act"):
        table.add_column(column)
    table.add_column(f"amount ({currency})" if currency else "amount", justify="right")
    for case in decided:
        table.add_row(
            str(case.case_id), case.category, case.complainant, case.outcome, case.act,
            format_money(case.amount, minor_digits),
        )  # fmt: skip
    console.print(table)
    console.print(f"{len(decided)} case(s) decided with their acts; {open_cases} still open.", highlight=False)
    return decided
