"""The web application in a real browser: Debian's Chromium driven by Playwright, against a real
uvicorn server on a free port and a temporary SQLite database seeded with a small synthetic
province (its claims settled and stored, a verification sample drawn) and one user per role.

Each role signs in and does its main task end to end; the Arabic pages are right-to-left and
mirrored; no page asks any other host for anything; and every main page is photographed in every
language into ``test-artifacts/screenshots/`` (kept by CI as artefacts, ignored by git).

Needs ``/usr/bin/chromium`` (``apt-get install chromium``; Playwright's own browser download is
never used). Without it these tests fail in CI and are skipped, loudly, elsewhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.claims.models import Claim
from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory, session_scope
from equicover.enrolment.models import Contribution, Enrolment, Scheme
from equicover.registry.models import Household, Location, Person, PersonCategory
from equicover.verification.models import ClaimReview
from equicover.web.i18n import LANGUAGES
from equicover.web.seed import DemoAccounts, seed_web_demo
from tests.browser import chromium, need_chromium, served

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
SERVICE_DAY = dt.date(2018, 6, 30)
SEED_PEOPLE = 1_200

sync_api = pytest.importorskip("playwright.sync_api")


@dataclass
class Site:
    base_url: str
    database_url: str
    accounts: DemoAccounts
    poor_national_id: str
    poor_person_id: int
    claim_id: str
    review_id: int

    def session(self) -> Session:
        return make_session_factory(make_engine(self.database_url))()


def _facts(session: Session, accounts: DemoAccounts) -> tuple[str, int, str, int]:
    """A registered-poor patient of the demo district enrolled mid-year, a stored claim of the
    district's facility, and an open review of the verifier's queue."""
    district_id = session.scalar(select(Location.id).where(Location.code == accounts.district_code))
    in_district = select(Location.id).where(Location.district_id == district_id)
    poor = session.execute(
        select(Person.id, Person.national_id)
        .join(PersonCategory, PersonCategory.person_id == Person.id)
        .join(Enrolment, Enrolment.person_id == Person.id)
        .where(
            Person.location_id.in_(in_district),
            Person.national_id.is_not(None),
            PersonCategory.category == "registered_poor",
            PersonCategory.valid_from <= SERVICE_DAY,
            Enrolment.status == "active",
            Enrolment.starts <= SERVICE_DAY,
            Enrolment.ends >= SERVICE_DAY,
        )
        .order_by(Person.id)
        .limit(1)
    ).one()
    claim_id = session.scalar(
        select(Claim.claim_id).where(Claim.member_oop > 0, Claim.care_type == "inpatient").order_by(Claim.id).limit(1)
    )
    review_id = session.scalar(select(ClaimReview.id).where(ClaimReview.status == "pending").order_by(ClaimReview.id))
    assert claim_id is not None and review_id is not None
    return poor.national_id, poor.id, claim_id, review_id


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    need_chromium()
    folder = tmp_path_factory.mktemp("web")
    database_url = f"sqlite:///{folder / 'web.db'}"
    upgrade(database_url)
    engine = make_engine(database_url)
    with session_scope(make_session_factory(engine)) as session:
        accounts = seed_web_demo(session=session, people=SEED_PEOPLE, seed=5, sample_size=20, work_dir=folder)
    with make_session_factory(engine)() as session:
        national_id, person_id, claim_id, review_id = _facts(session, accounts)
    engine.dispose()
    with served(folder, database_url) as base_url:
        yield Site(base_url, database_url, accounts, national_id, person_id, claim_id, review_id)


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[object]:
    with chromium() as launched:
        yield launched


class Tab:
    """One browser tab on the site, refusing (and remembering) any request to another host."""

    def __init__(self, browser: object, site: Site, width: int = 1366, height: int = 768) -> None:
        self.site = site
        self.context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.outside: list[str] = []
        own = urlsplit(site.base_url).netloc

        def guard(route: object) -> None:
            url = route.request.url
            if urlsplit(url).netloc not in (own, "") and not url.startswith(("data:", "blob:")):
                self.outside.append(url)
                route.abort()
            else:
                route.continue_()

        self.page.route("**/*", guard)
        # Every page runs under the Content-Security-Policy: a blocked script or style is a failure.
        self.csp_violations: list[str] = []
        self.page.on(
            "console",
            lambda message: (
                self.csp_violations.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )

    def go(self, path: str) -> None:
        self.page.goto(self.site.base_url + path)

    def sign_in(self, role: str) -> None:
        self.go("/login")
        self.page.fill("#username", self.site.accounts.usernames[role])
        self.page.fill("#password", self.site.accounts.passwords[role])
        with self.page.expect_navigation():
            self.page.click("form.stack button[type=submit]")
        assert "/login" not in self.page.url, f"{role} could not sign in"

    def choose_language(self, language: str) -> None:
        with self.page.expect_navigation():
            self.page.select_option("#language-select", language)

    def close(self) -> None:
        self.context.close()
        assert self.outside == [], f"requests to other hosts: {self.outside}"
        assert self.csp_violations == [], f"blocked by the Content-Security-Policy: {self.csp_violations}"


@pytest.fixture
def tab(browser: object, site: Site) -> Iterator[Tab]:
    opened = Tab(browser, site)
    yield opened
    opened.close()


def test_clerk_settles_a_bill_and_sees_the_patients_share(tab: Tab, site: Site) -> None:
    tab.sign_in("clerk")
    assert tab.page.url.endswith("/window")
    tab.page.fill("#q", site.poor_national_id)
    with tab.page.expect_navigation():
        tab.page.click("form[role=search] button")
    assert f"/window/persons/{site.poor_person_id}" in tab.page.url
    assert tab.page.get_by_test_id("covered").inner_text() == "Covered"
    tab.page.fill("#service_date", SERVICE_DAY.isoformat())
    tab.page.select_option("#care_type", "inpatient")
    tab.page.fill("#diagnosis", "J18")
    tab.page.fill("#total", "12000.00")
    tab.page.fill("#eligible", "10000.00")
    tab.page.fill("#days", "5")
    with tab.page.expect_navigation():
        tab.page.click("[data-testid=bill-form] button[type=submit]")
    assert "/window/claims/" in tab.page.url
    shown = tab.page.get_by_test_id("patient-amount").inner_text()
    claim_id = tab.page.url.rsplit("/", 1)[1]
    with site.session() as session:
        claim = session.scalars(select(Claim).where(Claim.claim_id == claim_id)).one()
    assert claim.person_id == site.poor_person_id and claim.total == 1_200_000
    assert shown == f"{claim.member_oop / 100:,.2f}"
    # The registered poor pay at most 10% of an in-county inpatient bill (the Ya'an policy).
    assert 0 < claim.member_oop <= claim.total // 10
    with tab.page.expect_navigation():
        tab.page.get_by_test_id("receipt-link").click()
    assert tab.page.get_by_test_id("patient-amount").inner_text() == shown


def test_verifier_rejects_a_claim(tab: Tab, site: Site) -> None:
    tab.sign_in("verifier")
    assert tab.page.url.endswith("/verification")
    assert tab.page.get_by_test_id("queue").locator("tbody tr").count() > 0
    tab.go(f"/verification/reviews/{site.review_id}")
    tab.page.check("input[name=decision][value=reject]")
    tab.page.fill("#reason", "No admission record for these dates")
    with tab.page.expect_navigation():
        tab.page.click("[data-testid=decision-form] button[type=submit]")
    assert "rejected" in tab.page.locator(".notice.ok").inner_text()
    with site.session() as session:
        review = session.get(ClaimReview, site.review_id)
        assert review is not None
        assert (review.status, review.decided_by, review.reason) == (
            "rejected",
            "web:verifier",
            "No admission record for these dates",
        )
        assert review.disallowed > 0


def test_every_demo_account_has_its_own_password(tab: Tab, site: Site) -> None:
    passwords = site.accounts.passwords
    assert len(set(passwords.values())) == len(site.accounts.usernames) == 6
    tab.go("/login")
    tab.page.fill("#username", site.accounts.usernames["clerk"])
    tab.page.fill("#password", passwords["verifier"])
    with tab.page.expect_navigation():
        tab.page.click("form.stack button[type=submit]")
    assert "/login" in tab.page.url and tab.page.locator(".notice.error").count() == 1


def test_a_form_forged_on_another_page_is_refused(tab: Tab, site: Site) -> None:
    tab.sign_in("registrar")
    # Another page (here one without an origin of its own) posts to the application in the
    # signed-in browser: the browser sends the cookie, but the page cannot know the token.
    tab.page.set_content(
        f'<form method="post" action="{site.base_url}/language">'
        '<input name="language" value="ar"><input name="next" value="/registry">'
        '<button type="submit">go</button></form>'
    )
    with tab.page.expect_navigation():
        tab.page.click("button")
    assert tab.page.locator("h1").inner_text() == "This form cannot be sent"
    tab.go("/registry")
    assert tab.page.locator("html").get_attribute("lang") == "en"


def test_registrar_enrols_a_member(tab: Tab, site: Site) -> None:
    tab.sign_in("registrar")
    assert tab.page.url.endswith("/registry")
    tab.go(f"/registry/gaps?on={SERVICE_DAY.isoformat()}")
    gaps = tab.page.get_by_test_id("gaps").locator("tbody tr")
    assert gaps.count() > 0
    with tab.page.expect_navigation():
        gaps.first.locator("a.button").click()
    form = tab.page.locator("form[data-testid^=enrol-form-]").first
    person_id = int(form.get_attribute("data-testid").rsplit("-", 1)[1])
    with tab.page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert tab.page.locator(".notice.ok").inner_text() == "Member enrolled."
    with site.session() as session:
        enrolments = session.scalars(
            select(Enrolment).where(Enrolment.person_id == person_id, Enrolment.status == "active")
        ).all()
        assert any(e.starts <= SERVICE_DAY <= e.ends for e in enrolments)


def test_fund_manager_opens_the_dashboard_and_the_charts_render(tab: Tab, site: Site) -> None:
    tab.sign_in("fund_manager")
    assert tab.page.url.endswith("/dashboard")
    tab.page.wait_for_selector("html[data-charts='6']")
    charts = tab.page.locator("[data-chart]")
    assert charts.count() == 6
    for index in range(6):
        chart = charts.nth(index)
        assert chart.get_attribute("data-rendered") == "true"
        # ECharts' SVG renderer: bars, tiles and axes are SVG paths.
        assert chart.locator("svg path").count() > 5, chart.get_attribute("id")
    assert tab.page.get_by_test_id("top-providers").locator("tbody tr").count() > 0
    # RAMED's 0.6 consultations is the deficit its evaluation deplores: drawn as a baseline, not a target.
    consultations = " ".join(tab.page.locator("#chart-consultations svg text").all_text_contents())
    assert "RAMED baseline (a deficit, not a target) 0.6" in consultations and "Target" not in consultations
    assert "in-county inpatient and chronic care" in tab.page.locator(".kpis").inner_text()


def test_category_labels_are_whole_in_french(tab: Tab, site: Site) -> None:
    tab.sign_in("fund_manager")
    tab.choose_language("fr")
    tab.page.wait_for_selector("html[data-charts='6']")
    labels = tab.page.locator("#chart-categories svg text").all_text_contents()
    assert labels and not any(text.endswith(("…", "...")) for text in labels), labels
    words = " ".join(labels)
    assert "ménage" in words and "enregistré" in words  # "Membre d'un ménage pauvre enregistré", wrapped, not cut
    tab.choose_language("en")


ARABIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩٫", "0123456789.")


def _legend_ends(tab: Tab) -> tuple[float, float]:
    """The x of the district legend's high and low labels: the two texts at the bottom of the chart."""
    texts = tab.page.evaluate(
        """() => [...document.querySelectorAll('#chart-districts svg text')].map(t => {
             const box = t.getBoundingClientRect(); return [t.textContent, box.x, box.y]; })"""
    )
    bottom = sorted(texts, key=lambda text: text[2])[-2:]
    values = [(float(text.translate(ARABIC_DIGITS).rstrip("%٪")), x) for text, x, _y in bottom]
    (low, low_x), (high, high_x) = sorted(values)
    assert high > low
    return high_x, low_x


