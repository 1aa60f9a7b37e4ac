"""Commands of issue 7: ``load-claims``, ``funds``, ``verify``, ``anomaly``, ``payments``, ``care``, ``report``.

Each command is one unit of work (``session_scope``: commit once, roll back on error) and prints
an error without a traceback on bad input (exit 1; 2 for a malformed option).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.console import make_console
from equicover.db.base import load_all_models
from equicover.db.session import session_scope
from equicover.errors import EquicoverError
from equicover.money import MoneyError, format_money, minor_digits_of, parse_money

_console = make_console()
load_all_models()  # every table the commands' foreign keys reach, whichever service runs first

funds_app = typer.Typer(no_args_is_help=True, help="Fund ledger: post, balances, monthly flows.")
verify_app = typer.Typer(no_args_is_help=True, help="Verification of providers: samples, queue, findings, scorecards.")
anomaly_app = typer.Typer(no_args_is_help=True, help="Anomaly detection over stored claims.")
payments_app = typer.Typer(no_args_is_help=True, help="Payment batches to providers (maker-checker).")
care_app = typer.Typer(no_args_is_help=True, help="Care ledger of the registered poor.")
report_app = typer.Typer(no_args_is_help=True, help="Programme indicators and the semi-annual report.")


def _date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        _console.print(f"[red]{option}: {value!r} is not an ISO date (YYYY-MM-DD)[/]")
        raise typer.Exit(2) from None


def _amount(value: str, currency: str, option: str) -> int:
    try:
        return parse_money(value, _digits(currency))
    except MoneyError as error:
        _console.print(f"[red]{option}: {error}[/]")
        raise typer.Exit(2) from None


def _digits(currency: str) -> int:
    try:
        return minor_digits_of(currency)
    except MoneyError:
        return 2


@contextmanager
def _unit_of_work() -> Iterator[Session]:
    try:
        with session_scope() as session:
            yield session
    except EquicoverError as error:
        _console.print(f"[red]{error.message}[/]")
        raise typer.Exit(1) from None


def _money(currency: str) -> Callable[[int], str]:
    digits = _digits(currency)
    return lambda amount: format_money(int(amount), digits)


# ------------------------------------------------------------------ load-claims


def load_claims(
    policy: Path = typer.Option(..., "--policy", exists=True, dir_okay=False, help="The policy that settles the claims."),
    claims: Path = typer.Option(..., "--claims", exists=True, dir_okay=False, help="The claims file (CSV or Parquet)."),
    scheme: str | None = typer.Option(None, "--scheme", help="Scheme whose enrolments and provider contracts apply (default: the policy version's)."),
    synthetic_submission: bool = typer.Option(
        False, "--synthetic-submission", help="No submission times in the file: date them 0-14 days after discharge (synthetic data)."),
    settlements: Path | None = typer.Option(
        None, "--settlements", hidden=True, help="Ignored: load-claims settles the claims itself (kept for older scripts)."),
) -> None:
    """Settle a file of claims and store it: claims, payments, the members' accumulators and what
    each claim added to them. Claims the scheme does not pay (member not enrolled, provider without
    a contract, service not designated) are set aside before settlement and stored paid nothing."""
    from equicover.claims.bulk import load_settled_claims
    from equicover.settlement.loader import load_policy

    if settlements is not None:
        _console.print("[yellow]--settlements is ignored: load-claims settles the claims itself, "
                       "after setting aside the claims the scheme does not pay.[/]")
    loaded = load_policy(policy)
    with _unit_of_work() as session:
        with _console.status("Settling and storing claims..."):
            report = load_settled_claims(session=session, policy=loaded, claims_path=claims, scheme_code=scheme, actor="cli",
                                         synthetic_submission=synthetic_submission)
    _console.print(f"Stored {report.claims:,} claims and {report.payments:,} payments "
                   f"({report.zero_outside_contract:,} from providers outside their contract and {report.zero_not_covered:,} "
                   f"of members not covered on the date, set aside before settlement: paid nothing); "
                   f"{report.accumulators:,} accumulators, {report.deltas:,} accumulator movements"
                   + (f", {report.seeded_years:,} member-years continued from stored accumulators." if report.seeded_years else "."))


# ------------------------------------------------------------------ funds


@funds_app.command("post-claims")
def post_claims(
    up_to: str = typer.Option(..., "--up-to", help="Post claims served on or before this date."),
    currency: str = typer.Option("CNY", "--currency"),
) -> None:
    """Take stored claims into the ledger (settlements and reversals, once each)."""
    from equicover.funds import service

    with _unit_of_work() as session:
        counts = service.post_claim_settlements(session=session, up_to=_date(up_to, "--up-to"), currency=currency,
                                                minor_digits=_digits(currency), actor="cli")
    _console.print(f"Posted {counts['settlement']:,} settlements and {counts['reversal']:,} reversals in {counts['entries']:,} entries.")


@funds_app.command("post-contributions")
def post_contributions(
    scheme: str = typer.Option(..., "--scheme", help="Scheme code whose paid contributions fund the fund."),
    fund: str = typer.Option(..., "--fund", help="Fund code (a policy layer id, e.g. basic)."),
    name: str | None = typer.Option(None, "--name", help="Fund name, when the fund is new."),
) -> None:
    """Post a scheme's paid contributions (by payer: state budget, local budget, members, ...)."""
    from equicover.enrolment.models import Scheme
    from equicover.funds import service

    with _unit_of_work() as session:
        row = session.scalar(select(Scheme).where(Scheme.code == scheme))
        if row is None:
            _console.print(f"[red]scheme {scheme}: unknown scheme[/]")
            raise typer.Exit(1)
        service.ensure_fund(session=session, code=fund, name=name or fund, currency=row.currency, minor_digits=row.minor_digits)
        posted = service.post_enrolment_contributions(session=session, fund_code=fund, scheme_id=row.id, actor="cli")
    _console.print(f"Posted {posted} contribution entr{'y' if posted == 1 else 'ies'} to fund {fund}.")


