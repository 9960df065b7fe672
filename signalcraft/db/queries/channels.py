"""Notification channels: a kind, a name, a public config and a secret config (both JSON).

Each value of ``secret_config`` is stored sealed (signalcraft.auth.keyring): a write seals
whatever it is given, :attr:`Channel.secret_config` holds the sealed values (enough to mask
them), and only :func:`secrets_of` / :func:`full_config` open them, for sending and for
re-checking an edited configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import apsw
import orjson

from signalcraft.auth.keyring import is_sealed, keyring_of
from signalcraft.db.connection import Row, one, rows
from signalcraft.errors import Conflict, NotFound

_COLS = (
    "id, workspace_id, kind, name, config, secret_config, created_at, updated_at, deleted_at, broken_at,"
    " broken_reason, broken_group_id"
)


@dataclass(frozen=True, slots=True)
class Channel:
    id: int
    workspace_id: int
    kind: str
    name: str
    config: dict[str, Any] = field(default_factory=dict)
    secret_config: dict[str, Any] = field(default_factory=dict)  # sealed values
    created_at: float = 0.0
    updated_at: float = 0.0
    deleted_at: float | None = None
    broken_at: float | None = None
    broken_reason: str | None = None
    broken_group_id: int | None = None


def _channel(row: Row) -> Channel:
    return Channel(
        row[0],
        row[1],
        row[2],
        row[3],
        orjson.loads(row[4]),
        orjson.loads(row[5]),
        *row[6:],
    )


def _json(value: dict[str, Any]) -> str:
    return orjson.dumps(value).decode()


SEAL_BINDING = "channels.secret_config|id={id}|key={key}"


def _sealed(
    conn: apsw.Connection,
    workspace_id: int,
    channel_id: int,
    secret_config: dict[str, Any],
    now: float,
    stored: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Seal each value; a value equal to the sealed one already stored under its key stays."""
    keyring = keyring_of(conn)
    out: dict[str, str] = {}
    for key, value in secret_config.items():
        if stored is not None and is_sealed(value) and stored.get(key) == value:
            out[key] = value
        else:
            binding = SEAL_BINDING.format(id=channel_id, key=key)
            out[key] = keyring.seal(conn, workspace_id, binding, value, now)
    return out


def secrets_of(conn: apsw.Connection, channel: Channel) -> dict[str, Any]:
    """The channel's secret configuration in clear. Only for sending and for re-checking an edit."""
    keyring = keyring_of(conn)
    return {
        key: keyring.open(conn, channel.workspace_id, SEAL_BINDING.format(id=channel.id, key=key), token)
        for key, token in channel.secret_config.items()
    }


def full_config(conn: apsw.Connection, channel: Channel) -> dict[str, Any]:
    """What a transport reads: public and secret keys together, in clear."""
    return {**channel.config, **secrets_of(conn, channel)}


def _name_taken(
    conn: apsw.Connection,
    workspace_id: int,
    name: str,
    except_id: int | None,
    owner_user_id: int | None = None,
) -> bool:
    return (
        one(
            conn,
            "SELECT 1 FROM channels WHERE workspace_id = ? AND name = ? AND deleted_at IS NULL"
            " AND id IS NOT ? AND owner_user_id IS ?",
            (workspace_id, name, except_id, owner_user_id),
        )
        is not None
    )


def create(
    conn: apsw.Connection,
    workspace_id: int,
    kind: str,
    name: str,
    config: dict[str, Any],
    secret_config: dict[str, Any],
    now: float,
    owner_user_id: int | None = None,
) -> Channel:
    """A workspace channel, or with ``owner_user_id`` a person's own contact method (never
    listed with the workspace's channels nor offered to routing)."""
    if _name_taken(conn, workspace_id, name, None, owner_user_id):
        raise Conflict("a channel with this name exists", field="name")
    conn.execute(
        "INSERT INTO channels(workspace_id, kind, name, config, secret_config, created_at, updated_at,"
        " owner_user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (workspace_id, kind, name, _json(config), "{}", now, now, owner_user_id),
    )
    channel_id = conn.last_insert_rowid()
    if secret_config:  # sealed after the insert: the row id is part of what the seal is bound to
        sealed = _sealed(conn, workspace_id, channel_id, secret_config, now)
        conn.execute("UPDATE channels SET secret_config = ? WHERE id = ?", (_json(sealed), channel_id))
    return get(conn, workspace_id, channel_id, owner_user_id)


