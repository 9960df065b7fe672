"""Named queries for workspaces, users, memberships, sessions, one-time links and API keys.

Functions taking a ``conn`` run inside whatever transaction the caller is in: reads via
``Database.read``, writes via ``Database.write`` (the single write path).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import apsw

from signalcraft.auth.rbac import Role
from signalcraft.db.connection import Row, one, rows, scalar
from signalcraft.errors import Conflict, InvalidInput, NotFound

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


@dataclass(frozen=True, slots=True)
class Workspace:
    id: int
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    name: str
    password_hash: str | None
    is_instance_admin: bool
    disabled: bool


@dataclass(frozen=True, slots=True)
class Membership:
    workspace: Workspace
    role: Role


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: int
    user_id: int
    csrf_token: str
    created_at: float
    last_seen_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    id: int
    workspace_id: int
    name: str
    prefix: str
    key_hash: str
    role: Role
    created_at: float
    expires_at: float | None
    last_used_at: float | None
    revoked_at: float | None


# --- workspaces -------------------------------------------------------------------------


def check_slug(slug: str) -> str:
    if not SLUG.match(slug):
        raise InvalidInput("use 1-40 lowercase letters, digits and inner hyphens", field="slug")
    return slug


def create_workspace(conn: apsw.Connection, slug: str, name: str, now: float) -> Workspace:
    check_slug(slug)
    name = name.strip() or slug
    if len(name) > 100:
        raise InvalidInput("must be at most 100 characters", field="name")
    if scalar(conn, "SELECT 1 FROM workspaces WHERE slug = ?", (slug,)):
        raise Conflict(f"a workspace named {slug!r} exists already", field="slug")
    conn.execute("INSERT INTO workspaces(slug, name, created_at) VALUES (?, ?, ?)", (slug, name, now))
    return Workspace(conn.last_insert_rowid(), slug, name)


def workspace_by_slug(conn: apsw.Connection, slug: str) -> Workspace | None:
    row = one(conn, "SELECT id, slug, name FROM workspaces WHERE slug = ?", (slug,))
    return Workspace(*row) if row else None


def workspace_by_id(conn: apsw.Connection, workspace_id: int) -> Workspace | None:
    row = one(conn, "SELECT id, slug, name FROM workspaces WHERE id = ?", (workspace_id,))
    return Workspace(*row) if row else None


def list_workspaces(conn: apsw.Connection) -> list[Workspace]:
    return [Workspace(*r) for r in rows(conn, "SELECT id, slug, name FROM workspaces ORDER BY slug")]


# --- users ------------------------------------------------------------------------------

_USER_COLS = "id, email, name, password_hash, is_instance_admin, disabled_at IS NOT NULL"


def _user(row: Row | None) -> User | None:
    if row is None:
        return None
    return User(
        int(row[0]), str(row[1]), str(row[2]), str(row[3]) if row[3] else None, bool(row[4]), bool(row[5])
    )


def check_email(email: str) -> str:
    email = email.strip()
    if not EMAIL.match(email):
        raise InvalidInput("enter an email address like name@example.com", field="email")
    return email


def create_user(
    conn: apsw.Connection,
    email: str,
    name: str,
    password_hash: str | None,
    now: float,
    *,
    instance_admin: bool = False,
) -> User:
    email = check_email(email)
    if len(name) > 100:
        raise InvalidInput("must be at most 100 characters", field="name")
    if scalar(conn, "SELECT 1 FROM users WHERE email = ?", (email,)):
        raise Conflict(f"a user with email {email} exists already", field="email")
    conn.execute(
        "INSERT INTO users(email, name, password_hash, is_instance_admin, created_at, password_changed_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (email, name.strip(), password_hash, int(instance_admin), now, now if password_hash else None),
    )
    user = user_by_id(conn, conn.last_insert_rowid())
    assert user is not None
    return user


def user_by_id(conn: apsw.Connection, user_id: int) -> User | None:
    return _user(one(conn, f"SELECT {_USER_COLS} FROM users WHERE id = ?", (user_id,)))


def user_by_email(conn: apsw.Connection, email: str) -> User | None:
    return _user(one(conn, f"SELECT {_USER_COLS} FROM users WHERE email = ?", (email.strip(),)))


def list_users(conn: apsw.Connection, workspace_id: int | None = None) -> list[tuple[User, str | None]]:
    """Users (of one workspace, with their role there, or all with role None)."""
    if workspace_id is None:
        found = rows(conn, f"SELECT {_USER_COLS}, NULL FROM users ORDER BY email")
    else:
        found = rows(
            conn,
            f"SELECT {_USER_COLS.replace('id,', 'users.id,', 1)}, m.role FROM users "
            "JOIN memberships m ON m.user_id = users.id WHERE m.workspace_id = ? "
            "ORDER BY email",
            (workspace_id,),
        )
    return [(_user(r[:6]), r[6]) for r in found]  # type: ignore[misc]


def set_password(conn: apsw.Connection, user_id: int, password_hash: str, now: float) -> None:
    conn.execute(
        "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?",
        (password_hash, now, user_id),
    )
    # A new password ends every session of that user.
    conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))


def set_disabled(conn: apsw.Connection, user_id: int, disabled: bool, now: float) -> None:
    if not scalar(conn, "SELECT 1 FROM users WHERE id = ?", (user_id,)):
        raise NotFound("no such user", field="user")
    conn.execute("UPDATE users SET disabled_at = ? WHERE id = ?", (now if disabled else None, user_id))
    if disabled:
        conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))


def count_users(conn: apsw.Connection) -> int:
    return int(scalar(conn, "SELECT count(*) FROM users"))


# --- memberships ------------------------------------------------------------------------


def set_membership(conn: apsw.Connection, workspace_id: int, user_id: int, role: Role, now: float) -> None:
    conn.execute(
        "INSERT INTO memberships(workspace_id, user_id, role, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(workspace_id, user_id) DO UPDATE SET role = excluded.role",
        (workspace_id, user_id, role.value, now),
    )


def remove_membership(conn: apsw.Connection, workspace_id: int, user_id: int) -> None:
    conn.execute("DELETE FROM memberships WHERE workspace_id = ? AND user_id = ?", (workspace_id, user_id))


def count_owners(conn: apsw.Connection, workspace_id: int) -> int:
    return int(
        scalar(
            conn,
            "SELECT count(*) FROM memberships WHERE workspace_id = ? AND role = 'owner'",
            (workspace_id,),
        )
    )


def memberships_of(conn: apsw.Connection, user_id: int) -> list[Membership]:
    found = rows(
        conn,
        "SELECT w.id, w.slug, w.name, m.role FROM memberships m "
        "JOIN workspaces w ON w.id = m.workspace_id WHERE m.user_id = ? ORDER BY w.slug",
        (user_id,),
    )
    return [Membership(Workspace(r[0], r[1], r[2]), Role(r[3])) for r in found]


def role_in(conn: apsw.Connection, user_id: int, workspace_id: int) -> Role | None:
    role = scalar(
        conn, "SELECT role FROM memberships WHERE user_id = ? AND workspace_id = ?", (user_id, workspace_id)
    )
    return Role(role) if role else None


# --- sessions ---------------------------------------------------------------------------


def create_session(
    conn: apsw.Connection,
    token_hash: str,
    user_id: int,
    csrf_token: str,
    now: float,
    expires_at: float,
    ip: str,
    user_agent: str,
) -> None:
    conn.execute(
        "INSERT INTO sessions(token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, ip,"
        " user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (token_hash, user_id, csrf_token, now, now, expires_at, ip[:64], user_agent[:300]),
    )


def session_by_hash(conn: apsw.Connection, token_hash: str) -> SessionRow | None:
    row = one(
        conn,
        "SELECT id, user_id, csrf_token, created_at, last_seen_at, expires_at FROM sessions"
        " WHERE token_hash = ?",
        (token_hash,),
    )
    return SessionRow(*row) if row else None


def touch_session(conn: apsw.Connection, session_id: int, now: float) -> None:
    conn.execute("UPDATE sessions SET last_seen_at = ? WHERE id = ?", (now, session_id))


def delete_session(conn: apsw.Connection, session_id: int) -> None:
    conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))


def delete_expired_sessions(conn: apsw.Connection, now: float, idle_seconds: float) -> int:
    conn.execute("DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?", (now, now - idle_seconds))
    return conn.changes()


# --- login throttling -------------------------------------------------------------------


def record_login_failure(conn: apsw.Connection, email: str, ip: str, now: float) -> None:
    conn.execute("INSERT INTO login_failures(email, ip, at) VALUES (?, ?, ?)", (email[:320], ip[:64], now))


def login_failures_since(
    conn: apsw.Connection, since: float, *, email: str | None = None, ip: str | None = None
) -> tuple[int, float | None]:
    """(count, oldest time) of failures since ``since`` for the account or the address."""
    column, value = ("email", email) if email is not None else ("ip", ip)
    row = one(
        conn, f"SELECT count(*), min(at) FROM login_failures WHERE {column} = ? AND at > ?", (value, since)
    )
    assert row is not None
    return int(row[0]), row[1]


def clear_login_failures(conn: apsw.Connection, email: str) -> None:
    conn.execute("DELETE FROM login_failures WHERE email = ?", (email,))


def prune_login_failures(conn: apsw.Connection, before: float) -> None:
    conn.execute("DELETE FROM login_failures WHERE at < ?", (before,))


# --- one-time links ---------------------------------------------------------------------


def create_one_time_token(
    conn: apsw.Connection,
    purpose: str,
    token_hash: str,
    user_id: int | None,
    created_by: int | None,
    now: float,
    expires_at: float,
) -> None:
    if purpose == "password_reset" and user_id is not None:
        # Only the newest reset link of a user works.
        conn.execute(
            "UPDATE one_time_tokens SET used_at = ? WHERE user_id = ? AND purpose = ? AND used_at IS NULL",
            (now, user_id, purpose),
        )
    conn.execute(
        "INSERT INTO one_time_tokens(purpose, token_hash, user_id, created_by, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (purpose, token_hash, user_id, created_by, now, expires_at),
    )


def consume_one_time_token(conn: apsw.Connection, purpose: str, token_hash: str, now: float) -> int | None:
    """Claim the token (compare-and-set). Returns its row id, and None when unusable."""
    row = one(
        conn,
        "SELECT id FROM one_time_tokens WHERE purpose = ? AND token_hash = ? AND used_at IS NULL"
        " AND expires_at > ?",
        (purpose, token_hash, now),
    )
    if row is None:
        return None
    conn.execute("UPDATE one_time_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL", (now, row[0]))
    return int(row[0]) if conn.changes() == 1 else None


def one_time_token_user(conn: apsw.Connection, token_id: int) -> int | None:
    value = scalar(conn, "SELECT user_id FROM one_time_tokens WHERE id = ?", (token_id,))
    return int(value) if value is not None else None


def peek_one_time_token(conn: apsw.Connection, purpose: str, token_hash: str, now: float) -> int | None:
    """The token's user id (0 for setup tokens) if it is still usable, without claiming it."""
    row = one(
        conn,
        "SELECT coalesce(user_id, 0) FROM one_time_tokens WHERE purpose = ? AND token_hash = ?"
        " AND used_at IS NULL AND expires_at > ?",
        (purpose, token_hash, now),
    )
    return int(row[0]) if row else None