@funds_app.command("receive")
def receive(
    fund: str = typer.Option(..., "--fund"),
    source: str = typer.Option(..., "--source", help="state_budget, local_budget, social_cohesion_fund, territorial_communities, member_contributions, donors, charity"),
    amount: str = typer.Option(..., "--amount", help="Major units, e.g. 1000000.00"),
    on: str = typer.Option(..., "--on"),
    currency: str = typer.Option("CNY", "--currency"),
    reference: str | None = typer.Option(None, "--reference"),
) -> None:
    """Record money received by a fund from a source."""
    from equicover.funds import service

    with _unit_of_work() as session:
        service.ensure_fund(session=session, code=fund, name=fund, currency=currency, minor_digits=_digits(currency))
        entry = service.record_contribution(session=session, fund_code=fund, source=source, amount=_amount(amount, currency, "--amount"),
                                            received_on=_date(on, "--on"), reference=reference, actor="cli")
    _console.print(f"Entry {entry.id} posted.")


@funds_app.command("spend")
def spend(
    fund: str = typer.Option(..., "--fund"),
    use: str = typer.Option(..., "--use", help="transplants, administration, allowances, provider_payments"),
    amount: str = typer.Option(..., "--amount"),
    on: str = typer.Option(..., "--on"),
    currency: str = typer.Option("CNY", "--currency"),
    memo: str = typer.Option("", "--memo"),
) -> None:
    """Record money a fund spends outside claims (e.g. the transplants special account)."""
    from equicover.funds import service

    with _unit_of_work() as session:
        entry = service.record_transfer(session=session, fund_code=fund, use=use, amount=_amount(amount, currency, "--amount"),
                                        paid_on=_date(on, "--on"), memo=memo, actor="cli")
    _console.print(f"Entry {entry.id} posted.")


@funds_app.command("reverse")
def reverse(entry_id: int = typer.Argument(...), on: str = typer.Option(..., "--on"), memo: str = typer.Option(..., "--memo")) -> None:
    """Correct an entry by a reversing entry (entries are never changed or deleted)."""
    from equicover.funds import service

    with _unit_of_work() as session:
        entry = service.reverse_entry(session=session, entry_id=entry_id, posted_on=_date(on, "--on"), memo=memo, actor="cli")
    _console.print(f"Entry {entry.id} reverses entry {entry_id}.")


