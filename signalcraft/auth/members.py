"""Workspace membership changes, shared by the UI, the API and the CLI (one way to do it).

Each function runs inside a write transaction and records the change in the audit log
with before/after.
"""

from __future__ import annotations

from dataclasses import dataclass

import apsw

from signalcraft.auth import service
from signalcraft.auth.rbac import Role, can_assign
from signalcraft.config import AuthConfig
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import audit
from signalcraft.errors import Conflict, Forbidden, InvalidInput, NotFound


@dataclass(frozen=True, slots=True)
class AddedMember:
    user: q.User
    role: Role
    reset_link_token: str | None  # set when the user is new and has no password yet


def parse_role(value: str, field: str = "role") -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput("choose owner, admin, responder or viewer", field=field) from None


def add_member(
    conn: apsw.Connection,
    cfg: AuthConfig,
    workspace: q.Workspace,
    email: str,
    name: str,
    role: Role,
    actor: audit.Actor,
    actor_role: Role | None,
    now: float,
) -> AddedMember:
    """Add a user (created when new, with a one-time link to set a password) to a workspace."""
    if actor_role is not None and not can_assign(actor_role, role):
        raise Forbidden(f"a {actor_role.value} cannot make someone {role.value}", field="role")
    user = q.user_by_email(conn, email)
    token = None
    if user is None:
        user = q.create_user(conn, email, name, None, now)
        token = service.issue_reset_link(conn, cfg, user.id, actor, now, workspace.id)
    elif q.role_in(conn, user.id, workspace.id) is not None:
        raise Conflict(f"{user.email} is already a member", field="email")
    q.set_membership(conn, workspace.id, user.id, role, now)
    audit.record(
        conn,
        actor,
        "member.add",
        now,
        workspace_id=workspace.id,
        target=user.email,
        detail={"after": {"role": role.value}},
    )
    return AddedMember(user, role, token)


def change_role(
    conn: apsw.Connection,
    workspace: q.Workspace,
    user_id: int,
    role: Role,
    actor: audit.Actor,
    actor_role: Role | None,
    now: float,
) -> None:
    before = q.role_in(conn, user_id, workspace.id)
    if before is None:
        raise NotFound("no such member", field="user")
    if actor_role is not None and not (can_assign(actor_role, role) and can_assign(actor_role, before)):
        raise Forbidden(f"a {actor_role.value} cannot change a {before.value} to {role.value}", field="role")
    if before is Role.OWNER and role is not Role.OWNER and q.count_owners(conn, workspace.id) <= 1:
        raise Conflict("a workspace keeps at least one owner", field="role")
    q.set_membership(conn, workspace.id, user_id, role, now)
    audit.record(
        conn,
        actor,
        "member.role",
        now,
        workspace_id=workspace.id,
        target=str(user_id),
        detail={"before": {"role": before.value}, "after": {"role": role.value}},
    )


def remove_member(
    conn: apsw.Connection,
    workspace: q.Workspace,
    user_id: int,
    actor: audit.Actor,
    actor_role: Role | None,
    now: float,
) -> None:
    before = q.role_in(conn, user_id, workspace.id)
    if before is None:
        raise NotFound("no such member", field="user")
    if actor_role is not None and not can_assign(actor_role, before):
        raise Forbidden(f"a {actor_role.value} cannot remove a {before.value}", field="user")
    if before is Role.OWNER and q.count_owners(conn, workspace.id) <= 1:
        raise Conflict("a workspace keeps at least one owner", field="user")
    q.remove_membership(conn, workspace.id, user_id)
    audit.record(
        conn,
        actor,
        "member.remove",
        now,
        workspace_id=workspace.id,
        target=str(user_id),
        detail={"before": {"role": before.value}},
    )


def reset_link_for_member(
    conn: apsw.Connection,
    cfg: AuthConfig,
    workspace: q.Workspace,
    user_id: int,
    actor: audit.Actor,
    actor_role: Role | None,
    now: float,
) -> str:
    role = q.role_in(conn, user_id, workspace.id)
    if role is None:
        raise NotFound("no such member", field="user")
    if actor_role is not None and not can_assign(actor_role, role):
        raise Forbidden(f"a {actor_role.value} cannot reset a {role.value}'s password", field="user")
    return service.issue_reset_link(conn, cfg, user_id, actor, now, workspace.id)


def revoke_key(
    conn: apsw.Connection, workspace: q.Workspace, key_id: int, actor: audit.Actor, now: float
) -> q.ApiKeyRow:
    row = q.revoke_api_key(conn, workspace.id, key_id, now)
    audit.record(conn, actor, "apikey.revoke", now, workspace_id=workspace.id, target=f"sck_{row.prefix}")
    return row
