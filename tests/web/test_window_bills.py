"""The settlement window: bills that are not bills refused in the clerk's language with nothing
stored, amounts typed the way the clerk's locale writes them, and two posts at the same moment
(two clerks, or a double click) never answered with an error page, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from equicover.auth.deps import SESSION_COOKIE
from equicover.claims.models import Claim
from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory, session_scope
from equicover.web.i18n import AmountRefused, parse_amount
from tests.api_helpers import form_token, login_as, make_client
from tests.factories import vn_world


def _form(claim_id: str, **changes: str) -> dict[str, str]:
    form = {
        "claim_id": claim_id,
        "service_date": "2024-09-02",
        "care_type": "inpatient",
        "diagnosis": "J18.9",
        "total": "2000000",
        "days": "3",
    }
    form.update(changes)
    return form


def _claims(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Claim)) or 0


REFUSALS = [
    ({"service_date": "2030-01-01"}, "The date of care is after today.", "La date des soins est postérieure"),
    (
        {"service_date": "2025-08-01"},
        "No policy of the scheme is in force on the date of care.",
        "Aucune politique du régime n'est en vigueur",
    ),
    ({"service_date": "2024-02-31"}, "The date of care is not a date.", "La date des soins n'est pas une date."),
    ({"total": "0"}, "The total must be more than zero.", "Le total doit être supérieur à zéro."),
    ({"total": "-5"}, "The total must not be negative.", "Le total ne doit pas être négatif."),
    ({"total": "abc"}, "The total is not an amount.", "Le total n'est pas un montant."),
    ({"total": "12.5"}, "The total has more than 0 decimals for the currency.", "Le total a plus de 0 décimales"),
    ({"days": "0"}, "The days of stay do not fit this type of care", "Le nombre de jours ne convient pas"),
    ({"care_type": "outpatient", "days": "2"}, "The days of stay do not fit", "Le nombre de jours ne convient pas"),
    ({"days": "x"}, "The days of stay must be a whole number", "Le nombre de jours doit être un nombre entier"),
    ({"diagnosis": "XYZ"}, "The diagnosis is not an ICD-10 code", "Le diagnostic n'est pas un code CIM-10"),
]


@pytest.mark.parametrize(("changes", "english", "french"), REFUSALS, ids=[str(case[0]) for case in REFUSALS])
def test_the_window_refuses_a_bill_in_the_clerks_language(world_client, session, changes, english, french) -> None:
    world, client = world_client
    poor = world.person_ids[0]
    for language, message in (("en", english), ("fr", french)):
        login_as(client, "clerk", provider="PA", language=language, cookie=True)
        response = client.post(
            f"/window/persons/{poor}/bill", data={**_form(f"W-{language}", **changes), **form_token(client)}
        )
        assert response.status_code == 422, response.text[:300]
        assert str(escape(message)) in response.text
        assert 'data-testid="bill-form"' in response.text  # the form again, with what was typed
    assert _claims(session) == 0


@pytest.mark.parametrize(
    ("language", "typed", "minor"),
    [
        ("en", "2,000,000", 2_000_000),
        ("fr", "2 000 000", 2_000_000),
        ("fr", "2\u202f000\u202f000", 2_000_000),
        ("vi", "2.000.000", 2_000_000),
        ("ar", "٢٬٠٠٠٬٠٠٠", 2_000_000),
        ("fa", "۲۰۰۰۰۰۰", 2_000_000),
        ("zh", "2,000,000", 2_000_000),
    ],
)
def test_the_window_reads_amounts_as_the_clerks_locale_writes_them(
    world_client, session, language, typed, minor
) -> None:
    world, client = world_client
    login_as(client, "clerk", provider="PA", language=language, cookie=True)
    response = client.post(
        f"/window/persons/{world.person_ids[0]}/bill", data={**_form("LOC-1", total=typed), **form_token(client)}
    )
    assert response.status_code == 303, response.text[:300]
    assert response.headers["location"] == "/window/claims/LOC-1"
    session.expire_all()
    assert session.scalars(select(Claim.total).where(Claim.claim_id == "LOC-1")).one() == minor


@pytest.mark.parametrize(
    ("text", "locale", "digits", "minor"),
    [
        ("12,000.50", "en", 2, 1_200_050),
        ("12 000,50", "fr_FR", 2, 1_200_050),
        ("١٢٬٠٠٠٫٥٠", "ar_EG", 2, 1_200_050),
        ("۱۲٬۰۰۰٫۵۰", "fa_IR", 2, 1_200_050),
        ("12.000,5", "vi_VN", 2, 1_200_050),
        ("150000", "vi_VN", 0, 150_000),
    ],
)
def test_amounts_are_read_exactly_in_each_locale(text: str, locale: str, digits: int, minor: int) -> None:
    assert parse_amount(text, locale, digits) == minor


@pytest.mark.parametrize(
    ("text", "locale", "digits"),
    [
        ("12,000.505", "en", 2),
        ("1,00,0", "en", 2),
        ("1e5", "en", 2),
        ("NaN", "en", 2),
        ("12,5", "en", 2),
        ("", "en", 2),
    ],
)
def test_amounts_that_are_not_amounts_are_refused_never_rounded(text: str, locale: str, digits: int) -> None:
    with pytest.raises(AmountRefused):
        parse_amount(text, locale, digits)


def test_a_double_click_shows_the_first_settlement(world_client, session) -> None:
    world, client = world_client
    login_as(client, "clerk", provider="PA", cookie=True)
    form = _form("DBL-1")
    first = client.post(f"/window/persons/{world.person_ids[0]}/bill", data={**form, **form_token(client)})
    second = client.post(
        f"/window/persons/{world.person_ids[0]}/bill", data={**form_token(client), **form, "total": "999"}
    )
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"] == "/window/claims/DBL-1"
    shown = client.get("/window/claims/DBL-1")
    assert shown.status_code == 200
    session.expire_all()
    assert session.scalars(select(Claim.total).where(Claim.claim_id == "DBL-1")).all() == [2_000_000]


# -- two posts at the same moment, on a database of the test's own --------------------------------


@pytest.fixture
def own_database(empty_db_url: str):
    upgrade(empty_db_url)
    engine = make_engine(empty_db_url)
    factory = make_session_factory(engine)
    try:
        with session_scope(factory) as session:
            world = vn_world(session)
        yield empty_db_url, factory, world
    finally:
        engine.dispose()


def _clerk_client(url: str, token_client: TestClient) -> TestClient:
    client = make_client(db_url=url)
    client.follow_redirects = False
    client.cookies.set(SESSION_COOKIE, token_client.cookies[SESSION_COOKIE])
    return client


def _post_at_once(clients: list[TestClient], posts: list[tuple[str, dict[str, str]]]) -> list[int]:
    barrier = threading.Barrier(len(posts))
    statuses: list[int] = [0] * len(posts)

    def post(index: int) -> None:
        path, form = posts[index]
        barrier.wait()
        statuses[index] = clients[index].post(path, data={**form, **form_token(clients[index])}).status_code

    threads = [threading.Thread(target=post, args=(index,)) for index in range(len(posts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_bills_posted_at_the_same_moment_never_fail(own_database) -> None:
    url, factory, world = own_database
    signer = make_client(db_url=url)
    login_as(signer, "clerk", provider="PA", cookie=True)
    clients = [_clerk_client(url, signer) for _ in range(4)]
    poor, plain = world.person_ids[0], world.person_ids[1]
    for attempt in range(5):
        posts = [
            (f"/window/persons/{poor}/bill", _form(f"AT-{attempt}-A")),  # two different bills at once
            (f"/window/persons/{plain}/bill", _form(f"AT-{attempt}-B")),
            (f"/window/persons/{poor}/bill", _form(f"AT-{attempt}-C")),  # a double click
            (f"/window/persons/{poor}/bill", _form(f"AT-{attempt}-C")),
        ]
        statuses = _post_at_once(clients, posts)
        assert statuses == [303, 303, 303, 303], statuses
    with session_scope(factory) as session:
        stored = Counter(session.scalars(select(Claim.claim_id)).all())
    assert stored == Counter({f"AT-{attempt}-{bill}": 1 for attempt in range(5) for bill in "ABC"})
