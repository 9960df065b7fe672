"""``signalcraft keys rotate``: a new master key, new data keys, or both, while the server runs.

Master key: every data key gets a second wrapping, by the new master key (the old wrapping
stays, so the running server, which knows only the old key, keeps working). The first start
with the new key configured deletes the old key's wrappings (Keyring.start).

Data keys: each workspace gets a new data key (wrapped by the current master key and, in the
same run, the new one), every sealed value is re-sealed with it in small write transactions,
then the old data keys are deleted. Readers open old and new versions alike meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import apsw

from signalcraft.auth import sealed_rows
from signalcraft.auth.keyring import KeyringError, MasterKey, read_master_key_file, wrap, write_new_master_key
from signalcraft.db import Database
from signalcraft.db.queries import audit
from signalcraft.db.queries import data_keys as dk


@dataclass(frozen=True, slots=True)
class MasterRotation:
    previous_id: str
    new_id: str
    file: Path
    created: bool
    wrapped: int  # data keys given a wrapping by the new master key


@dataclass(frozen=True, slots=True)
class DataKeyRotation:
    new_keys: int
    resealed: int  # rows re-encrypted
    retired: int  # old data keys deleted


def master_key_from(path: Path) -> tuple[MasterKey, bool]:
    """The key in ``path``, or a new random one written there (mode 0600). (key, created)."""
    if path.exists():
        return read_master_key_file(path), False
    return write_new_master_key(path), True


def add_master(db: Database, new: MasterKey, created: bool, now: float) -> MasterRotation:
    """Wrap every data key with ``new`` too (idempotent: a re-run wraps what is missing)."""
    keyring = db.keyring
    current = keyring.master
    if new.id == current.id:
        raise KeyringError(f"{new.source}: this is the master key in use (id {new.id}); give a new one")

    def write(conn: apsw.Connection) -> int:
        dk.add_master(conn, new.id, now)
        count = 0
        for w in dk.all_wrapped(conn):
            if w.master_key_id != current.id or dk.wrapped(conn, w.workspace_id, w.version, new.id):
                continue
            key = keyring.data_key(conn, w.workspace_id, w.version)
            dk.insert(conn, w.workspace_id, w.version, new.id, wrap(new, w.workspace_id, w.version, key), now)
            count += 1
        audit.record(
            conn,
            audit.CLI,
            "keys.master_added",
            now,
            detail={
                "previous_master_key_id": current.id,
                "master_key_id": new.id,
                "data_keys_wrapped": count,
            },
        )
        return count

    wrapped = db.write(write)
    return MasterRotation(current.id, new.id, Path(new.source), created, wrapped)


def rotate_data_keys(
    db: Database, now: float, *, also: tuple[MasterKey, ...] = (), batch_size: int = 50
) -> DataKeyRotation:
    """New data keys for every workspace that has one, every secret re-sealed, old keys deleted."""
    keyring = db.keyring

    def make(conn: apsw.Connection) -> dict[int, int]:
        return {ws: keyring.new_data_key(conn, ws, now, also) for ws in dk.workspaces_with_keys(conn)}

    newest = db.write(make)
    resealed = sealed_rows.reseal_all(db, keyring, now, batch_size)

    def retire(conn: apsw.Connection) -> int:
        # Checked in the transaction that deletes: a value sealed meanwhile under an old key keeps it.
        used = sealed_rows.versions_in_use(conn)
        deleted = 0
        for ws, version in newest.items():
            oldest_used = min((v for u, v in used if u == ws), default=version)
            deleted += dk.delete_versions_before(conn, ws, min(version, oldest_used))
        audit.record(
            conn,
            audit.CLI,
            "keys.data_keys_rotated",
            now,
            detail={"workspaces": len(newest), "rows_resealed": resealed, "data_keys_deleted": deleted},
        )
        return deleted

    return DataKeyRotation(len(newest), resealed, db.write(retire))
