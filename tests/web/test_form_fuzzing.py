"""Every web form and every page's query, posted with generated fields by a signed-in user of the
page's role, on SQLite and PostgreSQL: no answer is a 5xx. Fields carry any text (NUL and other
control characters included), numbers of hundreds of digits, dates that are not dates. A field
with a control character is refused 422 with an HTML page in the user's language, never JSON.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from equicover.verification.models import ClaimReview
from equicover.verification.service import draw_sample
from tests.api_helpers import form_token, login_as, make_client
from tests.factories import vn_claims_world

CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
QUERY_CONTROL = re.compile("[\x00-\x1f\x7f]")
EXAMPLES = 15

field_values = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=12),  # ASCII, control characters included
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.sampled_from(
        ["", "0", "-1", "1" * 500, "99999999999999999999", "2024-09-02", "2024-13-45", "99999-01-01", "1e308"]
        + ["NaN", "\x00", "a\x00b", "50%", "_", "\U0001d7d8", "K35.8", "inpatient", "accept", "disallow"]
    ),
)


def forms(fields: tuple[str, ...]) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({}, optional=dict.fromkeys(fields, field_values))


@pytest.fixture
def web(session_factory: sessionmaker[Session], session: Session) -> dict[str, Any]:
    world = vn_claims_world(session)
    draw_sample(
        session=session,
        period_starts=dt.date(2024, 7, 1),
        period_ends=dt.date(2025, 6, 30),
        random_count=3,
        risk_count=0,
        seed=1,
    )
    review_id = session.query(ClaimReview.id).order_by(ClaimReview.id).limit(1).scalar()
    session.commit()
    clients = {}
    for role, options in {
        "clerk": {"provider": "PA", "language": "fr"},
        "registrar": {"area": "D1", "language": "en"},
        "verifier": {"area": "D1", "language": "vi"},
        "fund_manager": {"language": "ar"},
    }.items():
        client = make_client(session_factory=session_factory)
        client.follow_redirects = False
        login_as(client, role, cookie=True, **options)
        clients[role] = client
    anonymous = make_client(session_factory=session_factory)
    anonymous.follow_redirects = False
    clients["anonymous"] = anonymous
    return {"world": world, "clients": clients, "review_id": review_id}


REFUSED = {
    "clerk": "La demande a été refusée",
    "registrar": "The request was refused",
    "verifier": "Yêu cầu đã bị từ chối",
    "fund_manager": "تم رفض الطلب",
}


def _check(role: str, response: Any, values: dict[str, str], pattern: re.Pattern[str] = CONTROL) -> None:
    assert response.status_code < 500, (role, response.status_code, response.text[:300])
    if any(pattern.search(value) for value in values.values()):
        assert response.status_code == 422, (role, response.status_code)
        assert response.headers["content-type"].startswith("text/html")
        if role in REFUSED:
            assert REFUSED[role] in response.text


SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(
    bill=forms(("claim_id", "service_date", "care_type", "diagnosis", "total", "eligible", "days", "referred")),
    enrol=forms(("period_id", "starts", "ends")),
    decision=forms(("decision", "reason", "amount")),
    sign_in=forms(("username", "password", "next")),
    language=forms(("language", "next")),
)
def test_no_web_form_answers_5xx(web, bill, enrol, decision, sign_in, language) -> None:
    clients, world = web["clients"], web["world"]
    member = world.person_ids[0]
    posts = [
        ("clerk", f"/window/persons/{member}/bill", bill),
        ("registrar", f"/registry/persons/{world.person_ids[2]}/enrol", enrol),
        ("verifier", f"/verification/reviews/{web['review_id']}/decision", decision),
        ("anonymous", "/login", sign_in),
        ("registrar", "/language", language),
    ]
    for role, path, values in posts:
        _check(role, clients[role].post(path, data={**values, **form_token(clients[role])}), values)


@SETTINGS
@given(
    values=st.lists(field_values, min_size=6, max_size=6),
    ids=st.lists(st.integers(min_value=-(10**20), max_value=10**20).map(str) | field_values, min_size=2, max_size=2),
)
def test_no_web_page_answers_5xx_whatever_its_query_or_path(web, values, ids) -> None:
    clients = web["clients"]
    q, on, p, category, year, other = values
    gets = [
        ("registrar", "/registry", {"q": q, "on": on, "p": p}),
        ("registrar", "/registry/gaps", {"on": on, "category": category, "p": p}),
        ("registrar", "/registry/households/H1", {"on": on, "enrolled": other}),
        ("clerk", "/window", {"q": q}),
        ("clerk", f"/window/persons/{web['world'].person_ids[0]}", {"on": on}),
        ("verifier", "/verification", {"district": q, "status": other, "care_type": category, "done": p}),
        ("fund_manager", "/dashboard", {"year": year}),
        ("fund_manager", "/dashboard/data.json", {"year": year}),
        ("anonymous", "/login", {"next": other}),
    ]
    for role, path, query in gets:
        _check(role, clients[role].get(path, params=query), query, QUERY_CONTROL)
    for role, template in (
        ("clerk", "/window/persons/{}"),
        ("clerk", "/window/claims/{}"),
        ("clerk", "/window/claims/{}/receipt"),
        ("verifier", "/verification/reviews/{}"),
        ("registrar", "/registry/households/{}"),
    ):
        for value in ids:
            response = clients[role].get(template.format(quote(value, safe="")))
            _check(role, response, {"path": value}, QUERY_CONTROL)


OUT_OF_RANGE = [
    ("/registry?p=999999999999999999", 404),
    ("/registry/gaps?p=99999999999999999999999", 404),
    ("/registry?p=abc", 422),
    ("/window/persons/99999999999", 404),
    ("/window/persons/abc", 404),
    ("/verification/reviews/99999999999", 404),
    ("/dashboard?year=99999", 422),
    ("/dashboard?year=%C2%B2", 422),
    ("/registry?q=%00", 422),
    ("/registry/households/H%001", 422),
]


def test_out_of_range_and_unreadable_values_answer_a_page(web) -> None:
    for path, status in OUT_OF_RANGE:
        role = {"reg": "registrar", "win": "clerk", "ver": "verifier", "das": "fund_manager"}[path[1:4]]
        response = web["clients"][role].get(path)
        assert response.status_code == status, (path, response.text[:200])
        assert response.headers["content-type"].startswith("text/html")
        if status == 422:
            assert REFUSED[role] in response.text


NUL_IN_FORMS = [
    ("clerk", "/window/persons/{member}/bill", "diagnosis"),
    ("verifier", "/verification/reviews/{review}/decision", "reason"),
    ("registrar", "/registry/persons/{member}/enrol", "starts"),
]


def test_a_nul_in_a_form_field_answers_a_page_in_the_users_language(web) -> None:
    for role, path, field in NUL_IN_FORMS:
        target = path.format(member=web["world"].person_ids[0], review=web["review_id"])
        response = web["clients"][role].post(
            target, data={**form_token(web["clients"][role]), field: "K35\x008", "decision": "accept"}
        )
        assert response.status_code == 422, path
        assert response.headers["content-type"].startswith("text/html")
        assert REFUSED[role] in response.text
        assert f"body.{field}" in response.text
        assert "K35" not in response.text  # the input is not echoed
