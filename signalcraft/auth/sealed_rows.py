"""Every column that holds sealed secrets, and the two walks over all of its rows:

- at start-up, seal values still in plaintext (written before migration 0012: SQL cannot
  encrypt, so this runs in Python after the migrations; idempotent);
- during a data-key rotation, re-seal values sealed under an older data key, in small
  batches, each its own write transaction (compare-and-set, so a concurrent edit wins).

A column here gives a JSON object whose values are sealed one by one, bound to
``purpose.format(id=<row id>, key=<name>)`` (for ``monitors.settings``, the secret part of
the settings, by flat key).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import apsw
import orjson

from signalcraft.auth.keyring import Keyring, is_sealed, version_of
from signalcraft.db.queries import channels as cq
from signalcraft.db.queries import uptime as uq

if TYPE_CHECKING:
    from signalcraft.db import Database


@dataclass(frozen=True)
class SealedColumn:
    name: str
    purpose: str
    rows_after: Callable[[apsw.Connection, int, int], list[tuple[int, int, str]]]
    replace: Callable[[apsw.Connection, int, str, dict[str, Any]], bool]


COLUMNS: tuple[SealedColumn, ...] = (
    SealedColumn("channels.secret_config", cq.SEAL_BINDING, cq.secret_rows_after, cq.replace_secret_config),
    # HTTP monitors: header values and body, as flat keys ("headers.Authorization", "body")
    SealedColumn("monitors.settings", uq.SEAL_BINDING, uq.secret_rows_after, uq.replace_secret_values),
)


def _resealed(
    conn: apsw.Connection,
    keyring: Keyring,
    column: SealedColumn,
    row: tuple[int, int, str],
    now: float,
    *,
    rotate: bool,
) -> dict[str, Any] | None:
    """The row's values sealed as they should be now, or None when nothing changes."""
    row_id, workspace_id, stored = row
    values: dict[str, Any] = orjson.loads(stored)
    current = keyring.current_version(conn, workspace_id, now) if rotate else None
    out, changed = {}, False
    for key, value in values.items():
        purpose = column.purpose.format(id=row_id, key=key)
        if not is_sealed(value):
            out[key], changed = keyring.seal(conn, workspace_id, purpose, value, now), True
        elif current is not None and version_of(value) != current:
            plain = keyring.open(conn, workspace_id, purpose, value)
            out[key], changed = keyring.seal(conn, workspace_id, purpose, plain, now), True
        else:
            out[key] = value
    return out if changed else None


def _batch(
    conn: apsw.Connection,
    keyring: Keyring,
    column: SealedColumn,
    after_id: int,
    limit: int,
    now: float,
    *,
    rotate: bool,
) -> tuple[int | None, int]:
    """(last row id seen or None at the end, rows rewritten)."""
    found = column.rows_after(conn, after_id, limit)
    changed = 0
    for row in found:
        new = _resealed(conn, keyring, column, row, now, rotate=rotate)
        if new is not None and column.replace(conn, row[0], row[2], new):
            changed += 1
    return (found[-1][0] if found else None), changed


def seal_plaintext(conn: apsw.Connection, keyring: Keyring, now: float, batch_size: int = 200) -> int:
    """Seal every plaintext secret in one transaction (at start-up, before the writer runs).
    Returns the rows sealed."""
    total = 0
    # Zero the freed plaintext in the pages rewritten, then checkpoint and empty the WAL: the
    # old values must not survive in the file's free space or in old WAL frames.
    conn.execute("PRAGMA secure_delete=ON")
    try:
        with conn:
            for column in COLUMNS:
                after: int | None = 0
                while after is not None:
                    after, changed = _batch(conn, keyring, column, after, batch_size, now, rotate=False)
                    total += changed
        if total:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.execute("PRAGMA secure_delete=OFF")
    return total


def reseal_all(db: Database, keyring: Keyring, now: float, batch_size: int = 50) -> int:
    """Re-seal every value not under its workspace's newest data key, ``batch_size`` rows per
    write transaction, through the single writer. Returns rows rewritten."""
    total = 0
    for column in COLUMNS:
        after: int | None = 0
        while after is not None:
            start = after

            def step(
                conn: apsw.Connection, start: int = start, column: SealedColumn = column
            ) -> tuple[int | None, int]:
                return _batch(conn, keyring, column, start, batch_size, now, rotate=True)

            after, changed = db.write(step)
            total += changed
    return total


def versions_in_use(conn: apsw.Connection) -> set[tuple[int, int]]:
    """(workspace id, data key version) of every sealed value stored."""
    used: set[tuple[int, int]] = set()
    for column in COLUMNS:
        after = 0
        while True:
            found = column.rows_after(conn, after, 500)
            if not found:
                break
            for _row_id, workspace_id, stored in found:
                used.update(
                    (workspace_id, version_of(v)) for v in orjson.loads(stored).values() if is_sealed(v)
                )
            after = found[-1][0]
    return used
