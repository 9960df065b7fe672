"""The exception tree. Each is mapped to a response in exactly one place (web/responses.py).

Client mistakes are 4xx with a message naming the field; 5xx means a bug or an outage.
"""

from __future__ import annotations


class SignalCraftError(Exception):
    """Base class. ``status`` is the HTTP status the one mapping uses."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(SignalCraftError):
    status = 400
    code = "invalid_input"


class NotAuthenticated(SignalCraftError):
    status = 401
    code = "not_authenticated"


class Forbidden(SignalCraftError):
    status = 403
    code = "forbidden"


class NotFound(SignalCraftError):
    status = 404
    code = "not_found"


class Conflict(SignalCraftError):
    status = 409
    code = "conflict"


class PayloadTooLarge(SignalCraftError):
    status = 413
    code = "payload_too_large"


class RateLimited(SignalCraftError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class StorageError(SignalCraftError):
    """The database cannot be used (missing, corrupt, read-only). An outage: 503."""

    status = 503
    code = "storage_unavailable"


class StorageFull(StorageError):
    """The disk is full: the write was rolled back whole. 507 so senders retry later."""

    status = 507
    code = "storage_full"
