"""``signalcraft integration create|list|rotate|revoke`` run for real, against a served instance.

What the command prints is what a monitoring tool gets pasted into it, so every test sends
real requests with it to a real ``signalcraft serve`` (the Sentry DSN through the real
sentry-sdk) and reads the outcome back through the JSON API. One served instance is shared
by the module; each test makes its own integrations. A running server caches credentials
for ``CACHE_SECONDS``, so a credential rotated or revoked by the CLI (another process) is
refused within that time, and the tests poll for it instead of expecting it at once.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import httpx
import pytest

from signalcraft.auth.rbac import Role
from signalcraft.db import Database
from signalcraft.web.ingest.common import CACHE_SECONDS
from tests.helpers import free_port, member
from tests.ingest_http.conftest import sample
from tests.system.conftest import Served, cli, start, write_config

JSON = {"Content-Type": "application/json"}


@dataclass
class Live:
    """A served data directory with workspace ``acme`` and a signed-in owner for API reads."""

    workdir: Path
    config: Path
    served: Served
    session: str
    log: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.served.url

    @property
    def database(self) -> Path:
        return self.workdir / "data" / "signalcraft.db"

    def run(self, *args: str) -> CompletedProcess[str]:
        return cli("integration", *args, "--config", str(self.config), cwd=self.workdir)

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, cookies={"sc_session": self.session}, timeout=10)

    def groups_of(self, integration_id: int) -> list[dict[str, Any]]:
        with self.api() as client:
            response = client.get(
                "/api/v1/workspaces/acme/alert-groups", params={"integration": str(integration_id)}
            )
        assert response.status_code == 200, response.text
        return response.json()["groups"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    workdir = tmp_path_factory.mktemp("integrations")
    port = free_port()
    config = write_config(workdir, port)
    db = Database(workdir / "data" / "signalcraft.db")
    db.open()
    try:
        owner = member(db, "owner@example.com", Role.OWNER, "acme", time.time(), admin=True)
    finally:
        db.close()
    served = start(workdir, config, port)
    instance = Live(workdir, config, served, owner.session_token)
    # The server logs every request to stderr; drain the pipe so it never fills and blocks.
    stream = served.proc.stderr
    assert stream is not None
    threading.Thread(target=lambda: instance.log.extend(stream), daemon=True).start()
    yield instance
    if served.proc.poll() is None:
        served.proc.kill()
        served.proc.wait(10)


def eventually(check: Callable[[], bool], seconds: float = CACHE_SECONDS + 5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.25)
    return check()


def assert_fails_in_one_line(result: CompletedProcess[str], expected: str, code: int) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert result.stderr.splitlines() == [expected]


# --- what each kind of credential is used for ----------------------------------------------------

# Sends one alert the way the tool would, with what `integration create --json` printed; returns the status.
Sender = Callable[[dict[str, Any]], int]


def _post_sample(source: str, name: str) -> Sender:
    def send(created: dict[str, Any]) -> int:
        return httpx.post(created["ingest_url"], content=sample(source, name), headers=JSON).status_code

    return send


def _pagerduty(created: dict[str, Any]) -> int:
    body = {
        "routing_key": created["credential"]["routing_key"],
        "event_action": "trigger",
        "payload": {"summary": "Disk full on db1", "source": "db1", "severity": "critical"},
    }
    return httpx.post(created["ingest_url"], json=body).status_code


def _opsgenie(created: dict[str, Any]) -> int:
    # Alertmanager's opsgenie_configs take the base URL as api_url and append v2/alerts
    url = created["ingest_url"] + "v2/alerts"
    key = created["credential"]["genie_key"]
    return httpx.post(
        url, json={"message": "Queue backlog"}, headers={"Authorization": f"GenieKey {key}"}
    ).status_code


def _webhook(created: dict[str, Any]) -> int:
    return httpx.post(created["ingest_url"], json={"check": {"name": "API latency"}}).status_code


SDK_SCRIPT = """
import sys, sentry_sdk
sentry_sdk.init(dsn=sys.argv[1], default_integrations=False)
sentry_sdk.capture_message("Payment provider slow", level="error")
sentry_sdk.flush(timeout=10)
"""


def _sentry_sdk(created: dict[str, Any]) -> int:
    """The real client: ``sentry_sdk.init(dsn=<the printed DSN>)`` in its own interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", SDK_SCRIPT, created["credential"]["dsn"]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return 200


