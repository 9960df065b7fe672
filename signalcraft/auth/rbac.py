"""Roles and permissions. The written table lives in docs/roles.md; a test checks they agree.

Every route declares the permission it needs (``opt={"permission": ...}``) or is on the
explicit public list; the global guard fails closed on a route that declares neither.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    RESPONDER = "responder"
    VIEWER = "viewer"


class Permission(enum.StrEnum):
    READ = "read"  # see alerts, integrations, schedules, members
    RESPOND = "respond"  # acknowledge, resolve, snooze, assign, note, silence
    CONFIGURE = "configure"  # integrations, routing, channels, schedules, policies
    MANAGE_MEMBERS = "manage_members"  # invite, change roles (not owners), API keys, resets
    OWN = "own"  # workspace settings, owners, SSO, delete workspace


PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.RESPONDER: frozenset({Permission.READ, Permission.RESPOND}),
    Role.ADMIN: frozenset(
        {Permission.READ, Permission.RESPOND, Permission.CONFIGURE, Permission.MANAGE_MEMBERS}
    ),
    Role.OWNER: frozenset(Permission),
}

# API keys carry a role too, but never owner: a leaked key must not be able to take over.
API_KEY_ROLES: tuple[Role, ...] = (Role.ADMIN, Role.RESPONDER, Role.VIEWER)

RANK: dict[Role, int] = {Role.VIEWER: 0, Role.RESPONDER: 1, Role.ADMIN: 2, Role.OWNER: 3}


def allows(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]


def can_assign(actor: Role, target: Role) -> bool:
    """An admin manages everyone below owner; only an owner makes or unmakes owners."""
    return actor is Role.OWNER or (allows(actor, Permission.MANAGE_MEMBERS) and target is not Role.OWNER)
