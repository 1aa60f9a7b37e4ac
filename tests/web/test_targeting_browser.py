"""Identification of the poor in a real browser (Debian's Chromium driven by Playwright, against a
uvicorn server on a small SQLite registry): a commune's registrar opens a round, captures two
households in the questionnaire's form, scores them, records the village's decision, posts the
list and approves it, and the category appears on the household's page; the pages fit a phone
without sideways scroll, and the Arabic page reads right to left."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from equicover.auth.service import create_account
from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory, session_scope
from equicover.registry.models import Location
from equicover.targeting import service
from tests import factories as make
from tests.browser import chromium, need_chromium, served
from tests.targeting.helpers import KH, KH_POOR
from tests.web.test_browser import Tab

sync_api = pytest.importorskip("playwright.sync_api")

PASSWORD = "correct horse battery staple"
RICH = {**KH_POOR, "roof": "concrete", "walls": "brick", "land": "over_1_ha", "food_shortage": "no"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    need_chromium()
    folder = tmp_path_factory.mktemp("targeting-web")
    database_url = f"sqlite:///{folder / 'web.db'}"
    upgrade(database_url)
    engine = make_engine(database_url)
    with session_scope(make_session_factory(engine)) as session:
        make.locations(session)
        make.household(session, code="HA", location_code="C11", members=[make.person_in(full_name="Sok Dara")])
        make.household(session, code="HB", location_code="C11", members=[make.person_in(full_name="Chan Vy")])
        commune = session.scalar(select(Location.id).where(Location.code == "C11"))
        council = create_account(
            session=session, username="council", password=PASSWORD, role="registrar", location_id=commune
        )
        create_account(session=session, username="fund", password=PASSWORD, role="fund_manager")
        # a round collecting answers, for the pages' layout (the first test opens its own)
        seeded = service.open_round(
            session=session,
            rules_text=KH.read_text(encoding="utf-8"),
            area_code="C11",
            starts_on=dt.date(2024, 1, 1),
            ends_on=dt.date(2024, 1, 31),
            user=council,
        )
        service.capture_answers(session=session, round_id=seeded.id, household_code="HA", answers=KH_POOR, user=council)
        round_path = f"/targeting/rounds/{seeded.id}"
        # a stay identified at the hospital window, awaiting the area's confirmation (long before the rounds)
        facility = make.provider(session, code="RH", level="district", location_code="D1")
        clerk = create_account(
            session=session, username="window", password=PASSWORD, role="clerk", provider_id=facility.id
        )
        service.post_identify(
            session=session,
            rules_text=KH.read_text(encoding="utf-8"),
            household_code="HB",
            answers=KH_POOR,
            admitted_on=dt.date(2023, 6, 1),
            user=clerk,
        )
    engine.dispose()
    with served(folder, database_url) as base_url:
        accounts = SimpleNamespace(
            usernames={"registrar": "council", "fund_manager": "fund"},
            passwords={"registrar": PASSWORD, "fund_manager": PASSWORD},
        )
        yield SimpleNamespace(base_url=base_url, accounts=accounts, round_path=round_path)


@pytest.fixture(scope="module")
def browser(site: SimpleNamespace) -> Iterator[object]:
    with chromium() as launched:
        yield launched


def _submit(tab: Tab, selector: str) -> None:
    with tab.page.expect_navigation():
        tab.page.click(f"{selector} button[type=submit]")


def _answer(tab: Tab, code: str, answers: dict[str, str], village: str) -> None:
    form = "form[data-testid=capture-form]"
    tab.page.fill(f"{form} #household", code)
    tab.page.fill(f"{form} #village", village)
    for item, value in answers.items():
        field = tab.page.locator(f"{form} #a_{item}")
        if field.evaluate("element => element.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    _submit(tab, form)


def test_a_registrar_captures_decides_approves_and_the_category_appears(browser: object, site) -> None:
    tab = Tab(browser, site)
    try:
        tab.sign_in("registrar")
        tab.go("/targeting")
        tab.page.select_option("#rules", "kh-idpoor-rural")
        tab.page.fill("#starts_on", "2024-02-01")
        tab.page.fill("#ends_on", "2024-02-28")
        _submit(tab, "form[data-testid=open-round]")
        assert "/targeting/rounds/" in tab.page.url, tab.page.locator("main").inner_text()[:500]
        round_path = tab.page.url.split(site.base_url)[1].split("?")[0]
        _answer(tab, "HA", KH_POOR, "V1")
        assert tab.page.locator(".notice.ok").inner_text() == "Answers recorded."
        _answer(tab, "HB", RICH, "V1")
        # a required question left unanswered is refused on its field, which has the focus
        _answer(tab, "HA", {**KH_POOR, "roof": ""}, "V1")
        assert tab.page.locator("#a_roof[aria-invalid=true]").count() == 1
        assert tab.page.locator("#form-error").inner_text() == "Answer this question: it is required."
        assert tab.page.evaluate("document.activeElement.id") == "a_roof"
        tab.go(round_path)
        _submit(tab, "form[data-testid=score-form]")
        listed = tab.page.locator("table[data-testid=listed]")
        assert "Poor Level 2 (poor)" in listed.locator("tr[data-household=HA]").inner_text()
        assert "not identified" in listed.locator("tr[data-household=HB]").inner_text()

        decision = "form[data-testid=decision-form]"
        tab.page.fill(f"{decision} #household_code", "HB")
        tab.page.select_option(f"{decision} #kind", "include")
        tab.page.select_option(f"{decision} #to_category", "level_2")
        tab.page.fill(f"{decision} #reason", "the house burnt down in January")
        tab.page.fill(f"{decision} #decision-on", "2024-02-20")
        _submit(tab, decision)
        assert "Poor Level 2 (poor)" in tab.page.locator("tr[data-household=HB] [data-testid=final]").inner_text()
        tab.page.fill("#notice-on", "2024-03-01")
        _submit(tab, "form[data-testid=notice-form]")
        tab.page.fill("#approval-on", "2024-03-20")
        _submit(tab, "form[data-testid=approval-form]")
        assert tab.page.locator("[data-testid=round-status]").inner_text() == "approved"

        tab.go("/registry/households/HB?on=2024-03-21")
        assert "Registered poor household member" in tab.page.locator("main").inner_text()
    finally:
        tab.close()


@pytest.mark.parametrize("language", ["en", "ar"])
def test_the_targeting_pages_fit_a_phone_and_arabic_reads_right_to_left(browser: object, site, language: str) -> None:
    tab = Tab(browser, site, width=390, height=844)
    try:
        tab.sign_in("registrar")
        tab.context.add_cookies([{"name": "equicover_lang", "value": language, "url": site.base_url}])
        paths = ["/targeting", site.round_path, f"{site.round_path}/notice"]
        for path in paths:
            tab.go(path)
            overflow = tab.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, (language, path, overflow)
            direction = tab.page.evaluate("getComputedStyle(document.querySelector('main')).direction")
            assert direction == ("rtl" if language == "ar" else "ltr"), (language, path)
            assert tab.page.evaluate("document.documentElement.dir") == ("rtl" if language == "ar" else "ltr")
        if language == "ar":
            tab.go("/targeting")
            assert tab.page.locator("h1").inner_text().startswith("تحديد الفقراء")
    finally:
        tab.close()


def test_the_fund_manager_sees_the_targeting_quality_charts_drawn(browser: object, site) -> None:
    tab = Tab(browser, site)
    try:
        tab.sign_in("fund_manager")
        tab.go("/targeting/quality")
        for chart in ("#chart-rule-sets", "#chart-areas"):
            tab.page.wait_for_selector(f"{chart}[data-rendered=true] svg")
        assert tab.page.locator("table[data-testid=rule-sets] tbody tr").count() == 4
        tab.choose_language("ar")
        tab.page.wait_for_selector("#chart-areas[data-rendered=true] svg")
        assert tab.page.evaluate("document.documentElement.dir") == "rtl"
    finally:
        tab.close()


def test_the_capture_form_in_persian_fits_a_phone(browser: object, site) -> None:
    tab = Tab(browser, site, width=390, height=844)
    try:
        tab.sign_in("registrar")
        tab.context.add_cookies([{"name": "equicover_lang", "value": "fa", "url": site.base_url}])
        for path in (site.round_path, "/targeting/hospital-cases"):
            tab.go(path)
            if path.endswith("hospital-cases"):
                assert tab.page.locator("table[data-testid=cases] tr[data-case]").count() == 1
            assert tab.page.evaluate("document.documentElement.dir") == "rtl"
            overflow = tab.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, (path, overflow)
        tab.go(site.round_path)
        form = tab.page.locator("form[data-testid=capture-form]")
        assert form.locator("label[for=a_roof]").inner_text() == "مصالح اصلی سقف"
        options = form.locator("#a_livestock option").all_inner_texts()
        assert "فقط طیور" in options and "poultry only" not in options
        # every question of the form stays inside the phone's width
        widest = tab.page.evaluate(
            "Math.max(...[...document.querySelectorAll('form[data-testid=capture-form] .field')]"
            ".map(field => field.getBoundingClientRect().right))"
        )
        assert widest <= 390, widest
    finally:
        tab.close()
