"""SSO-only enforcement: who may still sign in with a password.

Kept apart from :mod:`signalcraft.auth.saml` so password sign-in does not import pysaml2.
"""

from __future__ import annotations

import apsw

from signalcraft.db.queries import sso as sq


def password_login_allowed(conn: apsw.Connection, user_id: int) -> bool:
    """False when the user belongs to a workspace that requires SSO, unless they are that
    workspace's designated break-glass owner (the way back in when the IdP is down)."""
    return all(break_glass == user_id for _, break_glass in sq.sso_only_workspaces_of(conn, user_id))
