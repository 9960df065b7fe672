"""Test helpers: a settable clock, users and sessions made directly in a real database."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass

from signalcraft.auth.passwords import hash_password
from signalcraft.auth.rbac import Role
from signalcraft.auth.secrets import new_token, token_hash
from signalcraft.db import Database
from signalcraft.db.queries import accounts as q

PASSWORD = "correct horse battery"
_HASH = hash_password(PASSWORD)  # hashed once: argon2id is slow on purpose


class FakeClock:
    """A clock tests move by hand: time is a parameter, nothing sleeps."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class Member:
    user: q.User
    workspace: q.Workspace
    role: Role
    session_token: str = ""
    csrf: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def workspace(db: Database, slug: str, now: float) -> q.Workspace:
    found = db.read(lambda c: q.workspace_by_slug(c, slug))
    return found or db.write(lambda c: q.create_workspace(c, slug, slug.title(), now))


def member(db: Database, email: str, role: Role, ws_slug: str, now: float, *, admin: bool = False) -> Member:
    """A user with a password (PASSWORD), a membership, and a live session."""
    ws = workspace(db, ws_slug, now)

    def create(conn: object) -> q.User:
        user = q.user_by_email(conn, email) or q.create_user(
            conn,
            email,
            email.split("@")[0],
            _HASH,
            now,  # type: ignore[arg-type]
            instance_admin=admin,
        )
        q.set_membership(conn, ws.id, user.id, role, now)  # type: ignore[arg-type]
        return user

    user = db.write(create)
    token, csrf = new_token(), new_token()
    db.write(
        lambda c: q.create_session(c, token_hash(token), user.id, csrf, now, now + 86400.0, "127.0.0.1", "t")
    )
    return Member(user, ws, role, token, csrf)


def hidden_csrf(html: str) -> str:
    found = re.search(r'name="_csrf" value="([^"]*)"', html)
    assert found, "no _csrf field on the page"
    return found.group(1)
