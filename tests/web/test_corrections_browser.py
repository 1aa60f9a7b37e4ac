"""The correction and administration pages in Chromium (Playwright), on the browser tests' seeded
province and server (``tests.web.test_browser``): a clerk reverses a bill with its reason and reads
what happens to its payment; a registrar changes a category with its validity and evidence; an
administrator creates, disables and resets an account and reads the audit log; the fund manager
downloads the semi-annual report and a payment batch's files; and a refused field says why in each
language, marked invalid and focused."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from equicover.auth.models import User
from equicover.claims.models import Claim
from equicover.db.engine import make_engine
from equicover.db.session import make_session_factory, session_scope
from equicover.payments import service as payments
from equicover.providers.models import Provider
from equicover.registry.models import Household, Location, Person, PersonCategory
from equicover.web.i18n import LANGUAGES, translations
from tests.web import test_browser as shared
from tests.web.test_browser import Site, Tab

# The demo site, the browser and the tab of the main browser tests, started once for this module.
site = shared.site
browser = shared.browser
tab = shared.tab

REVERSAL_REFUSED = "Say why the bill is reversed."


def _clerks_bill(site: Site, skip: int) -> str:
    """A settled bill of the clerk's facility (``skip`` of them passed over)."""
    with site.session() as session:
        found = session.scalars(
            select(Claim.claim_id)
            .join(Provider, Provider.id == Claim.provider_id)
            .where(Provider.code == site.accounts.provider_code, Claim.status == "settled")
            .order_by(Claim.id)
            .offset(skip)
            .limit(1)
        ).one()
    return found


def _focused_id(tab: Tab) -> str:
    return str(tab.page.evaluate("document.activeElement && document.activeElement.id"))


def test_clerk_reverses_a_bill_with_its_reason(tab: Tab, site: Site) -> None:
    bill = _clerks_bill(site, skip=0)
    tab.sign_in("clerk")
    tab.go(f"/window/claims/{bill}")
    tab.page.get_by_test_id("reversal").locator("summary").click()
    tab.page.fill("#reason", "   ")  # blank: the browser sends it, the server refuses it
    with tab.page.expect_navigation():
        tab.page.get_by_test_id("reversal").locator("button[type=submit]").click()
    assert REVERSAL_REFUSED in tab.page.locator("#form-error").inner_text()
    assert tab.page.locator("#reason").get_attribute("aria-invalid") == "true"
    assert _focused_id(tab) == "reason"
    with site.session() as session:
        assert session.scalars(select(Claim.status).where(Claim.claim_id == bill)).first() == "settled"

    tab.page.fill("#reason", "billed to the wrong patient")
    with tab.page.expect_navigation():
        tab.page.get_by_test_id("reversal").locator("button[type=submit]").click()
    # No payment batch holds the bill yet: it will simply not be paid.
    assert f"Bill {bill} reversed. It had not been paid yet: it will not be paid." in tab.page.content()
    assert "Reason: billed to the wrong patient" in tab.page.get_by_test_id("reversed").inner_text()
    assert tab.page.get_by_test_id("reversal").count() == 0
    with site.session() as session:
        row = session.scalars(select(Claim).where(Claim.claim_id == bill)).one()
        assert (row.status, row.reversal_reason) == ("reversed", "billed to the wrong patient")


def _household_in_district(site: Site) -> tuple[str, int]:
    """A household of the registrar's district and a member holding no category."""
    with site.session() as session:
        district = select(Location.id).where(Location.code == site.accounts.district_code).scalar_subquery()
        row = session.execute(
            select(Household.code, Person.id)
            .join(Person, Person.household_id == Household.id)
            .join(Location, Location.id == Person.location_id)
            .where(
                Location.district_id == district,
                Person.merged_into_id.is_(None),
                Person.death_date.is_(None),
                ~select(PersonCategory.id).where(PersonCategory.person_id == Person.id).exists(),
            )
            .order_by(Person.id)
            .limit(1)
        ).one()
    return str(row[0]), int(row[1])


