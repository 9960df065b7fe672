"""The one place that reads the wall clock. Everything else takes ``now`` as a parameter."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


def system_clock() -> float:
    return time.time()
