"""A national ID already held is refused (409) without naming its holder to a caller who may not
see that person: a registrar of another area learns "already registered", nothing more."""

from __future__ import annotations

from tests import factories as make
from tests.api_helpers import login_as, make_client


def _household(code: str, location: str, national_id: str) -> dict[str, object]:
    return {
        "code": code,
        "location_code": location,
        "members": [
            {
                "full_name": "Someone",
                "sex": "female",
                "birth_date": "1990-01-01",
                "national_id": national_id,
                "id_type": "cccd",
            }
        ],
    }


def test_the_conflict_names_the_holder_only_to_whoever_may_see_them(session_factory) -> None:
    with session_factory() as session:
        make.locations(session)
        holder = make.person(session, location_code="C11", national_id="001122334455", id_type="cccd")
        session.commit()
        holder_id = holder.id
    client = make_client(session_factory=session_factory)
    outsider = login_as(client, "registrar", area="D2")
    refused = client.post("/api/v1/households", json=_household("H-D2", "N21", "001122334455"), headers=outsider)
    assert refused.status_code == 409
    body = refused.json()
    assert body["field"] == "national_id" and "already registered" in body["reason"]
    assert f"person {holder_id}" not in refused.text and "person " not in body["reason"]

    insider = login_as(client, "registrar", area="D1")
    named = client.post("/api/v1/households", json=_household("H-D1", "C12", "001122334455"), headers=insider)
    assert named.status_code == 409 and f"(person {holder_id})" in named.json()["reason"]

    # Changing a person of one's own area to the held number: the same rule.
    with session_factory() as session:
        own = make.person(session, location_code="N21")
        session.commit()
        own_id = own.id
    changed = client.patch(
        f"/api/v1/persons/{own_id}", json={"national_id": "001122334455", "id_type": "cccd"}, headers=outsider
    )
    assert changed.status_code == 409 and f"person {holder_id}" not in changed.text
