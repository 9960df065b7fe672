"""Named queries for SAML single sign-on: per-workspace settings, outstanding AuthnRequest ids
(checked against ``InResponseTo``) and consumed assertion ids (replay protection)."""

from __future__ import annotations

from dataclasses import dataclass, field

import apsw
import orjson

from signalcraft.auth.rbac import Role
from signalcraft.db.connection import Row, one, rows

_COLUMNS = (
    "workspace_id, enabled, idp_metadata_xml, idp_metadata_url, idp_entity_id, idp_sso_url, idp_cert_sha256,"
    " email_attribute, name_attribute, role_attribute, role_map, default_role, jit_create, idp_initiated,"
    " sso_only, break_glass_user_id"
)


@dataclass(frozen=True, slots=True)
class SsoSettings:
    workspace_id: int
    enabled: bool = False
    idp_metadata_xml: str = ""
    idp_metadata_url: str = ""
    idp_entity_id: str = ""
    idp_sso_url: str = ""
    idp_cert_sha256: str = ""
    email_attribute: str = "email"
    name_attribute: str = "name"
    role_attribute: str = ""
    role_map: dict[str, Role] = field(default_factory=dict)
    default_role: Role = Role.VIEWER
    jit_create: bool = False
    idp_initiated: bool = False
    sso_only: bool = False
    break_glass_user_id: int | None = None


def _settings(row: Row) -> SsoSettings:
    role_map = {str(k): Role(v) for k, v in orjson.loads(row[10]).items()}
    return SsoSettings(
        row[0],
        bool(row[1]),
        row[2],
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
        role_map,
        Role(row[11]),
        bool(row[12]),
        bool(row[13]),
        bool(row[14]),
        row[15],
    )


def sso_settings(conn: apsw.Connection, workspace_id: int) -> SsoSettings | None:
    found = one(conn, f"SELECT {_COLUMNS} FROM sso_settings WHERE workspace_id = ?", (workspace_id,))
    return _settings(found) if found else None


def save_sso_settings(conn: apsw.Connection, s: SsoSettings, now: float) -> None:
    conn.execute(
        f"INSERT OR REPLACE INTO sso_settings({_COLUMNS}, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            s.workspace_id,
            int(s.enabled),
            s.idp_metadata_xml,
            s.idp_metadata_url,
            s.idp_entity_id,
            s.idp_sso_url,
            s.idp_cert_sha256,
            s.email_attribute,
            s.name_attribute,
            s.role_attribute,
            orjson.dumps({k: v.value for k, v in s.role_map.items()}).decode(),
            s.default_role.value,
            int(s.jit_create),
            int(s.idp_initiated),
            int(s.sso_only),
            s.break_glass_user_id,
            now,
        ),
    )


def sso_only_workspaces_of(conn: apsw.Connection, user_id: int) -> list[tuple[int, int | None]]:
    """(workspace id, break-glass user id) for each SSO-only workspace the user belongs to."""
    found = rows(
        conn,
        # The break-glass account counts only while it is still an owner of that workspace.
        "SELECT s.workspace_id, CASE WHEN EXISTS (SELECT 1 FROM memberships o WHERE o.workspace_id ="
        " s.workspace_id AND o.user_id = s.break_glass_user_id AND o.role = 'owner')"
        " THEN s.break_glass_user_id END FROM sso_settings s"
        " JOIN memberships m ON m.workspace_id = s.workspace_id"
        " WHERE m.user_id = ? AND s.enabled = 1 AND s.sso_only = 1",
        (user_id,),
    )
    return [(r[0], r[1]) for r in found]


# --- outstanding requests ---------------------------------------------------------------


def add_request(
    conn: apsw.Connection, workspace_id: int, request_id: str, now: float, expires_at: float
) -> None:
    conn.execute("DELETE FROM sso_requests WHERE expires_at <= ?", (now,))
    conn.execute(
        "INSERT INTO sso_requests(request_id, workspace_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
        (request_id, workspace_id, now, expires_at),
    )


def request_is_outstanding(conn: apsw.Connection, workspace_id: int, request_id: str, now: float) -> bool:
    found = one(
        conn,
        "SELECT 1 FROM sso_requests WHERE request_id = ? AND workspace_id = ? AND expires_at > ?",
        (request_id, workspace_id, now),
    )
    return found is not None


def consume_request(conn: apsw.Connection, workspace_id: int, request_id: str, now: float) -> bool:
    """Compare-and-set: True for exactly one caller while the request is outstanding."""
    conn.execute(
        "DELETE FROM sso_requests WHERE request_id = ? AND workspace_id = ? AND expires_at > ?",
        (request_id, workspace_id, now),
    )
    return conn.changes() == 1


# --- consumed assertions ----------------------------------------------------------------


def consume_assertion(
    conn: apsw.Connection, workspace_id: int, assertion_id: str, now: float, expires_at: float
) -> bool:
    """Record an assertion id as used; False when it was already used (a replay)."""
    conn.execute("DELETE FROM sso_consumed_assertions WHERE expires_at <= ?", (now,))
    conn.execute(
        "INSERT OR IGNORE INTO sso_consumed_assertions(workspace_id, assertion_id, consumed_at, expires_at)"
        " VALUES (?, ?, ?, ?)",
        (workspace_id, assertion_id, now, expires_at),
    )
    return conn.changes() == 1
