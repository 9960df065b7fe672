"""What every handler can reach: settings, database, task queue, templates, metrics, clock.

Built once by the runtime (or a test) and stored in ``app.state.ctx``; handlers get it via
:func:`ctx_of`. No module-level globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from litestar.connection import ASGIConnection

from signalcraft.clock import Clock, system_clock
from signalcraft.config import Settings
from signalcraft.db import Database
from signalcraft.metrics import Metrics

if TYPE_CHECKING:
    from huey import Huey

    from signalcraft.web.templating import Templates


@dataclass
class Health:
    """Liveness flags the runtime keeps current; /readyz reports them."""

    queue_consumer: bool = False
    probe_loop: bool = False
    draining: bool = False


@dataclass
class AppContext:
    settings: Settings
    db: Database
    templates: Templates
    metrics: Metrics
    huey: Huey | None = None
    clock: Clock = system_clock
    health: Health = field(default_factory=Health)
    extras: dict[str, Any] = field(default_factory=dict)

    def now(self) -> float:
        return self.clock()


def ctx_of(connection: ASGIConnection[Any, Any, Any, Any]) -> AppContext:
    ctx: AppContext = connection.app.state.ctx
    return ctx
