"""The web pages at a province's size while claims stream in, on PostgreSQL, over HTTP.

    .venv/bin/python bench/web_scale.py --people 100000 --keep      # build, measure, keep the database
    .venv/bin/python bench/web_scale.py --people 100000 --reuse     # measure again on what --keep left
    .venv/bin/python bench/web_scale.py                              # 2,000,000 people (hours to build)

What it does:
1. builds a province in a fresh PostgreSQL database (``--database`` on ``--admin-url``) as the
   web demo does, through the services (``web.seed.seed_web_demo``: the synthetic generator, the
   year of claims settled and bulk-loaded, a verification sample, one account per role), analyses
   it, and folds the dashboard's totals once (the first fold reads every stored claim; its time is
   printed). ``--reuse`` skips this and runs against the database a ``--keep`` run left;
2. starts ``equicover serve`` (uvicorn, ``--workers``) on 127.0.0.1, which folds the dashboard's
   totals in the background every few seconds (``reports.dashboard_totals.TotalsRefresher``);
3. streams claims through ``POST /api/v1/claims`` at ``--rate`` per second (bills of the stored
   year sent again under new bill numbers), open loop: a claim is sent when due, whatever the
   answers' speed;
4. meanwhile, signed in as each role, requests each main page in turn for ``--duration`` seconds
   (the clerk's window search by national ID, by card or household number and by name, the
   patient's page and a bill settled at the window; the registrar's registry, a household, the
   coverage gaps with and without a category; the verifier's queue and a review; the fund
   manager's dashboard and reports) and prints each page's p50 / p95 / max in milliseconds;
5. for every dashboard load, counts the year's settled claims just before the request and reads
   the count the page shows: how many claims, and seconds at the stream's rate, the figures were
   behind; and at the end checks that the folded totals equal a scan of the claims;
6. ``--after-enrolments N`` (default 5): N times, suspends or re-activates one enrolment through
   ``enrolment.service`` (committed, as a registrar's change is), then loads the fund manager's
   dashboard at once and prints the first view's time, beside the time of the full recomputation
   of the coverage (``enrolment.service.coverage`` by district and by category, what a first view
   after a change used to compute); then checks that the kept coverage equals that recomputation;
7. suspends, then re-activates, N enrolments of registered-poor persons of the registrar's area,
   reading the registrar's gaps right after each change (the count must move by one), and checks
   that the kept gaps equal the gaps counted from the persons (first and middle pages).

The load generator, the server and PostgreSQL share the machine's cores. The database is dropped
at the end unless ``--keep`` (or ``--reuse``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import html
import json
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from api_load import _database_url, drop_database, fresh_database, start_server  # noqa: E402

from equicover.auth.deps import SESSION_COOKIE  # noqa: E402
from equicover.auth.models import User  # noqa: E402
from equicover.auth.service import get_user, issue_token  # noqa: E402
from equicover.claims.models import Claim  # noqa: E402
from equicover.db.engine import make_engine  # noqa: E402
from equicover.db.migrate import upgrade  # noqa: E402
from equicover.db.session import make_session_factory, session_scope  # noqa: E402
from equicover.http import csrf  # noqa: E402
from equicover.providers.models import Provider  # noqa: E402
from equicover.registry.models import Household, Location, Person  # noqa: E402
from equicover.reports import dashboard_totals  # noqa: E402
from equicover.verification.models import ClaimReview  # noqa: E402
from equicover.web.seed import seed_web_demo  # noqa: E402

PASSWORD = "web-scale-bench-1"
ROLES = ("clerk", "registrar", "verifier", "fund-manager", "admin")
STREAM_CONCURRENCY = 64  # claims in flight at most; one due while that many wait is counted as dropped


@dataclass
class Subjects:
    """What the pages are asked about: records in the district the clerk, registrar and verifier work in."""

    year: int
    national_id: str
    card_query: str
    card_label: str
    name_query: str
    person_id: int
    household_code: str
    review_id: int
    bills: list[dict[str, object]] = field(default_factory=list)


def build(url: str, people: int, seed: int) -> None:
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    started = time.perf_counter()
    with session_scope(factory) as session:
        accounts = seed_web_demo(session=session, people=people, seed=seed, password=PASSWORD, sample_size=200)
    print(f"built: {people:,} people, {accounts.claims:,} claims bulk-loaded in {time.perf_counter() - started:.0f} s")
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()
    started = time.perf_counter()
    with session_scope(factory) as session:
        result = dashboard_totals.fold(session=session)
    print(f"first fold of the dashboard totals: {result.claims:,} claims in {time.perf_counter() - started:.1f} s")
    engine.dispose()


def _card_query(session, household: Household, person: Person, year: int) -> tuple[str, str]:
    """A member card's number when the scheme's policy issues cards; else the household's number,
    which the window search takes the same way (exact, one index lookup)."""
    from equicover.cards.service import issue_card
    from equicover.enrolment.models import Enrolment, Scheme

    scheme_code = session.scalar(
        select(Scheme.code).join(Enrolment, Enrolment.scheme_id == Scheme.id).where(Enrolment.person_id == person.id)
    )
    try:
        with session.begin_nested():
            card = issue_card(session=session, scheme_code=scheme_code, on=dt.date.today(), household_id=household.id)
        return card.number, "card"
    except Exception:  # the policy has no [card] section: no cards in this province
        return household.code, "household number"


def subjects(url: str, bills: int) -> Subjects:
    engine = make_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        registrar = get_user(session=session, username="registrar")
        district_id = session.scalar(select(Location.district_id).where(Location.id == registrar.location_id))
        district_id = district_id or registrar.location_id
        in_district = select(Location.id).where(Location.district_id == district_id)
        person = session.scalars(
            select(Person)
            .where(Person.location_id.in_(in_district), Person.national_id.is_not(None), Person.death_date.is_(None))
            .order_by(Person.id)
            .limit(1)
        ).one()
        household = session.get(Household, person.household_id)
        latest = session.scalar(select(func.max(Claim.service_date)))
        assert household is not None and latest is not None, "the province has no household or no claim"
        year = latest.year
        card, card_label = _card_query(session, household, person, year)
        family = (person.family_name or person.full_name.split()[0])[:4]
        review_id = session.scalar(select(ClaimReview.id).order_by(ClaimReview.id).limit(1))
        rows = session.execute(
            select(
                Claim.person_id,
                Provider.code,
                Claim.service_date,
                Claim.care_type,
                Claim.diagnosis,
                Claim.days,
                Claim.total,
                Claim.eligible,
                Claim.referred,
            )
            .join(Provider, Provider.id == Claim.provider_id)
            .where(Claim.status == "settled")
            .order_by(Claim.id.desc())
            .limit(bills)
        ).all()
        found = Subjects(
            year=year,
            national_id=person.national_id or "",
            card_query=card,
            card_label=card_label,
            name_query=family,
            person_id=person.id,
            household_code=household.code,
            review_id=int(review_id or 0),
        )
        found.bills = [
            {
                "person_id": row[0],
                "provider_code": row[1],
                "service_date": row[2].isoformat(),
                "care_type": row[3],
                "diagnosis": row[4],
                "days": row[5],
                "total": row[6],
                "eligible": row[7],
                "referred": bool(row[8]),
            }
            for row in rows
        ]
    engine.dispose()
    return found


def tokens(url: str) -> dict[str, str]:
    engine = make_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        issued = {
            role: issue_token(session=session, user=get_user(session=session, username=role))
            for role in ROLES
            if session.scalar(select(User.id).where(User.username == role))
        }
    engine.dispose()
    return issued


@dataclass
class Page:
    role: str
    name: str
    method: str
    path: str
    form: dict[str, str] | None = None
    expect: tuple[int, ...] = (200,)


def pages(found: Subjects, run: str) -> list[Page]:
    person, year = found.person_id, found.year
    return [
        Page("clerk", "window search by ID", "GET", f"/window?q={found.national_id}", expect=(200, 303)),
        Page(
            "clerk", f"window search by {found.card_label}", "GET", f"/window?q={found.card_query}", expect=(200, 303)
        ),
        Page("clerk", "window search by name", "GET", f"/window?q={found.name_query}", expect=(200, 303)),
        Page("clerk", "patient page", "GET", f"/window/persons/{person}?on={year}-11-15"),
        Page(
            "clerk",
            "settle a bill",
            "POST",
            f"/window/persons/{person}/bill",
            form={
                "claim_id": f"{run}-W",  # numbered per request below
                "service_date": f"{year}-11-15",
                "care_type": "outpatient",
                "diagnosis": "J06.9",
                "total": "120.00",
                "days": "0",
            },
            expect=(303,),
        ),
        Page("registrar", "registry", "GET", "/registry"),
        Page("registrar", "household", "GET", f"/registry/households/{found.household_code}"),
        Page("registrar", "gaps", "GET", f"/registry/gaps?on={year}-06-30"),
        Page("registrar", "gaps of a category", "GET", f"/registry/gaps?on={year}-06-30&category=registered_poor"),
        Page("verifier", "verification queue", "GET", "/verification"),
        Page("verifier", "review", "GET", f"/verification/reviews/{found.review_id}"),
        Page("fund-manager", "dashboard", "GET", f"/dashboard?year={year}"),
        Page("fund-manager", "reports", "GET", "/reports"),
    ]


SHOWN_CLAIMS = re.compile(r'<script type="application/json" id="dashboard-data">(.*?)</script>', re.S)


def shown_claims(body: str) -> int:
    match = SHOWN_CLAIMS.search(body)
    assert match, "the dashboard has no figures"
    data = json.loads(html.unescape(match.group(1)) if "&quot;" in match.group(1) else match.group(1))
    return int(re.sub(r"\D", "", data["kpis"]["claims"]))


async def stream(
    client: httpx.AsyncClient, token: str, bills: list[dict[str, object]], rate: float, stop: asyncio.Event, run: str
) -> dict[str, float]:
    """Send claims at ``rate`` per second until ``stop``; counts of what was settled, refused, dropped."""
    counts: dict[str, float] = {"sent": 0, "settled": 0, "refused": 0, "dropped": 0}
    latencies: list[float] = []
    in_flight = 0
    headers = {"Authorization": f"Bearer {token}"}

    async def one(number: int) -> None:
        nonlocal in_flight
        in_flight += 1
        body = {**bills[number % len(bills)], "claim_id": f"{run}-S{number}"}
        started = time.perf_counter()
        try:
            answer = await client.post("/api/v1/claims", json=body, headers=headers, timeout=60)
            counts["settled" if answer.status_code == 201 else "refused"] += 1
            latencies.append(time.perf_counter() - started)
        except httpx.HTTPError:
            counts["refused"] += 1
        finally:
            in_flight -= 1

    begun = time.perf_counter()
    number = 0
    tasks: set[asyncio.Task[None]] = set()
    while not stop.is_set():
        due = begun + number / rate
        wait = due - time.perf_counter()
        if wait > 0:
            try:
                await asyncio.wait_for(stop.wait(), timeout=wait)
                break
            except TimeoutError:
                pass
        if in_flight >= STREAM_CONCURRENCY:
            counts["dropped"] += 1
        else:
            task = asyncio.create_task(one(number))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        counts["sent"] += 1
        number += 1
    if tasks:
        await asyncio.gather(*tasks)
    counts["seconds"] = time.perf_counter() - begun
    latencies.sort()
    counts["p50_ms"] = 1000 * latencies[len(latencies) // 2] if latencies else 0.0
    counts["p95_ms"] = 1000 * latencies[int(len(latencies) * 0.95)] if latencies else 0.0
    return counts


async def measure(
    port: int, url: str, issued: dict[str, str], found: Subjects, rate: float, duration: float, warmup: float
) -> None:
    run = uuid.uuid4().hex[:6].upper()
    base = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=STREAM_CONCURRENCY + 4, max_keepalive_connections=STREAM_CONCURRENCY + 4)
    engine = make_engine(url)
    year_claims = text(
        "SELECT count(*) FROM claims WHERE status = 'settled' AND service_date >= :starts AND service_date < :ends"
    )
    bounds = {"starts": dt.date(found.year, 1, 1), "ends": dt.date(found.year + 1, 1, 1)}
    timings: dict[tuple[str, str], list[float]] = {}
    failures: dict[tuple[str, str], list[int]] = {}
    behind: list[int] = []
    fold_ages: list[float] = []
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=base, limits=limits) as streamer:
        stream_task = asyncio.create_task(stream(streamer, issued["admin"], found.bills, rate, stop, run))
        await asyncio.sleep(warmup)  # the stream and the background fold reach their pace first
        clients = {
            role: httpx.AsyncClient(base_url=base, cookies={SESSION_COOKIE: token}) for role, token in issued.items()
        }
        try:
            ends = time.perf_counter() + duration
            bill = 0
            while time.perf_counter() < ends:
                for page in pages(found, run):
                    client = clients[page.role]
                    key = (page.role, page.name)
                    if page.name == "dashboard":
                        with engine.connect() as connection:
                            stored = int(connection.execute(year_claims, bounds).scalar_one())
                    started = time.perf_counter()
                    if page.method == "GET":
                        answer = await client.get(page.path, timeout=120)
                    else:
                        assert page.form is not None
                        bill += 1
                        form = {
                            **page.form,
                            "claim_id": f"{run}-W{bill}",
                            csrf.FORM_FIELD: csrf.token_for(issued[page.role]),
                        }
                        answer = await client.post(page.path, data=form, timeout=120)
                    elapsed = time.perf_counter() - started
                    first_view = (page.role, "dashboard, first view")
                    if page.name == "dashboard" and first_view not in timings:
                        key = first_view  # the server's first view computes the coverage figures it then keeps
                    timings.setdefault(key, []).append(elapsed)
                    if answer.status_code not in page.expect:
                        failures.setdefault(key, []).append(answer.status_code)
                    if key[1].startswith("dashboard") and answer.status_code == 200:
                        behind.append(max(0, stored - shown_claims(answer.text)))
                        with engine.connect() as connection:
                            folded_at = connection.execute(text("SELECT folded_at FROM dashboard_fold")).scalar_one()
                        fold_ages.append((dt.datetime.now(dt.UTC) - folded_at).total_seconds())
        finally:
            stop.set()
            counts = await stream_task
            for client in clients.values():
                await client.aclose()

    print()
    print("load average (1, 5, 15 min) at the end: " + ", ".join(f"{value:.1f}" for value in os.getloadavg()))
    print(f"{'role':<13} {'page':<34} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  errors")
    for (role, name), values in timings.items():
        values.sort()
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        errors = failures.get((role, name), [])
        shown = f"{len(errors)} ({', '.join(sorted({str(e) for e in errors}))})" if errors else "0"
        print(
            f"{role:<13} {name:<34} {len(values):>4} {1000 * statistics.median(values):>8.0f} "
            f"{1000 * p95:>8.0f} {1000 * values[-1]:>8.0f}  {shown}"
        )
    print()
    achieved = counts["settled"] / counts["seconds"] if counts["seconds"] else 0
    print(
        f"claims streamed: {int(counts['sent']):,} due at {rate:g}/s over {counts['seconds']:.0f} s; "
        f"{int(counts['settled']):,} settled ({achieved:.0f}/s), {int(counts['refused'])} refused, "
        f"{int(counts['dropped'])} dropped; POST p50 {counts['p50_ms']:.0f} ms, p95 {counts['p95_ms']:.0f} ms"
    )
    if behind:
        print(
            f"dashboard figures behind the stored claims (claims counted just before the request): "
            f"median {statistics.median(behind):.0f}, max {max(behind)} claims "
            f"(max {max(behind) / rate:.1f} s at {rate:g}/s); background fold age at the request: "
            f"median {statistics.median(fold_ages):.1f} s, max {max(fold_ages):.1f} s"
        )
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        started = time.perf_counter()
        folded = dashboard_totals.year_totals(session=session, year=found.year)
        fold_time = time.perf_counter() - started
        started = time.perf_counter()
        scanned = dashboard_totals.scanned_totals(session=session, year=found.year)
        scan_time = time.perf_counter() - started
    same = folded.canonical() == scanned.canonical()
    print(
        f"after the stream: folded totals {'EQUAL' if same else 'DIFFER FROM'} a scan of the year's claims "
        f"({folded.claims:,} claims; fold and read {1000 * fold_time:.0f} ms, scan {1000 * scan_time:.0f} ms)"
    )
    engine.dispose()


def after_enrolments(port: int, url: str, issued: dict[str, str], year: int, count: int) -> None:
    """The dashboard's first view right after an enrolment changes, against the full recomputation."""
    from equicover.enrolment import service as enrolment_service
    from equicover.enrolment.models import Enrolment

    if count <= 0 or "fund-manager" not in issued:
        return
    engine = make_engine(url)
    factory = make_session_factory(engine)
    on = dt.date(year, 6, 30)
    with session_scope(factory) as session:
        chosen = list(
            session.scalars(
                select(Enrolment.id)
                .where(Enrolment.starts <= on, Enrolment.ends >= on)
                .order_by(Enrolment.id)
                .limit(count)
            )
        )
    first_views: list[float] = []
    recomputations: list[float] = []
    cookies = {SESSION_COOKIE: issued["fund-manager"]}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", cookies=cookies, timeout=600) as client:
        client.get(f"/dashboard?year={year}").raise_for_status()  # the date kept before the changes
        for enrolment_id in chosen:
            with session_scope(factory) as session:
                row = session.get(Enrolment, enrolment_id)
                assert row is not None
                status = "suspended" if row.status == "active" else "active"
                enrolment_service.set_enrolment_status(session=session, enrolment_id=enrolment_id, status=status)
            started = time.perf_counter()
            client.get(f"/dashboard?year={year}").raise_for_status()
            first_views.append(1000 * (time.perf_counter() - started))
            with session_scope(factory) as session:
                started = time.perf_counter()
                enrolment_service.coverage(session=session, on=on, by="district")
                enrolment_service.coverage(session=session, on=on, by="category")
                recomputations.append(1000 * (time.perf_counter() - started))
    with session_scope(factory) as session:
        kept = dashboard_totals.coverage(session=session, on=on)
        full = (
            enrolment_service.coverage(session=session, on=on, by="district"),
            enrolment_service.coverage(session=session, on=on, by="category"),
        )
        same = [[(r.group_code, r.eligible, r.enrolled) for r in rows] for rows in kept] == [
            [(r.group_code, r.eligible, r.enrolled) for r in rows] for rows in full
        ]
    engine.dispose()
    print(
        f"dashboard first view after an enrolment change ({len(chosen)} changes): "
        f"p50 {statistics.median(first_views):.0f} ms, max {max(first_views):.0f} ms; "
        f"full recomputation of the coverage (what that view computed before): "
        f"p50 {statistics.median(recomputations):.0f} ms, max {max(recomputations):.0f} ms; "
        f"kept coverage equals the recomputation: {'yes' if same else 'NO'}"
    )