def test_the_district_legend_labels_follow_its_colours_in_both_directions(tab: Tab, site: Site) -> None:
    tab.sign_in("fund_manager")
    tab.page.wait_for_selector("html[data-charts='6']")
    high_x, low_x = _legend_ends(tab)
    assert high_x > low_x  # left to right: the darkest (highest) end on the right
    tab.choose_language("ar")
    tab.page.wait_for_selector("html[data-charts='6']")
    high_x, low_x = _legend_ends(tab)
    assert high_x < low_x  # mirrored: the highest end, and its label, on the left
    tab.choose_language("en")


def _boxes(tab: Tab) -> dict[str, dict[str, float]]:
    return {
        name: tab.page.locator(selector).bounding_box()
        for name, selector in (
            ("sidebar", "nav.sidebar"),
            ("main", "main"),
            ("brand", ".topbar .brand"),
            ("picker", ".language-picker"),
        )
    }


def test_arabic_pages_are_right_to_left_and_mirrored(tab: Tab, site: Site) -> None:
    tab.sign_in("admin")
    tab.go("/registry")
    assert tab.page.locator("html").get_attribute("dir") == "ltr"
    left_to_right = _boxes(tab)
    tab.choose_language("ar")
    assert tab.page.locator("html").get_attribute("dir") == "rtl"
    assert tab.page.locator("html").get_attribute("lang") == "ar"
    right_to_left = _boxes(tab)
    width = tab.page.viewport_size["width"]
    # The sidebar moves from the left edge to the right edge, the content to its left.
    assert left_to_right["sidebar"]["x"] == pytest.approx(0, abs=1)
    assert right_to_left["sidebar"]["x"] + right_to_left["sidebar"]["width"] == pytest.approx(width, abs=1)
    assert (
        right_to_left["main"]["x"]
        < right_to_left["sidebar"]["x"]
        < left_to_right["main"]["x"] + left_to_right["main"]["width"]
    )
    assert right_to_left["sidebar"]["x"] == pytest.approx(
        width - left_to_right["sidebar"]["x"] - left_to_right["sidebar"]["width"], abs=1
    )
    # The brand and the language picker swap ends of the top bar.
    assert left_to_right["brand"]["x"] < left_to_right["picker"]["x"]
    assert right_to_left["brand"]["x"] > right_to_left["picker"]["x"]
    # Numbers in Eastern Arabic digits.
    assert any("\u0660" <= char <= "\u0669" for char in tab.page.locator("table caption").inner_text())
    tab.choose_language("en")


