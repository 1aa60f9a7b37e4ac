"""Grievances in the web app: a complaint taken at the window, listed open and overdue by area and
facility, decided by a handler of its area with a refund through the claims' adjustments, appealed
to the next level; the complainant shown to the handlers only; bad input and decisions by anyone
else refused with the reason on the field, in the user's language, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from equicover.claims.models import ClaimAdjustment
from equicover.grievances.models import GrievanceCase
from tests import factories as make
from tests.api_helpers import form_token, login_as, make_client


@pytest.fixture
def world(session: Session) -> make.ClaimsWorld:
    world = make.vn_claims_world(session)
    session.commit()
    return world


@pytest.fixture
def client(session_factory: sessionmaker[Session]) -> TestClient:
    client = make_client(session_factory=session_factory)
    client.follow_redirects = False
    return client


def _complaint(world: make.ClaimsWorld, **changes: str) -> dict[str, str]:
    """Member two, charged at PA's counter for A-OP0 (the fund pays 320,000 of 400,000)."""
    form = {
        "category": "overcharged",
        "subject_id": str(world.claim_pks["A-OP0"]),
        "complainant_person_id": str(world.person_ids[1]),
        "person_fixed": "1",
        "channel": "window",
        "complainant_contact": "+84 20 0000 0000",
        "description": "asked to pay the whole share at the counter",
        "opened_on": "2024-10-01",
    }
    form.update(changes)
    return form


def _open(client: TestClient, world: make.ClaimsWorld, **changes: str):
    return client.post("/grievances", data={**_complaint(world, **changes), **form_token(client)})


def _cases(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(GrievanceCase)) or 0


def _case_id(response) -> int:
    return int(response.headers["location"].split("/")[2].split("?")[0])


def test_a_complaint_taken_at_the_window_is_decided_with_a_refund(
    world: make.ClaimsWorld, client: TestClient, session
) -> None:
    member = world.person_ids[1]
    login_as(client, "clerk", provider="PA", cookie=True)
    person_page = client.get(f"/window/persons/{member}")
    assert f'href="/grievances/new?person={member}"' in person_page.text
    form_page = client.get(f"/grievances/new?person={member}")
    assert form_page.status_code == 200
    assert f'value="{world.claim_pks["A-OP0"]}"' in form_page.text  # the member's bills to choose from
    opened = _open(client, world)
    assert opened.status_code == 303, re.sub(r"\s+", " ", opened.text)[-1200:]
    case_id = _case_id(opened)
    clerk_view = client.get(opened.headers["location"])
    assert f"Case {case_id} opened: a decision is due by Oct 16, 2024." in clerk_view.text
    # The clerk took the case but does not handle it: no identity, no description.
    assert 'data-testid="identity-hidden"' in clerk_view.text
    assert "+84 20" not in clerk_view.text and "Member Two" not in clerk_view.text
    assert 'data-testid="decision-form"' not in clerk_view.text

    login_as(client, "verifier", area="D1", cookie=True)
    listed = client.get("/grievances", params={"overdue": "1", "area": "D1", "facility": "PA"})
    assert listed.status_code == 200
    assert f'data-case="{case_id}"' in listed.text and 'data-testid="overdue"' in listed.text
    assert f'data-case="{case_id}"' not in client.get("/grievances", params={"facility": "PB"}).text
    assert f'data-case="{case_id}"' not in client.get("/grievances", params={"status": "decided"}).text
    handler_view = client.get(f"/grievances/{case_id}")
    assert "Member Two" in handler_view.text and "+84 20 0000 0000" in handler_view.text
    assert 'data-testid="decision-form"' in handler_view.text

    assigned = client.post(f"/grievances/{case_id}/assignment", data={"username": "", **form_token(client)})
    assert assigned.status_code == 303
    called = client.post(
        f"/grievances/{case_id}/steps", data={"kind": "call", "note": "called the member", **form_token(client)}
    )
    assert called.status_code == 303
    decided = client.post(
        f"/grievances/{case_id}/decision",
        data={
            "outcome": "upheld",
            "reasons": "in area: the fund pays the share asked at the counter",
            "on": "2024-10-05",
            "refund_amount": "80,000",
            "refund_layer": "shi",
            **form_token(client),
        },
    )
    assert decided.status_code == 303, re.sub(r"\s+", " ", decided.text)[-1200:]
    shown = client.get(decided.headers["location"])
    assert "The case is decided." in shown.text
    assert re.findall(r'data-kind="(\w+)"', shown.text) == [
        "opened",
        "assigned",
        "call",
        "decided",
        "action",
        "action",
    ]
    assert re.findall(r'data-testid="act-amount">([^<]+)<', shown.text) == ["80,000 VND", "80,000 VND"]
    session.expire_all()
    refunds = session.scalars(select(ClaimAdjustment.amount).where(ClaimAdjustment.kind == "member")).all()
    assert list(refunds) == [-80_000]

    # The refund shows at the window, on the bill's settlement.
    login_as(client, "clerk", provider="PA", cookie=True)
    bill = client.get("/window/claims/A-OP0")
    assert "A complaint was upheld" in bill.text
    assert 'data-testid="patient-now">0 VND<' in bill.text
    # The member appeals at the window: the appeal is heard in the province.
    appealed = client.post(
        f"/grievances/{case_id}/appeal", data={"description": "the facility disagrees", **form_token(client)}
    )
    assert appealed.status_code == 303
    session.expire_all()
    appeal = session.scalars(select(GrievanceCase).where(GrievanceCase.appeal_of_id == case_id)).one()
    assert appeal.level == 2