def gaps_after_enrolments(url: str, year: int, count: int) -> None:
    """The registrar's coverage gaps, read as kept, right after enrolments of category holders of
    the area are suspended and re-activated (each change committed, as a registrar's is): the
    count moves by one each time; at the end the kept gaps equal those counted from the persons."""
    from equicover.enrolment import service as enrolment_service
    from equicover.enrolment.models import Enrolment
    from equicover.registry.models import PersonCategory
    from equicover.registry.scoping import area_location_ids
    from equicover.registry.service import holds_on
    from equicover.web import queries

    if count <= 0:
        return
    engine = make_engine(url)
    factory = make_session_factory(engine)
    on = dt.date(year, 6, 30)
    category = "registered_poor"

    def totals() -> tuple[int, int, float]:
        with session_scope(factory) as session:
            registrar = get_user(session=session, username="registrar")
            started = time.perf_counter()
            every = queries.coverage_gaps(session=session, user=registrar, on=on)[1]
            of_category = queries.coverage_gaps(session=session, user=registrar, on=on, category=category)[1]
            return every, of_category, 1000 * (time.perf_counter() - started) / 2

    with session_scope(factory) as session:
        registrar = get_user(session=session, username="registrar")
        chosen = list(
            session.scalars(
                select(Enrolment.id)
                .join(Person, Person.id == Enrolment.person_id)
                .join(PersonCategory, PersonCategory.person_id == Person.id)
                .where(
                    Enrolment.status == "active", Enrolment.starts <= on, Enrolment.ends >= on,
                    PersonCategory.category == category, *holds_on(on),
                    Person.location_id.in_(area_location_ids(registrar)), Person.death_date.is_(None),
                )
                .order_by(Enrolment.id)
                .limit(count)
            )
        )  # fmt: skip
    moved: list[bool] = []
    reads: list[float] = []
    every, of_category, _ = totals()
    for status, step in (("suspended", 1), ("active", -1)):
        for enrolment_id in chosen:
            with session_scope(factory) as session:
                enrolment_service.set_enrolment_status(session=session, enrolment_id=enrolment_id, status=status)
            now_every, now_of_category, elapsed = totals()
            reads.append(elapsed)
            moved.append((now_every, now_of_category) == (every + step, of_category + step))
            every, of_category = now_every, now_of_category
    same = True
    counting: list[float] = []
    with session_scope(factory) as session:
        registrar = get_user(session=session, username="registrar")
        for held in (None, category):
            kept_rows, kept_total = queries.coverage_gaps(session=session, user=registrar, on=on, category=held)
            for offset in (0, kept_total // 2):
                kept_rows, kept_total = queries.coverage_gaps(
                    session=session, user=registrar, on=on, category=held, offset=offset
                )
                started = time.perf_counter()
                counted_rows, counted_total = queries.counted_gaps(
                    session=session, user=registrar, on=on, category=held, limit=50, offset=offset
                )
                counting.append(1000 * (time.perf_counter() - started))
                same &= ([r.person.id for r in kept_rows], kept_total) == ([r.id for r in counted_rows], counted_total)
    engine.dispose()
    print(
        f"registrar's gaps after an enrolment change ({len(moved)} changes): the count moved at once: "
        f"{'yes' if all(moved) else 'NO'}; read p50 {statistics.median(reads):.0f} ms; "
        f"{every:,} gaps, {of_category:,} of the registered poor; kept gaps equal a count from the persons: "
        f"{'yes' if same else 'NO'} (that count: p50 {statistics.median(counting):.0f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=100.0, help="claims per second streamed through the API")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of page measurements")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of streaming before measuring")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="equicover_web_scale")
    parser.add_argument("--reuse", action="store_true", help="run against the database a --keep run left")
    parser.add_argument("--keep", action="store_true", help="leave the database for --reuse")
    parser.add_argument(
        "--after-enrolments", type=int, default=5, help="enrolment changes, each followed by a dashboard first view"
    )
    args = parser.parse_args()

    if args.reuse:
        url = _database_url(args.admin_url, args.database)
        upgrade(url)
    else:
        url = fresh_database(args.admin_url, args.database)
        build(url, args.people, args.seed)
    with make_engine(url).connect() as connection:
        persons = connection.execute(text("SELECT count(*) FROM persons")).scalar_one()
        claims = connection.execute(text("SELECT count(*) FROM claims")).scalar_one()
    print(
        f"province: {persons:,} people, {claims:,} stored claims; "
        f"cores: {os.cpu_count()}; server workers: {args.workers}"
    )
    found = subjects(url, bills=5_000)
    issued = tokens(url)
    log = Path(tempfile.gettempdir()) / f"web-scale-server-{os.getpid()}.log"
    server = start_server(url, args.port, args.workers, log)
    try:
        asyncio.run(measure(args.port, url, issued, found, args.rate, args.duration, args.warmup))
        after_enrolments(args.port, url, issued, found.year, args.after_enrolments)
        gaps_after_enrolments(url, found.year, args.after_enrolments)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except Exception:
            server.kill()
        if not (args.keep or args.reuse):
            drop_database(args.admin_url, args.database)


if __name__ == "__main__":
    main()