@funds_app.command("balances")
def balances(fund: str | None = typer.Option(None, "--fund"), as_of: str | None = typer.Option(None, "--as-of")) -> None:
    """Balance of every account of every fund (or one)."""
    from equicover.funds import service
    from equicover.funds.models import Fund

    with _unit_of_work() as session:
        rows = service.balances(session=session, fund_code=fund, as_of=_date(as_of, "--as-of") if as_of else None)
        currencies = {f.code: f.currency for f in session.scalars(select(Fund))}
        debit, credit = service.trial_balance(session=session)
    table = Table(title="Fund ledger balances" + (f" at {as_of}" if as_of else ""))
    for column in ("Fund", "Account", "Kind", "Debits", "Credits", "Balance"):
        table.add_column(column, justify="left" if column in ("Fund", "Account", "Kind") else "right")
    for row in rows:
        money = _money(currencies.get(row.fund, "CNY"))
        table.add_row(row.fund, row.account, row.kind, money(row.debit), money(row.credit), money(row.balance))
    _console.print(table)
    _console.print(f"Trial balance: debits {debit:,} = credits {credit:,} (minor units): {'balanced' if debit == credit else 'NOT BALANCED'}")


@funds_app.command("flows")
def flows(start: str = typer.Option(..., "--from"), end: str = typer.Option(..., "--to"), fund: str | None = typer.Option(None, "--fund")) -> None:
    """Debits and credits per fund, month and account."""
    from equicover.funds import service
    from equicover.funds.models import Fund

    with _unit_of_work() as session:
        rows = service.flows_by_month(session=session, starts=_date(start, "--from"), ends=_date(end, "--to"), fund_code=fund)
        currencies = {f.code: f.currency for f in session.scalars(select(Fund))}
    table = Table(title="Monthly flows")
    for column in ("Fund", "Month", "Account", "Debits", "Credits"):
        table.add_column(column)
    for row in rows:
        money = _money(currencies.get(row.fund, "CNY"))
        table.add_row(row.fund, row.month, row.account, money(row.debit), money(row.credit))
    _console.print(table)


# ------------------------------------------------------------------ verification


@verify_app.command("sample")
def sample(
    start: str = typer.Option(..., "--from"), end: str = typer.Option(..., "--to"),
    random_count: int = typer.Option(50, "--random"), risk_count: int = typer.Option(50, "--risk"),
    seed: int = typer.Option(..., "--seed"),
) -> None:
    """Draw claims of a period for review: a random part and a risk-weighted part."""
    from equicover.verification import service

    with _unit_of_work() as session:
        drawn = service.draw_sample(session=session, period_starts=_date(start, "--from"), period_ends=_date(end, "--to"),
                                    random_count=random_count, risk_count=risk_count, seed=seed, actor="cli")
    _console.print(f"Sample {drawn.id}: {drawn.random_count} random and {drawn.risk_count} risk-weighted claims queued for review.")


@verify_app.command("queue")
def queue(district: str | None = typer.Option(None, "--district", help="District code (default: all)."), limit: int = typer.Option(30, "--limit")) -> None:
    """Open reviews, riskiest first."""
    from equicover.registry.models import Location
    from equicover.verification import service

    with _unit_of_work() as session:
        ids = None
        if district:
            found = session.scalar(select(Location.id).where(Location.code == district))
            if found is None:
                _console.print(f"[red]district {district}: unknown location[/]")
                raise typer.Exit(1)
            ids = [found]
        items = service.verifier_queue(session=session, district_ids=ids, limit=limit)
    table = Table(title="Verification queue")
    for column in ("Review", "Claim", "Provider", "Served", "Care", "Dx", "Days", "Paid", "Selection", "Risk", "Why"):
        table.add_column(column)
    for item in items:
        table.add_row(str(item.review_id), item.claim_id, item.provider_code, str(item.service_date), item.care_type, item.diagnosis,
                      str(item.days), f"{item.paid:,}", item.selection, f"{item.risk_score:.1f}", item.risk_reason[:60])
    _console.print(table)


@verify_app.command("decide")
def decide(
    review_id: int = typer.Argument(...),
    decision: str = typer.Argument(..., help="accept | query | disallow | reject"),
    reason: str | None = typer.Option(None, "--reason"),
    amount: str | None = typer.Option(None, "--amount", help="For disallow: the amount taken back (major units)."),
    currency: str = typer.Option("CNY", "--currency"),
    by: str = typer.Option("cli", "--by", help="The verifier's name, for the record."),
) -> None:
    """Record a finding on a review; a disallowance or rejection creates recoveries."""
    from equicover.verification import service

    with _unit_of_work() as session:
        review = service.decide(session=session, review_id=review_id, decision=decision, reason=reason,
                                amount=_amount(amount, currency, "--amount") if amount else None, actor=by)
    _console.print(f"Review {review.id}: {review.status}" + (f", {review.disallowed:,} recovered" if review.disallowed else ""))