@pytest.mark.parametrize(
    ("changes", "field", "english", "french"),
    [
        ({"category": "weather"}, "category", "Choose the kind of complaint.", "Choisissez le type de réclamation."),
        (
            {"description": " "},
            "description",
            "Say what the complaint is about.",
            "Dites sur quoi porte la réclamation.",
        ),
        ({"subject_id": "abc"}, "subject_id", "Give the number of the record", "Donnez le numéro de l'enregistrement"),
        ({"subject_id": "2147483000"}, "subject_id", "No such record", "Aucun enregistrement"),
        ({"opened_on": "2024-02-30"}, "opened_on", "The date is not a date", "La date n'est pas une date"),
        ({"opened_on": "2099-01-01"}, "opened_on", "The date is after today.", "La date est postérieure"),
        ({"channel": "fax"}, "channel", "Choose how the complaint came in.", "Choisissez comment la réclamation"),
    ],
)
def test_a_bad_complaint_is_refused_on_its_field(
    world: make.ClaimsWorld, client: TestClient, session, changes, field, english, french
) -> None:
    for language, message in (("en", english), ("fr", french)):
        login_as(client, "clerk", provider="PA", language=language, cookie=True)
        refused = _open(client, world, **changes)
        assert refused.status_code == 422, refused.text[:300]
        text = refused.text.replace("&#39;", "'")
        assert message in text, re.sub(r"\s+", " ", text)[-1500:]
        assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', refused.text)
    assert _cases(session) == 0


def test_another_members_bill_is_refused(world: make.ClaimsWorld, client: TestClient, session) -> None:
    login_as(client, "clerk", provider="PA", language="fr", cookie=True)
    refused = _open(client, world, complainant_person_id=str(world.person_ids[0]))
    assert refused.status_code == 422
    assert "L&#39;enregistrement est celui d&#39;un autre adhérent." in refused.text
    assert _cases(session) == 0


def _case(client: TestClient, world: make.ClaimsWorld) -> int:
    login_as(client, "clerk", provider="PA", cookie=True)
    return _case_id(_open(client, world))


