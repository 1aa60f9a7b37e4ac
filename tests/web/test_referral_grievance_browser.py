"""Referral letters and grievances in a real browser (Debian's Chromium, the demo province of
``test_browser``): a health centre's clerk refers a patient to the county hospital, whose clerk
settles the referred bill with the letter's number and takes the patient's complaint; the
district's verifier decides it with a refund, and the refund shows on the bill. The new pages are
right-to-left in Arabic and fit a 390 px phone without sideways scroll."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from equicover.admin.service import create_user
from equicover.claims.models import Claim, ClaimAdjustment
from equicover.grievances.models import GrievanceCase
from equicover.providers.models import Provider
from equicover.referrals.models import ReferralLetter, ReferralLetterUse
from equicover.registry.models import Household, Location, Person
from tests.web import test_browser as shared
from tests.web.test_browser import SCREENSHOTS, SERVICE_DAY, Site, Tab

# The demo site and the browser of the main browser tests, started once for this module.
site = shared.site
browser = shared.browser

PASSWORD = "referring centre clerk 2018"


@pytest.fixture(scope="module")
def centre(site: Site) -> str:
    """A clerk account at a facility of the demo district other than the county hospital: the one
    that refers patients to it. Returns the account's username."""
    with site.session() as session:
        district_id = session.scalar(select(Location.id).where(Location.code == site.accounts.district_code))
        hospital_level = session.scalar(select(Provider.level).where(Provider.code == site.accounts.provider_code))
        code = session.scalar(
            select(Provider.code)
            .join(Location, Location.id == Provider.location_id)
            .where(Location.district_id == district_id, Provider.level != hospital_level)
            .order_by(Provider.id)
            .limit(1)
        ) or session.scalar(
            select(Provider.code).where(Provider.code != site.accounts.provider_code).order_by(Provider.id).limit(1)
        )
        assert code is not None
        create_user(
            session=session, username="centre-clerk", password=PASSWORD, role="clerk", provider_code=code, actor="test"
        )
        session.commit()
    return "centre-clerk"


@pytest.fixture
def tab(browser: object, site: Site) -> Iterator[Tab]:
    opened = Tab(browser, site)
    yield opened
    opened.close()


def _sign_in_as(tab: Tab, username: str, password: str) -> None:
    tab.go("/login")
    tab.page.fill("#username", username)
    tab.page.fill("#password", password)
    with tab.page.expect_navigation():
        tab.page.click("form.stack button[type=submit]")
    assert "/login" not in tab.page.url


def _sign_out(tab: Tab) -> None:
    with tab.page.expect_navigation():
        tab.page.click(".topbar form[action='/logout'] button")


def _submit(tab: Tab, selector: str) -> None:
    with tab.page.expect_navigation():
        tab.page.click(selector)


def test_a_referred_bill_and_a_complaint_decided_with_a_refund(tab: Tab, site: Site, centre: str) -> None:
    person = site.poor_person_id
    letter_day = SERVICE_DAY - dt.timedelta(days=3)
    # The health centre refers the patient to the county hospital.
    _sign_in_as(tab, centre, PASSWORD)
    tab.go(f"/window/persons/{person}")
    _submit(tab, f"a[href='/window/persons/{person}/referrals']")
    tab.page.check("input[name=destination][value=facility]")
    tab.page.fill("#to_provider_code", site.accounts.provider_code)
    tab.page.fill("#diagnosis", "J18")
    tab.page.fill("#reason", "pneumonia not improving after three days")
    tab.page.fill("#issued_on", letter_day.isoformat())
    _submit(tab, "[data-testid=referral-form] button[type=submit]")
    number = re.search(r"/window/referrals/(R\d+)", tab.page.url).group(1)  # type: ignore[union-attr]
    assert tab.page.get_by_test_id("letter-status").inner_text() == "issued"
    pdf = tab.page.request.get(f"{site.base_url}/window/referrals/{number}/letter.pdf")
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "referral-letter.pdf").write_bytes(pdf.body())
    _sign_out(tab)

    # The county hospital checks the letter and settles the bill with its number.
    tab.sign_in("clerk")
    tab.go(f"/window/referrals?person={person}&number={number}&on={SERVICE_DAY.isoformat()}")
    assert tab.page.get_by_test_id("verdict").get_attribute("data-valid") == "yes"
    tab.go(f"/window/persons/{person}")
    tab.page.fill("#service_date", SERVICE_DAY.isoformat())
    tab.page.select_option("#care_type", "inpatient")
    tab.page.fill("#diagnosis", "J18")
    tab.page.fill("#total", "12000.00")
    tab.page.fill("#days", "5")
    tab.page.fill("#referral_letter", number)
    _submit(tab, "[data-testid=bill-form] button[type=submit]")
    assert "/window/claims/" in tab.page.url, tab.page.content()[-2000:]
    bill = tab.page.url.rsplit("/", 1)[1]
    with site.session() as session:
        claim = session.scalars(select(Claim).where(Claim.claim_id == bill)).one()
        letter_id = session.scalar(select(ReferralLetter.id).where(ReferralLetter.number == number))
        used = session.scalar(select(ReferralLetterUse.letter_id).where(ReferralLetterUse.claim_pk == claim.id))
    assert claim.referred and used == letter_id and claim.member_oop > 0

    # The patient says the counter asked for more: the clerk takes the complaint.
    tab.go(f"/window/persons/{person}")
    _submit(tab, f"a[href='/grievances/new?person={person}']")
    tab.page.select_option("#category", "overcharged")
    tab.page.select_option("#subject_id", str(claim.id))
    tab.page.fill("#description", "the cashier asked for the whole bill")
    tab.page.fill("#opened_on", SERVICE_DAY.isoformat())
    _submit(tab, "[data-testid=complaint-form] button[type=submit]")
    case_id = int(re.search(r"/grievances/(\d+)", tab.page.url).group(1))  # type: ignore[union-attr]
    assert tab.page.get_by_test_id("identity-hidden").is_visible()
    _sign_out(tab)

    # The district's verifier decides it: upheld, refunded in part by the first layer.
    tab.sign_in("verifier")
    tab.go("/grievances?overdue=1")
    assert tab.page.locator(f"tr[data-case='{case_id}']").count() == 1
    tab.go(f"/grievances/{case_id}")
    assert tab.page.get_by_test_id("complainant").is_visible()
    tab.page.select_option("#outcome", "upheld")
    tab.page.fill("#reasons", "the settlement left less to pay than was asked")
    tab.page.fill("#on", (SERVICE_DAY + dt.timedelta(days=2)).isoformat())
    tab.page.fill("#refund_amount", "10.00")
    tab.page.select_option("#refund_layer", index=1)
    _submit(tab, "[data-testid=decision-form] button[type=submit]")
    assert tab.page.get_by_test_id("case-status").inner_text() == "decided · upheld"
    assert tab.page.get_by_test_id("act-amount").first.inner_text().startswith("10.00")
    tab.page.screenshot(path=str(SCREENSHOTS / "grievance-case.png"), full_page=True)
    with site.session() as session:
        refund = session.scalar(
            select(ClaimAdjustment.amount).where(ClaimAdjustment.claim_pk == claim.id, ClaimAdjustment.kind == "member")
        )
        assert session.get(GrievanceCase, case_id).status == "decided"  # type: ignore[union-attr]
    assert refund == -1_000
    _sign_out(tab)

    # The refund shows on the bill at the window.
    tab.sign_in("clerk")
    tab.go(f"/window/claims/{bill}")
    assert tab.page.get_by_test_id("adjustments").is_visible()
    assert tab.page.get_by_test_id("patient-now").inner_text().startswith(f"{(claim.member_oop - 1_000) / 100:,.2f}")