@verify_app.command("scorecards")
def scorecards(start: str = typer.Option(..., "--from"), end: str = typer.Option(..., "--to")) -> None:
    """Provider scorecards: claims, amounts, findings, length of stay, cost per case against peers."""
    from equicover.verification import service

    with _unit_of_work() as session:
        cards = service.provider_scorecards(session=session, period_starts=_date(start, "--from"), period_ends=_date(end, "--to"))
    table = Table(title=f"Provider scorecards {start} to {end}")
    for column in ("Provider", "Level", "Claims", "Allowed", "Paid", "Reviewed", "Rejected %", "Disallowed %", "ALOS", "Cost/case vs peers"):
        table.add_column(column, justify="left" if column in ("Provider", "Level") else "right")
    for card in cards:
        table.add_row(card.provider_code, card.level, f"{card.claims:,}", f"{card.allowed:,}", f"{card.paid:,}", str(card.reviewed),
                      _pct(card.rejection_rate), _pct(card.disallowance_rate),
                      "" if card.average_length_of_stay is None else f"{card.average_length_of_stay:.1f}",
                      "" if card.cost_against_peers is None else f"{card.cost_against_peers:.2f}x")
    _console.print(table)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


# ------------------------------------------------------------------ anomaly


@anomaly_app.command("run")
def anomaly_run(start: str = typer.Option(..., "--from"), end: str = typer.Option(..., "--to"), seed: int = typer.Option(0, "--seed"),
                top: int = typer.Option(15, "--top", help="Flags to print.")) -> None:
    """Score the period's stored claims (robust z-scores, rules, IsolationForest) and store the flags."""
    from equicover.anomaly import service

    with _unit_of_work() as session:
        with _console.status("Scoring claims..."):
            run, result = service.run_detection(session=session, starts=_date(start, "--from"), ends=_date(end, "--to"), seed=seed, actor="cli")
        flags = service.top_flags(session=session, run_id=run.id, limit=top)
    _console.print(f"Run {run.id}: {run.claims_scanned:,} claims scanned in {result.seconds['total']:.1f} s, {run.flags:,} flagged.")
    table = Table(title=f"Top {len(flags)} flags")
    for column in ("Claim", "Score", "Rules", "Reason"):
        table.add_column(column)
    for flag, claim_id in flags:
        table.add_row(claim_id, f"{flag.score:.1f}", flag.rules, flag.reason)
    _console.print(table)


# ------------------------------------------------------------------ payments


def _user_role(session: Session, username: str) -> str:
    from equicover.auth.service import get_user

    user = get_user(session=session, username=username)
    if not user.active:
        _console.print(f"[red]user {username}: not active[/]")
        raise typer.Exit(1)
    return user.role


@payments_app.command("draft")
def draft(
    start: str = typer.Option(..., "--from"), end: str = typer.Option(..., "--to"),
    maker: str = typer.Option(..., "--maker", help="User name of the maker (an existing user)."),
    provider: list[str] = typer.Option([], "--provider", help="Provider code (repeat); default: every provider with claims or capitation."),
    currency: str = typer.Option("CNY", "--currency"),
    capitation: str = typer.Option("0", "--capitation", help="Capitation per enrolled person and month (major units)."),
    capitation_fund: str = typer.Option("basic", "--capitation-fund"),
) -> None:
    """Draft payment batches (the maker's step)."""
    from equicover.claims.models import Claim
    from equicover.payments import service
    from equicover.providers.models import Contract, Provider

    starts, ends = _date(start, "--from"), _date(end, "--to")
    rate = _amount(capitation, currency, "--capitation")
    with _unit_of_work() as session:
        _user_role(session, maker)
        codes = list(provider)
        if not codes:
            with_claims = select(Claim.provider_id).where(Claim.service_date >= starts, Claim.service_date <= ends)
            with_capitation = select(Contract.provider_id).where(Contract.payment_method == "capitation")
            codes = list(session.scalars(select(Provider.code).where(Provider.id.in_(with_claims) | Provider.id.in_(with_capitation))
                                         .order_by(Provider.code)))
        drafted = [service.draft_batch(session=session, provider_code=code, period_starts=starts, period_ends=ends, actor=maker,
                                       currency=currency, capitation_per_person_month=rate, capitation_fund=capitation_fund)
                   for code in codes]
    money = _money(currency)
    total = sum(batch.net_amount for batch in drafted)
    _console.print(f"Drafted {len(drafted)} batch(es) by {maker}: net {money(total)} {currency} "
                   f"(batch ids {drafted[0].id}-{drafted[-1].id})" if drafted else "No batch drafted.")


