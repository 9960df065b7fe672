"""The two names that come from outside and end up in paths and SQL: session ids and keys.

Both are checked against a strict pattern before anything else looks at them, so a file
name built from one can never contain a separator, a dot or a NUL.
"""

from __future__ import annotations

import re
import secrets

from signalcraft.errors import InvalidInput

# The recorder makes 32 hex characters; other clients may use any URL-safe id of this size.
SESSION_ID = re.compile(r"\A[A-Za-z0-9_-]{16,64}\Z")
PUBLIC_KEY = re.compile(r"\Ascr_[A-Za-z0-9_-]{24}\Z")


def check_session_id(value: str) -> str:
    """``value`` if it is a valid session id, else InvalidInput (400) naming ``session_id``."""
    if not SESSION_ID.match(value):
        raise InvalidInput("must be 16 to 64 characters from A-Z, a-z, 0-9, '-' and '_'", field="session_id")
    return value


def is_public_key(value: str) -> bool:
    return bool(PUBLIC_KEY.match(value))


def new_public_key() -> str:
    """A recorder key: public (it is in the page), random so it cannot be guessed from a slug."""
    return "scr_" + secrets.token_urlsafe(18)
