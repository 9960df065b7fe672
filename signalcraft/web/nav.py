"""The workspace navigation shown in the layout. One list, so pages and shortcuts agree."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NavItem:
    key: str
    label: str
    href: str
    shortcut: str


def nav_for(slug: str) -> list[NavItem]:
    base = f"/w/{slug}"
    return [
        NavItem("inbox", "Inbox", f"{base}/inbox", "g i"),
        NavItem("integrations", "Integrations", f"{base}/integrations", "g n"),
        NavItem("channels", "Channels", f"{base}/channels", "g c"),
        NavItem("routing", "Routing", f"{base}/routing", "g t"),
        NavItem("silences", "Silences", f"{base}/silences", "g s"),
        NavItem("schedules", "On-call", f"{base}/schedules", "g p"),
        NavItem("escalation", "Escalation", f"{base}/escalation", "g e"),
        NavItem("my_notifications", "My notifications", f"{base}/me/notifications", "g y"),
        NavItem("dashboard", "Dashboard", f"{base}/dashboard", "g d"),
        NavItem("monitors", "Monitors", f"{base}/monitors", "g u"),
        NavItem("replay", "Replays", f"{base}/replays", "g r"),
        NavItem("home", "Overview", f"{base}/", "g o"),
        NavItem("members", "Members", f"{base}/settings/members", "g m"),
        NavItem("api_keys", "API keys", f"{base}/settings/api-keys", "g k"),
        NavItem("audit", "Audit log", f"{base}/settings/audit", "g l"),
        NavItem("settings", "Workspace", f"{base}/settings/workspace", "g w"),
    ]
