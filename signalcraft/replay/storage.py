"""Replay files on local disk: one spool file per open session, one compressed file per replay.

Layout under ``<data dir>/replays``::

    spool/<workspace_id>/<session_id>.chunks               open sessions, appended per chunk
    <workspace_id>/<YYYY-MM-DD>/<session_id>.rrweb.zst     finalized replays (date of the start, UTC)

A spool line is ``<facts JSON>\\t<events JSON>\\n`` (JSON text never holds a raw tab or
newline). Each append holds an exclusive ``flock`` on the file and is fsynced before the
caller answers, so an acknowledged chunk survives a crash; a torn last line (power loss
mid-write) is skipped when finalizing. The final file is one zstd frame whose content is
the JSON array of every event, chunks in ``seq`` order, duplicates (a resent chunk)
dropped; it is written to a temporary name, fsynced and renamed into place.

Paths are built only from integers and ids checked by :mod:`signalcraft.replay.ids`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import zstandard

from signalcraft.replay.chunks import Chunk, ChunkFacts
from signalcraft.replay.errors import ReplayStorageFull
from signalcraft.replay.ids import SESSION_ID, check_session_id

ZSTD_LEVEL = 9  # 16.5:1 on the benchmark's recordings; 19 gives 21:1 at 1/90 of the speed (docs/replays.md)
SUFFIX = ".rrweb.zst"
READ_SIZE = 1 << 16
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_DAY = re.compile(r"\A\d{4}-\d{2}-\d{2}\Z")


def disk_free(path: Path) -> int:
    return shutil.disk_usage(path).free


@dataclass(frozen=True, slots=True)
class SpoolEntry:
    facts: ChunkFacts
    offset: int  # of the events JSON in the spool file
    length: int


@dataclass(frozen=True, slots=True)
class FinalFile:
    relative_path: str
    raw_bytes: int
    compressed_bytes: int


class ReplayStore:
    """The replay directory. ``free_bytes`` and ``min_free_bytes`` decide when the disk is
    too full to start a session (tests pass a fake ``free_bytes``; nothing else is faked)."""

    def __init__(
        self, root: Path, *, min_free_bytes: int = 256 << 20, free_bytes: Callable[[Path], int] = disk_free
    ) -> None:
        self.root = root
        self.min_free_bytes = min_free_bytes
        self._free_bytes = free_bytes

    # --- spool ----------------------------------------------------------------------

    def spool_path(self, workspace_id: int, session_id: str) -> Path:
        return self.root / "spool" / str(int(workspace_id)) / f"{check_session_id(session_id)}.chunks"

    def room_for_new_session(self) -> bool:
        self.root.mkdir(parents=True, exist_ok=True)
        return self._free_bytes(self.root) >= self.min_free_bytes

    def append(self, workspace_id: int, session_id: str, chunk: Chunk) -> None:
        """Append one chunk and fsync; ReplayStorageFull when the disk refuses the write."""
        path = self.spool_path(workspace_id, session_id)
        line = chunk.facts.header() + b"\t" + chunk.events_json + b"\n"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                _write_all(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)  # also releases the lock
        except OSError as exc:
            if exc.errno in _FULL:
                raise ReplayStorageFull(
                    "the disk holding replays is full: this chunk was not stored"
                ) from None
            raise

    def read_spool(self, workspace_id: int, session_id: str) -> list[SpoolEntry]:
        """Complete lines in ``seq`` order, the first of each ``seq`` kept; [] if there is no spool."""
        path = self.spool_path(workspace_id, session_id)
        entries: dict[int, SpoolEntry] = {}
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            return []
        with fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH)
            offset = 0
            for line in fh:
                entry = _parse_line(line, offset)
                offset += len(line)
                if entry is not None and entry.facts.seq not in entries:
                    entries[entry.facts.seq] = entry
        return [entries[seq] for seq in sorted(entries)]

    def delete_spool(self, workspace_id: int, session_id: str) -> None:
        self.spool_path(workspace_id, session_id).unlink(missing_ok=True)

    # --- final files ----------------------------------------------------------------

    def final_relative_path(self, workspace_id: int, session_id: str, started_at: float) -> str:
        day = dt.datetime.fromtimestamp(started_at, dt.UTC).strftime("%Y-%m-%d")
        return f"{int(workspace_id)}/{day}/{check_session_id(session_id)}{SUFFIX}"

    def path_of(self, relative_path: str) -> Path:
        """The absolute path of a stored replay; refuses anything not shaped like one."""
        parts = relative_path.split("/")
        if (
            len(parts) != 3
            or not parts[0].isdigit()
            or not _DAY.match(parts[1])
            or not parts[2].endswith(SUFFIX)
            or not SESSION_ID.match(parts[2].removesuffix(SUFFIX))
        ):
            raise ValueError(f"not a replay path: {relative_path!r}")
        return self.root / parts[0] / parts[1] / parts[2]

    def write_final(
        self,
        workspace_id: int,
        session_id: str,
        started_at: float,
        entries: list[SpoolEntry],
    ) -> FinalFile:
        """Compress the spool's events into the replay file (atomically: temp, fsync, rename)."""
        relative = self.final_relative_path(workspace_id, session_id, started_at)
        target = self.path_of(relative)
        spool = self.spool_path(workspace_id, session_id)
        raw_size = _array_size(entries)
        compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_content_size=True)
        temp = target.with_name(f".{target.name}.tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with spool.open("rb") as src, temp.open("wb") as out:
                with compressor.stream_writer(out, size=raw_size, closefd=False) as writer:
                    _copy_events(src, entries, writer)
                out.flush()
                os.fsync(out.fileno())
            temp.replace(target)
            _fsync_dir(target.parent)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            if exc.errno in _FULL:
                raise ReplayStorageFull(
                    "the disk holding replays is full: the replay was not finalized"
                ) from None
            raise
        return FinalFile(relative, raw_size, target.stat().st_size)

    def read_events(self, relative_path: str) -> Iterator[bytes]:
        """The replay's JSON array, decompressed, in pieces."""
        with self.path_of(relative_path).open("rb") as fh:
            reader = zstandard.ZstdDecompressor().stream_reader(fh)
            while piece := reader.read(READ_SIZE):
                yield piece

    def delete_final(self, relative_path: str) -> None:
        """Delete a replay's file, and its day directory once empty."""
        path = self.path_of(relative_path)
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty (or gone): keep it
            path.parent.rmdir()


def _array_size(entries: list[SpoolEntry]) -> int:
    """Bytes of the joined array: brackets, each chunk's events, a comma between chunks."""
    inner = [e.length - 2 for e in entries if e.length > 2]
    return 2 + sum(inner) + max(0, len(inner) - 1)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _parse_line(line: bytes, offset: int) -> SpoolEntry | None:
    """A spool line -> its entry; None for a torn last line (no newline) or a damaged one."""
    header, tab, events = line.partition(b"\t")
    if not tab or not events.startswith(b"[") or not events.endswith(b"]\n"):
        return None
    try:
        facts = ChunkFacts.from_header(header)
    except (ValueError, KeyError, TypeError):
        return None
    return SpoolEntry(facts, offset + len(header) + 1, len(events) - 1)


def _copy_events(src: BinaryIO, entries: list[SpoolEntry], writer: BinaryIO) -> None:
    """Write ``[e1,e2,...]``: each chunk's array without its brackets, joined by commas."""
    writer.write(b"[")
    first = True
    for entry in entries:
        if entry.length <= 2:
            continue
        src.seek(entry.offset + 1)
        remaining = entry.length - 2
        if not first:
            writer.write(b",")
        first = False
        while remaining:
            piece = src.read(min(READ_SIZE, remaining))
            if not piece:
                raise OSError(errno.EIO, "spool file shorter than its index")
            writer.write(piece)
            remaining -= len(piece)
    writer.write(b"]")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
