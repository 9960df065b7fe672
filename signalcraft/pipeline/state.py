"""Alert and group state: pure decisions about what an incoming event does.

Alert statuses: firing -> acknowledged -> resolved (a source may skip acknowledged).
Group statuses: triggered, acknowledged, resolved, snoozed.

Retrigger rule (documented in docs/alerts.md): a firing event whose fingerprint has no
open alert creates a new alert. It joins the open group with the same group key when that
group saw an alert within the grouping window; else, when a group with that key was
resolved within the window, that group is reopened (status triggered, a "reopened" event);
else it starts a new group.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from signalcraft.ingest.model import AlertStatus


class Action(enum.Enum):
    CREATE = "create"  # no open alert: a new one
    DEDUPLICATE = "deduplicate"  # same alert still firing: count it, keep the latest payload
    ACKNOWLEDGE = "acknowledge"  # the source acknowledged it
    RESOLVE = "resolve"  # the source resolved it
    IGNORE = "ignore"  # ack/resolve for an alert that is not open


def action_for(incoming: AlertStatus, open_status: str | None) -> Action:
    """What an event with status ``incoming`` does to the open alert (``None``: none open)."""
    if open_status is None:
        return Action.CREATE if incoming is AlertStatus.FIRING else Action.IGNORE
    if incoming is AlertStatus.RESOLVED:
        return Action.RESOLVE
    if incoming is AlertStatus.ACKNOWLEDGED:
        return Action.IGNORE if open_status == "acknowledged" else Action.ACKNOWLEDGE
    return Action.DEDUPLICATE


class GroupChoice(enum.Enum):
    JOIN = "join"
    REOPEN = "reopen"
    NEW = "new"


@dataclass(frozen=True, slots=True)
class GroupCandidate:
    id: int
    status: str
    last_seen_at: float
    resolved_at: float | None


def choose_group(candidate: GroupCandidate | None, now: float, window_seconds: float) -> GroupChoice:
    """Where a new alert goes, given the newest group with its key (see the module docstring)."""
    if candidate is None:
        return GroupChoice.NEW
    if candidate.status != "resolved":
        return GroupChoice.JOIN if now - candidate.last_seen_at <= window_seconds else GroupChoice.NEW
    if candidate.resolved_at is not None and now - candidate.resolved_at <= window_seconds:
        return GroupChoice.REOPEN
    return GroupChoice.NEW


def group_status_after_alert_change(current: str, firing_count: int, any_unacknowledged: bool) -> str:
    """The group's status once its alerts changed: resolved when none is open; a group a
    person acknowledged or snoozed keeps that; else acknowledged when every open alert is."""
    if firing_count <= 0:
        return "resolved"
    if current in ("acknowledged", "snoozed"):
        return current
    return "triggered" if any_unacknowledged else "acknowledged"