def test_registrar_changes_a_category_with_validity_and_evidence(tab: Tab, site: Site) -> None:
    code, person_id = _household_in_district(site)
    tab.sign_in("registrar")
    tab.go(f"/registry/households/{code}")
    change = tab.page.get_by_test_id(f"category-change-{person_id}")
    change.locator("summary").click()
    change.locator("select[name=category]").select_option("registered_poor")
    change.locator("input[name=valid_from]").fill("2018-03-01")
    change.locator("input[name=valid_to]").fill("2018-02-01")  # before it starts
    change.locator("input[name=source]").fill("commune poverty review 2018, decision 4")
    with tab.page.expect_navigation():
        change.locator("form").first.locator("button[type=submit]").click()
    assert "The category would end before it starts." in tab.page.locator("#form-error").inner_text()
    refused = tab.page.get_by_test_id(f"category-change-{person_id}").locator("input[name=valid_to]")
    assert refused.get_attribute("aria-invalid") == "true"
    assert _focused_id(tab) == f"valid-to-{person_id}"

    change = tab.page.get_by_test_id(f"category-change-{person_id}")
    change.locator("input[name=valid_to]").fill("2018-12-31")
    with tab.page.expect_navigation():
        change.locator("form").first.locator("button[type=submit]").click()
    assert "Category given." in tab.page.locator(".notice.ok").inner_text()
    assert "commune poverty review 2018, decision 4" in tab.page.content()
    with site.session() as session:
        holdings = session.execute(
            select(PersonCategory.category, PersonCategory.valid_from, PersonCategory.valid_to, PersonCategory.source)
            .where(PersonCategory.person_id == person_id)
        ).all()  # fmt: skip
    assert [tuple(row) for row in holdings] == [
        ("registered_poor", dt.date(2018, 3, 1), dt.date(2018, 12, 31), "commune poverty review 2018, decision 4")
    ]


def test_admin_creates_disables_and_resets_an_account_and_reads_the_audit(browser, tab: Tab, site: Site) -> None:
    tab.sign_in("admin")
    tab.go("/admin")
    assert tab.page.url.endswith("/admin/users")
    new = tab.page.get_by_test_id("new-account")
    new.locator("summary").click()
    tab.page.fill("#username", "clerk-night-shift")
    tab.page.select_option("#role", "clerk")
    tab.page.fill("#provider", site.accounts.provider_code)
    with tab.page.expect_navigation():
        new.locator("button[type=submit]").click()
    created = tab.page.locator(".notice.ok").inner_text()
    found = re.search(r"Account clerk-night-shift created\. .*: (\S+)$", created.strip())
    assert found, created
    password = found.group(1)

    # The new clerk signs in with the password shown once.
    other = Tab(browser, site)
    try:
        other.go("/login")
        other.page.fill("#username", "clerk-night-shift")
        other.page.fill("#password", password)
        with other.page.expect_navigation():
            other.page.click("form.stack button[type=submit]")
        assert other.page.url.endswith("/window")
    finally:
        other.close()

    row = tab.page.locator("tr[data-testid^=user-]", has_text="clerk-night-shift")
    with tab.page.expect_navigation():
        row.get_by_role("button", name="Disable").click()
    assert "Account clerk-night-shift disabled" in tab.page.locator(".notice.ok").inner_text()
    row = tab.page.locator("tr[data-testid^=user-]", has_text="clerk-night-shift")
    assert "Disabled" in row.inner_text()
    with tab.page.expect_navigation():
        row.get_by_role("button", name="New password").click()
    reset = tab.page.locator(".notice.ok").inner_text()
    new_password = re.search(r"New password of clerk-night-shift .*: (\S+)$", reset.strip())
    assert new_password and new_password.group(1) != password

    tab.go("/admin/audit?entity=users")
    audit = tab.page.get_by_test_id("audit").locator("tbody tr")
    cells = [audit.nth(index).locator("td").all_inner_texts() for index in range(min(audit.count(), 10))]
    admin = f"web:{site.accounts.usernames['admin']}"
    by_admin = [row[4] for row in cells if row[1] == admin]
    # Newest first: the new password, the disabling, (the clerk's sign-in,) the creation.
    assert by_admin[:3] == ["reset_password", "disable", "create"], cells
    tab.page.fill("#action", "disable")
    with tab.page.expect_navigation():
        tab.page.locator("form.card button[type=submit]").click()
    filtered = tab.page.get_by_test_id("audit").locator("tbody tr")
    assert filtered.count() >= 1
    assert {filtered.nth(index).locator("td").nth(4).inner_text() for index in range(filtered.count())} == {"disable"}
    with site.session() as session:
        user_id = session.scalar(select(User.id).where(User.username == "clerk-night-shift"))
    assert filtered.first.locator("td").nth(3).inner_text() == str(user_id)
    assert password not in tab.page.content() and new_password.group(1) not in tab.page.content()