def setup_pending(conn: apsw.Connection, now: float) -> bool:
    return bool(
        scalar(
            conn,
            "SELECT 1 FROM one_time_tokens WHERE purpose = 'setup' AND used_at IS NULL AND expires_at > ?",
            (now,),
        )
    )


# --- API keys ---------------------------------------------------------------------------

_KEY_COLS = "id, workspace_id, name, prefix, key_hash, role, created_at, expires_at, last_used_at, revoked_at"


def _key(row: Row) -> ApiKeyRow:
    return ApiKeyRow(row[0], row[1], row[2], row[3], row[4], Role(row[5]), row[6], row[7], row[8], row[9])


def create_api_key(
    conn: apsw.Connection,
    workspace_id: int,
    name: str,
    prefix: str,
    key_hash: str,
    role: Role,
    created_by: int | None,
    now: float,
    expires_at: float | None,
) -> ApiKeyRow:
    conn.execute(
        "INSERT INTO api_keys(workspace_id, name, prefix, key_hash, role, created_by, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (workspace_id, name, prefix, key_hash, role.value, created_by, now, expires_at),
    )
    found = api_key_by_id(conn, workspace_id, conn.last_insert_rowid())
    assert found is not None
    return found


def api_key_by_prefix(conn: apsw.Connection, prefix: str) -> ApiKeyRow | None:
    row = one(conn, f"SELECT {_KEY_COLS} FROM api_keys WHERE prefix = ?", (prefix,))
    return _key(row) if row else None