@payments_app.command("approve")
def approve(
    batch_ids: list[int] = typer.Argument(None, help="Batch ids (default with --all-drafts: every draft)."),
    by: str = typer.Option(..., "--by", help="User name of the approving fund manager (not the maker)."),
    all_drafts: bool = typer.Option(False, "--all-drafts"),
    on: str | None = typer.Option(None, "--on", help="Payment date (default today)."),
) -> None:
    """Approve batches (the checker's step): a fund manager who did not draft them."""
    from equicover.payments import service

    with _unit_of_work() as session:
        role = _user_role(session, by)
        ids = list(batch_ids or [])
        if all_drafts:
            ids += [batch.id for batch in service.list_batches(session=session, status="draft")]
        for batch_id in ids:
            service.approve_batch(session=session, batch_id=batch_id, actor=by, actor_role=role, paid_on=_date(on, "--on") if on else None)
    _console.print(f"Approved {len(ids)} batch(es) by {by}.")


@payments_app.command("list")
def list_batches(status: str | None = typer.Option(None, "--status")) -> None:
    """Payment batches with their amounts."""
    from equicover.payments import service
    from equicover.providers.models import Provider

    with _unit_of_work() as session:
        batches = service.list_batches(session=session, status=status)
        codes = {p.id: p.code for p in session.scalars(select(Provider))}
    table = Table(title="Payment batches")
    for column in ("Batch", "Provider", "Period", "Status", "Claims", "Claims amount", "Capitation", "Recoveries", "Net", "Maker", "Approver"):
        table.add_column(column)
    for batch in batches:
        money = _money(batch.currency)
        table.add_row(str(batch.id), codes.get(batch.provider_id, "?"), f"{batch.period_starts}..{batch.period_ends}", batch.status,
                      f"{batch.claim_count:,}", money(batch.claims_amount), money(batch.capitation_amount), money(batch.recoveries_amount),
                      money(batch.net_amount), batch.created_by, batch.approved_by or "")
    _console.print(table)


@payments_app.command("export")
def export(batch_id: int = typer.Argument(...), out: Path = typer.Option(Path("."), "--out", file_okay=False)) -> None:
    """Write a batch as CSV, PDF and a FHIR PaymentReconciliation (JSON)."""
    from equicover.payments import service

    with _unit_of_work() as session:
        paths = service.write_batch_files(session=session, batch_id=batch_id, folder=out)
        resource = service.payment_reconciliation(session=session, batch_id=batch_id)
    fhir_path = out / f"payment-batch-{batch_id}.fhir.json"
    fhir_path.write_text(json.dumps(resource, indent=2, default=str), encoding="utf-8")
    _console.print("Wrote " + ", ".join(str(path) for path in [*paths, fhir_path]))


# ------------------------------------------------------------------ care


@care_app.command("from-claims")
def care_from_claims(start: str = typer.Option(..., "--from"), end: str = typer.Option(..., "--to")) -> None:
    """Note the chronic conditions of the registered poor seen in chronic out-patient claims."""
    from equicover.care import service

    with _unit_of_work() as session:
        added = service.conditions_from_claims(session=session, starts=_date(start, "--from"), ends=_date(end, "--to"), actor="cli")
    _console.print(f"Noted {added:,} chronic conditions.")


