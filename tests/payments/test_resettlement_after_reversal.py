"""A reversed claim frees the member's yearly caps: the member's later claims of the benefit year are
settled again, the payers top them up, the member gets the difference back, and all of it is on
the claim (REST) and in the provider's next payment batch.

Ya'an 2018 (``policies/cn-yaan-2018.toml``): general outpatient care at a designated county
hospital is paid 50% by the outpatient pool, at most 200.00 CNY a year."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from equicover.claims import service as claims
from equicover.ledger import service as ledger
from equicover.payments import corrections
from equicover.payments import service as payments
from tests import factories as make
from tests.api_helpers import login_as, make_client

YEAR = (dt.date(2018, 1, 1), dt.date(2018, 12, 31))
MARCH = (dt.date(2018, 3, 1), dt.date(2018, 3, 31))


def _cn_world(session) -> int:
    make.locations(session)
    year = make.scheme_year(session, code="CN-YA", currency="CNY", policy="cn-yaan-2018", starts=YEAR[0], ends=YEAR[1])
    make.provider(session, code="PA", level="county", location_code="D1")
    make.contract(session, provider_code="PA", scheme_code="CN-YA", starts=YEAR[0], ends=YEAR[1])
    member = make.enrolled_person(session, scheme=year).id
    for claim_id, day, total in (("O1", 1, 30_000), ("O2", 5, 20_000)):
        make.claim(session, claim_id=claim_id, person_id=member, service_date=dt.date(2018, 3, day), total=total)
    session.flush()
    return member


def _pool_paid(session, claim_id: str) -> int:
    row = claims.get_claim(session=session, claim_id=claim_id)
    now = claims.current_amounts(session=session, claims=[row])[row.id]
    return now[("layer", "outpatient_pool")][1]


def test_reversing_a_paid_claim_tops_up_the_later_claim_and_refunds_its_member(session) -> None:
    _cn_world(session)
    assert (_pool_paid(session, "O1"), _pool_paid(session, "O2")) == (15_000, 5_000)  # the cap bit on O2
    ledger.post_claim_settlements(session=session, up_to=MARCH[1], currency="CNY", minor_digits=2)
    march = payments.draft_batch(
        session=session, provider_code="PA", period_starts=MARCH[0], period_ends=MARCH[1], actor="maker",
        currency="CNY",
    )  # fmt: skip
    payments.approve_batch(session=session, batch_id=march.id, actor="checker", actor_role="fund_manager")
    assert march.net_amount == 20_000

    reversal = corrections.reverse_claim(session=session, claim_id="O1", reason="not this patient", actor="verifier")
    assert [(line.item_id, line.amount, line.reason) for line in reversal.recoveries] == [
        ("outpatient_pool", -15_000, "payer_recovery")
    ]
    o2 = claims.get_claim(session=session, claim_id="O2")
    assert sorted((line.kind, line.item_id, line.amount, line.reason, line.cause) for line in reversal.resettled) == [
        ("layer", "outpatient_pool", 5_000, "payer_top_up", "resettlement"),
        ("member", "member", -5_000, "member_refund", "resettlement"),
    ]
    assert {line.claim_pk for line in reversal.resettled} == {o2.id}
    assert _pool_paid(session, "O2") == 10_000  # what O2 would have paid had O1 never arrived
    # The yearly cap counts O2 alone now; a second reversal of the same claim frees nothing more.
    (pool,) = [row for row in claims.accumulators_of(session=session, member_id=str(o2.person_id))
               if row.layer_id == "outpatient_pool"]  # fmt: skip
    assert pool.paid == 10_000
    assert ledger.provider_payable(session=session, provider_id=o2.provider_id) == -15_000 + 5_000
    assert ledger.unbalanced_entries(session=session) == []

    april = payments.draft_batch(
        session=session, provider_code="PA", period_starts=dt.date(2018, 4, 1), period_ends=dt.date(2018, 4, 30),
        actor="maker", currency="CNY",
    )  # fmt: skip
    assert (april.claims_amount, april.recoveries_amount, april.net_amount) == (5_000, 15_000, -10_000)
    rows = [
        (row["line"], row["reference"], row["amount"])
        for row in csv.DictReader(io.StringIO(payments.batch_csv(session=session, batch_id=april.id)))
    ]
    assert rows == [
        ("reversal_recovery", "O1", "-150.00"),
        ("payer_top_up", "O2", "50.00"),
        ("member_refund", "O2", "50.00"),
        ("net", "draft", "-100.00"),
    ]
    payments.approve_batch(session=session, batch_id=april.id, actor="checker", actor_role="fund_manager")
    assert ledger.provider_payable(session=session, provider_id=o2.provider_id) == 0
    # Settled once: reconciling the year (service-date order is arrival order here) finds nothing.
    assert corrections.reconcile_year(session=session, scheme_code="CN-YA", year=2018).adjustments == []


def test_a_late_bill_with_an_earlier_date_is_put_right_at_year_end(session) -> None:
    member = _cn_world(session)
    # Arrives last, dated first: in real time it finds the cap used up; at year end it comes first.
    make.claim(session, claim_id="O0", person_id=member, service_date=dt.date(2018, 2, 1), total=40_000)
    assert [_pool_paid(session, claim_id) for claim_id in ("O0", "O1", "O2")] == [0, 15_000, 5_000]
    result = corrections.reconcile_year(session=session, scheme_code="CN-YA", year=2018, actor="fund")
    assert [_pool_paid(session, claim_id) for claim_id in ("O0", "O1", "O2")] == [20_000, 0, 0]
    assert result.run.adjusted_claims == 3 and result.claims == 3
    by_reason: dict[str, int] = {}
    for line in result.adjustments:
        by_reason[line.reason] = by_reason.get(line.reason, 0) + line.amount
    assert by_reason == {
        "payer_top_up": 20_000,
        "payer_recovery": -20_000,
        "member_refund": -20_000,
        "member_owes_more": 20_000,
    }
    assert ledger.unbalanced_entries(session=session) == []
    assert corrections.reconcile_year(session=session, scheme_code="CN-YA", year=2018, actor="fund").adjustments == []


def test_the_claim_read_shows_its_adjustments(session_factory) -> None:
    with session_factory() as session:
        _cn_world(session)
        session.commit()
    client = make_client(session_factory=session_factory)
    verifier = login_as(client, "verifier", area="D1")
    answer = client.post("/api/v1/claims/O1/reversal", json={"reason": "not this patient"}, headers=verifier)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "reversed"
    read = client.get("/api/v1/claims/O2", headers=verifier)
    assert read.status_code == 200, read.text
    assert [
        (line["kind"], line["item_id"], line["amount"], line["reason"], line["cause"])
        for line in read.json()["adjustments"]
    ] == [
        ("layer", "outpatient_pool", 5_000, "payer_top_up", "resettlement"),
        ("member", "member", -5_000, "member_refund", "resettlement"),
    ]
    again = client.post("/api/v1/claims/O1/reversal", json={"reason": "again"}, headers=verifier)
    assert again.status_code == 409
    # Refusals are typed, never a 500: an unknown bill, a blank reason, an unknown facility.
    assert client.post("/api/v1/claims/NOPE/reversal", json={"reason": "x"}, headers=verifier).status_code == 404
    assert client.post("/api/v1/claims/O2/reversal", json={"reason": "  "}, headers=verifier).status_code == 422
    unknown = client.post("/api/v1/claims/O2/reversal?provider=ZZ", json={"reason": "x"}, headers=verifier)
    assert 400 <= unknown.status_code < 500


def test_the_window_shows_the_adjustments_in_the_clerks_language_and_units(session_factory) -> None:
    with session_factory() as session:
        _cn_world(session)
        corrections.reverse_claim(session=session, claim_id="O1", reason="not this patient", actor="verifier")
        session.commit()
    client = make_client(session_factory=session_factory)
    login_as(client, "clerk", provider="PA", language="fr", cookie=True)
    page = client.get("/window/claims/O2")
    assert page.status_code == 200, page.text[:500]
    assert "Ajustements après le règlement" in page.text
    assert "Remboursement au patient" in page.text and "Le fonds paie davantage" in page.text
    assert "Une facture antérieure de l&#39;année a été annulée" in page.text
    # In yuan with the clerk's decimal comma, never in fen: 200.00 billed, 100.00 left to the patient now.
    assert re.search(r'data-testid="patient-now">100,00 CNY<', page.text), page.text[page.text.find("patient-now") :][
        :80
    ]


def test_the_reconcile_command_writes_its_lines_as_text_and_a_second_run_finds_nothing(cli_database, tmp_path) -> None:
    from typer.testing import CliRunner

    from equicover.cli import app
    from equicover.db.engine import make_engine
    from equicover.db.session import make_session_factory

    engine = make_engine(cli_database)
    try:
        with make_session_factory(engine)() as session:
            member = _cn_world(session)
            make.claim(session, claim_id="O0", person_id=member, service_date=dt.date(2018, 2, 1), total=40_000)
            session.commit()
    finally:
        engine.dispose()
    report = tmp_path / "reconciliation.csv"
    first = CliRunner().invoke(app, ["reconcile", "--scheme", "CN-YA", "--year", "2018", "--out", str(report)])
    assert first.exit_code == 0, first.output
    assert "3 adjusted" in first.output
    rows = list(csv.DictReader(report.open(encoding="utf-8")))
    assert sorted((row["claim_id"], row["reason"], row["amount"]) for row in rows if row["kind"] == "layer") == [
        ("O0", "payer_top_up", "200.00"),
        ("O1", "payer_recovery", "-150.00"),
        ("O2", "payer_recovery", "-50.00"),
    ]
    again = CliRunner().invoke(app, ["reconcile", "--scheme", "CN-YA", "--year", "2018", "--out", str(report)])
    assert again.exit_code == 0, again.output
    assert "Nothing to adjust" in again.output
