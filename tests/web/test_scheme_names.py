"""A scheme is shown in the reader's language: by its policy's ``[policy.names]`` when a policy
file is linked to it, else by its own names (set by the synthetic profiles), else by its name."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from equicover.enrolment.schemas import SchemeIn
from equicover.enrolment.service import create_scheme
from equicover.registry.models import Household, Person
from equicover.synth.profile import ProfileError, load_profile
from equicover.web.scheme_names import scheme_names
from tests import factories as make
from tests.api_helpers import login_as, make_client
from tests.factories import SchemeYear
from tests.riel_world import SERVED, riel_world

PROFILES = Path(__file__).parents[2] / "equicover" / "synth" / "profiles"
UNLINKED_NAMES = {"en": "Village health fund", "fr": "Caisse de santé villageoise", "zh": "村卫生基金"}


def _unlinked(session: Session) -> tuple[int, int]:
    """A scheme no policy names, with its own names in English, French and Chinese; one member."""
    make.locations(session)
    scheme = create_scheme(
        session=session,
        scheme=SchemeIn(code="VHF", name="VHF scheme", currency="VND", names=UNLINKED_NAMES),
    )
    period = make.period(session, scheme_id=scheme.id)
    year = SchemeYear(scheme.id, "VHF", period.id, period.starts, period.ends, 0)
    member = make.enrolled_person(session, scheme=year)
    return scheme.id, member.id


def test_a_linked_scheme_takes_its_policys_names(session: Session) -> None:
    world = riel_world(session)
    names = {
        language: scheme_names(session=session, scheme_ids=[world.scheme.scheme_id], language=language, on=SERVED)
        for language in ("fr", "zh", "en")
    }
    assert names["fr"] == {world.scheme.scheme_id: "Fonds d'équité en santé du Cambodge (2015)"}
    assert names["zh"] == {world.scheme.scheme_id: "柬埔寨卫生公平基金（2015）"}
    assert names["en"] == {world.scheme.scheme_id: "Cambodia Health Equity Fund (2015)"}


def test_an_unlinked_scheme_takes_its_own_names_else_english_else_its_name(session: Session) -> None:
    scheme_id, _ = _unlinked(session)
    on = dt.date(2024, 9, 1)
    assert scheme_names(session=session, scheme_ids=[scheme_id], language="fr", on=on) == {
        scheme_id: "Caisse de santé villageoise"
    }
    assert scheme_names(session=session, scheme_ids=[scheme_id], language="ar", on=on) == {
        scheme_id: "Village health fund"
    }
    bare = create_scheme(session=session, scheme=SchemeIn(code="BARE", name="Bare scheme", currency="VND"))
    assert scheme_names(session=session, scheme_ids=[bare.id], language="fr", on=on) == {bare.id: "Bare scheme"}


def test_the_window_and_the_household_show_the_scheme_in_the_readers_language(
    session_factory: sessionmaker[Session], session: Session
) -> None:
    world = riel_world(session)
    household = session.scalar(
        select(Household.code).join(Person, Person.household_id == Household.id).where(Person.id == world.person_id)
    )
    session.commit()
    client = make_client(session_factory=session_factory)
    login_as(client, "clerk", provider="RH", language="fr", cookie=True)
    window = client.get(f"/window/persons/{world.person_id}", params={"on": SERVED.isoformat()})
    assert window.status_code == 200
    assert (
        "Fonds d&#39;équité en santé du Cambodge (2015)" in window.text and "Health Equity Fund</li>" not in window.text
    )
    client.cookies.clear()
    login_as(client, "registrar", area="D1", language="zh", cookie=True)
    page = client.get(f"/registry/households/{household}", params={"on": SERVED.isoformat()})
    assert page.status_code == 200
    assert "<td>柬埔寨卫生公平基金（2015）</td>" in page.text


def test_the_household_page_names_an_unlinked_scheme_in_french(
    session_factory: sessionmaker[Session], session: Session
) -> None:
    _, member = _unlinked(session)
    household = session.scalar(
        select(Household.code).join(Person, Person.household_id == Household.id).where(Person.id == member)
    )
    session.commit()
    client = make_client(session_factory=session_factory)
    login_as(client, "registrar", area="D1", language="fr", cookie=True)
    page = client.get(f"/registry/households/{household}", params={"on": "2024-09-01"})
    assert page.status_code == 200
    assert "<td>Caisse de santé villageoise</td>" in page.text and "VHF scheme" not in page.text


def test_names_of_unknown_languages_are_refused() -> None:
    with pytest.raises(ValidationError, match="unknown language 'de'"):
        SchemeIn(code="X", name="X", currency="VND", names={"de": "Krankenkasse"})
    with pytest.raises(ValidationError, match="1 to 200 characters"):
        SchemeIn(code="X", name="X", currency="VND", names={"fr": "  "})


def test_every_synthetic_profile_names_its_scheme_in_the_six_languages(tmp_path: Path) -> None:
    for path in sorted(PROFILES.glob("*.toml")):
        assert set(load_profile(path).scheme_names) == {"en", "fr", "ar", "fa", "zh", "vi"}, path.name
    text = (PROFILES / "kh-takeo.toml").read_text(encoding="utf-8").replace("\nvi = ", "\nde = ", 1)
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError, match="scheme.names.de"):
        load_profile(bad)
