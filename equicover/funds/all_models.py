"""Imports every table module of issue 7 (funds, payments, verification, anomaly, care, reports)
so that ``load_all_models`` needs one line for them; order follows the foreign keys."""

from equicover.anomaly import models as _anomaly  # noqa: F401
from equicover.care import models as _care  # noqa: F401
from equicover.funds import models as _funds  # noqa: F401
from equicover.payments import models as _payments  # noqa: F401
from equicover.reports import models as _reports  # noqa: F401
from equicover.verification import models as _verification  # noqa: F401
