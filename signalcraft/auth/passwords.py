"""Passwords: argon2id (argon2-cffi's RFC 9106 low-memory profile), rehash on parameter change."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import RFC_9106_LOW_MEMORY

from signalcraft.errors import InvalidInput

_HASHER = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)
@functools.cache
def _dummy() -> str:
    """Verifying against this keeps the time of "no such user" equal to "wrong password".
    Made on first use: hashing at import cost every CLI command 0.2 s."""
    return _HASHER.hash("signalcraft-timing-equaliser")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _dummy(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)


def check_new_password(password: str, *, min_length: int, field: str = "password") -> None:
    if len(password) < min_length:
        raise InvalidInput(f"must be at least {min_length} characters", field=field)
    if len(password) > 1024:
        raise InvalidInput("must be at most 1024 characters", field=field)
    if password.strip() == "":
        raise InvalidInput("must not be blank", field=field)
