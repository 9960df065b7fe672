"""One process per data directory: an advisory lock held while serving (and restoring)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from signalcraft.errors import SignalCraftError


class DataDirBusy(SignalCraftError):
    status = 409
    code = "data_dir_busy"


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / ".lock"
        self._fd: int | None = None

    def __enter__(self) -> DataDirLock:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise DataDirBusy(
                f"{self._path.parent}: cannot use the data directory ({exc.strerror})"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DataDirBusy(
                f"{self._path.parent}: another SignalCraft process is using this data "
                "directory; stop it first"
            ) from None
        self._fd = fd
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
