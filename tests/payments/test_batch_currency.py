"""A payment batch pays in the currency and minor digits of its claims' scheme.

The riel world (``tests.riel_world``: the kh-hef-2015 policy, whole riel) runs through a batch:
its files print whole riel, a request naming another currency is refused, capitation comes only
out of an existing fund. Service, REST and command line, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zlib
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from equicover.errors import ValidationFailed
from equicover.ledger import service as ledger
from equicover.ledger.models import Fund
from equicover.payments import service as payments
from equicover.payments.models import PaymentBatch
from tests import factories as make
from tests.api_helpers import login_as, make_client
from tests.riel_world import BILL, ENDS, STARTS, RielWorld, riel_world, seed_database

MARCH = (dt.date(2015, 3, 1), dt.date(2015, 3, 31))


@pytest.fixture
def riel(session: Session) -> RielWorld:
    return riel_world(session)


def _draft(session: Session, **options: object) -> PaymentBatch:
    return payments.draft_batch(
        session=session,
        provider_code="RH",
        period_starts=MARCH[0],
        period_ends=MARCH[1],
        actor="maker",
        **options,
    )


def pdf_text(data: bytes) -> str:
    """The content streams of a PDF written with a core font, inflated: its text as written."""
    parts = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            parts.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            parts.append(stream.decode("latin-1"))
    return "\n".join(parts)


def test_a_batch_without_a_currency_pays_in_the_schemes_riel(session: Session, riel: RielWorld) -> None:
    batch = _draft(session)
    assert (batch.currency, batch.minor_digits) == ("KHR", 0)
    assert (batch.claim_count, batch.claims_amount, batch.net_amount) == (1, BILL, BILL)


def test_a_batch_naming_the_schemes_currency_is_drafted(session: Session, riel: RielWorld) -> None:
    batch = _draft(session, currency="KHR")
    assert (batch.currency, batch.minor_digits, batch.net_amount) == ("KHR", 0, BILL)


@pytest.mark.parametrize("currency", ["JPY", "CNY", "USD", "QQQ"])
def test_a_batch_naming_another_currency_is_refused(session: Session, riel: RielWorld, currency: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        _draft(session, currency=currency)
    assert refused.value.field == "currency"
    assert refused.value.reason == f"is {currency}; the scheme of these claims pays in KHR"
    assert session.scalar(select(func.count()).select_from(PaymentBatch)) == 0


def test_the_csv_prints_whole_riel(session: Session, riel: RielWorld) -> None:
    batch = _draft(session)
    rows = list(csv.DictReader(io.StringIO(payments.batch_csv(session=session, batch_id=batch.id))))
    assert [(row["line"], row["reference"], row["amount"], row["currency"]) for row in rows] == [
        ("claim", "KH-1", "150000", "KHR"),
        ("net", "draft", "150000", "KHR"),
    ]


def test_the_pdf_prints_whole_riel(session: Session, riel: RielWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    import equicover.pdf

    # A core font writes the text itself into the page (an embedded font writes glyph ids).
    monkeypatch.delenv("EQUICOVER_PDF_FONT", raising=False)
    monkeypatch.setattr(equicover.pdf, "UNICODE_FONTS", ())
    text = pdf_text(payments.batch_pdf(session=session, batch_id=_draft(session).id))
    assert r"Amount \(KHR\)" in text
    assert text.count("(150000)") == 4  # claims paid, net payment, the fund's line, the claim
    assert "1500.00" not in text and "150000.00" not in text


def test_the_payment_reconciliation_carries_whole_riel(session: Session, riel: RielWorld) -> None:
    batch = _draft(session)
    resource = payments.payment_reconciliation(session=session, batch_id=batch.id)
    assert resource["paymentAmount"]["currency"] == "KHR"
    # Whole riel: no fraction digits at all (1500.00 would be the ISO exponent's reading).
    assert str(resource["paymentAmount"]["value"]) == "150000"
    assert [str(detail["amount"]["value"]) for detail in resource["detail"]] == ["150000"]
    assert Decimal(str(resource["paymentAmount"]["value"])) == BILL


def test_approval_books_whole_riel_in_a_riel_fund(session: Session, riel: RielWorld) -> None:
    batch = _draft(session)
    payments.approve_batch(session=session, batch_id=batch.id, actor="checker", actor_role="fund_manager")
    fund = ledger.get_fund(session=session, code="hef")
    assert (fund.currency, fund.minor_digits) == ("KHR", 0)
    balances = {row.account: row.balance for row in ledger.balances(session=session, fund_code="hef")}
    assert balances["cash"] == -BILL


def _capitation_contract(session: Session) -> None:
    make.provider(session, code="HC", level="health_centre", location_code="C11")
    make.contract(
        session, provider_code="HC", scheme_code="KH-HEF", starts=STARTS, ends=ENDS, payment_method="capitation"
    )


def test_capitation_from_an_unknown_fund_is_refused_and_creates_none(session: Session, riel: RielWorld) -> None:
    _capitation_contract(session)
    with pytest.raises(ValidationFailed) as refused:
        payments.draft_batch(
            session=session,
            provider_code="HC",
            period_starts=MARCH[0],
            period_ends=MARCH[1],
            actor="maker",
            capitation_per_person_month=1_000,
            capitation_fund="no-such-fund",
        )
    assert (refused.value.field, refused.value.reason) == (
        "capitation_fund",
        "unknown fund: capitation is paid from an existing fund",
    )
    assert session.scalar(select(func.count()).select_from(Fund)) == 0


def test_capitation_from_a_fund_of_another_currency_is_refused(session: Session, riel: RielWorld) -> None:
    _capitation_contract(session)
    ledger.ensure_fund(session=session, code="basic", name="Basic", currency="CNY", minor_digits=2)
    with pytest.raises(ValidationFailed, match="keeps its books in CNY") as refused:
        payments.draft_batch(
            session=session,
            provider_code="HC",
            period_starts=MARCH[0],
            period_ends=MARCH[1],
            actor="maker",
            capitation_per_person_month=1_000,
            capitation_fund="basic",
        )
    assert refused.value.field == "capitation_fund"


def test_capitation_is_paid_in_whole_riel_from_an_existing_riel_fund(session: Session, riel: RielWorld) -> None:
    _capitation_contract(session)
    ledger.ensure_fund(session=session, code="hef", name="HEF", currency="KHR", minor_digits=0)
    batch = payments.draft_batch(
        session=session,
        provider_code="HC",
        period_starts=MARCH[0],
        period_ends=MARCH[1],
        actor="maker",
        capitation_per_person_month=1_000,
        capitation_fund="hef",
    )
    # The one enrolled member lives in C11, the health centre's commune: one person-month.
    assert (batch.currency, batch.minor_digits, batch.capitation_amount) == ("KHR", 0, 1_000)
    rows = list(csv.DictReader(io.StringIO(payments.batch_csv(session=session, batch_id=batch.id))))
    assert [(row["line"], row["amount"]) for row in rows] == [("capitation", "1000"), ("net", "1000")]


# ---------------------------------------------------------------------------------- REST


@pytest.fixture
def client(session_factory: sessionmaker[Session], session: Session, riel: RielWorld):
    session.commit()
    return make_client(session_factory=session_factory)


BODY = {"provider_code": "RH", "period_starts": "2015-03-01", "period_ends": "2015-03-31"}


def test_rest_a_batch_without_a_currency_is_in_riel(client) -> None:
    response = client.post("/api/v1/payments/batches", json=BODY, headers=login_as(client, "fund_manager"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["currency"], body["minor_digits"], body["net_amount"]) == ("KHR", 0, BILL)
    csv_text = client.get(f"/api/v1/payments/batches/{body['id']}.csv", headers=login_as(client, "fund_manager")).text
    assert csv_text.splitlines()[-1].endswith(",150000,KHR")


def test_rest_a_batch_in_another_currency_is_refused_with_422(client) -> None:
    headers = login_as(client, "fund_manager")
    response = client.post("/api/v1/payments/batches", json={**BODY, "currency": "JPY"}, headers=headers)
    assert response.status_code == 422
    assert "currency" in response.text and "the scheme of these claims pays in KHR" in response.text
    assert client.get("/api/v1/payments/batches", headers=headers).json() == []


def test_rest_capitation_from_an_unknown_fund_is_refused_with_422(client) -> None:
    response = client.post(
        "/api/v1/payments/batches",
        json={**BODY, "capitation_per_person_month": 1000, "capitation_fund": "nowhere"},
        headers=login_as(client, "fund_manager"),
    )
    assert response.status_code == 422
    assert "capitation_fund" in response.text and "unknown fund" in response.text


# ---------------------------------------------------------------------------- command line


@pytest.fixture
def riel_database(empty_db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database of its own (SQLite or PostgreSQL) holding the riel world, for the commands."""
    seed_database(empty_db_url)
    monkeypatch.setenv("EQUICOVER_DATABASE_URL", empty_db_url)
    return empty_db_url


