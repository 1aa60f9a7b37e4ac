"""A verifier decides a HEF operator's act in Chromium (Playwright), on the browser tests' seeded
province and server (``tests.web.test_browser``): the act is listed beside the claims, a finding
of not justified without a reason is refused on the reason, marked and focused, and once the reason
is given the amount typed in yuan is recovered in fen."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from equicover.claims.models import Claim, ClaimPayment
from equicover.organisations import service as organisations
from equicover.providers.models import Provider
from equicover.registry.models import Location
from equicover.verification.models import OperatorRecovery, OperatorReview
from tests.web import test_browser as shared
from tests.web.test_browser import Site, Tab

site = shared.site
browser = shared.browser
tab = shared.tab


def _operator_act(site: Site) -> tuple[int, int]:
    """An operator of the demo district and one drawn act of it: a payment of the funds on a
    claim of the district's facility. Returns (review id, amount at stake in fen)."""
    with site.session() as session:
        district = session.scalar(select(Location.id).where(Location.code == site.accounts.district_code))
        organisations.ensure_organisation(
            session=session, code="OP-BROWSER", name="District operator", role="hef_operator"
        )
        organisations.assign_areas(
            session=session, organisation_code="OP-BROWSER", location_ids=[district], assigned_on=dt.date(2018, 1, 1)
        )
        payment, provider_id, served = session.execute(
            select(ClaimPayment, Claim.provider_id, Claim.service_date)
            .join(Claim, Claim.id == ClaimPayment.claim_pk)
            .join(Provider, Provider.id == Claim.provider_id)
            .where(
                Provider.code == site.accounts.provider_code,
                Claim.status == "settled",
                ClaimPayment.kind == "layer",
                ClaimPayment.amount >= 1_000,
            )
            .order_by(ClaimPayment.id)
            .limit(1)
        ).one()
        organisation = organisations.get_organisation(session=session, code="OP-BROWSER")
        review = OperatorReview(
            organisation_id=organisation.id,
            act="benefit",
            claim_payment_id=payment.id,
            provider_id=provider_id,
            act_date=served,
            at_stake=payment.amount,
            status="pending",
            disallowed=0,
            seed=1,
            drawn_at=dt.datetime.now(dt.UTC),
            drawn_by="test",
        )
        session.add(review)
        session.commit()
        return review.id, int(payment.amount)


def test_verifier_decides_an_operators_act(tab: Tab, site: Site) -> None:
    review_id, _ = _operator_act(site)
    tab.sign_in("verifier")
    tab.go("/verification")
    with tab.page.expect_navigation():
        tab.page.click("nav.tabs a[href='/verification/operators']")
    assert (
        tab.page.get_by_test_id("operator-queue")
        .locator(f"a[href='/verification/operators/reviews/{review_id}']")
        .count()
        == 1
    )
    tab.go(f"/verification/operators/reviews/{review_id}")
    tab.page.check("input[name=finding][value=not_justified]")
    tab.page.fill("#amount", "5.00")
    with tab.page.expect_navigation():
        tab.page.click("[data-testid=finding-form] button[type=submit]")
    assert tab.page.locator("#reason").get_attribute("aria-invalid") == "true"
    assert tab.page.evaluate("document.activeElement && document.activeElement.id") == "reason"
    assert "required when the act is not justified" in tab.page.locator(".notice.error").inner_text()
    tab.page.fill("#reason", "The patient was not admitted on that day")
    with tab.page.expect_navigation():
        tab.page.click("[data-testid=finding-form] button[type=submit]")
    assert "not justified" in tab.page.locator(".notice.ok").inner_text()
    with site.session() as session:
        review = session.get(OperatorReview, review_id)
        assert review is not None
        assert (review.status, review.disallowed, review.decided_by) == ("not_justified", 500, "web:verifier")
        recovered = session.scalars(select(OperatorRecovery.amount).where(OperatorRecovery.review_id == review_id))
        assert sum(recovered) == 500
