"""The fund manager's dashboard shows what is stored, at most ``PAGE_LAG`` behind: a claim
submitted or reversed between two loads moves its figures once the last fold is that old (while
the background refresher folds every few seconds, a load reads what it kept), and the figures
equal those computed from the claims."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from equicover.claims.service import reverse_claim
from equicover.reports import dashboard_totals
from equicover.reports.models import DashboardFold
from tests.api_helpers import login_as, make_client
from tests.factories import claim, vn_claims_world


def test_dashboard_follows_claims_and_reversals(session_factory: sessionmaker[Session], session: Session) -> None:
    world = vn_claims_world(session)
    session.commit()
    client = make_client(session_factory=session_factory)
    login_as(client, "fund_manager", cookie=True)
    first = client.get("/dashboard/data.json", params={"year": "2024"}).json()
    assert first["kpis"]["claims"] == "9"

    claim(session, claim_id="A-OP5", person_id=world.person_ids[1], service_date=dt.date(2024, 11, 3))
    reverse_claim(session=session, claim_id="A-IP1", reason="billed twice", provider_id=world.provider_a)
    session.commit()
    # Folded a moment ago (by the first load): the page reads the kept totals, not yet moved.
    assert client.get("/dashboard/data.json", params={"year": "2024"}).json()["payers"] == first["payers"]
    long_ago = dt.datetime.now(dt.UTC) - dashboard_totals.PAGE_LAG - dt.timedelta(seconds=1)
    session.execute(update(DashboardFold).values(folded_at=long_ago))
    session.commit()
    second = client.get("/dashboard/data.json", params={"year": "2024"}).json()
    assert second["kpis"]["claims"] == "9"  # one more, one reversed
    paid = lambda figures: sum(sum(payer["values"]) for payer in figures["payers"])  # noqa: E731
    assert paid(first) - paid(second) == 7_200_000 - 400_000  # A-IP1's fund share out, A-OP5's 80% in
    assert second["payers"][0]["values"][10] == 400_000  # November: A-OP5
    scanned = dashboard_totals.scanned_totals(session=session, year=2024)
    assert second["kpis"]["claims"] == str(scanned.claims)
    assert paid(second) == sum(row[-1] for row in scanned.payments)
