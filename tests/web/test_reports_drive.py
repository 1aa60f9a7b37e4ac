"""The fund manager follows the enrolment drive of the deprived neighbourhoods on the reports page:
per neighbourhood or organisation, month by month (or week by week), the newly enrolled and the
coverage at the end of each step; shown only where responsible organisations answer for areas.

The world is the one of ``tests.organisations.test_organisations``'s drive: in C11 (the Welfare
Organisation's) A is enrolled from 15 July 2024, B from 3 August, C never, E registered on 10
August and never enrolled; in N21 (the Red Crescent's) D is enrolled from 20 August."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy.orm import Session, sessionmaker

from equicover.organisations import service
from equicover.web import reports_pages
from tests import factories
from tests.api_helpers import login_as, make_client

SUMMER = {"drive_from": "2024-07-01", "drive_to": "2024-09-30"}
ROW = re.compile(
    r"<tr>\s*<td>[^<]*<span[^>]*>([\w-]+)</span></td>\s*(?:<td dir=\"ltr\">[^<]*</td>\s*)?<td>([^<]*)</td>\s*"
    r'<td class="num" data-testid="newly-enrolled">([^<]*)</td>.*?data-testid="drive-coverage">([^<]*)<',
    re.S,
)


@pytest.fixture
def client(session_factory: sessionmaker[Session], session: Session, geo):
    scheme = factories.scheme_year(session)
    factories.enrolled_person(session, scheme=scheme, location_code="C11", starts=dt.date(2024, 7, 15))
    factories.enrolled_person(session, scheme=scheme, location_code="C11", starts=dt.date(2024, 8, 3))
    factories.person(session, location_code="C11")
    factories.person(session, location_code="C11", registered_on=dt.date(2024, 8, 10))
    factories.enrolled_person(session, scheme=scheme, location_code="N21", starts=dt.date(2024, 8, 20))
    for code, name, area in (("WELFARE", "Welfare", "C11"), ("RED-CRESCENT", "Red Crescent", "N21")):
        service.ensure_organisation(session=session, code=code, name=name, role="responsible_organisation")
        service.assign_areas(
            session=session, organisation_code=code, location_ids=[geo[area].id], assigned_on=dt.date(2024, 1, 1)
        )
    session.commit()
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    login_as(client, "fund_manager", cookie=True)
    return client


def _rows(text: str) -> list[tuple[str, str, str, str]]:
    table = re.search(r'data-testid="drive">.*?</table>', text, re.S)
    assert table is not None
    return ROW.findall(table.group(0))


def test_the_drive_per_neighbourhood_month_by_month(client) -> None:
    page = client.get("/reports", params=SUMMER)
    assert page.status_code == 200
    assert _rows(page.text) == [
        ("C11", "Jul 2024", "1", "33.3%"),
        ("C11", "Aug 2024", "1", "50.0%"),  # E joins the residents, B is enrolled
        ("C11", "Sep 2024", "0", "50.0%"),
        ("N21", "Jul 2024", "0", "0.0%"),
        ("N21", "Aug 2024", "1", "100.0%"),
        ("N21", "Sep 2024", "0", "100.0%"),
    ]


def test_the_drive_per_organisation_in_french(session_factory, client) -> None:
    login_as(client, "fund_manager", language="fr", cookie=True)
    page = client.get("/reports", params={**SUMMER, "drive_by": "organisation", "drive_to": "2024-08-31"})
    assert page.status_code == 200
    rows = _rows(page.text)
    assert [(code, new, coverage) for code, _, new, coverage in rows] == [
        ("RED-CRESCENT", "0", "0,0%"),
        ("RED-CRESCENT", "1", "100,0%"),
        ("WELFARE", "1", "33,3%"),
        ("WELFARE", "1", "50,0%"),
    ]
    assert "Campagne d&#39;affiliation dans les quartiers défavorisés" in page.text


def test_a_long_drive_is_paged(client, monkeypatch) -> None:
    monkeypatch.setattr(reports_pages, "DRIVE_PAGE_SIZE", 4)
    first = client.get("/reports", params=SUMMER)
    assert len(_rows(first.text)) == 4 and "Page 1 of 2" in first.text
    link = re.search(r'href="\?([^"]*dp=2)"', first.text)
    assert link is not None
    second = client.get("/reports?" + link.group(1).replace("&amp;", "&"))
    assert [row[:2] for row in _rows(second.text)] == [("N21", "Aug 2024"), ("N21", "Sep 2024")]


def test_a_bad_period_is_refused_on_its_field(client) -> None:
    backwards = client.get("/reports", params={"drive_from": "2024-09-01", "drive_to": "2024-08-01"})
    assert backwards.status_code == 422
    assert re.search(r'id="drive_to"[^>]*aria-invalid="true"', backwards.text)
    assert "The end of the period is before its start." in backwards.text
    too_long = client.get(
        "/reports", params={"drive_from": "2000-01-01", "drive_to": "2024-01-01", "drive_step": "week"}
    )
    assert too_long.status_code == 422 and re.search(r'id="drive_from"[^>]*aria-invalid="true"', too_long.text)
    not_a_date = client.get("/reports", params={"drive_from": "July"})
    assert not_a_date.status_code == 422 and re.search(r'id="drive_from"[^>]*aria-invalid="true"', not_a_date.text)


def test_no_drive_where_no_organisation_answers_for_a_neighbourhood(session_factory, session: Session) -> None:
    factories.locations(session)
    session.commit()
    client = make_client(session_factory=session_factory)
    login_as(client, "fund_manager", cookie=True)
    page = client.get("/reports")
    assert page.status_code == 200 and 'data-testid="drive"' not in page.text and "drive_from" not in page.text