def get(
    conn: apsw.Connection, workspace_id: int, channel_id: int, owner_user_id: int | None = None
) -> Channel:
    """A live (not deleted) channel of the workspace (or, with ``owner_user_id``, that
    person's contact method), or NotFound."""
    row = one(
        conn,
        f"SELECT {_COLS} FROM channels WHERE id = ? AND workspace_id = ? AND deleted_at IS NULL"
        " AND owner_user_id IS ?",
        (channel_id, workspace_id, owner_user_id),
    )
    if row is None:
        raise NotFound("no such channel", field="channel_id")
    return _channel(row)


def by_id(conn: apsw.Connection, channel_id: int) -> Channel | None:
    """Any channel, deleted ones included (the worker decides what to do with those)."""
    row = one(conn, f"SELECT {_COLS} FROM channels WHERE id = ?", (channel_id,))
    return _channel(row) if row else None


def list_for(conn: apsw.Connection, workspace_id: int, owner_user_id: int | None = None) -> list[Channel]:
    """The workspace's channels, or with ``owner_user_id`` that person's contact methods."""
    return [
        _channel(r)
        for r in rows(
            conn,
            f"SELECT {_COLS} FROM channels WHERE workspace_id = ? AND deleted_at IS NULL"
            " AND owner_user_id IS ? ORDER BY name",
            (workspace_id, owner_user_id),
        )
    ]


def update(
    conn: apsw.Connection,
    channel: Channel,
    name: str,
    config: dict[str, Any],
    secret_config: dict[str, Any],
    now: float,
) -> Channel:
    owner = owner_of(conn, channel.id)
    if _name_taken(conn, channel.workspace_id, name, channel.id, owner):
        raise Conflict("a channel with this name exists", field="name")
    conn.execute(
        "UPDATE channels SET name = ?, config = ?, secret_config = ?, updated_at = ? WHERE id = ?",
        (
            name,
            _json(config),
            _json(_sealed(conn, channel.workspace_id, channel.id, secret_config, now, channel.secret_config)),
            now,
            channel.id,
        ),
    )
    return get(conn, channel.workspace_id, channel.id, owner)


def owner_of(conn: apsw.Connection, channel_id: int) -> int | None:
    """The user a personal contact method belongs to (None: a workspace channel)."""
    row = one(conn, "SELECT owner_user_id FROM channels WHERE id = ?", (channel_id,))
    return row[0] if row else None


def soft_delete(conn: apsw.Connection, channel: Channel, now: float) -> None:
    conn.execute("UPDATE channels SET deleted_at = ? WHERE id = ?", (now, channel.id))


def mark_broken(conn: apsw.Connection, channel_id: int, now: float, reason: str) -> bool:
    """Compare-and-set: True only for the call that broke it (so one alert is raised)."""
    conn.execute(
        "UPDATE channels SET broken_at = ?, broken_reason = ? WHERE id = ? AND broken_at IS NULL",
        (now, reason[:500], channel_id),
    )
    return conn.changes() == 1


def set_broken_group(conn: apsw.Connection, channel_id: int, group_id: int) -> None:
    conn.execute("UPDATE channels SET broken_group_id = ? WHERE id = ?", (group_id, channel_id))


def clear_broken(conn: apsw.Connection, channel_id: int) -> None:
    conn.execute(
        "UPDATE channels SET broken_at = NULL, broken_reason = NULL, broken_group_id = NULL WHERE id = ?",
        (channel_id,),
    )


# --- for signalcraft.auth.sealed_rows: converting and re-sealing every row ------------------


def secret_rows_after(conn: apsw.Connection, after_id: int, limit: int) -> list[tuple[int, int, str]]:
    """(id, workspace id, stored secret_config JSON) of channels with secrets, deleted ones too."""
    return [
        (r[0], r[1], r[2])
        for r in rows(
            conn,
            "SELECT id, workspace_id, secret_config FROM channels WHERE id > ? AND secret_config <> '{}'"
            " ORDER BY id LIMIT ?",
            (after_id, limit),
        )
    ]


def replace_secret_config(conn: apsw.Connection, channel_id: int, before: str, after: dict[str, Any]) -> bool:
    """Compare-and-set: False when the row changed since ``before`` was read."""
    conn.execute(
        "UPDATE channels SET secret_config = ? WHERE id = ? AND secret_config = ?",
        (_json(after), channel_id, before),
    )
    return conn.changes() == 1
