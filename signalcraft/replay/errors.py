"""Replay errors. Each carries its HTTP status; web/responses.py maps them like every other."""

from __future__ import annotations

from signalcraft.errors import Conflict, Forbidden, NotFound, SignalCraftError


class ReplaysDisabled(NotFound):
    code = "replays_disabled"

    def __init__(self) -> None:
        super().__init__("session replay is disabled on this instance ([replay] enabled = false)")


class UnknownRecorderKey(NotFound):
    code = "unknown_replay_key"

    def __init__(self) -> None:
        super().__init__("unknown replay key", field="key")


class OriginNotAllowed(Forbidden):
    code = "origin_not_allowed"

    def __init__(self, origin: str) -> None:
        shown = origin or "(no Origin header)"
        super().__init__(f"origin {shown} is not on this workspace's replay allow-list", field="origin")


class SessionFinalized(Conflict):
    """A chunk for a session that was already finalized: the recorder starts a new session."""

    code = "replay_session_finalized"

    def __init__(self) -> None:
        super().__init__(
            "this session was finalized after inactivity; start a new session", field="session_id"
        )


class ReplayStorageFull(SignalCraftError):
    """The data directory's disk has no room: new sessions are refused, stored ones stay."""

    status = 507
    code = "replay_storage_full"


class ReplayQuotaExceeded(SignalCraftError):
    """The workspace used its [replay] quota_mb_per_workspace: new sessions are refused."""

    status = 507
    code = "replay_quota_exceeded"