@pytest.mark.parametrize("width", [1366, 1024])
def test_pages_fit_a_small_laptop_screen(browser: object, site: Site, width: int) -> None:
    tab = Tab(browser, site, width=width, height=768)
    try:
        tab.sign_in("admin")
        for language in ("en", "ar"):
            tab.context.add_cookies([{"name": "equicover_lang", "value": language, "url": site.base_url}])
            for path in ("/dashboard", f"/window/persons/{site.poor_person_id}", "/registry", "/verification"):
                tab.go(path)
                overflow = tab.page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                assert overflow <= 0, (width, language, path, overflow)
    finally:
        tab.close()


def _spilled_cells(tab: Tab) -> list[str]:
    """The table cells whose text runs over their neighbours' (Chromium may count a break inside a
    right-to-left date, with its RLM marks, that it then does not make)."""
    return tab.page.evaluate(
        "[...document.querySelectorAll('main td')].filter(td => td.scrollWidth > td.clientWidth + 1)"
        ".map(td => td.textContent.trim())"
    )


@pytest.mark.parametrize("language", ["en", "fr", "ar"])
def test_every_role_works_on_a_phone_without_sideways_scroll_or_text_over_text(
    browser: object, site: Site, language: str
) -> None:
    tab = Tab(browser, site, width=390, height=844)
    try:
        tab.context.add_cookies([{"name": "equicover_lang", "value": language, "url": site.base_url}])
        for role, paths in (
            ("clerk", ("/window", f"/window/persons/{site.poor_person_id}", f"/window/claims/{site.claim_id}")),
            ("registrar", ("/registry", "/registry/gaps")),
            ("verifier", ("/verification", "/verification?status=decided")),
            ("fund_manager", ("/dashboard", "/reports")),
        ):
            tab.sign_in(role)
            tab.context.add_cookies([{"name": "equicover_lang", "value": language, "url": site.base_url}])
            for path in paths:
                tab.go(path)
                overflow = tab.page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                assert overflow <= 0, (language, path, overflow)
                assert _spilled_cells(tab) == [], (language, path)
                sign_out = tab.page.locator(".topbar form[action='/logout'] button").bounding_box()
                assert sign_out is not None and 0 <= sign_out["x"] and sign_out["x"] + sign_out["width"] <= 390, (
                    language,
                    path,
                    sign_out,
                )
            with tab.page.expect_navigation():
                tab.page.click(".topbar form[action='/logout'] button")
    finally:
        tab.close()