def test_a_registrar_takes_a_category_complaint_from_the_household_page(tab: Tab, site: Site) -> None:
    person = site.poor_person_id
    with site.session() as session:
        household = session.scalar(
            select(Household.code).join(Person, Person.household_id == Household.id).where(Person.id == person)
        )
    assert household is not None
    tab.sign_in("registrar")
    tab.go(f"/registry/households/{household}")
    _submit(tab, f"[data-testid=category-complaint-{person}]")
    assert tab.page.locator("#category").input_value() == "category_decision"
    assert tab.page.get_by_test_id("back-to-household").get_attribute("href") == f"/registry/households/{household}"
    tab.page.fill("#description", "the survey missed the household's debts")
    _submit(tab, "[data-testid=complaint-form] button[type=submit]")
    case_id = int(re.search(r"/grievances/(\d+)", tab.page.url).group(1))  # type: ignore[union-attr]
    # The registrar handles category cases of the area: the case opens with its decision form.
    assert tab.page.get_by_test_id("decision-form").is_visible()
    with site.session() as session:
        case = session.get(GrievanceCase, case_id)
        assert case is not None
        assert (case.category, case.subject_kind, case.subject_id) == ("category_decision", "person", person)
        assert case.complainant_person_id == person
    _sign_out(tab)


def _new_pages(site: Site) -> list[tuple[str, str]]:
    with site.session() as session:
        number = session.scalar(select(ReferralLetter.number).order_by(ReferralLetter.id))
        case_id = session.scalar(select(GrievanceCase.id).order_by(GrievanceCase.id))
    person = site.poor_person_id
    pages = [
        ("clerk", f"/window/persons/{person}/referrals"),
        ("clerk", f"/window/referrals?person={person}&number={number or 'R0'}"),
        ("clerk", f"/grievances/new?person={person}"),
        ("verifier", "/grievances?status=all"),
    ]
    if number:
        pages.append(("clerk", f"/window/referrals/{number}"))
    if case_id:
        pages.append(("verifier", f"/grievances/{case_id}"))
    return pages


@pytest.mark.parametrize("width", [390, 1366])
def test_the_new_pages_are_right_to_left_in_arabic_and_fit_a_phone(browser: object, site: Site, width: int) -> None:
    tab = Tab(browser, site, width=width, height=844)
    try:
        signed_in = None
        for role, path in sorted(_new_pages(site)):
            if role != signed_in:
                if signed_in is not None:
                    _sign_out(tab)
                tab.sign_in(role)
                signed_in = role
            tab.context.add_cookies([{"name": "equicover_lang", "value": "ar", "url": site.base_url}])
            tab.go(path)
            assert tab.page.locator("html").get_attribute("dir") == "rtl", path
            assert tab.page.locator("html").get_attribute("lang") == "ar", path
            overflow = tab.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, (width, path, overflow)
            assert "Referral" not in tab.page.locator("main").inner_text(), path  # every text in Arabic
    finally:
        tab.close()
