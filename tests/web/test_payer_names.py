"""Payer and programme names read in the user's language on the window's pages, the receipts (HTML
and PDF) and the dashboard, as the policy file names them; English where the file has no name in
that language."""

from __future__ import annotations

import datetime as dt
import html

import pytest
from sqlalchemy.orm import Session, sessionmaker

from equicover.settlement.loader import load_policy
from tests import factories as make
from tests.api_helpers import login_as, make_client
from tests.settlement.test_policy_names import POLICIES

YEAR = (dt.date(2018, 1, 1), dt.date(2018, 12, 31))
YAAN = load_policy(next(path for path in POLICIES if path.stem == "cn-yaan-2018"))


def _names(layer_id: str) -> dict[str, str]:
    return dict(next(layer for layer in YAAN.layers if layer.id == layer_id).names)


@pytest.fixture
def yaan_client(session_factory: sessionmaker[Session], session: Session):
    make.locations(session)
    year = make.scheme_year(session, code="CN-YA", currency="CNY", policy="cn-yaan-2018", starts=YEAR[0], ends=YEAR[1])
    make.provider(session, code="PA", level="county", location_code="D1")
    make.contract(session, provider_code="PA", scheme_code="CN-YA", starts=YEAR[0], ends=YEAR[1])
    member = make.enrolled_person(session, scheme=year).id
    make.claim(session, claim_id="O1", person_id=member, service_date=dt.date(2018, 3, 1), total=30_000)
    session.commit()
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    return client


@pytest.mark.parametrize("language", ["fr", "ar", "fa", "zh", "vi"])
def test_the_bill_names_its_payers_and_policy_in_the_clerks_language(yaan_client, language: str) -> None:
    login_as(yaan_client, "clerk", provider="PA", language=language, cookie=True)
    page = html.unescape(yaan_client.get("/window/claims/O1").text)
    assert _names("basic")[language] in page
    assert _names("medical_assistance")[language] in page
    # The file's own text (English with the Chinese name in brackets) is not what a reader sees.
    assert "Basic medical insurance for urban and rural residents (城乡居民基本医疗保险)" not in page
    receipt = html.unescape(yaan_client.get("/window/claims/O1/receipt").text)
    assert dict(YAAN.names)[language] in receipt
    assert _names("basic")[language] in receipt


def test_english_reads_the_english_names(yaan_client) -> None:
    login_as(yaan_client, "clerk", provider="PA", cookie=True)
    page = html.unescape(yaan_client.get("/window/claims/O1").text)
    assert "Basic medical insurance for urban and rural residents<" in page.replace("\n", "").replace("  ", "")


def test_the_pdf_receipt_names_the_policy_in_the_clerks_language(yaan_client) -> None:
    import pypdfium2

    login_as(yaan_client, "clerk", provider="PA", language="fr", cookie=True)
    pdf = yaan_client.get("/window/claims/O1/receipt.pdf")
    assert pdf.status_code == 200
    document = pypdfium2.PdfDocument(pdf.content)
    text = "".join(document[index].get_textpage().get_text_range() for index in range(len(document)))
    flat = " ".join(text.split())
    assert dict(YAAN.names)["fr"] in flat
    assert _names("basic")["fr"] in flat


@pytest.mark.parametrize("language", ["en", "fa", "zh"])
def test_the_dashboard_names_the_payers_in_the_managers_language(yaan_client, language: str) -> None:
    login_as(yaan_client, "fund_manager", language=language, cookie=True)
    data = yaan_client.get("/dashboard/data.json", params={"year": "2018"}).json()
    payers = {payer["name"] for payer in data["payers"]}
    assert payers == {_names("outpatient_pool")[language]}  # the only payer of the bill
    assert not any("(" in name and "城乡" in name for name in payers)
