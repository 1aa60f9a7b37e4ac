"""Time of one FHIR search page of ExplanationOfBenefits, each built from its stored claim.

    .venv/bin/python bench/fhir_search_bench.py                        # 300 claims of 10 items, SQLite
    .venv/bin/python bench/fhir_search_bench.py --claims 300 --items 10 --page 50 --repeat 3

Builds a fresh SQLite database in a temporary folder with the small Viet Nam world of the tests
(``tests.factories.vn_world``), submits ``--claims`` out-patient bills of one member through
``POST /fhir/Claim/$submit``, each with ``--items`` items, then times ``GET
/fhir/ExplanationOfBenefit?patient=...&_count=<page>`` (in process, through the ASGI test client)
``--repeat`` times and prints each time and the time per resource.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient

from equicover.api.app import create_app
from equicover.db.engine import make_engine
from equicover.db.migrate import upgrade
from equicover.db.session import make_session_factory, session_scope
from tests.api_helpers import login_as
from tests.factories import vn_world
from tests.fhir.helpers import DAY, claim_body

OUTPATIENT = {
    "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
    "subType": {"coding": [{"system": "https://equicover.org/fhir/CodeSystem/care-type", "code": "outpatient"}]},
    "billablePeriod": {"start": DAY},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=300)
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--page", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()

    url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    upgrade(url)
    with session_scope(make_session_factory(make_engine(url))) as session:
        world = vn_world(session)
    client = TestClient(create_app(database_url=url))
    clerk = login_as(client, "clerk", provider="PA")
    item_net = 10_000
    items = [
        {
            "sequence": number,
            "productOrService": {"text": f"item {number}"},
            "net": {"value": item_net, "currency": "VND"},
        }
        for number in range(1, options.items + 1)
    ]
    headers = {**clerk, "Content-Type": "application/fhir+json"}
    for number in range(options.claims):
        body = claim_body(
            world.person_ids[0],
            world.provider_a,
            f"B-{number}",
            total=item_net * options.items,
            item=items,
            **OUTPATIENT,
        )
        answer = client.post("/fhir/Claim/$submit", content=body, headers=headers)
        assert answer.status_code == 201, answer.text
    params = {"patient": f"Patient/{world.person_ids[0]}", "_count": str(options.page)}
    print(f"{options.claims} claims of {options.items} items; page of {options.page}")
    for _ in range(options.repeat):
        started = time.perf_counter()
        response = client.get("/fhir/ExplanationOfBenefit", params=params, headers=clerk)
        elapsed = time.perf_counter() - started
        entries = len(json.loads(response.content).get("entry", []))
        each = 1000 * elapsed / max(entries, 1)
        print(f"  {response.status_code}: {entries} resources in {elapsed:.2f} s ({each:.1f} ms each)")


if __name__ == "__main__":
    main()