def test_on_a_phone_a_short_page_begins_right_below_the_navigation(browser: object, site: Site) -> None:
    """Below 800 px the navigation sits above the page: it keeps its own height, however short
    the page (a list with nothing in it), instead of taking half the screen."""
    tab = Tab(browser, site, width=390, height=844)
    try:
        tab.sign_in("registrar")
        for language in ("en", "ar"):
            tab.context.add_cookies([{"name": "equicover_lang", "value": language, "url": site.base_url}])
            tab.go("/registry/gaps?category=no_such_category")
            spare = tab.page.evaluate(
                """() => {
                    const nav = document.querySelector('.sidebar').getBoundingClientRect();
                    const last = document.querySelector('.sidebar').lastElementChild.getBoundingClientRect();
                    const main = document.querySelector('main').getBoundingClientRect();
                    return {below_content: nav.bottom - last.bottom, main_gap: main.top - nav.bottom};
                }"""
            )
            assert spare["below_content"] <= 24 and abs(spare["main_gap"]) <= 1, (language, spare)
    finally:
        tab.close()


def test_on_a_phone_a_wide_table_scrolls_under_a_caption_that_stays_in_view(browser: object, site: Site) -> None:
    """The window's search results are wider than a phone: the table scrolls inside its frame and
    its caption (how many were found, and how to find others) wraps within the screen, in either
    direction of writing, however far the table is scrolled."""
    with site.session() as session:
        name = session.scalar(select(Person.full_name).where(Person.id == site.poor_person_id))
    assert name
    tab = Tab(browser, site, width=390, height=844)
    try:
        tab.sign_in("clerk")
        for language in ("fr", "ar"):
            tab.context.add_cookies([{"name": "equicover_lang", "value": language, "url": site.base_url}])
            tab.go(f"/window?q={quote(name[0])}")
            wrap = tab.page.locator(".table-wrap").first
            assert wrap.evaluate("element => element.scrollWidth > element.clientWidth"), language
            for scrolled in (False, True):
                if scrolled:  # to the far end (leftwards when the page reads right to left)
                    wrap.evaluate(
                        "element => { element.scrollLeft = (getComputedStyle(element).direction === 'rtl'"
                        " ? -1 : 1) * element.scrollWidth; }"
                    )
                    assert wrap.evaluate("element => Math.abs(element.scrollLeft) > 0"), language
                box = tab.page.locator("[data-testid=search-count]").bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (language, scrolled, box)
    finally:
        tab.close()