def test_a_decision_by_anyone_but_a_handler_of_the_area_is_refused(
    world: make.ClaimsWorld, client: TestClient, session
) -> None:
    case_id = _case(client, world)
    decision = {
        "outcome": "upheld",
        "reasons": "r",
        "on": "2024-10-05",
        "refund_amount": "1",
        "refund_layer": "shi",
    }
    login_as(client, "verifier", area="D2", language="fr", cookie=True)
    outside = client.post(f"/grievances/{case_id}/decision", data={**decision, **form_token(client)})
    assert outside.status_code == 403
    assert "Le dossier est hors de votre zone" in outside.text.replace("&#39;", "'")
    assert client.get(f"/grievances/{case_id}").status_code == 403  # nor reads it

    login_as(client, "registrar", area="D1", cookie=True)
    other_role = client.post(f"/grievances/{case_id}/decision", data={**decision, **form_token(client)})
    assert other_role.status_code == 403
    assert "This kind of case is handled by another role." in other_role.text

    login_as(client, "clerk", provider="PA", cookie=True)
    assert client.post(f"/grievances/{case_id}/decision", data={**decision, **form_token(client)}).status_code == 403

    login_as(client, "verifier", area="D1", language="fr", cookie=True)
    for changes, field, message in (
        ({"refund_amount": "500000"}, "refund_amount", "Le remboursement doit être supérieur à zéro"),
        ({"refund_amount": "abc"}, "refund_amount", "Le remboursement n'est pas un montant."),
        ({"refund_layer": ""}, "refund_amount", "Un remboursement indique son montant"),
        ({"outcome": "rejected"}, "outcome", "Un dossier rejeté ne rembourse"),
        ({"reasons": " "}, "reasons", "Une décision donne ses motifs."),
        ({"on": "2024-09-01"}, "on", "La décision ne peut pas être datée d'avant l'ouverture du dossier."),
        ({"on": "2024-31-01"}, "on", "La date n'est pas une date"),
    ):
        refused = client.post(f"/grievances/{case_id}/decision", data={**decision, **changes, **form_token(client)})
        assert refused.status_code == 422, (changes, refused.status_code)
        assert message in refused.text.replace("&#39;", "'"), (changes, re.sub(r"\s+", " ", refused.text)[-1500:])
        assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', refused.text), changes
    session.expire_all()
    assert session.get(GrievanceCase, case_id).status == "open"
    assert session.scalar(select(func.count()).select_from(ClaimAdjustment)) == 0


def test_the_lists_refuse_unknown_filters_and_page(world: make.ClaimsWorld, client: TestClient, session) -> None:
    for _ in range(3):
        _case(client, world)
    login_as(client, "verifier", area="D1", cookie=True)
    unknown = client.get("/grievances", params={"area": "NOWHERE"})
    assert unknown.status_code == 422
    assert "No area has this code." in unknown.text
    assert re.search(r'name="area"[^>]*aria-invalid="true"', unknown.text)
    assert "No facility has this code." in client.get("/grievances", params={"facility": "NOPE"}).text
    assert len(re.findall(r"data-case=", client.get("/grievances").text)) == 3
    assert client.get("/grievances", params={"p": "0"}).status_code == 422
    login_as(client, "verifier", area="D2", cookie=True)
    assert "data-case=" not in client.get("/grievances").text