@care_app.command("family-doctors")
def care_family_doctors(start: str = typer.Option(..., "--from"), end: str = typer.Option(..., "--to"),
                        level: str = typer.Option("township", "--level", help="Provider level of the family-doctor teams.")) -> None:
    """Sign a family-doctor contract for every registered-poor person without one (own commune's facility)."""
    from equicover.care import service

    with _unit_of_work() as session:
        signed = service.sign_family_doctors_for_poor(session=session, starts=_date(start, "--from"), ends=_date(end, "--to"),
                                                      provider_level=level, actor="cli")
    _console.print(f"Signed {signed:,} family-doctor contracts.")


@care_app.command("summary")
def care_summary(on: str = typer.Option(..., "--on")) -> None:
    """Registered poor by treatment status, family doctors and health checks."""
    from equicover.care import service

    with _unit_of_work() as session:
        summary = service.status_summary(session=session, on=_date(on, "--on"))
    table = Table(title=f"Care ledger on {on}")
    table.add_column("Status")
    table.add_column("Persons", justify="right")
    for key, value in summary.items():
        table.add_row(key, f"{value:,}")
    _console.print(table)


@care_app.command("untreated")
def care_untreated(on: str = typer.Option(..., "--on"), limit: int = typer.Option(50, "--limit")) -> None:
    """Registered-poor persons who need treatment and have none (by person id)."""
    from equicover.care import service

    with _unit_of_work() as session:
        entries = service.untreated(session=session, on=_date(on, "--on"))
    table = Table(title=f"Needs treatment on {on}: {len(entries):,} persons")
    for column in ("Person", "District", "Needs", "Family doctor", "Last check"):
        table.add_column(column)
    for entry in entries[:limit]:
        needs = ", ".join(f"{need.diagnosis or '?'} since {need.noted_on}" for need in entry.needs if need.status == "needs_treatment")
        table.add_row(str(entry.person_id), str(entry.district_id), needs, "yes" if entry.family_doctor_provider_id else "no",
                      str(entry.last_health_check or ""))
    _console.print(table)


# ------------------------------------------------------------------ reports


@report_app.command("indicators")
def indicators(start: str = typer.Option(..., "--from"), end: str = typer.Option(..., "--to"), by: str = typer.Option("district", "--by")) -> None:
    """Programme indicators by area for a period."""
    from equicover.reports.indicators import compute_indicators

    with _unit_of_work() as session:
        rows = compute_indicators(session=session, starts=_date(start, "--from"), ends=_date(end, "--to"), by=by)
    _print_indicators(rows, f"Indicators {start} to {end}")


def _print_indicators(rows: list[Any], title: str) -> None:
    from equicover.reports.service import INDICATOR_COLUMNS

    table = Table(title=title)
    for name, _ in INDICATOR_COLUMNS:
        table.add_column(name, justify="left" if name == "Area" else "right")
    for row in rows:
        table.add_row(*[cell(row, None) for _, cell in INDICATOR_COLUMNS])
    _console.print(table)


@report_app.command("synthetic-consumption")
def synthetic_consumption(year: int = typer.Option(..., "--year"), seed: int = typer.Option(1, "--seed"),
                          currency: str = typer.Option("CNY", "--currency")) -> None:
    """Synthetic household consumption for a synthetic province (for SDG 3.8.2 catastrophic spending)."""
    from equicover.reports import service

    with _unit_of_work() as session:
        added = service.synthesize_household_consumption(session=session, year=year, seed=seed, minor_digits=_digits(currency))
    _console.print(f"Gave {added:,} households a synthetic consumption for {year}.")


@report_app.command("semiannual")
def semiannual(
    year: int = typer.Option(..., "--year"), half: int = typer.Option(..., "--half", min=1, max=2),
    out: Path = typer.Option(Path("."), "--out", file_okay=False), by: str = typer.Option("district", "--by"),
    currency: str = typer.Option("CNY", "--currency"),
) -> None:
    """The semi-annual implementation status report, as XLSX and PDF."""
    from equicover.reports import service

    with _unit_of_work() as session:
        with _console.status("Computing the report..."):
            report = service.semiannual_report(session=session, year=year, half=half, by=by, currency=currency, minor_digits=_digits(currency))
    stem = out / f"semiannual-{year}-H{half}"
    xlsx = service.write_xlsx(report, stem.with_suffix(".xlsx"))
    pdf = service.write_pdf(report, stem.with_suffix(".pdf"))
    _print_indicators(report.indicators, f"Semi-annual report {year} H{half}")
    _console.print(f"Wrote {xlsx} and {pdf}")
