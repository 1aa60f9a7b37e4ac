"""``equicover dedupe merge``: merge the accepted duplicate pairs into surviving records."""

from __future__ import annotations

from equicover.commands import ACTOR_OPTION, DATABASE_URL_OPTION, console, fail, migrated_session_factory
from equicover.db.session import session_scope
from equicover.errors import EquicoverError
from equicover.person_merge.service import merge_clusters


def dedupe_merge(
    database_url: str | None = DATABASE_URL_OPTION,
    actor: str = ACTOR_OPTION,
) -> None:
    """Merge confirmed and automatically accepted pairs (not rejected) into surviving records."""
    from equicover.registry.dedupe import accepted_pairs

    try:
        with migrated_session_factory(database_url) as factory, session_scope(factory) as session:
            results = merge_clusters(session=session, pairs=accepted_pairs(session=session), actor=actor)
            moved = (sum(len(r.enrolments) for r in results), sum(len(r.claims) for r in results))
    except EquicoverError as error:
        fail(error)
        return
    console.print(f"{len(results):,} person(s) merged; {moved[0]:,} enrolment(s) and {moved[1]:,} claim(s) moved.")
