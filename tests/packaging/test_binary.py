"""The single ``signalcraft`` executable (packaging/signalcraft.spec, built and cached by
scripts/build-binary), run as an admin would run it: every CLI command, ``serve`` from an
empty directory on the embedded defaults, an alert posted and stored, the UI with its
static files, a clean stop on SIGTERM, an older database migrated, backup and restore.

The first run on a machine builds the binary (about two minutes on 2 cores); later runs
reuse .cache/binary/<hash>/signalcraft until a source file, the spec or an installed
package changes. Measurements go to test-artifacts/binary.json.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from signalcraft import __version__
from signalcraft.cli import build_parser
from signalcraft.db import migrate
from signalcraft.db.connection import open_connection
from tests.helpers import hidden_csrf
from tests.packaging.conftest import (
    BUILD_SCRIPT,
    ROOT,
    Box,
    Build,
    Served,
    current,
    record,
    serve,
    unpack_dir,
)

pytestmark = pytest.mark.slow

MAX_BYTES = 80 * 1024 * 1024
# The target is 3 s (docs/install.md has the measurements). Wall time on a 2-core machine
# shared with other test runs varies several-fold, so the assertion is on the CPU time spent
# until ready (about 4 s today), and only catches a start-up that got several times heavier.
COLD_START_CPU_LIMIT = 15.0
PASSWORD = "correct horse battery staple"
SEEDS = ROOT / "tests" / "fixtures" / "migrations"
ALERT = ROOT / "tests" / "fixtures" / "payloads" / "alertmanager" / "001-firing-two-alerts-same-summary.json"


def subcommands() -> set[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return set(action.choices)  # type: ignore[arg-type]


def init_instance(box: Box, *, workspace: str = "acme") -> Path:
    """``signalcraft init`` with a data directory beside the config; returns the config path."""
    config = box.workdir / "signalcraft.toml"
    box.ok(
        "init",
        "--config",
        str(config),
        "--email",
        "owner@example.com",
        "--workspace",
        workspace,
        "--data-dir",
        str(box.workdir / "data"),
        "--password-file",
        "-",
        stdin=PASSWORD + "\n",
    )
    return config


# --- the build ----------------------------------------------------------------------------


def test_the_build_is_one_executable_under_80_mb(build: Build) -> None:
    size = build.path.stat().st_size
    record(
        bytes=size, megabytes=round(size / 1e6, 1), build=build.info, build_call_seconds=round(build.seconds)
    )
    assert build.path.name == "signalcraft"
    assert size < MAX_BYTES, f"{size / 1e6:.1f} MB"
    assert build.path.read_bytes()[:4] == b"\x7fELF"


def test_the_bundle_holds_templates_static_files_migrations_example_config_and_late_imports(
    build: Build,
) -> None:
    from PyInstaller.archive.readers import CArchiveReader  # installed by scripts/build-binary

    build = current(build)
    archive = CArchiveReader(str(build.path))
    names = set(archive.toc)
    expected_files = {
        "config.example.toml",
        "web/base.html",
        "static/app.css",
        "static/app.js",
        "static/vendor/htmx/htmx.min.js",
        *(f"signalcraft/db/migrations/{p.name}" for p in (ROOT / "signalcraft/db/migrations").glob("*.sql")),
    }
    assert expected_files <= names, sorted(expected_files - names)
    assert build.migrations == sorted(p.name for p in (ROOT / "signalcraft/db/migrations").glob("*.sql"))
    assert any(n.startswith("saml2/data/schemas/") and n.endswith(".xsd") for n in names)
    assert any(n.startswith("xmlschema/schemas/") for n in names)
    assert any(n.startswith("apsw/__init__") and n.endswith(".so") for n in names)
    assert any(n.startswith("zstandard/backend_c") for n in names)
    assert any(n.startswith("aiohttp/_http_parser") and n.endswith(".so") for n in names)
    modules = set(archive.open_embedded_archive("PYZ.pyz").toc)
    late_imports = {
        "uvicorn.loops.uvloop",
        "uvicorn.protocols.http.httptools_impl",
        "uvicorn.protocols.http.h11_impl",
        "uvicorn.protocols.websockets.websockets_impl",
        "uvicorn.lifespan.on",
        "huey.storage",
        "prometheus_client",
        "sqlite_utils.db",
        "jinja2",
        "saml2.xml.schema",
        "argon2",
        "msgspec",
        "aiohttp.client",  # the outbound client, imported on first use
        "aiohttp.resolver",
        "aiohttp.abc",
        "yarl",
    }
    assert late_imports <= modules, sorted(late_imports - modules)
    for test_only in ("pytest", "hypothesis", "playwright", "mypy"):
        assert test_only not in modules


def test_a_second_build_request_reuses_the_cached_binary(build: Build) -> None:
    build = current(build)
    started = time.monotonic()
    again = subprocess.run([str(BUILD_SCRIPT)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    seconds = time.monotonic() - started
    assert again.returncode == 0, again.stderr
    path = Path(again.stdout.strip().splitlines()[-1])
    assert (path if path.is_absolute() else ROOT / path) == build.path
    assert "cached" in again.stderr
    record(cached_build_seconds=round(seconds, 2))
    assert seconds < 120


# --- the CLI ------------------------------------------------------------------------------


def test_version_names_the_release(box: Box) -> None:
    assert box.ok("--version").strip() == f"signalcraft {__version__}"
    assert box.leftovers() == []  # the bootloader removed what it unpacked


# Commands the tests below run: serve (all of them), backup and restore (the last one).
RUN_ELSEWHERE = {"serve", "backup", "restore"}


def test_every_cli_command_runs_from_the_binary(box: Box, build: Build) -> None:
    """Each command runs for real once (a command the binary lacks a module for fails here);
    a command added later and not yet run below is at least parsed (``--help``)."""
    ran: set[str] = set()
    listed = box.ok("--help")
    assert all(name in listed for name in subcommands())

    assert box.json("check-config")["source"] == "defaults"
    ran.add("check-config")
    config = init_instance(box)
    ran.add("init")
    cfg = ("--config", str(config))
    assert box.json("migrate", *cfg)["version"] == build.schema_version
    ran.add("migrate")

    created = box.json("user", "create", *cfg, "--email", "ann@example.com", "--workspace", "acme")
    assert created["password"]  # generated, shown once
    assert {u["email"] for u in box.json("user", "list", *cfg)} == {"owner@example.com", "ann@example.com"}
    assert "/reset/" in box.json("user", "reset-password", *cfg, "--email", "ann@example.com")["reset_link"]
    ran.add("user")

    box.json("workspace", "create", *cfg, "--slug", "ops", "--owner", "owner@example.com")
    ran.add("workspace")

    key = box.json("apikey", "create", *cfg, "--workspace", "acme", "--name", "ci", "--role", "viewer")
    assert key["key"].startswith("sck_")
    assert box.json("apikey", "revoke", *cfg, "--workspace", "acme", "--id", str(key["id"]))["revoked_at"]
    ran.add("apikey")

    if "integration" in subcommands():
        made = box.json(
            "integration", "create", *cfg, "--workspace", "acme", "--type", "alertmanager", "--name", "am"
        )
        assert "/ingest/" in made["ingest_url"]
        ident = str(made["id"])
        assert box.json("integration", "rotate", *cfg, "--workspace", "acme", "--id", ident)["ingest_url"]
        assert box.json("integration", "revoke", *cfg, "--workspace", "acme", "--id", ident)["revoked_at"]
        ran.add("integration")

    counts = box.json("db", "tables", *cfg)
    assert counts["users"] == 2 and counts["workspaces"] == 2
    exported = [json.loads(line) for line in box.ok("db", "export", "workspaces", *cfg).splitlines()]
    assert {row["slug"] for row in exported} == {"acme", "ops"}
    ran.add("db")

    bad = box.run("check-config", "--config", str(box.workdir / "missing.toml"))
    assert bad.returncode == 2 and bad.stderr.startswith("config error:")
    assert "Traceback" not in bad.stderr

    for name in sorted(subcommands() - ran - RUN_ELSEWHERE):
        assert box.run(name, "--help").returncode == 0, name


# --- serve --------------------------------------------------------------------------------


def test_serve_from_an_empty_directory_uses_the_embedded_defaults_serves_the_ui_and_stops_on_sigterm(
    box: Box,
) -> None:
    assert list(box.workdir.iterdir()) == []
    served = serve(box)
    try:
        record(
            cold_start_to_readyz_seconds=round(served.ready_after, 2),
            cold_start_cpu_seconds=round(served.cpu_to_ready, 2),
            load_average=round(os.getloadavg()[0], 1),
        )
        assert served.cpu_to_ready < COLD_START_CPU_LIMIT
        assert httpx.get(f"{served.url}/readyz").json() == {
            "status": "ready",
            "checks": {"database": "ok", "queue_consumer": "ok", "probe_loop": "ok"},
        }
        assert (box.workdir / "signalcraft-data" / "signalcraft.db").is_file()

        page = httpx.get(f"{served.url}/login")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert 'name="password"' in page.text
        assets = set(re.findall(r'(?:href|src)="(/static/[^"?]+)', page.text))
        assert {"/static/app.css", "/static/app.js", "/static/vendor/htmx/htmx.min.js"} <= assets
        for asset in assets:
            response = httpx.get(f"{served.url}{asset}")
            assert response.status_code == 200, asset
            assert response.content == (ROOT / asset.removeprefix("/")).read_bytes(), asset
        assert "text/css" in httpx.get(f"{served.url}/static/app.css").headers["content-type"]
        assert "signalcraft_http_requests_total" in httpx.get(f"{served.url}/metrics").text
        assert box.leftovers() != []  # unpacked while running ...
    finally:
        code = served.stop()
    assert code == 0
    output = served.output()
    assert "using built-in defaults" in output
    assert re.search(rf"http://127\.0\.0\.1:{served.port}/setup/\S+", output)
    assert "stopped cleanly" in output and "Traceback" not in output
    assert box.leftovers() == []  # ... and removed after a clean stop


@dataclass
class Instance:
    """An initialised data directory served by the binary, with an admin API key for ``acme``."""

    box: Box
    config: Path
    served: Served
    api: httpx.Client


@pytest.fixture(scope="module")
def instance(binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    root = tmp_path_factory.mktemp("instance")
    (root / "work").mkdir()
    box = Box(binary, root / "work", unpack_dir(root))
    config = init_instance(box)
    key = box.json(
        "apikey", "create", "--config", str(config), "--workspace", "acme", "--name", "t", "--role", "admin"
    )["key"]
    served = serve(box, "--config", str(config))
    api = httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    try:
        yield Instance(box, config, served, api)
    finally:
        api.close()
        served.stop()
        shutil.rmtree(box.tmpdir, ignore_errors=True)


def test_an_alert_posted_to_the_binary_is_stored(instance: Instance) -> None:
    api, served = instance.api, instance.served
    created = api.post("/api/v1/workspaces/acme/integrations", json={"type": "alertmanager", "name": "am"})
    assert created.status_code == 201, created.text
    ingest_url = created.json()["ingest_url"]
    assert ingest_url.startswith(f"{served.url}/ingest/")
    posted = httpx.post(ingest_url, content=ALERT.read_bytes(), headers={"Content-Type": "application/json"})
    assert posted.status_code == 200, posted.text  # answered after the commit
    groups = api.get("/api/v1/workspaces/acme/alert-groups").json()["groups"]
    assert [g["title"] for g in groups] == ["Error rate above 5% on checkout"]
    assert groups[0]["alert_count"] == 2
    # On disk, as the CLI reads it (read-only, alongside the running server).
    exported = instance.box.ok("db", "export", "alerts", "--config", str(instance.config))
    rows = [json.loads(line) for line in exported.splitlines()]
    assert len(rows) == 2 and {r["title"] for r in rows} == {"Error rate above 5% on checkout"}


def test_notification_plugins_that_are_found_by_listing_a_directory_load_inside_the_binary(
    instance: Instance, build: Build
) -> None:
    """Apprise finds its plugins by listing its plugins/ directory: the spec ships it as files.
    A ``syslog://`` URL is refused for naming a local log, which needs its plugin found first;
    an unknown plugin would be refused as not an Apprise URL at all. No network is used."""
    assert importlib.util.find_spec("apprise") is not None, "apprise is a dependency (pyproject.toml)"
    from PyInstaller.archive.readers import CArchiveReader  # installed by scripts/build-binary

    names = set(CArchiveReader(str(build.path)).toc)
    assert "apprise/plugins/telegram.py" in names
    response = instance.api.post(
        "/api/v1/workspaces/acme/channels",
        json={"kind": "apprise", "name": "local", "config": {"urls": ["syslog://"]}},
    )
    assert 400 <= response.status_code < 500, response.text
    assert "not an Apprise URL" not in response.text, response.text
    assert "urls[0]" in response.text


def test_the_binary_migrates_a_database_from_the_previous_schema_and_serves_it(
    box: Box, build: Build
) -> None:
    latest = build.schema_version
    previous = latest - 1
    assert previous >= 1, "the build has only one migration: nothing older to upgrade from"
    data = box.workdir / "data"
    data.mkdir()
    conn = open_connection(data / "signalcraft.db")
    migrate.apply(conn, target=previous)
    for version in range(1, previous + 1):
        seed = SEEDS / f"{version:04d}_seed.sql"
        if seed.exists():
            conn.execute(seed.read_text())
    if previous >= 12:
        # The 0012 seed's wrapped data key is random bytes under a made-up master key (the
        # migration tests never decrypt). A real database comes with its master.key; this one
        # has none, so its keys go and the first start generates a master key.
        conn.execute("DELETE FROM data_keys; DELETE FROM master_keys")
    assert migrate.current_version(conn) == previous
    conn.close()
    config = box.workdir / "signalcraft.toml"
    config.write_text(f'[data]\ndir = "{data}"\n')

    served = serve(box, "--config", str(config))
    try:
        assert httpx.get(f"{served.url}/readyz").json()["checks"]["database"] == "ok"
        login = httpx.get(f"{served.url}/login")
        assert login.status_code == 200
    finally:
        assert served.stop() == 0

    with sqlite3.connect(data / "signalcraft.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == latest
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    cfg = ("--config", str(config))
    assert [w["slug"] for w in box.json("workspace", "list", *cfg)] == ["acme"]
    assert [u["email"] for u in box.json("user", "list", *cfg)] == ["owner@example.com"]
    audit = [json.loads(line) for line in box.ok("db", "export", "audit_log", *cfg).splitlines()]
    assert "instance.setup" in {row["action"] for row in audit}


def test_backup_while_serving_and_restore_after_stopping_round_trip_the_database(
    box: Box, build: Build
) -> None:
    config = init_instance(box)
    cfg = ("--config", str(config))
    replay = box.workdir / "data" / "replays" / "1" / "2026-11-20" / "a1b2c3d4e5f60718.rrweb.zst"
    replay.parent.mkdir(parents=True)
    replay.write_bytes(b"recorded session")
    served = serve(box, *cfg)
    backup_file = box.workdir / "backups" / "signalcraft-1.tar"
    try:
        made = box.json("backup", *cfg, str(backup_file))
        assert made["bytes"] == backup_file.stat().st_size > 0
        assert made["replay_files"] == 1
        refused = box.run("restore", *cfg, str(backup_file))
        assert refused.returncode != 0
        assert "another SignalCraft process is using this data directory" in refused.stderr
    finally:
        assert served.stop() == 0

    box.json("workspace", "create", *cfg, "--slug", "after-backup")
    replay.unlink()
    restored = box.json("restore", *cfg, str(backup_file))
    assert restored["schema_version"] == build.schema_version
    assert restored["replay_files"] == 1 and replay.read_bytes() == b"recorded session"
    assert [w["slug"] for w in box.json("workspace", "list", *cfg)] == ["acme"]

    served = serve(box, *cfg)
    try:  # the restored owner signs in through the UI with the password given to init
        with httpx.Client(base_url=served.url, timeout=10) as browser:
            page = browser.get("/login")
            signed_in = browser.post(
                "/login",
                data={
                    "email": "owner@example.com",
                    "password": PASSWORD,
                    "next": "/",
                    "_csrf": hidden_csrf(page.text),
                },
            )
            assert signed_in.status_code == 303, signed_in.text
            assert "sc_session" in browser.cookies
    finally:
        assert served.stop() == 0
    garbage = box.workdir / "not-a-backup.db"
    garbage.write_bytes(b"not a database" * 100)
    bad = box.run("restore", *cfg, str(garbage))
    assert bad.returncode == 2 and "not a SignalCraft backup" in bad.stderr
