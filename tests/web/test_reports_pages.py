"""The fund manager downloads the semi-annual report and the payment batch files from the page."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from equicover.ledger import service as ledger
from equicover.payments import service as payments
from tests import factories as make
from tests.api_helpers import login_as, make_client

YEAR = (dt.date(2018, 1, 1), dt.date(2018, 12, 31))
MARCH = (dt.date(2018, 3, 1), dt.date(2018, 3, 31))


@pytest.fixture
def fund_client(session_factory: sessionmaker[Session], session: Session):
    make.locations(session)
    year = make.scheme_year(session, code="CN-YA", currency="CNY", policy="cn-yaan-2018", starts=YEAR[0], ends=YEAR[1])
    make.provider(session, code="PA", level="county", location_code="D1")
    make.contract(session, provider_code="PA", scheme_code="CN-YA", starts=YEAR[0], ends=YEAR[1])
    member = make.enrolled_person(session, scheme=year).id
    for claim_id, day, total in (("O1", 1, 30_000), ("O2", 5, 20_000)):
        make.claim(session, claim_id=claim_id, person_id=member, service_date=dt.date(2018, 3, day), total=total)
    ledger.post_claim_settlements(session=session, up_to=MARCH[1], currency="CNY", minor_digits=2)
    batch = payments.draft_batch(
        session=session, provider_code="PA", period_starts=MARCH[0], period_ends=MARCH[1], actor="maker",
        currency="CNY",
    )  # fmt: skip
    session.commit()
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    return client, batch.id


def test_the_page_lists_the_half_years_and_batches_with_their_files(fund_client) -> None:
    client, batch_id = fund_client
    login_as(client, "fund_manager", cookie=True)
    page = client.get("/reports")
    assert page.status_code == 200
    assert (
        'href="/reports/semiannual-2018-H1.xlsx"' in page.text
        and 'href="/reports/semiannual-2018-H2.xlsx"' not in page.text
    )
    assert f'href="/reports/batches/{batch_id}.csv"' in page.text and "200.00 CNY" in page.text
    assert 'data-nav="reports"' in page.text


def test_the_files_download_as_the_command_line_writes_them(fund_client) -> None:
    client, batch_id = fund_client
    login_as(client, "fund_manager", cookie=True)
    xlsx = client.get("/reports/semiannual-2018-H1.xlsx")
    assert xlsx.status_code == 200
    assert xlsx.headers["content-disposition"] == 'attachment; filename="semiannual-2018-H1.xlsx"'
    workbook = load_workbook(io.BytesIO(xlsx.content))
    assert workbook.sheetnames
    pdf = client.get("/reports/semiannual-2018-H1.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    rows = list(csv.reader(io.StringIO(client.get(f"/reports/batches/{batch_id}.csv").text)))
    assert rows[0][:3] == ["batch_id", "provider_code", "line"]
    assert {row[1] for row in rows[1:]} == {"PA"}
    assert client.get(f"/reports/batches/{batch_id}.pdf").content.startswith(b"%PDF")


@pytest.mark.parametrize(
    "path",
    ["/reports/semiannual-2031-H1.xlsx", "/reports/semiannual-2018-H3.xlsx", "/reports/semiannual-2018-H1.exe",
     "/reports/batches/999999.csv", "/reports/batches/1.zip"],
)  # fmt: skip
def test_a_file_that_cannot_exist_is_a_404_page(fund_client, path) -> None:
    client, _ = fund_client
    login_as(client, "fund_manager", cookie=True)
    answer = client.get(path)
    assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")


def test_other_roles_cannot_download(fund_client) -> None:
    client, batch_id = fund_client
    login_as(client, "clerk", provider="PA", cookie=True)
    assert client.get(f"/reports/batches/{batch_id}.csv").status_code == 403
    assert client.get("/reports").status_code == 403
    assert not re.search(r"%PDF", client.get("/reports/semiannual-2018-H1.pdf").text)
