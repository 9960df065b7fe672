"""SignalCraft: self-hosted alert management, on-call and uptime in one process."""

from __future__ import annotations

__version__ = "0.1.0"