def _run(*arguments: str):
    from equicover.cli import app

    return CliRunner().invoke(app, list(arguments))


DRAFT = ("payments", "draft", "--from", "2015-03-01", "--to", "2015-03-31", "--maker", "maker", "--provider", "RH")


def test_cli_draft_defaults_to_the_schemes_riel(riel_database: str) -> None:
    result = _run(*DRAFT)
    assert result.exit_code == 0, result.output
    assert "net 150000 KHR" in result.output
    listed = _run("payments", "list")
    assert listed.exit_code == 0 and "150000" in listed.output and "1500.00" not in listed.output


def test_cli_draft_in_another_currency_exits_1_with_the_reason(riel_database: str) -> None:
    result = _run(*DRAFT, "--currency", "JPY")
    assert result.exit_code == 1
    assert "JPY is not the currency of the schemes (KHR)" in result.output


def test_cli_capitation_from_an_unknown_fund_exits_1_with_the_reason(riel_database: str) -> None:
    result = _run(*DRAFT, "--capitation", "1000", "--capitation-fund", "nowhere")
    assert result.exit_code == 1
    assert "capitation_fund" in result.output and "unknown fund" in result.output


def test_cli_capitation_in_riel_refuses_decimals(riel_database: str) -> None:
    result = _run(*DRAFT, "--capitation", "2.50")
    assert result.exit_code == 2 and "more than 0 decimal places" in result.output


def test_rest_payment_reconciliation_writes_whole_riel_as_a_number(client) -> None:
    headers = login_as(client, "fund_manager")
    batch = client.post("/api/v1/payments/batches", json=BODY, headers=headers).json()
    response = client.get(f"/api/v1/payments/batches/{batch['id']}/payment-reconciliation", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert '"paymentAmount":{"value":150000,"currency":"KHR"}' in response.text.replace(" ", "")
