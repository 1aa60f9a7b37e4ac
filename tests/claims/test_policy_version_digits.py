"""A stored policy version keeps the minor digits its policy counts in (riel and rial: whole
units, whatever ISO 4217 says), whether uploaded for a scheme or stored by a bulk load; a scheme
counting other digits than its policy is refused."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from equicover.claims.bulk import ensure_policy_version
from equicover.claims.service import money_in_force, money_of_version
from equicover.errors import Conflict, ValidationFailed
from equicover.settlement.loader import load_policy
from tests import factories as make
from tests.factories import POLICIES


@pytest.mark.parametrize(
    ("policy", "currency", "digits"),
    [("kh-hef-2015", "KHR", 0), ("ir-ihio-2023", "IRR", 0), ("cn-yaan-2018", "CNY", 2), ("vn-shi-2024", "VND", 0)],
)
def test_an_uploaded_version_keeps_its_policys_digits(
    session: Session, policy: str, currency: str, digits: int
) -> None:
    make.scheme(session, code="S", currency=currency, minor_digits=digits)
    version = make.policy_version(session, scheme_code="S", policy=policy)
    assert (version.currency, version.minor_digits) == (currency, digits)
    assert money_of_version(session=session, version_id=version.id, record="test") == (currency, digits)
    assert money_in_force(session=session, starts=version.effective_from, ends=version.effective_from) == [
        (currency, digits)
    ]


def test_a_version_stored_by_a_bulk_load_keeps_its_digits(session: Session) -> None:
    version = ensure_policy_version(
        session=session, policy=load_policy(POLICIES / "kh-hef-2015.toml"), scheme_code=None
    )
    assert (version.currency, version.minor_digits) == ("KHR", 0)


def test_a_scheme_counting_other_digits_than_its_policy_is_refused(session: Session) -> None:
    make.scheme(session, code="HEF", currency="KHR")  # the ISO exponent: 2
    with pytest.raises(ValidationFailed) as refused:
        make.policy_version(session, scheme_code="HEF", policy="kh-hef-2015")
    assert refused.value.status == 422
    assert (refused.value.field, refused.value.reason) == (
        "minor_digits",
        "the policy counts KHR in 0 minor digits, the scheme in 2",
    )


def test_a_claim_settled_under_no_version_has_no_currency(session: Session) -> None:
    with pytest.raises(Conflict, match="settled under no policy"):
        money_of_version(session=session, version_id=None, record="claim 1")
