"""Identification of the poor on the web pages, on SQLite and PostgreSQL: a round from its opening to
the categories in the registry, every refusal said in the user's language on its field with nothing
written, the area's limits, the hospital's interview at the window and the targeting quality."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from equicover.audit.models import ChangeLog
from equicover.auth.deps import SESSION_COOKIE
from equicover.auth.service import create_account, issue_token
from equicover.registry.models import Household, Location, PersonCategory
from equicover.targeting.models import TargetingDecision, TargetingHousehold, TargetingObjection, TargetingRound
from tests import factories as make
from tests.api_helpers import TEST_PASSWORD, form_token, login_as, make_client
from tests.targeting.helpers import KH_POOR

RICH = {**KH_POOR, "roof": "concrete", "walls": "brick", "land": "over_1_ha", "food_shortage": "no"}  # 16 points
HEADER = ["household", "village", *KH_POOR]


def _csv(*rows: tuple[str, str, dict[str, str]]) -> bytes:
    lines = [",".join(HEADER)]
    lines += [",".join([code, village, *(answers[item] for item in KH_POOR)]) for code, village, answers in rows]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def world(session_factory: sessionmaker[Session], session: Session) -> tuple[TestClient, dict[str, int]]:
    make.locations(session)
    people = {}
    for code, members in (("HA", 2), ("HB", 1), ("HC", 1)):
        _, persons = make.household(
            session, code=code, location_code="C11", members=[make.person_in(full_name=f"M{i}") for i in range(members)]
        )
        people[code] = persons[0].id
    _, persons = make.household(session, code="HX", location_code="C12")
    people["HX"] = persons[0].id
    make.provider(session, code="RH", level="district", location_code="D1")
    session.commit()
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    return client, people


def _as(client: TestClient, role: str, **options: str) -> None:
    client.cookies.clear()
    login_as(client, role, cookie=True, **options)


def _as_commune(client: TestClient, code: str = "C11", language: str = "en") -> None:
    """The commune council's account (the administration's accounts stop at districts)."""
    factory: sessionmaker[Session] = client.app.state.session_factory
    with factory() as session:
        location_id = session.scalar(select(Location.id).where(Location.code == code))
        user = create_account(
            session=session, username=f"council-{code}-{language}", password=TEST_PASSWORD, role="registrar",
            location_id=location_id, language=language,
        )  # fmt: skip
        token = issue_token(session=session, user=user)
        session.commit()
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)


def _post(client: TestClient, path: str, **data: str):
    return client.post(path, data={**form_token(client), **data})


def _open(client: TestClient, **fields: str) -> int:
    form = {"rules": "kh-idpoor-rural", "area_code": "C11", "starts_on": "2024-02-01", "ends_on": "2024-02-28"}
    opened = _post(client, "/targeting/rounds", **{**form, **fields})
    assert opened.status_code == 303, opened.text
    return int(opened.headers["location"].split("/")[-1].split("?")[0])


def _capture(client: TestClient, round_id: int, code: str, answers: dict[str, str], **extra: str):
    return _post(
        client,
        f"/targeting/rounds/{round_id}/household",
        household=code,
        **{f"a_{item}": value for item, value in answers.items()},
        **extra,
    )


def _marked(html: str, element: str, field: str) -> bool:
    return bool(re.search(rf'<{element} id="{field}" name="{field}"[^>]*aria-invalid="true"', html)) and (
        'id="form-error"' in html
    )


def _count(session: Session, model: type) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_round_from_opening_to_the_categories_in_the_registry(world, session: Session) -> None:
    client, people = world
    _as(client, "registrar", area="D1")
    home = client.get("/targeting")
    assert home.status_code == 200 and 'data-nav="targeting"' in home.text
    round_id = _open(client)
    page = client.get(f"/targeting/rounds/{round_id}?changed=opened")
    assert page.status_code == 200 and "Round opened." in page.text
    assert 'name="a_roof"' in page.text and '<option value="salvaged"' in page.text  # the questionnaire's form

    answers = _csv(
        ("HA", "V1", KH_POOR),
        ("HB", "V1", {**KH_POOR, "roof": "gold"}),
        ("HX", "V9", KH_POOR),
        ("HZ", "V9", KH_POOR),
    )
    files = {"answers": ("answers.csv", answers, "text/csv")}
    imported = client.post(f"/targeting/rounds/{round_id}/answers", data=form_token(client), files=files)
    assert imported.status_code == 200, imported.text
    rejections = re.findall(r"<tr><td class=\"num\">(\d+)</td><td dir=\"ltr\">(\w+)</td>", imported.text)
    assert rejections == [("3", "HB"), ("4", "HX"), ("5", "HZ")]
    assert "Choose one of the options." in imported.text
    assert "This household lives outside the round&#39;s area." in imported.text
    assert "No household has this code." in imported.text
    again = client.post(f"/targeting/rounds/{round_id}/answers", data=form_token(client), files=files)
    assert "4 rows read: 0 imported, 1 already imported, 3 refused." in again.text  # nothing twice
    assert _capture(client, round_id, "HB", KH_POOR, village="V1").status_code == 303
    assert _capture(client, round_id, "HC", RICH, village="V2").status_code == 303
    assert _count(session, TargetingHousehold) == 3

    assert _post(client, f"/targeting/rounds/{round_id}/scoring").status_code == 303
    listed = client.get(f"/targeting/rounds/{round_id}?village=V1")
    assert "Poor Level 2 (poor)" in listed.text and 'data-household="HA"' in listed.text
    assert 'data-household="HC"' not in listed.text  # another village's page
    decided = _post(
        client, f"/targeting/rounds/{round_id}/decisions", household_code="HC", kind="include",
        to_category="level_1", reason="the only earner died", on="2024-02-20", village="V2",
    )  # fmt: skip
    assert decided.status_code == 303
    assert "the only earner died" in client.get(f"/targeting/rounds/{round_id}").text
    assert _post(client, f"/targeting/rounds/{round_id}/notice", on="2024-03-01").status_code == 303

    notice = client.get(f"/targeting/rounds/{round_id}/notice")
    assert notice.status_code == 200 and "data-print" in notice.text
    assert all(code in notice.text for code in ("HA", "HB", "HC")) and "M0" not in notice.text  # no names
    lodged = _post(
        client, f"/targeting/rounds/{round_id}/objections", household_code="HB", asked_category="level_1",
        grounds="disabled head of household", on="2024-03-05",
    )  # fmt: skip
    assert lodged.status_code == 303
    objection_id = session.scalar(select(TargetingObjection.id))
    page = client.get(f"/targeting/rounds/{round_id}")
    assert "disabled head of household" in page.text
    # the district may not approve a round of the commune council: the page says why, the form is not there
    assert 'data-testid="approval-refusal"' in page.text and 'data-testid="approval-form"' not in page.text
    refused = _post(client, f"/targeting/rounds/{round_id}/approval", on="2024-03-20")
    assert refused.status_code == 403 and "Approval is by the level the rules name, not yours." in refused.text
    ruled = _post(
        client, f"/targeting/rounds/{round_id}/objections/{objection_id}/decision", uphold="yes",
        ruling="certificate of disability seen", on="2024-03-10",
    )  # fmt: skip
    assert ruled.status_code == 303

    _as_commune(client)
    approved = _post(client, f"/targeting/rounds/{round_id}/approval", on="2024-03-15")
    assert approved.status_code == 303, approved.text
    assert "approved" in client.get(f"/targeting/rounds/{round_id}").text
    session.expire_all()
    holders = set(session.scalars(select(PersonCategory.person_id).where(PersonCategory.category == "registered_poor")))
    assert {people["HA"], people["HB"], people["HC"]} <= holders and people["HX"] not in holders
    assert session.get(TargetingRound, round_id).status == "approved"


def test_refusals_are_in_french_on_their_field_and_write_nothing(world, session: Session) -> None:
    client, _ = world
    _as(client, "registrar", area="D1", language="fr")
    round_id = _open(client)
    outside = _capture(client, round_id, "HB", {**KH_POOR, "roof": "gold"})
    assert outside.status_code == 422
    assert "Choisissez l’une des options." in outside.text
    assert _marked(outside.text, "select", "a_roof") and "autofocus" in outside.text
    assert "answer outside the options" not in outside.text
    missing = _capture(client, round_id, "HB", {k: v for k, v in KH_POOR.items() if k != "walls"})
    assert missing.status_code == 422 and _marked(missing.text, "select", "a_walls")
    not_number = _capture(client, round_id, "HB", {**KH_POOR, "members": "many"})
    assert not_number.status_code == 422 and _marked(not_number.text, "input", "a_members")
    elsewhere = _capture(client, round_id, "HX", KH_POOR)
    assert elsewhere.status_code == 422 and _marked(elsewhere.text, "input", "household")
    unknown = _capture(client, round_id, "NOPE", KH_POOR)
    assert unknown.status_code == 422 and _marked(unknown.text, "input", "household")
    early = _post(client, f"/targeting/rounds/{round_id}/notice", on="2024-03-01")
    assert early.status_code == 409 and "Cette étape n’est pas ouverte à ce stade de la campagne." in early.text
    assert _count(session, TargetingHousehold) == 0

    assert _capture(client, round_id, "HA", KH_POOR).status_code == 303
    assert _post(client, f"/targeting/rounds/{round_id}/scoring").status_code == 303
    no_reason = _post(
        client, f"/targeting/rounds/{round_id}/decisions", household_code="HA", kind="exclude", reason=" ",
        on="2024-02-20",
    )  # fmt: skip
    assert no_reason.status_code == 422 and _marked(no_reason.text, "textarea", "reason")
    bad_date = _post(
        client, f"/targeting/rounds/{round_id}/decisions", household_code="HA", kind="exclude", reason="moved",
        on="20/02/2024",
    )  # fmt: skip
    assert bad_date.status_code == 422
    assert _count(session, TargetingDecision) == 0

    assert _post(client, f"/targeting/rounds/{round_id}/notice", on="2024-03-01").status_code == 303
    late = _post(
        client, f"/targeting/rounds/{round_id}/objections", household_code="HA", asked_category="level_1",
        grounds="worse off", on="2024-04-30",
    )  # fmt: skip
    assert late.status_code == 422
    assert "Ce jour est hors de la période où les réclamations sont reçues." in late.text
    assert re.search(r'<input id="objection-on" name="on"[^>]*aria-invalid="true"', late.text)
    assert _count(session, TargetingObjection) == 0
    _as_commune(client, language="fr")
    too_soon = _post(client, f"/targeting/rounds/{round_id}/approval", on="2024-03-05")
    assert too_soon.status_code == 422
    assert "La période d’affichage n’est pas encore terminée : l’approbation vient après." in too_soon.text
    assert session.get(TargetingRound, round_id).status == "notice"
    assert _count(session, PersonCategory) == 0


def test_a_registrar_sees_only_the_rounds_of_its_area(world) -> None:
    client, _ = world
    _as(client, "registrar", area="D1")
    round_id = _open(client)
    _as(client, "registrar", area="D2")
    assert client.get(f"/targeting/rounds/{round_id}").status_code == 403
    assert f'/targeting/rounds/{round_id}"' not in client.get("/targeting").text
    assert _capture(client, round_id, "HA", KH_POOR).status_code == 403
    assert client.get("/targeting/rounds/99999").status_code == 404
    refused = _open_refused(client)
    assert refused.status_code == 403
    _as(client, "clerk", provider="RH")
    assert client.get("/targeting").status_code == 403


def _open_refused(client: TestClient):
    form = {"rules": "kh-idpoor-rural", "area_code": "C11", "starts_on": "2024-02-01", "ends_on": "2024-02-28"}
    return _post(client, "/targeting/rounds", **form)


def test_opening_a_round_refuses_bad_input_on_its_field(world, session: Session) -> None:
    client, _ = world
    _as(client, "registrar", area="D1", language="ar")
    for fields, field, element in (
        ({"rules": "nope"}, "rules", "select"),
        ({"area_code": "XX"}, "area_code", "input"),
        ({"ends_on": "2024-01-01"}, "ends_on", "input"),
        ({"starts_on": "2011-01-01", "ends_on": "2011-02-01"}, "starts_on", "input"),
        ({"starts_on": "yesterday"}, "starts_on", "input"),
    ):
        form = {"rules": "kh-idpoor-rural", "area_code": "C11", "starts_on": "2024-02-01", "ends_on": "2024-02-28"}
        refused = _post(client, "/targeting/rounds", **{**form, **fields})
        assert refused.status_code == 422, (fields, refused.status_code)
        assert _marked(refused.text, element, field), fields
        assert 'dir="rtl"' in refused.text
    assert _count(session, TargetingRound) == 0


def test_the_hef_operator_covers_an_admitted_patient_at_the_window(world, session: Session) -> None:
    client, people = world
    _as(client, "clerk", provider="RH")
    person_page = client.get(f"/window/persons/{people['HA']}?on=2024-05-02")
    assert f"/window/persons/{people['HA']}/post-identification" in person_page.text
    form_page = client.get(f"/window/persons/{people['HA']}/post-identification")
    assert form_page.status_code == 200 and 'name="a_land"' in form_page.text
    target = f"/window/persons/{people['HA']}/post-identification"
    answers = {f"a_{item}": value for item, value in KH_POOR.items()}
    bad = _post(client, target, rules="kh-idpoor-rural", admitted_on="2024-05-02", **{**answers, "a_land": "moon"})
    assert bad.status_code == 422 and _marked(bad.text, "select", "a_land")
    assert _count(session, PersonCategory) == 0
    granted = _post(client, target, rules="kh-idpoor-rural", admitted_on="2024-05-02", **answers)
    assert granted.status_code == 200 and 'data-testid="hospital-result"' in granted.text
    session.expire_all()
    held = session.scalars(select(PersonCategory).where(PersonCategory.person_id == people["HA"])).one()
    assert (held.category, held.valid_from.isoformat(), held.valid_to.isoformat()) == (
        "registered_poor", "2024-05-02", "2024-05-31",
    )  # fmt: skip
    shown = client.get(f"/window/persons/{people['HA']}?on=2024-05-10")
    assert "Registered poor household member" in shown.text
    _as(client, "registrar", area="D1")
    assert client.get(target).status_code == 403


def test_the_targeting_quality_chart_and_table(world) -> None:
    client, _ = world
    _as(client, "fund_manager")
    page = client.get("/targeting/quality")
    assert page.status_code == 200
    assert 'id="quality-data"' in page.text and "/static/targeting_quality.js" in page.text
    assert page.text.count("<tr") >= 5 and "Cambodia IDPoor" in page.text
    other = client.get("/targeting/quality?rules=vn-poverty")
    assert other.status_code == 200 and 'value="vn-poverty" selected' in other.text
    assert client.get("/static/targeting_quality.js").status_code == 200
    _as(client, "clerk", provider="RH")
    assert client.get("/targeting/quality").status_code == 403


def test_an_on_demand_identification_goes_through_the_same_steps(world, session: Session) -> None:
    client, _ = world
    _as(client, "registrar", area="D1")
    round_id = _open(client, kind="on_demand", starts_on="2024-06-01", ends_on="2024-06-02")
    assert session.get(TargetingRound, round_id).kind == "on_demand"
    assert _capture(client, round_id, "HC", KH_POOR).status_code == 303
    assert _post(client, f"/targeting/rounds/{round_id}/scoring").status_code == 303
    page = client.get(f"/targeting/rounds/{round_id}")
    assert "on-demand identification" in page.text and 'data-household="HC"' in page.text
    assert 'data-testid="decision-form"' in page.text and 'data-testid="notice-form"' in page.text
    assert "on-demand identification" in client.get("/targeting").text
    bad_kind = _post(
        client, "/targeting/rounds", rules="kh-idpoor-rural", area_code="C11", starts_on="2024-06-01",
        ends_on="2024-06-02", kind="weekly",
    )  # fmt: skip
    assert bad_kind.status_code == 422 and _marked(bad_kind.text, "select", "kind")
    assert "Choose a regular round or an on-demand identification." in bad_kind.text


def test_an_answers_file_that_cannot_be_read_is_refused_on_the_file_field(world, session: Session) -> None:
    client, _ = world
    _as(client, "registrar", area="D1", language="vi")
    round_id = _open(client)
    target = f"/targeting/rounds/{round_id}/answers"
    for name, content in (
        ("answers.txt", b"household\nHA\n"),  # not a spreadsheet
        ("answers.csv", b"household,village\nHA,V1\n"),  # the questions' columns are missing
        ("answers.xlsx", b"not a workbook"),
    ):
        refused = client.post(target, data=form_token(client), files={"answers": (name, content, "text/plain")})
        assert refused.status_code == 422, (name, refused.status_code)
        assert re.search(r'<input id="answers" name="answers"[^>]*aria-invalid="true"', refused.text), name
        assert 'lang="vi"' in refused.text
    missing = client.post(
        target, data=form_token(client), files={"answers": ("a.csv", b"household,village\nHA,V1\n", "text/csv")}
    )
    assert "Tệp thiếu cột của: members, dependants" in missing.text and "missing column" not in missing.text
    unreadable = client.post(target, data=form_token(client), files={"answers": ("a.xlsx", b"PK junk", "text/plain")})
    assert "Không thể đọc tệp thành câu trả lời" in unreadable.text
    assert (
        "Hãy gửi tệp CSV hoặc Excel (.xlsx)."
        in client.post(target, data=form_token(client), files={"answers": ("a.pdf", b"%PDF", "application/pdf")}).text
    )
    assert _count(session, TargetingHousehold) == 0


fuzz_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "0", "-1", "1" * 500, "2024-13-45", "99999-01-01", "none", "level_1", "include", "\x00"]),
    st.sampled_from(["HA", "HB", "HX", "thatch", "yes", "2024-02-20", "2024-03-05", "rural", "C11", "on_demand"]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.fixed_dictionaries(
        {},
        optional=dict.fromkeys(
            ("household", "household_code", "kind", "to_category", "reason", "on", "asked_category", "grounds",
             "uphold", "ruling", "village", "area_type", "a_members", "a_roof", "a_food_shortage", "rules",
             "area_code", "starts_on", "ends_on", "admitted_on"),
            fuzz_values,
        ),
    )
)  # fmt: skip
def test_no_targeting_form_answers_5xx(world, values: dict[str, str]) -> None:
    client, people = world
    _as(client, "registrar", area="D1")
    round_id = _open(client)
    targets = [
        "/targeting/rounds",
        f"/targeting/rounds/{round_id}/household",
        f"/targeting/rounds/{round_id}/decisions",
        f"/targeting/rounds/{round_id}/notice",
        f"/targeting/rounds/{round_id}/objections",
        f"/targeting/rounds/{round_id}/approval",
    ]
    for target in targets:
        answer = client.post(target, data={**form_token(client), **values})
        assert answer.status_code < 500, (target, values, answer.status_code)
    _as(client, "clerk", provider="RH")
    answer = client.post(f"/window/persons/{people['HA']}/post-identification", data={**form_token(client), **values})
    assert answer.status_code < 500, (values, answer.status_code)


def test_the_questionnaire_categories_and_reasons_are_in_the_readers_language(world, session: Session) -> None:
    client, people = world
    _as(client, "registrar", area="D1", language="ar")
    round_id = _open(client)
    page = client.get(f"/targeting/rounds/{round_id}")
    assert 'dir="rtl"' in page.text
    assert "المادة الرئيسية للسقف" in page.text and "Main material of the roof" not in page.text  # the roof question
    assert re.search(r'<option value="thatch"[^>]*>قش</option>', page.text)  # an answer option, value kept
    assert _capture(client, round_id, "HA", KH_POOR, village="V1").status_code == 303
    assert _capture(client, round_id, "HC", RICH, village="V1").status_code == 303
    assert _post(client, f"/targeting/rounds/{round_id}/scoring").status_code == 303
    listed = client.get(f"/targeting/rounds/{round_id}?village=V1").text
    assert "فقير من المستوى 2 (فقير)" in listed  # the category's Arabic label
    # the reason composed in Arabic: the category, then "idpoor score 58, at least 45"
    assert "فقير من المستوى 2 (فقير): نقاط idpoor: ٥٨، على الأقل ٤٥" in listed
    assert "غير محدَّد: لا تتحقق شروط أي فئة (نقاط idpoor: ٢٠)" in listed  # the well-off household: no category
    assert "at least" not in listed

    _as(client, "clerk", provider="RH", language="zh")
    form = client.get(f"/window/persons/{people['HA']}/post-identification").text
    assert "屋顶主要材料" in form and ">茅草</option>" in form


def _approved_round(client: TestClient) -> int:
    """A round of C11 with HA and HB identified (level 2) and HC not, approved on 2024-03-15."""
    _as(client, "registrar", area="D1")
    round_id = _open(client)
    for code, answers in (("HA", KH_POOR), ("HB", KH_POOR), ("HC", RICH)):
        assert _capture(client, round_id, code, answers, village="V1").status_code == 303
    assert _post(client, f"/targeting/rounds/{round_id}/scoring").status_code == 303
    assert _post(client, f"/targeting/rounds/{round_id}/notice", on="2024-03-01").status_code == 303
    _as_commune(client)
    assert _post(client, f"/targeting/rounds/{round_id}/approval", on="2024-03-15").status_code == 303
    return round_id


def _own_rounds(html: str) -> str:
    found = re.search(r'data-testid="own-rounds">(.*?)</section>', html, re.S)
    assert found is not None
    return found.group(1)


def test_the_quality_of_the_provinces_own_rounds_against_recorded_consumption(world, session: Session) -> None:
    from equicover.reports.service import record_household_consumption

    client, _ = world
    _approved_round(client)
    _as(client, "fund_manager")
    assert "No approved round with recorded household consumption yet." in _own_rounds(
        client.get("/targeting/quality").text
    )
    # per person and year: HA 1,000,000 (2 members), HB 5,000,000, HC 1,500,000. The IDPoor rules
    # have no income line: the truly poor are the round's two poorest (HA, HC), as many as identified.
    for code, amount in (("HA", 2_000_000), ("HB", 5_000_000), ("HC", 1_500_000)):
        record_household_consumption(session=session, household_code=code, year=2024, amount=amount)
    session.commit()
    for role, area in (("fund_manager", None), ("registrar", "D1")):
        _as(client, role, **({"area": area} if area else {}))
        page = client.get("/targeting/quality")
        assert page.status_code == 200
        own = _own_rounds(page.text)
        cells = re.findall(r'<td class="num">([^<]*)</td>', own)
        # the round's area, then all areas: households, truly poor, identified, inclusion, exclusion
        assert cells[:3] == ["3", "2", "2"] and cells[5:8] == ["3", "2", "2"], cells
        assert cells[3] == cells[4] == "50.0%", cells  # HB included though not poor; HC, poor, excluded
        assert "(C11)" in own and "as many as it identified" in own and 'id="chart-rounds"' in own
        payload = re.search(r'id="quality-data">(.*?)</script>', page.text, re.S)
        assert payload is not None and '"round_inclusion": [50.0]' in payload.group(1)
    _as(client, "registrar", area="D2")  # another district sees none of it
    assert "No approved round with recorded household consumption yet." in _own_rounds(
        client.get("/targeting/quality").text
    )


def _identify_at_window(client: TestClient, person_id: int, admitted_on: str) -> None:
    answers = {f"a_{item}": value for item, value in KH_POOR.items()}
    target = f"/window/persons/{person_id}/post-identification"
    granted = _post(client, target, rules="kh-idpoor-rural", admitted_on=admitted_on, **answers)
    assert granted.status_code == 200 and 'data-testid="hospital-result"' in granted.text


def test_the_area_confirms_or_withdraws_the_stays_identified_at_the_hospital(world, session: Session) -> None:
    from equicover.targeting.models import TargetingHospitalCase

    client, people = world
    _as(client, "clerk", provider="RH")
    _identify_at_window(client, people["HA"], "2024-05-02")
    _identify_at_window(client, people["HB"], "2024-05-04")
    assert client.get("/targeting/hospital-cases").status_code == 403  # the window does not decide
    joined = select(TargetingHospitalCase.id, Household.code).join(
        Household, Household.id == TargetingHospitalCase.household_id
    )
    cases = {code: case_id for case_id, code in session.execute(joined)}

    _as(client, "registrar", area="D2")
    assert "No stay awaits a decision." in client.get("/targeting/hospital-cases").text
    assert _post(client, f"/targeting/hospital-cases/{cases['HA']}/confirmation", on="2024-05-20").status_code == 403

    _as(client, "registrar", area="D1", language="fr")
    listed = client.get("/targeting/hospital-cases")
    assert listed.status_code == 200
    assert f'data-case="{cases["HA"]}"' in listed.text and f'data-case="{cases["HB"]}"' in listed.text
    assert "Pauvre de niveau 2 (pauvre)" in listed.text  # the category in French
    assert "/targeting/hospital-cases" in client.get("/targeting").text

    early = _post(client, f"/targeting/hospital-cases/{cases['HB']}/withdrawal", on="2024-05-01", reason="x")
    assert early.status_code == 422 and "Ce jour précède l’admission." in early.text
    assert re.search(r'<input id="on-\d+" name="on"[^>]*value="2024-05-01"[^>]*aria-invalid="true"', early.text)
    garbled = _post(client, f"/targeting/hospital-cases/{cases['HB']}/withdrawal", on="soon", reason="x")
    assert garbled.status_code == 422
    no_reason = _post(client, f"/targeting/hospital-cases/{cases['HB']}/withdrawal", on="2024-05-10", reason=" ")
    assert no_reason.status_code == 422 and "Indiquez le motif : il est obligatoire." in no_reason.text
    assert re.search(r'<textarea id="reason-\d+" name="reason"[^>]*aria-invalid="true"', no_reason.text)
    session.expire_all()
    assert session.get(TargetingHospitalCase, cases["HB"]).status == "granted"  # nothing written

    confirmed = _post(client, f"/targeting/hospital-cases/{cases['HA']}/confirmation", on="2024-05-20")
    assert confirmed.status_code == 303 and "changed=confirmed" in confirmed.headers["location"]
    withdrawn = _post(
        client, f"/targeting/hospital-cases/{cases['HB']}/withdrawal", on="2024-05-10", reason="owns a rice mill"
    )
    assert withdrawn.status_code == 303
    logged = session.scalars(
        select(ChangeLog).where(ChangeLog.entity == "targeting_hospital_cases", ChangeLog.action == "withdraw")
    ).one()
    assert (logged.entity_id, logged.after["reason"]) == (cases["HB"], "owns a rice mill")
    session.expire_all()
    assert session.get(TargetingHospitalCase, cases["HA"]).status == "confirmed"
    assert session.get(TargetingHospitalCase, cases["HB"]).status == "withdrawn"
    held = {
        person: (row.valid_from.isoformat(), row.valid_to.isoformat())
        for person, row in (
            (row.person_id, row) for row in session.scalars(select(PersonCategory).order_by(PersonCategory.valid_from))
        )
    }
    assert held[people["HB"]] == ("2024-05-04", "2024-05-10")  # ended on the day given
    ha_rows = session.scalars(select(PersonCategory).where(PersonCategory.person_id == people["HA"])).all()
    assert max(row.valid_to for row in ha_rows).isoformat() > "2024-05-31"  # runs past the stay
    after = client.get("/targeting/hospital-cases?changed=confirmed").text
    assert "Aucun séjour n’attend de décision." in after
    again = _post(client, f"/targeting/hospital-cases/{cases['HA']}/withdrawal", on="2024-05-21", reason="x")
    assert again.status_code == 409 and "Ce séjour est déjà confirmé ou retiré." in again.text


def test_the_round_form_proposes_the_rules_of_the_provinces_programme(world, session: Session) -> None:
    client, _ = world
    _as(client, "registrar", area="D1")
    assert 'value="cn-registered-poor" selected' in client.get("/targeting").text  # no policy stored: the first
    make.scheme(session)
    make.policy_version(session)  # Viet Nam's social health insurance, in dong
    session.commit()
    assert 'value="vn-poverty" selected' in client.get("/targeting").text


def test_a_reason_is_composed_again_from_its_parts_and_an_unknown_one_is_kept() -> None:
    from equicover.web.i18n import Localiser
    from equicover.web.targeting_pages import reason_in, shipped_rules

    china = shipped_rules()["cn-registered-poor"][1]
    stored = "registered_poor: income per person 4311.64 below margin 5002.50, 2 deprivation(s), at least 2"
    assert reason_in(Localiser("zh"), china, stored) == (
        "建档立卡贫困户：人均收入4,311.64，低于5,002.50的标准线，缺失指标2项，不少于2项"
    )  # money keeps the currency's decimals
    morocco = shipped_rules()["ma-ramed"][1]
    assert reason_in(Localiser("fr"), morocco, "poor: urban area, urban_conditions score 6 at most 11").startswith(
        "Pauvreté : soins gratuits : milieu urbain, score urban_conditions de 6, au plus 11"
    )
    odd = "poor: decided by hand"
    assert reason_in(Localiser("ar"), morocco, odd) == odd and reason_in(Localiser("en"), morocco, "") == ""