KINDS: dict[str, tuple[list[str], Sender]] = {
    "alertmanager": ([], _post_sample("alertmanager", "001-firing-two-alerts-same-summary.json")),
    "prometheus": ([], _post_sample("prometheus", "001-firing-and-resolved.json")),
    "pagerduty": ([], _pagerduty),
    "opsgenie": ([], _opsgenie),
    "sentry": ([], _sentry_sdk),
    "webhook": (["--settings-json", '{"mapping": {"title": "check.name"}}'], _webhook),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_create_prints_the_ingest_url_and_credential_the_tool_needs_and_they_work(
    live: Live, kind: str
) -> None:
    extra, send = KINDS[kind]
    created = live.json("create", "--workspace", "acme", "--type", kind, "--name", f"cli {kind}", *extra)
    assert created["type"] == kind and created["name"] == f"cli {kind}" and created["id"] > 0
    assert created["ingest_url"].startswith(live.url + "/")
    assert created["credential"]["ingest_url"] == created["ingest_url"]
    assert 200 <= send(created) < 300
    assert eventually(lambda: bool(live.groups_of(created["id"])), seconds=10)


def test_create_in_text_shows_the_credential_once_and_list_shows_only_its_hint(live: Live) -> None:
    result = live.run("create", "--workspace", "acme", "--type", "datadog", "--name", "dd text")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("created integration ") and lines[0].endswith("(datadog, dd text)")
    url = lines[1].removeprefix("ingest URL: ")
    token = lines[2].removeprefix("token (shown once, stored hashed): ")
    assert url == f"{live.url}/ingest/{token}" and len(token) == 32
    assert httpx.post(url, content=sample("datadog", "001-triggered.json"), headers=JSON).status_code == 200
    listed = live.run("list", "--workspace", "acme")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.endswith("\tdd text"))
    assert row.split("\t")[1:3] == ["datadog", f"{token[:6]}..."]
    assert token not in listed.stdout


def test_rotate_prints_a_new_credential_and_the_old_one_is_refused(live: Live) -> None:
    created = live.json("create", "--workspace", "acme", "--type", "grafana", "--name", "rotating")
    body = sample("grafana", "001-firing-with-values.json")
    assert httpx.post(created["ingest_url"], content=body, headers=JSON).status_code == 200
    rotated = live.json("rotate", "--workspace", "acme", "--id", str(created["id"]))
    assert rotated["id"] == created["id"] and rotated["ingest_url"] != created["ingest_url"]
    assert httpx.post(rotated["ingest_url"], content=body, headers=JSON).status_code == 200
    assert eventually(
        lambda: httpx.post(created["ingest_url"], content=body, headers=JSON).status_code == 401
    )
    assert httpx.post(rotated["ingest_url"], content=body, headers=JSON).status_code == 200


def test_revoke_makes_the_credential_401_and_keeps_the_alerts(live: Live) -> None:
    created = live.json("create", "--workspace", "acme", "--type", "alertmanager", "--name", "revoking")
    body = sample("alertmanager", "001-firing-two-alerts-same-summary.json")
    assert httpx.post(created["ingest_url"], content=body, headers=JSON).status_code == 200
    result = live.run("revoke", "--workspace", "acme", "--id", str(created["id"]))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"revoked integration {created['id']} (revoking)")
    assert eventually(
        lambda: httpx.post(created["ingest_url"], content=body, headers=JSON).status_code == 401
    )
    assert live.groups_of(created["id"])  # its alerts stay
    listed = {i["id"]: i for i in live.json("list", "--workspace", "acme")}
    assert listed[created["id"]]["revoked_at"] is not None
    refused = live.run("rotate", "--workspace", "acme", "--id", str(created["id"]))
    assert_fails_in_one_line(refused, "error: integration: a revoked integration cannot be rotated", 2)


def test_every_change_is_in_the_audit_log_as_the_cli(live: Live) -> None:
    created = live.json("create", "--workspace", "acme", "--type", "opsgenie", "--name", "audited")
    live.json("rotate", "--workspace", "acme", "--id", str(created["id"]))
    live.json("revoke", "--workspace", "acme", "--id", str(created["id"]))
    with sqlite3.connect(live.database) as conn:
        found = conn.execute(
            "SELECT action, actor FROM audit_log WHERE target = ? ORDER BY id", (str(created["id"]),)
        ).fetchall()
    assert found == [
        ("integration.create", "cli"),
        ("integration.rotate", "cli"),
        ("integration.revoke", "cli"),
    ]


@pytest.mark.parametrize(
    ("args", "expected", "code"),
    [
        (["create", "--type", "nagios", "--name", "x"], "error: --type: choose one of: alertmanager, ", 2),
        (
            ["create", "--type", "webhook", "--name", "x"],
            "error: settings.mapping: a generic webhook needs",
            2,
        ),
        (
            ["create", "--type", "alertmanager", "--name", "x", "--settings-json", "[1]"],
            "error: --settings-json: ",
            2,
        ),
        (["create", "--type", "alertmanager"], "error: --name: is required here", 2),
        (["revoke", "--id", "999999"], "error: integration: no such integration", 1),
        (["rotate"], "error: --id: is required here", 2),
    ],
)
def test_mistakes_fail_in_one_line_and_create_nothing(
    live: Live, args: list[str], expected: str, code: int
) -> None:
    before = integration_rows(live)
    result = live.run(*args, "--workspace", "acme")
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(expected), line
    assert integration_rows(live) == before


def integration_rows(live: Live) -> list[tuple[Any, ...]]:
    with sqlite3.connect(live.database) as conn:
        return conn.execute("SELECT id, token_hash, revoked_at FROM integrations ORDER BY id").fetchall()


def test_an_unknown_workspace_is_named(live: Live) -> None:
    result = live.run("list", "--workspace", "nope")
    assert_fails_in_one_line(result, "error: --workspace: no workspace 'nope'", 1)
