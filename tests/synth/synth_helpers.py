"""Small independent computations the synth tests compare the generator against."""

from __future__ import annotations

import datetime as dt

import numpy as np

from equicover.synth import parameters as P


def age_on(birth: dt.date, on: dt.date) -> int:
    """Completed years on ``on``, computed the plain calendar way."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def share_with_category(masks: np.ndarray, category: str) -> float:
    return float(((masks & P.CATEGORY_BIT[category]) != 0).mean())