def _a_batch(site: Site) -> int:
    """A payment batch of the facility for the first month of care (drafted by a maker)."""
    engine = make_engine(site.database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            first = session.scalar(
                select(Claim.service_date)
                .join(Provider, Provider.id == Claim.provider_id)
                .where(Provider.code == site.accounts.provider_code, Claim.status == "settled")
                .order_by(Claim.service_date)
                .limit(1)
            )
            assert first is not None
            starts = first.replace(day=1)
            ends = (starts + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
            batch = payments.draft_batch(
                session=session, provider_code=site.accounts.provider_code, period_starts=starts,
                period_ends=ends, actor="maker",
            )  # fmt: skip
            return int(batch.id)
    finally:
        engine.dispose()


def test_fund_manager_downloads_the_report_and_the_payment_files(tab: Tab, site: Site) -> None:
    batch_id = _a_batch(site)
    tab.sign_in("fund_manager")
    tab.go("/reports")
    report = tab.page.get_by_test_id("semiannual")
    for label, magic in (("XLSX", b"PK"), ("PDF", b"%PDF")):
        with tab.page.expect_download() as download:
            report.get_by_role("link", name=label).first.click()
        content = Path(download.value.path()).read_bytes()
        assert content.startswith(magic), label
        assert re.fullmatch(rf"semiannual-\d{{4}}-H[12]\.{label.lower()}", download.value.suggested_filename)
    batches = tab.page.get_by_test_id("batches")
    row = batches.locator("tr", has=tab.page.locator(f"a[href='/reports/batches/{batch_id}.csv']"))
    with tab.page.expect_download() as download:
        row.get_by_role("link", name="CSV").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) > 1 and "," in lines[0]
    with tab.page.expect_download() as download:
        row.get_by_role("link", name="PDF").click()
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_refused_field_says_why_in_each_language(tab: Tab, site: Site, language: str) -> None:
    bill = _clerks_bill(site, skip=1)
    tab.sign_in("clerk")
    tab.go(f"/window/claims/{bill}")
    try:
        tab.choose_language(language)
        tab.page.get_by_test_id("reversal").locator("summary").click()
        tab.page.fill("#reason", " ")
        with tab.page.expect_navigation():
            tab.page.get_by_test_id("reversal").locator("button[type=submit]").click()
        expected = translations(language).gettext(REVERSAL_REFUSED)
        assert language == "en" or expected != REVERSAL_REFUSED, "no translation"
        assert tab.page.locator("html").get_attribute("lang") == language
        assert expected in tab.page.locator("#form-error").inner_text()
        reason = tab.page.locator("#reason")
        assert reason.get_attribute("aria-invalid") == "true"
        assert reason.get_attribute("aria-describedby") == "form-error"
        assert _focused_id(tab) == "reason"
    finally:
        tab.choose_language("en")  # the clerk's own language is remembered: give it back
    with site.session() as session:
        assert session.scalars(select(Claim.status).where(Claim.claim_id == bill)).first() == "settled"