def test_a_category_complaint_from_the_registry_is_decided_by_its_registrar(
    world: make.ClaimsWorld, client: TestClient, session
) -> None:
    login_as(client, "registrar", area="D1", cookie=True)
    assert "Take a complaint" in client.get("/grievances").text
    opened = client.post(
        "/grievances",
        data={
            "category": "category_decision",
            "subject_id": "",
            "complainant_person_id": str(world.person_ids[2]),
            "channel": "phone",
            "description": "the child should be covered as a pupil",
            "opened_on": "2024-10-01",
            **form_token(client),
        },
    )
    assert opened.status_code == 303, re.sub(r"\s+", " ", opened.text)[-1200:]
    case_id = _case_id(opened)
    page = client.get(f"/grievances/{case_id}")
    assert 'name="category"' in page.text and 'name="refund_amount"' not in page.text
    decided = client.post(
        f"/grievances/{case_id}/decision",
        data={
            "outcome": "upheld",
            "reasons": "enrolled at the commune school",
            "on": "2024-10-03",
            "category": "student",
            "category_from": "2024-10-01",
            **form_token(client),
        },
    )
    assert decided.status_code == 303, re.sub(r"\s+", " ", decided.text)[-1200:]
    session.expire_all()
    from equicover.registry.models import PersonCategory

    held = session.scalars(select(PersonCategory).where(PersonCategory.person_id == world.person_ids[2])).all()
    assert any(holding.source == f"grievance {case_id}" for holding in held)


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/grievances?p=abc", None),
        ("get", "/grievances?p=99999999999", None),
        ("get", "/grievances?status=%E2%80%AE&overdue=yes&area=%25&facility=_", None),
        ("get", "/grievances/new?person=-1", None),
        ("get", "/grievances/99999999999", None),
        ("post", "/grievances", {"category": "overcharged", "subject_id": "１２", "complainant_person_id": "x"}),
        ("post", "/grievances", {"category": "overcharged", "subject_id": "99999999999999"}),
        ("post", "/grievances", {"category": "payment_batch", "subject_id": "1", "complainant_provider_code": "PA"}),
        ("post", "/grievances/{case}/decision", {"outcome": "upheld", "reasons": "r", "refund_amount": "1e400"}),
        ("post", "/grievances/{case}/decision", {"outcome": "maybe", "reasons": "r", "category": "x" * 32}),
        ("post", "/grievances/{case}/decision", {"outcome": "upheld", "reasons": "r", "refund_layer": "nope"}),
        (
            "post",
            "/grievances/{case}/decision",
            {"outcome": "upheld", "reasons": "r", "correction_amount": "9" * 32, "correction_fund": "x"},
        ),
        (
            "post",
            "/grievances/{case}/decision",
            {
                "outcome": "upheld",
                "reasons": "r",
                "correction_amount": "-5",
                "correction_direction": "sideways",
                "correction_fund": "shi",
            },
        ),
        (
            "post",
            "/grievances/{case}/decision",
            {"outcome": "upheld", "reasons": "r", "correction_amount": "5", "correction_fund": "shi"},
        ),
        ("get", "/grievances/new?category=payment_batch&subject=99999999999", None),
        ("get", "/grievances/new?category=payment_batch&subject=1", None),
        ("post", "/grievances/{case}/steps", {"kind": "fax", "note": "n"}),
        ("post", "/grievances/{case}/assignment", {"username": "nobody"}),
        ("post", "/grievances/{case}/appeal", {"description": "d", "on": "yesterday"}),
        ("get", "/window/referrals?number=%00&person=1", None),
        ("get", "/window/referrals?number=R1&on=2024-99-99", None),
        ("get", "/window/referrals/R%2F..%2F1/letter.pdf", None),
        ("post", "/window/persons/1/referrals", {"destination": "both", "diagnosis": "I10", "reason": "r"}),
        ("post", "/window/referrals/R0000000000/counter-referral", {"on": "2024-01-01", "note": "n"}),
    ],
)
def test_no_input_is_answered_with_a_server_error(
    world: make.ClaimsWorld, client: TestClient, session, method: str, path: str, data
) -> None:
    case_id = _case(client, world)
    for role, place in (("verifier", {"area": "D1"}), ("clerk", {"provider": "PA"})):
        login_as(client, role, cookie=True, **place)
        target = path.format(case=case_id)
        if method == "get":
            response = client.get(target)
        else:
            response = client.post(target, data={**(data or {}), **form_token(client)})
        assert response.status_code < 500, (role, target, response.text[:300])
        assert response.status_code in (200, 303, 400, 403, 404, 409, 422), (role, target, response.status_code)