def test_a_registrar_records_a_contribution_and_its_payment_on_a_phone_in_arabic(browser: object, site: Site) -> None:
    """On the household page, at 390 px and right to left: an amount typed in Arabic digits, a
    refusal said on its field, the contribution recorded, then marked paid."""
    with site.session() as session:
        district_id = session.scalar(select(Location.id).where(Location.code == site.accounts.district_code))
        person_id, household_code, enrolment_id = session.execute(
            select(Person.id, Household.code, Enrolment.id)
            .join(Household, Household.id == Person.household_id)
            .join(Enrolment, Enrolment.person_id == Person.id)
            .where(
                Person.location_id.in_(select(Location.id).where(Location.district_id == district_id)),
                Person.id != site.poor_person_id,
                Enrolment.status == "active",
            )
            .order_by(Person.id)
            .limit(1)
        ).one()
        digits = session.scalar(
            select(Scheme.minor_digits)
            .join(Enrolment, Enrolment.scheme_id == Scheme.id)
            .where(Enrolment.id == enrolment_id)
        )
    tab = Tab(browser, site, width=390, height=844)
    try:
        tab.sign_in("registrar")
        tab.context.add_cookies([{"name": "equicover_lang", "value": "ar", "url": site.base_url}])
        tab.go(f"/registry/households/{quote(household_code, safe='')}")
        assert _spilled_cells(tab) == []
        form = f"[data-testid=contribution-form-{person_id}-fields]"
        tab.page.click(f"[data-testid=contribution-form-{person_id}] summary")
        tab.page.select_option(f"#payer-kind-{person_id}", "member")
        tab.page.fill(f"#amount-{person_id}", "مئة")
        with tab.page.expect_navigation():
            tab.page.click(f"{form} button[type=submit]")
        assert "المبلغ ليس مبلغاً صالحاً." in tab.page.inner_text("main")
        assert tab.page.get_attribute(f"#amount-{person_id}", "aria-invalid") == "true"
        assert tab.page.evaluate("document.activeElement.id") == f"amount-{person_id}"
        tab.page.fill(f"#amount-{person_id}", "١٢٠")
        with tab.page.expect_navigation():
            tab.page.click(f"{form} button[type=submit]")
        assert "سُجّلت المساهمة." in tab.page.inner_text("main")
        overflow = tab.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, overflow
        with site.session() as session:
            recorded = session.scalars(
                select(Contribution).where(Contribution.enrolment_id == enrolment_id).order_by(Contribution.id.desc())
            ).first()
            assert recorded is not None and (recorded.amount_minor, recorded.status) == (120 * 10**digits, "due")
        with tab.page.expect_navigation():
            tab.page.click(f"[data-testid=contribution-{recorded.id}] button[value=paid]")
        assert "سُجّلت المساهمة كمدفوعة." in tab.page.inner_text("main")
        with site.session() as session:
            assert session.get(Contribution, recorded.id).status == "paid"  # type: ignore[union-attr]
    finally:
        tab.close()


