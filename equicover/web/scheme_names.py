"""The name of a scheme in the reader's language.

A scheme linked to a policy file is named by the policy's ``[policy.names]`` (the version in
force on the day shown, else the latest); a scheme no policy names, or whose policy gives no
names, by its own names (``schemes.names``, set by the synthetic profiles), else by its ``name``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from equicover.claims import service as claims_service
from equicover.claims.models import PolicyVersion
from equicover.enrolment import service as enrolment_service
from equicover.enrolment.models import Scheme
from equicover.web.queries import EnrolmentView


def scheme_names(*, session: Session, scheme_ids: Iterable[int], language: str, on: dt.date) -> dict[int, str]:
    """Scheme id -> its name in ``language``."""
    ids = sorted(set(scheme_ids))
    if not ids:
        return {}
    versions: dict[int, list[PolicyVersion]] = {}
    for version in session.scalars(
        select(PolicyVersion).where(PolicyVersion.scheme_id.in_(ids)).order_by(PolicyVersion.effective_from)
    ):
        assert version.scheme_id is not None
        versions.setdefault(version.scheme_id, []).append(version)
    names = {}
    for scheme in session.scalars(select(Scheme).where(Scheme.id.in_(ids))):
        linked = versions.get(scheme.id, [])
        in_force = [version for version in linked if version.effective_from <= on]
        chosen = (in_force or linked)[-1:] if linked else []
        policy = claims_service.loaded_policy(chosen[0]) if chosen else None
        if policy is not None and policy.names:
            names[scheme.id] = policy.name_in(language)
        else:
            names[scheme.id] = enrolment_service.scheme_name_in(scheme, language)
    return names


def name_enrolments(*, session: Session, views: Iterable[EnrolmentView], language: str, on: dt.date) -> None:
    """Give each enrolment shown on a page its scheme's name in ``language``."""
    shown = list(views)
    codes = {view.scheme_code for view in shown}
    if not codes:
        return
    ids = dict(session.execute(select(Scheme.code, Scheme.id).where(Scheme.code.in_(codes))).all())
    names = scheme_names(session=session, scheme_ids=ids.values(), language=language, on=on)
    for view in shown:
        view.scheme_name = names.get(ids.get(view.scheme_code, -1), view.scheme_name)
