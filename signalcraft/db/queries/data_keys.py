"""Master-key fingerprints and wrapped per-workspace data keys (migration 0012).

Nothing here encrypts or decrypts: :mod:`signalcraft.auth.keyring` does, and stores the
results through these functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import apsw

from signalcraft.db.connection import one, rows, scalar


@dataclass(frozen=True, slots=True)
class Wrapped:
    workspace_id: int
    version: int
    master_key_id: str
    wrapped: bytes


def master_seq(conn: apsw.Connection, master_key_id: str) -> int | None:
    found = scalar(conn, "SELECT seq FROM master_keys WHERE id = ?", (master_key_id,))
    return None if found is None else int(found)


def master_ids(conn: apsw.Connection) -> list[str]:
    """Every registered master key, oldest first."""
    return [r[0] for r in rows(conn, "SELECT id FROM master_keys ORDER BY seq")]


def add_master(conn: apsw.Connection, master_key_id: str, now: float) -> int:
    """Register a master key as the newest (or return its place if it is known)."""
    known = master_seq(conn, master_key_id)
    if known is not None:
        return known
    seq = int(scalar(conn, "SELECT coalesce(max(seq), 0) + 1 FROM master_keys"))
    conn.execute("INSERT INTO master_keys(id, seq, added_at) VALUES (?, ?, ?)", (master_key_id, seq, now))
    return seq


def delete_masters_before(conn: apsw.Connection, seq: int) -> list[str]:
    """Forget master keys older than ``seq``; their wrappings go with them (cascade)."""
    gone = [r[0] for r in rows(conn, "SELECT id FROM master_keys WHERE seq < ? ORDER BY seq", (seq,))]
    conn.execute("DELETE FROM master_keys WHERE seq < ?", (seq,))
    return gone


def delete_masters_except(conn: apsw.Connection, master_key_id: str) -> None:
    conn.execute("DELETE FROM master_keys WHERE id <> ?", (master_key_id,))


def all_wrapped(conn: apsw.Connection) -> list[Wrapped]:
    return [
        Wrapped(r[0], r[1], r[2], bytes(r[3]))
        for r in rows(
            conn,
            "SELECT workspace_id, version, master_key_id, wrapped FROM data_keys"
            " ORDER BY workspace_id, version, master_key_id",
        )
    ]


def wrapped(conn: apsw.Connection, workspace_id: int, version: int, master_key_id: str) -> bytes | None:
    row = one(
        conn,
        "SELECT wrapped FROM data_keys WHERE workspace_id = ? AND version = ? AND master_key_id = ?",
        (workspace_id, version, master_key_id),
    )
    return None if row is None else bytes(row[0])


def current_version(conn: apsw.Connection, workspace_id: int, master_key_id: str) -> int | None:
    """The newest data key of the workspace that ``master_key_id`` can unwrap."""
    found = scalar(
        conn,
        "SELECT max(version) FROM data_keys WHERE workspace_id = ? AND master_key_id = ?",
        (workspace_id, master_key_id),
    )
    return None if found is None else int(found)


def next_version(conn: apsw.Connection, workspace_id: int) -> int:
    return int(
        scalar(
            conn,
            "SELECT coalesce(max(version), 0) + 1 FROM data_keys WHERE workspace_id = ?",
            (workspace_id,),
        )
    )


def workspaces_with_keys(conn: apsw.Connection) -> list[int]:
    return [r[0] for r in rows(conn, "SELECT DISTINCT workspace_id FROM data_keys ORDER BY workspace_id")]


def insert(
    conn: apsw.Connection, workspace_id: int, version: int, master_key_id: str, blob: bytes, now: float
) -> None:
    conn.execute(
        "INSERT INTO data_keys(workspace_id, version, master_key_id, wrapped, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (workspace_id, version, master_key_id, blob, now),
    )


def delete_versions_before(conn: apsw.Connection, workspace_id: int, version: int) -> int:
    """Delete the workspace's data keys older than ``version``; returns how many (not wrappings)."""
    count = int(
        scalar(
            conn,
            "SELECT count(DISTINCT version) FROM data_keys WHERE workspace_id = ? AND version < ?",
            (workspace_id, version),
        )
    )
    conn.execute("DELETE FROM data_keys WHERE workspace_id = ? AND version < ?", (workspace_id, version))
    return count
