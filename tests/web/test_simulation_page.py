"""The fund manager compares a stored year under the policy in force and under a draft, on the page."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pypdfium2 as pdfium
import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from equicover.claims.models import PolicyVersion
from tests import factories as make
from tests.api_helpers import form_token, login_as, make_client

YEAR = (dt.date(2018, 1, 1), dt.date(2018, 12, 31))
POOL_CAP = 'id = "outpatient_pool"'
POOL_RATIO = "  [[layer.variant]]\n  bands = [ { ratio = 0.50 } ]"


@pytest.fixture
def planner(session_factory: sessionmaker[Session], session: Session):
    make.locations(session)
    year = make.scheme_year(session, code="CN-YA", currency="CNY", policy="cn-yaan-2018", starts=YEAR[0], ends=YEAR[1])
    make.provider(session, code="PA", level="county", location_code="D1")
    make.contract(session, provider_code="PA", scheme_code="CN-YA", starts=YEAR[0], ends=YEAR[1])
    member = make.enrolled_person(session, scheme=year).id
    for claim_id, day, total in (("O1", 1, 30_000), ("O2", 5, 20_000)):
        make.claim(session, claim_id=claim_id, person_id=member, service_date=dt.date(2018, 3, day), total=total)
    version = session.scalars(select(PolicyVersion)).one()
    session.commit()
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    login_as(client, "fund_manager", cookie=True)
    return client, version.id, version.source_text


def _compare(client, version_id: int, draft: str | None = None, **fields: str):
    files = {"draft": ("draft.toml", draft.encode(), "text/plain")} if draft is not None else None
    data = {**form_token(client), "year": "2018", "policy_a": str(version_id), **fields}
    return client.post("/simulation", data=data, files=files)


def _differences(html: str) -> list[str]:
    return re.findall(r'data-testid="difference">([^<]*)<', html)


def test_a_policy_against_itself_changes_nothing(planner) -> None:
    client, version_id, _ = planner
    page = _compare(client, version_id, policy_b=str(version_id))
    assert page.status_code == 200
    assert "2 claims of 2018 settled under each policy, in CNY." in page.text
    differences = _differences(page.text)
    assert differences and set(differences) <= {"0.00", "0", "—"}


def test_a_draft_that_pays_more_shows_what_moves(planner) -> None:
    client, version_id, source = planner
    pool = source.index(POOL_CAP)
    assert source[pool:].index('cap_per_year = "200.00"') < 400
    # The outpatient pool's yearly cap doubled: it paid 150.00 + 50.00 (the cap); now 150.00 + 100.00.
    draft = source[:pool] + source[pool:].replace('cap_per_year = "200.00"', 'cap_per_year = "400.00"', 1)
    page = _compare(client, version_id, draft=draft)
    assert page.status_code == 200
    payers = page.text[page.text.index('data-testid="simulation-payers"') :]
    row = re.search(r"outpatient_pool</span></td>(.*?)</tr>", payers, re.S).group(1)
    assert re.findall(r'<td class="num"[^>]*>([^<]*)<', row) == ["200.00", "250.00", "+50.00"]
    totals = page.text[page.text.index('data-testid="simulation-totals"') :]
    oop = re.search(r"Members&#39; out-of-pocket</td>(.*?)</tr>", totals, re.S).group(1)
    assert re.findall(r'<td class="num"[^>]*>([^<]*)<', oop)[-1] == "-50.00"
    workbook = _compare(client, version_id, draft=draft, download="xlsx")
    assert workbook.status_code == 200 and workbook.headers["content-disposition"].endswith('simulation-2018.xlsx"')
    assert "totals" in load_workbook(io.BytesIO(workbook.content)).sheetnames


def test_a_draft_that_fails_the_policy_check_is_refused_with_file_line_and_key(planner) -> None:
    client, version_id, source = planner
    broken = source.replace(POOL_RATIO, POOL_RATIO.replace("0.50", "1.50"))
    page = _compare(client, version_id, draft=broken)
    assert page.status_code == 422
    assert "The draft policy is refused:" in page.text and "draft.toml:" in page.text
    assert re.search(r'<input id="draft"[^>]*aria-invalid="true"', page.text)


def test_a_year_without_claims_is_refused(planner) -> None:
    client, version_id, _ = planner
    page = client.post("/simulation", data={**form_token(client), "year": "2016", "policy_a": str(version_id)})
    assert page.status_code == 422 and "No claim is stored for this year." in page.text


def test_only_the_fund_manager_and_the_admin_open_it(planner, session: Session) -> None:
    client, version_id, _ = planner
    client.cookies.clear()
    login_as(client, "clerk", provider="PA", cookie=True)
    assert client.get("/simulation").status_code == 403
    assert _compare(client, version_id).status_code == 403


def _draft_paying_more(source: str) -> str:
    pool = source.index(POOL_CAP)
    return source[:pool] + source[pool:].replace('cap_per_year = "200.00"', 'cap_per_year = "400.00"', 1)


def test_the_page_carries_the_charts_figures(planner) -> None:
    client, version_id, source = planner
    page = _compare(client, version_id, draft=_draft_paying_more(source))
    assert page.status_code == 200
    payload = re.search(r'<script type="application/json" id="simulation-data">(.*?)</script>', page.text, re.S)
    data = json.loads(payload.group(1))
    assert len(data["policies"]) == 2 and data["rtl"] is False
    # The outpatient pool's bars, in yuan: 200.00 under A, 250.00 under B (the table's figures).
    pool = data["payers"]["names"].index("Basic medical insurance, general outpatient pooling")
    assert [series[pool] for series in data["payers"]["values"]] == [200.0, 250.0]
    assert [texts[pool] for texts in data["payers"]["texts"]] == ["200.00", "250.00"]
    # By category, the members' share of the allowed amount drops under B (they pay 50.00 less).
    assert data["categories"]["names"]
    first, second = data["categories"]["oop"]
    assert all(b < a for a, b in zip(first, second, strict=True))
    for chart in ("chart-sim-payers", "chart-sim-oop"):
        assert re.search(rf'id="{chart}"[^>]*role="img" aria-label="[^"]+"', page.text), chart
    # No household consumption in the stored claims: no catastrophic chart, a note, "—" in the table.
    assert data["categories"]["catastrophic"][0][0] is None
    assert 'id="chart-sim-catastrophic"' not in page.text and 'data-testid="no-consumption"' in page.text
    assert '<script src="/static/simulation.js" defer></script>' in page.text
    assert "<script>" not in page.text  # no inline script: the Content-Security-Policy forbids it
    assert client.get("/static/simulation.js").status_code == 200


def _pdf_text(content: bytes) -> str:
    document = pdfium.PdfDocument(content)
    try:
        return "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    finally:
        document.close()


def test_the_comparison_downloads_as_a_pdf_with_the_payers_names(planner) -> None:
    client, version_id, source = planner
    answer = _compare(client, version_id, draft=_draft_paying_more(source), download="pdf")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"].endswith('simulation-2018.pdf"')
    text = _pdf_text(answer.content)
    for expected in (
        "What if",
        "Basic medical insurance for urban and rural residents",
        "Basic medical insurance, general outpatient pooling",
        "What each payer pays",
        "Members' out-of-pocket",
        "200.00",
        "250.00",
        "+50.00",
        "-50.00",
    ):
        assert expected in text, expected


def test_the_pdf_is_in_the_readers_language(planner) -> None:
    client, version_id, source = planner
    client.cookies.set("equicover_lang", "zh")
    text = _pdf_text(_compare(client, version_id, policy_b=str(version_id), download="pdf").content)
    assert "城乡居民基本医疗保险" in text and "普通门诊统筹" in text  # the payers as the policy names them in Chinese
    assert "What each payer pays" not in text
    client.cookies.set("equicover_lang", "fr")
    text = _pdf_text(_compare(client, version_id, policy_b=str(version_id), download="pdf").content)
    assert "Assurance maladie de base des résidents urbains et ruraux" in text
    assert "200,00" in text  # French money: a decimal comma, in yuan not fen
    client.cookies.set("equicover_lang", "ar")
    arabic = _compare(client, version_id, policy_b=str(version_id), download="pdf")
    assert arabic.status_code == 200 and arabic.content.startswith(b"%PDF")
    assert "٢٠٠٫٠٠" in _pdf_text(arabic.content)  # Eastern Arabic digits, right to left


@pytest.fixture
def consumption_year(session_factory: sessionmaker[Session], session: Session):
    """vn_claims_world's 2024 (out-of-pocket: H1 1,980,000 VND, H2 2,400,000) with H1's consumption
    recorded (7,000,000: 28.3%, above 10% and 25%) and none for H2, which is left out of the shares."""
    from equicover.reports.service import record_household_consumption

    world = make.vn_claims_world(session)
    record_household_consumption(session=session, household_code="H1", year=2024, amount=7_000_000)
    session.commit()
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    login_as(client, "fund_manager", cookie=True)
    return client, world.policy_version_id


def _compare_2024(client, version_id: int, **fields: str):
    data = {**form_token(client), "year": "2024", "policy_a": str(version_id), "policy_b": str(version_id), **fields}
    return client.post("/simulation", data=data)


def _cells(html: str, table: str, key_prefix: str, testid: str) -> list[str]:
    body = html.split(f'data-testid="simulation-{table}"', 1)[1].split("</table>", 1)[0]
    row = next(part for part in body.split("<tr")[1:] if part.startswith(f' data-key="{key_prefix}'))
    return re.findall(rf'data-testid="{testid}">([^<]*)<', row)


def test_the_page_shows_the_catastrophic_shares_of_the_households_with_consumption(consumption_year) -> None:
    client, version_id = consumption_year
    page = _compare_2024(client, version_id)
    assert page.status_code == 200
    html = page.text
    # H1 (D1, registered poor member) is above both thresholds; H2 (D2, no category) is left out.
    assert _cells(html, "categories", "registered_poor", "catastrophic-10") == ["100.0%", "100.0%"]
    assert _cells(html, "categories", "registered_poor", "catastrophic-25") == ["100.0%", "100.0%"]
    assert _cells(html, "districts", "D1", "catastrophic-10") == ["100.0%", "100.0%"]
    assert _cells(html, "districts", "D1", "catastrophic-25") == ["100.0%", "100.0%"]
    assert _cells(html, "districts", "D2", "catastrophic-10") == ["–", "–"]  # nobody measured there
    assert (
        "1 household with a settled claim has no consumption recorded for the year: "
        "it is left out of the catastrophic-spending shares." in html
    )
    assert 'id="chart-sim-catastrophic"' in html and 'data-testid="no-consumption"' not in html
    payload = re.search(r'<script type="application/json" id="simulation-data">(.*?)</script>', html, re.S)
    data = json.loads(payload.group(1))
    poor = data["categories"]["names"].index("Registered poor household member")
    assert [series[poor] for series in data["categories"]["catastrophic"]] == [100.0, 100.0]
    # the equity table counts the household left out
    equity = html.split('data-testid="simulation-equity"', 1)[1].split("</table>", 1)[0]
    assert re.search(r"left out of the catastrophic shares[^<]*</td>\s*<td class=\"num\">1</td>", equity)


def test_the_left_out_households_are_said_in_the_readers_language(consumption_year) -> None:
    client, version_id = consumption_year
    client.cookies.set("equicover_lang", "fr")
    html = _compare_2024(client, version_id).text
    assert "1 ménage ayant une demande réglée" in html and "exclu des parts de dépenses catastrophiques" in html
    assert "has no consumption recorded" not in html


def test_the_catastrophic_shares_go_into_the_pdf_and_the_workbook(consumption_year) -> None:
    client, version_id = consumption_year
    text = _pdf_text(_compare_2024(client, version_id, download="pdf").content)
    for expected in (
        "Catastrophic spending by district",
        "Share of households paying more than 25% of their consumption",
        "100.0%",
        "1 household with a settled claim has no consumption recorded",
    ):
        assert expected in text, expected
    workbook = load_workbook(io.BytesIO(_compare_2024(client, version_id, download="xlsx").content))
    rows = [[cell.value for cell in row] for row in workbook["by_district"].iter_rows()]
    header_row = next(row for row in rows if row and row[0] == "district")
    d1 = next(row for row in rows if isinstance(row[0], str) and row[0].startswith("D1"))
    d2 = next(row for row in rows if isinstance(row[0], str) and row[0].startswith("D2"))
    assert dict(zip(header_row, d1))["catastrophic >25% share"] == "100.0%"
    assert dict(zip(header_row, d2))["households with consumption known"] == 0
