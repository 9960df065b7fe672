"""Account operations: sign-in with throttling, sessions, one-time links, API keys.

Every function takes ``now`` (epoch seconds) instead of reading the clock, and does its
writes through the single write path (``db.write``/``db.awrite``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import apsw

from signalcraft.auth import passwords, saml_policy
from signalcraft.auth.rbac import API_KEY_ROLES, Role
from signalcraft.auth.secrets import new_token, same, token_hash
from signalcraft.config import AuthConfig
from signalcraft.db import Database
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import audit
from signalcraft.errors import InvalidInput, NotAuthenticated, RateLimited

SESSION_TOUCH_SECONDS = 60.0  # refresh last_seen at most once a minute: no write per request
API_KEY_TOUCH_SECONDS = 60.0
API_KEY_PATTERN = re.compile(r"^sck_([A-Za-z0-9]{10})_([A-Za-z0-9_-]{43})$")
SETUP_LINK_SECONDS = 7 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class SignedIn:
    token: str
    csrf_token: str
    user: q.User


@dataclass(frozen=True, slots=True)
class CurrentSession:
    session: q.SessionRow
    user: q.User


# --- sign-in ----------------------------------------------------------------------------


def _throttle(conn: apsw.Connection, cfg: AuthConfig, email: str, ip: str, now: float) -> None:
    window = cfg.login_window_minutes * 60.0
    since = now - window
    for kind, count_and_oldest, limit in (
        ("account", q.login_failures_since(conn, since, email=email), cfg.login_max_failures_per_account),
        ("address", q.login_failures_since(conn, since, ip=ip), cfg.login_max_failures_per_ip),
    ):
        count, oldest = count_and_oldest
        if count >= limit and oldest is not None:
            retry = int(oldest + window - now) + 1
            raise RateLimited(
                f"too many failed sign-ins for this {kind}; try again in {max(1, retry // 60 + 1)} min",
                retry_after=retry,
            )


async def sign_in(
    db: Database, cfg: AuthConfig, email: str, password: str, *, ip: str, user_agent: str, now: float
) -> SignedIn:
    """Check the password and open a new session (a fresh token: rotation on login).

    Failures are counted per account and per address; past the configured limit the
    attempt is refused with :class:`RateLimited` before the password is even checked.
    """
    email = email.strip()[:320]
    await db.aread(lambda c: _throttle(c, cfg, email, ip, now))
    user = await db.aread(lambda c: q.user_by_email(c, email))
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if not ok or user is None or user.disabled:

        def fail(conn: apsw.Connection) -> None:
            q.record_login_failure(conn, email, ip, now)
            audit.record(
                conn,
                audit.Actor(email or "(blank)", user.id if user else None, ip),
                "login.failure",
                now,
                target=email,
            )

        await db.awrite(fail)
        raise NotAuthenticated("wrong email or password")
    if not await db.aread(lambda c: saml_policy.password_login_allowed(c, user.id)):
        await db.awrite(
            lambda c: audit.record(
                c,
                audit.Actor(user.email, user.id, ip),
                "login.failure",
                now,
                target=email,
                detail={"reason": "sso_only"},
            )
        )
        raise NotAuthenticated("this workspace requires single sign-on")
    token, csrf = new_token(), new_token()
    rehash = (
        passwords.hash_password(password)
        if user.password_hash and passwords.needs_rehash(user.password_hash)
        else None
    )

    def succeed(conn: apsw.Connection) -> None:
        q.clear_login_failures(conn, email)
        q.create_session(
            conn,
            token_hash(token),
            user.id,
            csrf,
            now,
            now + cfg.session_absolute_hours * 3600.0,
            ip,
            user_agent,
        )
        if rehash:
            conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (rehash, user.id))
        audit.record(conn, audit.Actor(user.email, user.id, ip), "login.success", now, target=user.email)

    await db.awrite(succeed)
    return SignedIn(token, csrf, user)


async def current_session(db: Database, cfg: AuthConfig, token: str, now: float) -> CurrentSession | None:
    """The live session for a cookie value, or None (unknown, expired, idle, disabled user)."""
    if not token or len(token) > 128:
        return None
    hashed = token_hash(token)

    def load(conn: apsw.Connection) -> CurrentSession | None:
        row = q.session_by_hash(conn, hashed)
        if row is None:
            return None
        user = q.user_by_id(conn, row.user_id)
        return CurrentSession(row, user) if user else None

    found = await db.aread(load)
    if found is None or found.user.disabled:
        return None
    idle = cfg.session_idle_minutes * 60.0
    if found.session.expires_at <= now or found.session.last_seen_at + idle <= now:
        await db.awrite(lambda c: q.delete_session(c, found.session.id))
        return None
    if now - found.session.last_seen_at >= SESSION_TOUCH_SECONDS:
        await db.awrite(lambda c: q.touch_session(c, found.session.id, now))
    return found


async def sign_out(db: Database, token: str) -> None:
    hashed = token_hash(token)

    def drop(conn: apsw.Connection) -> None:
        row = q.session_by_hash(conn, hashed)
        if row is not None:
            q.delete_session(conn, row.id)

    await db.awrite(drop)


def check_csrf(expected: str, presented: str | None) -> bool:
    return bool(expected) and presented is not None and same(expected, presented)


# --- one-time links ---------------------------------------------------------------------


def issue_setup_link(conn: apsw.Connection, now: float) -> str | None:
    """A one-time setup token when the instance has no user yet (None otherwise).

    Each call replaces earlier unused setup tokens, so only the last link printed works.
    """
    if q.count_users(conn) > 0:
        return None
    conn.execute("UPDATE one_time_tokens SET used_at = ? WHERE purpose = 'setup' AND used_at IS NULL", (now,))
    token = new_token()
    q.create_one_time_token(conn, "setup", token_hash(token), None, None, now, now + SETUP_LINK_SECONDS)
    return token


def issue_reset_link(
    conn: apsw.Connection,
    cfg: AuthConfig,
    user_id: int,
    actor: audit.Actor,
    now: float,
    workspace_id: int | None = None,
) -> str:
    token = new_token()
    q.create_one_time_token(
        conn,
        "password_reset",
        token_hash(token),
        user_id,
        actor.user_id,
        now,
        now + cfg.reset_link_hours * 3600.0,
    )
    audit.record(conn, actor, "user.reset_link", now, workspace_id=workspace_id, target=str(user_id))
    return token


# --- API keys ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewApiKey:
    key: str  # shown once
    row: q.ApiKeyRow


def create_api_key(
    conn: apsw.Connection,
    workspace_id: int,
    name: str,
    role: Role,
    actor: audit.Actor,
    now: float,
    expires_at: float | None,
) -> NewApiKey:
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("give the key a name of 1 to 100 characters", field="name")
    if role not in API_KEY_ROLES:
        raise InvalidInput("an API key's role is admin, responder or viewer", field="role")
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("must be in the future", field="expires_at")
    prefix = "".join(ch for ch in new_token(16) if ch.isalnum())[:10]
    secret = new_token(32)
    key = f"sck_{prefix}_{secret}"
    row = q.create_api_key(
        conn, workspace_id, name, prefix, token_hash(key), role, actor.user_id, now, expires_at
    )
    audit.record(
        conn,
        actor,
        "apikey.create",
        now,
        workspace_id=workspace_id,
        target=f"sck_{prefix}",
        detail={"after": {"name": name, "role": role.value, "expires_at": expires_at}},
    )
    return NewApiKey(key, row)


async def authenticate_api_key(db: Database, key: str, now: float) -> q.ApiKeyRow:
    """The key's row if it is valid now; NotAuthenticated (one message for every reason) otherwise."""
    match = API_KEY_PATTERN.match(key)
    row = await db.aread(lambda c: q.api_key_by_prefix(c, match[1])) if match else None
    if (
        row is None
        or not same(row.key_hash, token_hash(key))
        or row.revoked_at is not None
        or (row.expires_at is not None and row.expires_at <= now)
    ):
        raise NotAuthenticated("invalid, expired or revoked API key")
    if row.last_used_at is None or now - row.last_used_at >= API_KEY_TOUCH_SECONDS:
        await db.awrite(lambda c: q.touch_api_key(c, row.id, now))
    return row
