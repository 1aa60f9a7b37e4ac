"""Every page opens on the same day: today while the data is live, else the last day of the latest
period the data holds (a province of a past year), and the pages say which."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.enrolment.models import Enrolment
from equicover.web.i18n import Localiser
from equicover.web.queries import data_day
from tests.api_helpers import form_token, login_as, make_client
from tests.factories import vn_world

PERIOD_ENDS = dt.date(2025, 6, 30)  # vn_world's period and policy: 2024-07-01..2025-06-30


@pytest.mark.parametrize(
    ("today", "expected", "live"),
    [
        (dt.date(2024, 9, 1), dt.date(2024, 9, 1), True),  # inside the period: today
        (dt.date(2025, 6, 30), dt.date(2025, 6, 30), True),  # its last day is still inside
        (dt.date(2025, 7, 1), PERIOD_ENDS, False),  # after it: its last day
        (dt.date(2031, 1, 1), PERIOD_ENDS, False),
        (dt.date(2024, 1, 1), dt.date(2024, 1, 1), True),  # before anything: today
    ],
)
def test_the_day_is_today_while_a_period_covers_it_else_the_end_of_the_latest(
    session: Session, today, expected, live
) -> None:
    vn_world(session)
    answer = data_day(session=session, today=today)
    assert (answer.day, answer.live) == (expected, live)


def test_an_empty_database_opens_on_today(session: Session) -> None:
    answer = data_day(session=session, today=dt.date(2026, 3, 4))
    assert (answer.day, answer.live) == (dt.date(2026, 3, 4), True)


def test_the_window_and_the_registry_open_on_the_same_day_and_say_it(world_client, session: Session) -> None:
    world, client = world_client
    client.app.state.clock = lambda: dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
    login_as(client, "clerk", provider="PA", cookie=True)
    person = client.get(f"/window/persons/{world.person_ids[0]}")
    assert re.search(r'name="service_date"[^>]*value="2025-06-30"', person.text)
    assert 'data-testid="data-day"' in person.text and Localiser("en").date(PERIOD_ENDS) in person.text
    client.cookies.clear()
    login_as(client, "registrar", area="D1", cookie=True)
    household = client.get("/registry/households/H1")
    assert 'data-testid="data-day"' in household.text
    # Enrolment with the form's defaults starts on that day, inside the period, and is taken.
    unenrolled = world.person_ids[2]
    assert f'data-testid="enrol-form-{unenrolled}"' in household.text
    enrolled = client.post(
        f"/registry/persons/{unenrolled}/enrol", data={**form_token(client), "period_id": str(world.period_id)}
    )
    assert enrolled.status_code == 303, enrolled.text[:300]
    starts = session.scalars(select(Enrolment.starts).where(Enrolment.person_id == unenrolled)).one()
    assert starts == PERIOD_ENDS


def test_while_the_data_is_live_the_pages_open_on_today_and_say_nothing(world_client) -> None:
    world, client = world_client
    client.app.state.clock = lambda: dt.datetime(2024, 9, 2, 9, 0, tzinfo=dt.UTC)
    login_as(client, "clerk", provider="PA", cookie=True)
    person = client.get(f"/window/persons/{world.person_ids[0]}")
    assert re.search(r'name="service_date"[^>]*value="2024-09-02"', person.text)
    assert 'data-testid="data-day"' not in person.text


def test_an_unknown_address_is_a_page_in_the_users_language_but_json_for_the_api(world_client) -> None:
    _, client = world_client
    login_as(client, "registrar", area="D1", language="ar", cookie=True)
    browser = {"Accept": "text/html,application/xhtml+xml"}
    page = client.get("/registri", headers=browser)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="ar" dir="rtl">' in page.text and "لا توجد صفحة في هذا العنوان." in page.text
    assert 'data-nav="registry"' in page.text  # the way back: the user's own navigation
    anonymous = make_client(session_factory=client.app.state.session_factory).get("/nowhere", headers=browser)
    assert anonymous.status_code == 404 and "There is no page at this address." in anonymous.text
    api = client.get("/api/v1/nowhere", headers=browser)
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/json")
    script = client.get("/registri", headers={"Accept": "application/json"})
    assert script.status_code == 404 and script.headers["content-type"].startswith("application/json")
