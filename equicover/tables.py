"""Every table of equicover, for Alembic and for every process that opens a session.

Each domain declares its own tables in its ``models`` module; importing this module registers all
of them on :data:`equicover.db.base.Base.metadata`, so that foreign keys between domains resolve
whichever service runs first. The command line and the application import it once at start-up.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from equicover.anomaly import models as _anomaly  # noqa: F401
from equicover.audit import models as _audit  # noqa: F401
from equicover.auth import models as _auth  # noqa: F401
from equicover.cards import models as _cards  # noqa: F401
from equicover.care import models as _care  # noqa: F401
from equicover.claims import deltas as _claim_deltas  # noqa: F401
from equicover.claims import documents as _claim_documents  # noqa: F401
from equicover.claims import models as _claims  # noqa: F401
from equicover.db.base import Base
from equicover.enrolment import models as _enrolment  # noqa: F401
from equicover.grievances import models as _grievances  # noqa: F401
from equicover.ledger import models as _ledger  # noqa: F401
from equicover.organisations import models as _organisations  # noqa: F401
from equicover.payments import models as _payments  # noqa: F401
from equicover.providers import models as _providers  # noqa: F401
from equicover.referrals import models as _referrals  # noqa: F401
from equicover.registry import models as _registry  # noqa: F401
from equicover.registry import quality_models as _registry_quality  # noqa: F401
from equicover.reports import models as _reports  # noqa: F401
from equicover.targeting import models as _targeting  # noqa: F401
from equicover.verification import models as _verification  # noqa: F401

metadata: MetaData = Base.metadata


def all_tables() -> MetaData:
    """The metadata holding every table."""
    return metadata
