"""A real ``signalcraft serve`` process on a free loopback port, in a temporary directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port


@dataclass
class Served:
    proc: subprocess.Popen[str]
    port: int
    workdir: Path
    config: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def output(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read()


def cli(
    *args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "signalcraft", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def start(workdir: Path, config: Path | None, port: int, env: dict[str, str] | None = None) -> Served:
    args = [sys.executable, "-m", "signalcraft", "serve"] + (["--config", str(config)] if config else [])
    proc = subprocess.Popen(
        args,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    served = Served(proc, port, workdir, config or workdir / "none.toml")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited with {proc.returncode}: {served.output()}")
        try:
            if httpx.get(f"{served.url}/readyz", timeout=1).status_code == 200:
                return served
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("serve did not become ready in 30 s")


def write_config(workdir: Path, port: int, extra: str = "") -> Path:
    path = workdir / "signalcraft.toml"
    path.write_text(f'[server]\nport = {port}\n[data]\ndir = "{workdir / "data"}"\n{extra}')
    return path


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    server = start(tmp_path, write_config(tmp_path, port), port)
    yield server
    if server.proc.poll() is None:
        server.proc.kill()
        server.proc.wait(10)
