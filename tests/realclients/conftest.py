"""A served SignalCraft provisioned the way an admin does it, and the peers that talk to it.

:func:`provision` runs ``signalcraft init`` and ``signalcraft apikey create`` (the CLI),
starts ``signalcraft serve`` (``tests.system.conftest.start``) and creates integrations
through the JSON API. :func:`run_peer` starts a peer binary (Alertmanager, Prometheus)
under ``timeout`` so it stops by itself even if the test run is killed. Tests wait for
state with :func:`wait_for` (poll with a deadline), never with a fixed sleep.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.helpers import PASSWORD, free_port
from tests.system.conftest import Served, cli, start, write_config

T = TypeVar("T")
WORKSPACE = "default"
OWNER = "owner@example.com"
DEADLINE = 60.0  # seconds any awaited state may take
PEER_LIFETIME = 240  # seconds; `timeout` kills a peer that outlives its test


def wait_for(
    check: Callable[[], T | None],
    what: str | Callable[[], str],
    timeout: float = DEADLINE,
    every: float = 0.2,
) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` (a callable is
    asked only then, e.g. for a peer's log) and the last value."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    described = what() if callable(what) else what
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {described}; last value: {last!r}")


@dataclass(frozen=True)
class Integration:
    id: int
    type: str
    ingest_url: str
    credential: str


@dataclass
class Appliance:
    """A running SignalCraft with a workspace, an owner and an admin API key."""

    workdir: Path
    config: Path
    port: int
    api_key: str
    served: Served | None = None
    server_log: list[str] = field(default_factory=list)
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.workdir / "data" / "signalcraft.db"

    def serve(self) -> Served:
        self.served = start(self.workdir, self.config, self.port)
        # The server logs every request to stderr: drain the pipe so it never fills up and blocks.
        stream = self.served.proc.stderr
        assert stream is not None
        threading.Thread(target=lambda: self.server_log.extend(stream), daemon=True).start()
        return self.served

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as when the machine's OOM killer strikes."""
        if self.served is not None and self.served.proc.poll() is None:
            self.served.proc.kill()
            self.served.proc.wait(10)

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(
            method,
            f"{self.url}/api/v1/workspaces/{WORKSPACE}{path}",
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=10,
            **kwargs,
        )
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def create_integration(
        self, type_: str, name: str = "", settings: dict[str, Any] | None = None
    ) -> Integration:
        body = self.api(
            "POST", "/integrations", json={"type": type_, "name": name or type_, "settings": settings or {}}
        )
        credential = next(v for k, v in body["credential"].items() if k != "ingest_url")
        return Integration(body["integration"]["id"], type_, body["ingest_url"], credential)

    def groups(self, integration: Integration, status: str = "") -> list[dict[str, Any]]:
        """Every group of the integration (all pages), newest activity first."""
        found: list[dict[str, Any]] = []
        cursor = ""
        while True:
            page = self.api(
                "GET",
                "/alert-groups",
                params={"integration": integration.id, "status": status, "limit": 200, "cursor": cursor},
            )
            found += page["groups"]
            cursor = page["next_cursor"]
            if not cursor:
                return found

    def group(self, group_id: int) -> dict[str, Any]:
        """A group's detail: ``{group, alerts, timeline}``."""
        return self.api("GET", f"/alert-groups/{group_id}")

    def alerts(self, integration: Integration) -> list[dict[str, Any]]:
        """Every alert of the integration, each with its group under ``_group``."""
        found = []
        for g in self.groups(integration):
            detail = self.group(g["id"])
            found += [{**a, "_group": detail["group"]} for a in detail["alerts"]]
        return found

    def ingest_log(self, integration: Integration) -> list[dict[str, Any]]:
        return self.api("GET", f"/integrations/{integration.id}/ingest-log")


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args}: {result.stderr}"
    return result.stdout


def provision(workdir: Path, extra_config: str = "") -> Appliance:
    """``signalcraft init`` + an admin API key, then ``signalcraft serve`` on a free port."""
    port = free_port()
    config = workdir / "signalcraft.toml"
    _ok(
        cli(
            "init",
            "--config",
            str(config),
            "--data-dir",
            str(workdir / "data"),
            "--email",
            OWNER,
            "--password-file",
            "-",
            cwd=workdir,
            stdin=PASSWORD + "\n",
        )
    )
    write_config(workdir, port, extra_config)  # same data dir, plus the port and test settings
    key = json.loads(
        _ok(
            cli(
                "apikey",
                "create",
                "--workspace",
                WORKSPACE,
                "--name",
                "realclients",
                "--role",
                "admin",
                "--json",
                "--config",
                str(config),
                cwd=workdir,
            )
        )
    )["key"]
    appliance = Appliance(workdir, config, port, key)
    appliance.serve()
    return appliance


@pytest.fixture(scope="package")
def appliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Appliance]:
    """One SignalCraft for the package; each test (or module) creates its own integrations in it."""
    served = provision(tmp_path_factory.mktemp("signalcraft"))
    try:
        yield served
    finally:
        served.kill()


# --- peer binaries -----------------------------------------------------------------------------


def require_binary(name: str) -> str:
    path = shutil.which(name)
    assert path is not None, f"{name} is not installed (scripts/test installs it)"
    return path


@contextlib.contextmanager
def run_peer(args: list[str], log: Path, ready_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run a peer binary until the block ends (SIGTERM, then SIGKILL); wait for ``ready_url`` to answer 200.

    ``timeout`` bounds its life even when nobody is left to stop it; it forwards SIGTERM.
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["timeout", "-s", "KILL", str(PEER_LIFETIME), *args], stdout=out, stderr=subprocess.STDOUT
        )
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"{args[0]} exited with {proc.returncode}:\n{log.read_text()}")
            try:
                return httpx.get(ready_url, timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, f"{args[0]} to answer {ready_url}", timeout=30, every=0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def peer_log(log: Path) -> str:
    """The peer's output, for assertion messages."""
    return log.read_text(errors="replace")[-4000:] if log.exists() else ""
