"""The secrets of an HTTP monitor's settings: request header values and the body
(Authorization, cookies, API keys, a login body). Each is stored sealed
(signalcraft.auth.keyring) in place inside ``monitors.settings``, bound to the monitor and a
flat key (``headers.<Name>``, ``body``)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import apsw
import orjson

from signalcraft.auth.keyring import is_sealed, keyring_of
from signalcraft.db.connection import one, rows

if TYPE_CHECKING:
    from signalcraft.db.queries.uptime import MonitorRow


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


SEAL_BINDING = "monitors.settings|id={id}|key={key}"
_HEADER = "headers."


def secret_values(settings: dict[str, Any]) -> dict[str, Any]:
    """The secret values of ``settings`` by flat key: ``headers.<Name>`` and ``body`` (when not empty)."""
    found: dict[str, Any] = {f"{_HEADER}{k}": v for k, v in (settings.get("headers") or {}).items()}
    if settings.get("body"):
        found["body"] = settings["body"]
    return found


def with_secret_values(settings: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with its secret values replaced by ``values`` (flat keys, as above)."""
    out = dict(settings)
    if "headers" in settings:
        out["headers"] = {k: values.get(f"{_HEADER}{k}", "") for k in settings["headers"]}
    if "body" in settings:
        out["body"] = values.get("body", "")
    return out


def sealed_settings(
    conn: apsw.Connection,
    workspace_id: int,
    monitor_id: int,
    settings: dict[str, Any],
    now: float,
    stored: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``settings`` with each secret value sealed; a value equal to the sealed one ``stored``
    holds under its key stays as it is."""
    keyring, kept = keyring_of(conn), secret_values(stored or {})
    sealed = {}
    for key, value in secret_values(settings).items():
        if is_sealed(value) and kept.get(key) == value:
            sealed[key] = value
        else:
            binding = SEAL_BINDING.format(id=monitor_id, key=key)
            sealed[key] = keyring.seal(conn, workspace_id, binding, value, now)
    return with_secret_values(settings, sealed)


def opened(conn: apsw.Connection, monitor: MonitorRow) -> MonitorRow:
    """The monitor with its secret settings in clear. Only for the probe engine."""
    values = secret_values(monitor.settings)
    if not values:
        return monitor
    keyring = keyring_of(conn)
    clear = {
        key: keyring.open(conn, monitor.workspace_id, SEAL_BINDING.format(id=monitor.id, key=key), token)
        for key, token in values.items()
    }
    return replace(monitor, settings=with_secret_values(monitor.settings, clear))


def secret_rows_after(conn: apsw.Connection, after_id: int, limit: int) -> list[tuple[int, int, str]]:
    """(id, workspace id, JSON of the secret values by flat key, maybe ``{}``) of HTTP monitors.
    For signalcraft.auth.sealed_rows (start-up sealing, data-key rotation)."""
    found = rows(
        conn,
        "SELECT id, workspace_id, settings FROM monitors WHERE id > ? AND kind = 'http' ORDER BY id LIMIT ?",
        (after_id, limit),
    )
    return [(r[0], r[1], dumps(secret_values(orjson.loads(r[2])))) for r in found]


def replace_secret_values(conn: apsw.Connection, monitor_id: int, before: str, after: dict[str, Any]) -> bool:
    """Compare-and-set: False when the secret values changed since ``before`` was read."""
    row = one(conn, "SELECT settings FROM monitors WHERE id = ?", (monitor_id,))
    if row is None:
        return False
    settings = orjson.loads(row[0])
    if dumps(secret_values(settings)) != before:
        return False
    resealed = dumps(with_secret_values(settings, after))
    conn.execute("UPDATE monitors SET settings = ? WHERE id = ?", (resealed, monitor_id))
    return True