def api_key_by_id(conn: apsw.Connection, workspace_id: int, key_id: int) -> ApiKeyRow | None:
    row = one(
        conn, f"SELECT {_KEY_COLS} FROM api_keys WHERE id = ? AND workspace_id = ?", (key_id, workspace_id)
    )
    return _key(row) if row else None


def list_api_keys(conn: apsw.Connection, workspace_id: int) -> list[ApiKeyRow]:
    return [
        _key(r)
        for r in rows(
            conn,
            f"SELECT {_KEY_COLS} FROM api_keys WHERE workspace_id = ? ORDER BY created_at DESC, id DESC",
            (workspace_id,),
        )
    ]


def revoke_api_key(conn: apsw.Connection, workspace_id: int, key_id: int, now: float) -> ApiKeyRow:
    conn.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND workspace_id = ?",
        (now, key_id, workspace_id),
    )
    found = api_key_by_id(conn, workspace_id, key_id)
    if found is None:
        raise NotFound("no such API key", field="key")
    return found


def touch_api_key(conn: apsw.Connection, key_id: int, now: float) -> None:
    conn.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", (now, key_id))


# --- instance ---------------------------------------------------------------------------


def instance_get(conn: apsw.Connection, key: str) -> str | None:
    value = scalar(conn, "SELECT value FROM instance WHERE key = ?", (key,))
    return None if value is None else str(value)


def instance_set(conn: apsw.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO instance(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET"
        " value = excluded.value",
        (key, value),
    )
