"""The financing report names the mix from the ledger, with seed 000's figures (RAMED, end of
2019): 8.02 bn MAD from the Social Cohesion Support Fund, 819 M from the territorial communities,
179 M from the members in vulnerability; 1.17 bn paid to the university hospitals and 0.5 bn to
the central pharmacy's account. Amounts in centimes."""

from __future__ import annotations

import datetime as dt

import pytest

from equicover.errors import ValidationFailed
from equicover.ledger import service as ledger
from equicover.reports.financing import apportion, financing_report

BN = 100_000_000_000  # one billion MAD in centimes
M = 100_000_000  # one million MAD in centimes
ON = dt.date(2019, 6, 30)
STARTS, ENDS = dt.date(2019, 1, 1), dt.date(2019, 12, 31)


@pytest.fixture
def ramed(session) -> None:
    ledger.ensure_fund(session=session, code="ramed", name="RAMED", currency="MAD", minor_digits=2)
    for source, amount in (
        ("social_cohesion_fund", 802 * BN // 100),
        ("territorial_communities", 819 * M),
        ("member_contributions", 179 * M),
    ):
        ledger.record_contribution(session=session, fund_code="ramed", source=source, amount=amount, received_on=ON)
    for amount, memo in ((117 * BN // 100, "university hospitals"), (BN // 2, "central pharmacy account")):
        ledger.record_transfer(
            session=session, fund_code="ramed", use="provider_payments", amount=amount, paid_on=ON, memo=memo
        )
    # The transplants' account: the vulnerable members' sums, earmarked.
    ledger.ensure_fund(session=session, code="transplant", name="Transplants", currency="MAD", minor_digits=2)
    ledger.record_contribution(
        session=session, fund_code="transplant", source="member_contributions", amount=10 * M, received_on=ON
    )
    ledger.record_transfer(session=session, fund_code="transplant", use="provider_payments", amount=4 * M, paid_on=ON)


def test_the_mix_of_the_seed(session, ramed) -> None:
    report = financing_report(session=session, starts=STARTS, ends=ENDS)
    assert [(row.source, row.contributions) for row in report.sources] == [
        ("social_cohesion_fund", 802 * BN // 100),
        ("territorial_communities", 819 * M),
        ("member_contributions", 179 * M),
    ]
    assert report.total_contributions == 9_018 * M  # the seed's "9.02 bn" (8.02 + 0.819 + 0.179)
    assert [round(100 * row.share, 1) for row in report.sources] == [88.9, 9.1, 2.0]
    assert report.payments == {"provider_payments": 167 * BN // 100}
    # 1.67 bn attributed in proportion, to the centime (exactly 1,485,185,185.1852 / 151,666,666.6667 /
    # 33,148,148.1481 MAD: the largest remainders take the two spare centimes).
    assert [row.financed for row in report.sources] == [148_518_518_518, 15_166_666_667, 3_314_814_815]
    assert sum(row.financed for row in report.sources) == report.total_payments
    (transplant,) = report.earmarked
    assert (transplant.fund, transplant.contributions, transplant.payments) == (
        "transplant",
        {"member_contributions": 10 * M},
        {"provider_payments": 4 * M},
    )


def test_payments_of_a_fund_without_receipts_in_the_period_are_unattributed(session, ramed) -> None:
    ledger.ensure_fund(session=session, code="old", name="Earlier budget", currency="MAD", minor_digits=2)
    ledger.record_contribution(
        session=session, fund_code="old", source="state_budget", amount=5 * M, received_on=dt.date(2018, 5, 1)
    )
    ledger.record_transfer(session=session, fund_code="old", use="administration", amount=3 * M, paid_on=ON)
    report = financing_report(session=session, starts=STARTS, ends=ENDS, earmarked=())
    assert report.unattributed == 3 * M
    assert report.payments["administration"] == 3 * M
    # With nothing kept apart the transplants' receipts join the mix.
    assert {row.source: row.contributions for row in report.sources}["member_contributions"] == 189 * M


def test_a_report_over_two_currencies_must_name_one(session, ramed) -> None:
    ledger.ensure_fund(session=session, code="hef", name="HEF", currency="KHR", minor_digits=0)
    ledger.record_contribution(session=session, fund_code="hef", source="donors", amount=1_000, received_on=ON)
    with pytest.raises(ValidationFailed, match="currency"):
        financing_report(session=session, starts=STARTS, ends=ENDS)
    report = financing_report(session=session, starts=STARTS, ends=ENDS, currency="KHR")
    assert [(row.source, row.contributions) for row in report.sources] == [("donors", 1_000)]
    with pytest.raises(ValidationFailed, match="ends"):
        financing_report(session=session, starts=ENDS, ends=STARTS)


def test_apportion_is_exact() -> None:
    assert apportion(10, [1, 1, 1]) == [4, 3, 3]
    assert sum(apportion(167, [802, 81, 17])) == 167


def test_the_report_over_http(session, session_factory, ramed) -> None:
    from tests.api_helpers import login_as, make_client

    session.commit()
    client = make_client(session_factory=session_factory)
    answer = client.get(
        "/api/v1/reports/financing",
        params={"starts": "2019-01-01", "ends": "2019-12-31"},
        headers=login_as(client, "fund_manager"),
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["currency"], body["total_contributions"], body["total_payments"]) == (
        "MAD",
        9_018 * M,
        167 * BN // 100,
    )
    assert [fund["fund"] for fund in body["earmarked"]] == ["transplant"]


def test_the_reports_page_shows_the_mix_of_the_latest_claims_year(session, session_factory) -> None:
    from tests import factories as make
    from tests.api_helpers import login_as, make_client

    make.locations(session)
    year = make.scheme_year(
        session,
        code="MA-RAMED",
        currency="MAD",
        policy="ma-ramed-2020",
        starts=dt.date(2020, 1, 1),
        ends=dt.date(2020, 12, 31),
    )
    make.provider(session, code="CS", level="centre_de_sante", location_code="C11")
    member = make.enrolled_person(session, scheme=year, categories=["registered_poor"])
    make.claim(
        session, claim_id="V1", person_id=member.id, provider_code="CS", service_date=dt.date(2020, 3, 2), total=8_000
    )
    ledger.ensure_fund(session=session, code="ramed", name="RAMED", currency="MAD", minor_digits=2)
    for source, amount in (("social_cohesion_fund", 802 * M), ("territorial_communities", 198 * M)):
        ledger.record_contribution(
            session=session, fund_code="ramed", source=source, amount=amount, received_on=dt.date(2020, 2, 1)
        )
    ledger.record_transfer(
        session=session, fund_code="ramed", use="provider_payments", amount=100 * M, paid_on=dt.date(2020, 5, 1)
    )
    session.commit()
    client = make_client(session_factory=session_factory)
    login_as(client, "fund_manager", cookie=True, language="fr")
    page = client.get("/reports")
    assert page.status_code == 200
    section = page.text.split('data-testid="financing"')[1].split("</table>")[0]
    assert "Fonds d&#39;appui à la cohésion sociale" in section or "Fonds d'appui à la cohésion sociale" in section
    assert "80,2" in section and "19,8" in section  # the shares, written the French way
    assert "Financement en 2020" in page.text
