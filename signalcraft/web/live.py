"""(Filled in by its area's change; registered in app.py.)"""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

HANDLERS: list[ControllerRouterHandler] = []
