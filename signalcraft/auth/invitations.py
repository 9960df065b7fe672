"""Workspace invitations: an admin invites an email with a role; the one-time link lets that
person join, as the signed-in user with that email or as a new user who sets a password.

Each function runs inside a write transaction and records an audit entry with before/after.
The link's token is returned once and only its hash is stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import apsw

from signalcraft.auth.rbac import Role, can_assign
from signalcraft.auth.secrets import new_token, token_hash
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import audit
from signalcraft.db.queries import invitations as iq
from signalcraft.errors import Conflict, Forbidden, InvalidInput, NotFound

INVITATION_SECONDS = 7 * 24 * 3600.0
NOT_USABLE = "this invitation has expired, was revoked or was already used; ask for a new one"


@dataclass(frozen=True, slots=True)
class IssuedInvitation:
    token: str  # shown once
    invitation: iq.Invitation


@dataclass(frozen=True, slots=True)
class OpenInvitation:
    """What the accept page needs: the invitation, its workspace, the user the email belongs to."""

    invitation: iq.Invitation
    workspace: q.Workspace
    existing_user: q.User | None


def invite(
    conn: apsw.Connection,
    workspace: q.Workspace,
    email: str,
    role: Role,
    actor: audit.Actor,
    actor_role: Role | None,
    now: float,
) -> IssuedInvitation:
    """A new invitation; it replaces the pending ones for the same email (only the last link works)."""
    email = q.check_email(email)
    if actor_role is not None and not can_assign(actor_role, role):
        raise Forbidden(f"a {actor_role.value} cannot invite someone as {role.value}", field="role")
    user = q.user_by_email(conn, email)
    if user is not None and q.role_in(conn, user.id, workspace.id) is not None:
        raise Conflict(f"{user.email} is already a member", field="email")
    for earlier in iq.pending_for_email(conn, workspace.id, email, now):
        iq.revoke(conn, earlier.id, now)
    token = new_token()
    invitation = iq.create(
        conn, workspace.id, email, role, token_hash(token), actor.user_id, now, now + INVITATION_SECONDS
    )
    audit.record(
        conn, actor, "invitation.create", now, workspace_id=workspace.id, target=email,
        detail=audit.changes({}, {"email": email, "role": role.value, "expires_at": invitation.expires_at}),
    )
    return IssuedInvitation(token, invitation)


def revoke(
    conn: apsw.Connection,
    workspace: q.Workspace,
    invitation_id: int,
    actor: audit.Actor,
    actor_role: Role | None,
    now: float,
) -> iq.Invitation:
    invitation = iq.get(conn, workspace.id, invitation_id)
    if invitation is None:
        raise NotFound("no such invitation", field="invitation_id")
    if actor_role is not None and not can_assign(actor_role, invitation.role):
        raise Forbidden(f"a {actor_role.value} cannot revoke an invitation as {invitation.role.value}")
    if not iq.revoke(conn, invitation.id, now):
        raise Conflict("this invitation was already accepted or revoked", field="invitation_id")
    audit.record(
        conn, actor, "invitation.revoke", now, workspace_id=workspace.id, target=invitation.email,
        detail=audit.changes({"status": "pending"}, {"status": "revoked"}),
    )
    return invitation


def open_invitation(conn: apsw.Connection, token: str, now: float) -> OpenInvitation | None:
    """The invitation behind a link if it can still be accepted, else None."""
    invitation = iq.by_token_hash(conn, token_hash(token)) if 0 < len(token) <= 128 else None
    if invitation is None or not invitation.usable(now):
        return None
    workspace = q.workspace_by_id(conn, invitation.workspace_id)
    if workspace is None:
        return None
    return OpenInvitation(invitation, workspace, q.user_by_email(conn, invitation.email))


def _join(conn: apsw.Connection, found: OpenInvitation, user: q.User, actor: audit.Actor, now: float) -> None:
    invitation, workspace = found.invitation, found.workspace
    if not iq.accept(conn, invitation.id, user.id, now):
        raise InvalidInput(NOT_USABLE, field="")
    before = q.role_in(conn, user.id, workspace.id)
    if before is None:  # a member already (added meanwhile) keeps the role they have
        q.set_membership(conn, workspace.id, user.id, invitation.role, now)
    audit.record(
        conn, actor, "invitation.accept", now, workspace_id=workspace.id, target=user.email,
        detail=audit.changes({"role": before.value if before else None},
                             {"role": (before or invitation.role).value}),
    )


def accept_as(conn: apsw.Connection, token: str, user: q.User, actor: audit.Actor, now: float) -> q.Workspace:
    """The signed-in user joins; the invitation must be for their email."""
    found = open_invitation(conn, token, now)
    if found is None:
        raise InvalidInput(NOT_USABLE, field="")
    if found.invitation.email.lower() != user.email.lower():
        raise Forbidden(
            f"this invitation is for {found.invitation.email}; sign out and accept it as that user", field=""
        )
    _join(conn, found, user, actor, now)
    return found.workspace


def accept_new(
    conn: apsw.Connection, token: str, name: str, password_hash: str, ip: str, now: float
) -> tuple[q.User, q.Workspace]:
    """A new user with the invited email, the given name and password, joins."""
    found = open_invitation(conn, token, now)
    if found is None:
        raise InvalidInput(NOT_USABLE, field="")
    if found.existing_user is not None:
        raise Conflict(f"{found.invitation.email} has an account: sign in to accept", field="")
    user = q.create_user(conn, found.invitation.email, name, password_hash, now)
    _join(conn, found, user, audit.Actor(user.email, user.id, ip), now)
    return user, found.workspace
