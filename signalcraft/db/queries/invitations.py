"""Named queries for workspace invitations (migration 0013).

An invitation's state changes (accept, revoke) are compare-and-set on "still pending": the
caller checks the returned bool, so a link used twice or revoked meanwhile does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import apsw

from signalcraft.auth.rbac import Role
from signalcraft.db.connection import Row, one, rows

_COLS = "id, workspace_id, email, role, created_by, created_at, expires_at, accepted_at, revoked_at"


@dataclass(frozen=True, slots=True)
class Invitation:
    id: int
    workspace_id: int
    email: str
    role: Role
    created_by: int | None
    created_at: float
    expires_at: float
    accepted_at: float | None
    revoked_at: float | None

    def usable(self, now: float) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now


def _invitation(row: Row) -> Invitation:
    return Invitation(row[0], row[1], row[2], Role(row[3]), *row[4:])


def create(
    conn: apsw.Connection,
    workspace_id: int,
    email: str,
    role: Role,
    token_hash: str,
    created_by: int | None,
    now: float,
    expires_at: float,
) -> Invitation:
    conn.execute(
        "INSERT INTO invitations(workspace_id, email, role, token_hash, created_by, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (workspace_id, email, role.value, token_hash, created_by, now, expires_at),
    )
    found = get(conn, workspace_id, conn.last_insert_rowid())
    assert found is not None
    return found


def get(conn: apsw.Connection, workspace_id: int, invitation_id: int) -> Invitation | None:
    row = one(
        conn,
        f"SELECT {_COLS} FROM invitations WHERE id = ? AND workspace_id = ?",
        (invitation_id, workspace_id),
    )
    return _invitation(row) if row else None


def by_token_hash(conn: apsw.Connection, token_hash: str) -> Invitation | None:
    row = one(conn, f"SELECT {_COLS} FROM invitations WHERE token_hash = ?", (token_hash,))
    return _invitation(row) if row else None


def pending(conn: apsw.Connection, workspace_id: int, now: float) -> list[Invitation]:
    """Invitations that can still be accepted, newest first."""
    found = rows(
        conn,
        f"SELECT {_COLS} FROM invitations WHERE workspace_id = ? AND accepted_at IS NULL"
        " AND revoked_at IS NULL AND expires_at > ? ORDER BY id DESC",
        (workspace_id, now),
    )
    return [_invitation(r) for r in found]


def pending_for_email(conn: apsw.Connection, workspace_id: int, email: str, now: float) -> list[Invitation]:
    return [i for i in pending(conn, workspace_id, now) if i.email.lower() == email.lower()]


def revoke(conn: apsw.Connection, invitation_id: int, now: float) -> bool:
    conn.execute(
        "UPDATE invitations SET revoked_at = ? WHERE id = ? AND accepted_at IS NULL AND revoked_at IS NULL",
        (now, invitation_id),
    )
    return conn.changes() == 1


def accept(conn: apsw.Connection, invitation_id: int, user_id: int, now: float) -> bool:
    conn.execute(
        "UPDATE invitations SET accepted_at = ?, accepted_by = ? WHERE id = ? AND accepted_at IS NULL"
        " AND revoked_at IS NULL AND expires_at > ?",
        (now, user_id, invitation_id, now),
    )
    return conn.changes() == 1

