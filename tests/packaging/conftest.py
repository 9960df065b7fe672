"""The single binary, built once per session through scripts/build-binary (cached under
.cache/binary/<hash>/ between runs), and helpers that run it as a user would: in its own
working directory, with its own TMPDIR (where the one-file bootloader unpacks itself)."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "scripts" / "build-binary"
ARTIFACTS = ROOT / "test-artifacts"
BUILD_TIMEOUT = 1800.0
READY_TIMEOUT = 60.0


@dataclass
class Build:
    path: Path
    seconds: float  # wall time of the scripts/build-binary call (a build, or a cache hit)
    info: dict[str, Any]  # build.json written beside the binary by the build
    migrations: list[str]  # the migration files inside the binary, in order

    @property
    def key(self) -> str:
        return self.path.parent.name

    @property
    def schema_version(self) -> int:
        """The schema version this binary migrates to."""
        return len(self.migrations)

    def stale(self) -> bool:
        """Has a source file or package changed since this build? (Engineers share the tree.)"""
        return current_key() != self.key


def current_key() -> str:
    result = subprocess.run(
        [str(BUILD_SCRIPT), "--hash"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=True
    )
    return result.stdout.strip()


def bundled_migrations(binary: Path) -> list[str]:
    from PyInstaller.archive.readers import CArchiveReader

    prefix = "signalcraft/db/migrations/"
    names = CArchiveReader(str(binary)).toc
    return sorted(n.removeprefix(prefix) for n in names if n.startswith(prefix) and n.endswith(".sql"))


@pytest.fixture(scope="session")
def build() -> Build:
    return run_build()


def current(build: Build) -> Build:
    """``build``, or a new one when the sources changed since (engineers share a working tree;
    a clean checkout never changes under a run)."""
    return run_build() if build.stale() else build


def run_build() -> Build:
    started = time.monotonic()
    result = subprocess.run(
        [str(BUILD_SCRIPT)], cwd=ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT
    )
    assert result.returncode == 0, f"scripts/build-binary failed:\n{result.stderr[-6000:]}"
    path = Path(result.stdout.strip().splitlines()[-1])
    path = path if path.is_absolute() else ROOT / path
    assert path.is_file() and os.access(path, os.X_OK), path
    info_file = path.parent / "build.json"
    info = json.loads(info_file.read_text()) if info_file.exists() else {}
    importlib.invalidate_caches()  # the build may have just installed PyInstaller into this venv
    return Build(path, time.monotonic() - started, info, bundled_migrations(path))


@pytest.fixture(scope="session")
def binary(build: Build) -> Path:
    return build.path


def record(**values: Any) -> None:
    """Merge measurements into test-artifacts/binary.json (size, build and start-up times)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "binary.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update(values)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


@dataclass
class Box:
    """A working directory and a private TMPDIR for runs of the binary."""

    binary: Path
    workdir: Path
    tmpdir: Path
    env: dict[str, str] = field(default_factory=dict)

    def environ(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALCRAFT_")}
        return {**base, "TMPDIR": str(self.tmpdir), **self.env, **(extra or {})}

    def run(
        self, *args: str, stdin: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binary), *args],
            cwd=self.workdir,
            capture_output=True,
            text=True,
            input=stdin,
            timeout=timeout,
            env=self.environ(),
        )

    def ok(self, *args: str, stdin: str | None = None) -> str:
        result = self.run(*args, stdin=stdin)
        assert result.returncode == 0, f"signalcraft {' '.join(args)} -> {result.returncode}\n{result.stderr}"
        return result.stdout

    def json(self, *args: str, stdin: str | None = None) -> Any:
        return json.loads(self.ok(*args, "--json", stdin=stdin))

    def leftovers(self) -> list[str]:
        """What the bootloader left in TMPDIR (its _MEI* unpack directories)."""
        return sorted(p.name for p in self.tmpdir.iterdir())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants (the one-file bootloader runs
    the server as its child), from /proc; 0 where /proc is not readable."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / tick
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += cpu_seconds(int(child))
    except (OSError, IndexError, ValueError):
        return 0.0
    return total


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    ready_after: float  # wall seconds from start to the first 200 on /readyz
    cpu_to_ready: float = 0.0  # CPU seconds spent by then: steadier than wall time on a busy machine

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 45) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def serve(box: Box, *args: str, port: int | None = None) -> Served:
    """``signalcraft serve ARGS`` until /readyz answers 200; the time that took is measured."""
    port = port or free_port()
    log = box.workdir / f"serve-{port}.log"
    with log.open("wb") as sink:
        started = time.monotonic()
        proc = subprocess.Popen(
            [str(box.binary), "serve", *args],
            cwd=box.workdir,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=box.environ({"SIGNALCRAFT_SERVER_PORT": str(port)}),
        )
    served = Served(proc, port, log, 0.0)
    deadline = started + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited with {proc.returncode}:\n{served.output()}")
        try:
            if httpx.get(f"{served.url}/readyz", timeout=2).status_code == 200:
                served.ready_after = time.monotonic() - started
                served.cpu_to_ready = cpu_seconds(proc.pid)
                return served
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    served.kill()
    raise AssertionError(f"serve was not ready in {READY_TIMEOUT:.0f} s:\n{served.output()}")


def _noexec(mount_point: Path) -> bool:
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return True
    for line in mounts:
        fields = line.split()
        if len(fields) > 3 and fields[1] == str(mount_point):
            return "noexec" in fields[3].split(",")
    return True


def unpack_dir(tmp_path: Path) -> Path:
    """Where the binary unpacks itself: a RAM-backed directory when there is one (each start
    writes ~55 MB; on a shared disk that is a second or more), else under tmp_path."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) and not _noexec(shm):
        return Path(tempfile.mkdtemp(prefix="signalcraft-test-", dir=shm))
    path = tmp_path / "tmp"
    path.mkdir()
    return path


@pytest.fixture
def box(binary: Path, tmp_path: Path) -> Iterator[Box]:
    workdir, tmpdir = tmp_path / "work", unpack_dir(tmp_path)
    workdir.mkdir()
    try:
        yield Box(binary, workdir, tmpdir)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