def test_back_links_point_the_way_the_page_reads(tab: Tab, site: Site) -> None:
    tab.sign_in("clerk")
    for language, arrow in (("en", "←"), ("ar", "→"), ("fa", "→")):
        tab.context.add_cookies([{"name": "equicover_lang", "value": language, "url": site.base_url}])
        tab.go(f"/window/persons/{site.poor_person_id}")
        back = tab.page.locator("main p a").first.inner_text()
        assert back.startswith(arrow), (language, back)


MAIN_PAGES = (
    ("window", "/window/persons/{person}?on=2018-06-30"),
    ("settlement", "/window/claims/{claim}"),
    ("registry", "/registry"),
    ("gaps", "/registry/gaps?on=2018-06-30"),
    ("verification", "/verification"),
    ("dashboard", "/dashboard"),
)


def test_screenshots_of_every_main_page_in_every_language(tab: Tab, site: Site) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.sign_in("admin")
    taken = []
    for language in LANGUAGES:
        tab.context.add_cookies([{"name": "equicover_lang", "value": language, "url": site.base_url}])
        for name, path in MAIN_PAGES:
            tab.go(path.format(person=site.poor_person_id, claim=site.claim_id))
            assert tab.page.locator("html").get_attribute("lang") == language
            if name == "dashboard":
                tab.page.wait_for_selector("html[data-charts='6']")
            target = SCREENSHOTS / f"{name}-{language}.png"
            tab.page.screenshot(path=str(target), full_page=True)
            taken.append(target)
    assert all(path.stat().st_size > 10_000 for path in taken)


def test_the_api_documentation_works_offline_under_the_content_security_policy(tab: Tab) -> None:
    """Swagger UI comes from the application itself; no other host is asked for anything."""
    tab.go("/docs")
    tab.page.wait_for_selector(".opblock")
    assert tab.page.locator(".opblock").count() > 20
