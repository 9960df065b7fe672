"""Whole-instance backups: the database and the session replay files in one tar archive.

Layout of an archive (plain tar: the replay files are zstd already, the database is small
next to them and compresses poorly against the cost of doing it while serving)::

    signalcraft-backup.json   manifest: format, version, schema, when, what it holds
    signalcraft.db            a consistent copy (SQLite's backup API; see db/backup.py)
    replays/...               <data dir>/replays as it was just after the database copy

The database is copied first, then the replay files. A replay finalized between the two
is in the archive without its row (harmless: retention deletes files no row points to);
one deleted between the two is missing from the archive and its row says so when played.

Restore checks everything before replacing anything: the manifest, that every member is a
regular file or directory under an expected name (no links, no absolute paths, no ``..``:
tarfile's ``data`` filter enforces it again on extraction), and the database (integrity,
schema version). Then the database is replaced atomically and the replay directory swapped
by renames.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import orjson

from signalcraft import __version__
from signalcraft.db import backup
from signalcraft.errors import InvalidInput, StorageError

FORMAT = "signalcraft-backup/1"
MANIFEST = "signalcraft-backup.json"
DATABASE = "signalcraft.db"
REPLAYS = "replays"
SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True, slots=True)
class ArchiveResult:
    path: Path
    size: int
    version: int
    replay_files: int


def is_sqlite_file(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC


def write_archive(data_dir: Path, database: Path, target: Path) -> ArchiveResult:
    """Write ``target`` (a new file) holding the database and ``<data_dir>/replays``."""
    if target.exists():
        raise InvalidInput(f"{target} exists already; choose a new file name", field="file")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".signalcraft-backup-") as tmp:
        copy = backup.backup_database(database, Path(tmp) / DATABASE)
        try:
            with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
                replay_files = _add_all(tar, copy.path, data_dir / REPLAYS, copy.version)
            with partial.open("rb") as fh:
                os.fsync(fh.fileno())
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise StorageError(f"backup failed writing {target}: {exc.strerror or exc}") from None
    partial.rename(target)
    return ArchiveResult(target, target.stat().st_size, copy.version, replay_files)


def _add_all(tar: tarfile.TarFile, database_copy: Path, replays: Path, version: int) -> int:
    files = sorted(p for p in replays.rglob("*") if p.is_file()) if replays.is_dir() else []
    manifest = {
        "format": FORMAT,
        "signalcraft": __version__,
        "schema_version": version,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    data = orjson.dumps(manifest, option=orjson.OPT_INDENT_2)
    info = tarfile.TarInfo(MANIFEST)
    info.size = len(data)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))
    tar.add(database_copy, arcname=DATABASE)
    added = 0
    for path in files:
        arcname = f"{REPLAYS}/{path.relative_to(replays).as_posix()}"
        try:
            with path.open("rb") as fh:
                info = tar.gettarinfo(fileobj=fh, arcname=arcname)
                # A spool file may grow while it is read: the archive keeps the size seen
                # here (whole lines up to it, or a torn last line the reader skips).
                tar.addfile(info, fh)
        except FileNotFoundError:
            continue  # deleted by retention since the listing
        added += 1
    return added


def _checked_members(tar: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    members = tar.getmembers()
    names = {m.name for m in members}
    if MANIFEST not in names or DATABASE not in names:
        raise InvalidInput(f"{archive}: not a SignalCraft backup (no {MANIFEST} or {DATABASE})", field="file")
    for member in members:
        parts = PurePosixPath(member.name).parts
        allowed = member.name in (MANIFEST, DATABASE) or (parts[:1] == (REPLAYS,) and ".." not in parts)
        if not allowed or not (member.isfile() or member.isdir()) or member.name.startswith("/"):
            raise InvalidInput(
                f"{archive}: unexpected member {member.name!r}; refusing to restore", field="file"
            )
    manifest_file = tar.extractfile(MANIFEST)
    if manifest_file is None:
        raise InvalidInput(f"{archive}: unreadable manifest", field="file")
    try:
        manifest = orjson.loads(manifest_file.read())
    except orjson.JSONDecodeError:
        raise InvalidInput(f"{archive}: the manifest is not JSON", field="file") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidInput(f"{archive}: unknown backup format (expected {FORMAT})", field="file")
    return members


def restore_archive(archive: Path, data_dir: Path, database: Path) -> ArchiveResult:
    """Replace the database and the replay directory with the archive's. Nothing changes
    unless the whole archive checks out."""
    try:
        tar = tarfile.open(archive, "r:")  # noqa: SIM115 (closed by the with below)
    except (tarfile.TarError, OSError) as exc:
        raise InvalidInput(f"{archive}: not a SignalCraft backup ({exc})", field="file") from None
    with tar, tempfile.TemporaryDirectory(dir=data_dir, prefix=".restoring-") as tmp:
        staging = Path(tmp)
        try:
            members = _checked_members(tar, archive)
            tar.extractall(staging, members=members, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise InvalidInput(f"{archive}: cannot be read completely ({exc})", field="file") from None
        version = backup.check_backup(staging / DATABASE)
        replay_files = sum(1 for p in (staging / REPLAYS).rglob("*") if p.is_file())
        backup.restore_database(staging / DATABASE, database)
        _swap_replays(staging / REPLAYS, data_dir / REPLAYS)
    return ArchiveResult(archive, archive.stat().st_size, version, replay_files)


def _swap_replays(restored: Path, live: Path) -> None:
    restored.mkdir(exist_ok=True)
    old = live.with_name(live.name + ".before-restore")
    if old.exists():
        shutil.rmtree(old)
    with contextlib.suppress(FileNotFoundError):
        live.rename(old)
    restored.rename(live)
    if old.exists():
        shutil.rmtree(old)
