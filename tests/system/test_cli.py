"""The ``signalcraft`` command run for real, as subprocesses, against real data directories.

Where a command's effect is only visible over HTTP (sign-in, API keys, reset links), the
test drives a real ``signalcraft serve`` on loopback. One served instance is shared by the
module (each test uses its own users and keys in it); backup/restore tests that need to
stop the server start their own. Every CLI run costs ~0.8 s of interpreter start-up, so
data a test is *not* about is written in-process into the same database file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import httpx
import pytest

from signalcraft.auth.passwords import verify_password
from signalcraft.auth.rbac import Role
from signalcraft.config import load_settings
from signalcraft.db import Database, migrate
from signalcraft.db.queries import accounts as q
from tests.helpers import free_port, hidden_csrf, member
from tests.system.conftest import Served, cli, start, write_config

NEW_PASSWORD = "a long enough passphrase"
OWNER = "owner@example.com"


@dataclass
class Instance:
    """A data directory with its config file; ``served`` when a server runs on it."""

    workdir: Path
    config: Path
    port: int
    served: Served | None = None
    server_log: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.workdir / "data" / "signalcraft.db"

    def run(self, *args: str, stdin: str | None = None) -> CompletedProcess[str]:
        return cli(*args, "--config", str(self.config), cwd=self.workdir, stdin=stdin)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        result = self.run(*args, stdin=stdin)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def json(self, *args: str, stdin: str | None = None) -> Any:
        return json.loads(self.ok(*args, "--json", stdin=stdin))

    def serve(self) -> None:
        self.served = start(self.workdir, self.config, self.port)
        # The server logs every request to stderr; drain the pipe so it never fills and blocks.
        stream = self.served.proc.stderr
        assert stream is not None
        threading.Thread(target=lambda: self.server_log.extend(stream), daemon=True).start()

    def kill(self) -> None:
        if self.served is not None and self.served.proc.poll() is None:
            self.served.proc.kill()
            self.served.proc.wait(10)


def configured(workdir: Path) -> Instance:
    """A config file for a free loopback port and ``workdir/data``; no database yet."""
    port = free_port()
    return Instance(workdir, write_config(workdir, port), port)


def seeded(workdir: Path) -> Instance:
    """A config file and a database holding workspace ``acme`` and its owner, written in-process."""
    instance = configured(workdir)
    db = Database(instance.database)
    db.open()
    try:
        member(db, OWNER, Role.OWNER, "acme", time.time(), admin=True)
    finally:
        db.close()
    return instance


@pytest.fixture
def instance(tmp_path: Path) -> Instance:
    return seeded(tmp_path)


@pytest.fixture
def served_instance(tmp_path: Path) -> Iterator[Instance]:
    inst = seeded(tmp_path)
    inst.serve()
    yield inst
    inst.kill()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    inst = seeded(tmp_path_factory.mktemp("live"))
    inst.serve()
    yield inst
    inst.kill()


def assert_fails_in_one_line(result: CompletedProcess[str], expected: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert result.stdout == ""


def sign_in(browser: httpx.Client, email: str, password: str) -> httpx.Response:
    """What a browser does: load the form (anonymous CSRF cookie + hidden field), post it."""
    page = browser.get("/login")
    assert page.status_code == 200
    return browser.post(
        "/login", data={"email": email, "password": password, "next": "/", "_csrf": hidden_csrf(page.text)}
    )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- init ---------------------------------------------------------------------------------


def test_init_writes_a_config_and_creates_the_first_workspace_and_owner(tmp_path: Path) -> None:
    config, data = tmp_path / "signalcraft.toml", tmp_path / "data"
    result = cli(
        "init", "--email", "first@example.com", "--workspace", "ops", "--data-dir", str(data),
        "--config", str(config), "--json", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert {k: out[k] for k in ("config", "workspace", "email")} == {
        "config": str(config),
        "workspace": "ops",
        "email": "first@example.com",
    }
    password = out["password"]
    assert isinstance(password, str) and len(password) >= 10
    assert result.stdout.count(password) == 1 and password not in result.stderr
    assert load_settings(config, env={}).data.path == data
    with sqlite3.connect(data / "signalcraft.db") as conn:
        (hashed, admin), *_ = conn.execute(
            "SELECT password_hash, is_instance_admin FROM users WHERE email = 'first@example.com'"
        ).fetchall()
        roles = conn.execute(
            "SELECT w.slug, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id"
        ).fetchall()
    assert admin == 1 and roles == [("ops", "owner")]
    assert verify_password(hashed, password)  # the printed password is the stored one


def test_a_second_init_without_force_refuses_in_one_line_and_changes_nothing(tmp_path: Path) -> None:
    config, data = tmp_path / "signalcraft.toml", tmp_path / "data"
    first = cli(
        "init", "--email", "first@example.com", "--data-dir", str(data), "--config", str(config), cwd=tmp_path
    )
    assert first.returncode == 0, first.stderr
    assert "generated password (shown once): " in first.stdout
    written = config.read_text()
    again = cli("init", "--email", "second@example.com", "--config", str(config), cwd=tmp_path)
    assert_fails_in_one_line(again, f"error: --config: {config} exists already (use --force to overwrite)")
    assert again.returncode == 2
    assert config.read_text() == written
    with sqlite3.connect(data / "signalcraft.db") as conn:
        assert conn.execute("SELECT email FROM users").fetchall() == [("first@example.com",)]


# --- users ----------------------------------------------------------------------------------


def test_user_created_with_a_password_on_stdin_can_sign_in_over_http(live: Instance) -> None:
    out = live.json(
        "user", "create", "--email", "dana@example.com", "--workspace", "acme", "--role", "responder",
        "--password-file", "-", stdin=NEW_PASSWORD + "\n",
    )  # fmt: skip
    assert out["email"] == "dana@example.com" and out["password"] is None  # nothing generated, nothing shown
    with httpx.Client(base_url=live.url) as browser:
        response = sign_in(browser, "dana@example.com", NEW_PASSWORD)
        assert response.status_code == 303 and "sc_session" in browser.cookies
        me = browser.get("/api/v1/me").json()
    assert me["workspaces"] == [{"slug": "acme", "name": "Acme", "role": "responder"}]


def test_user_list_json_lists_every_user_with_its_state(instance: Instance) -> None:
    db = Database(instance.database)
    db.open()
    try:
        viewer = member(db, "gone@example.com", Role.VIEWER, "acme", time.time()).user
        db.write(lambda c: q.set_disabled(c, viewer.id, True, time.time()))
    finally:
        db.close()
    assert instance.json("user", "list") == [
        {
            "id": viewer.id,
            "email": "gone@example.com",
            "name": "gone",
            "disabled": True,
            "instance_admin": False,
        },
        {"id": 1, "email": OWNER, "name": "owner", "disabled": False, "instance_admin": True},
    ]


def test_user_disable_ends_the_session_and_refuses_sign_in(live: Instance) -> None:
    live.ok(
        "user", "create", "--email", "erin@example.com", "--workspace", "acme", "--password-file", "-",
        stdin=NEW_PASSWORD,
    )  # fmt: skip
    with httpx.Client(base_url=live.url) as browser:
        assert sign_in(browser, "erin@example.com", NEW_PASSWORD).status_code == 303
        assert browser.get("/api/v1/me").status_code == 200
        assert (
            live.ok("user", "disable", "--email", "erin@example.com").strip() == "disabled erin@example.com"
        )
        assert browser.get("/api/v1/me").status_code == 401
    with httpx.Client(base_url=live.url) as browser:
        again = sign_in(browser, "erin@example.com", NEW_PASSWORD)
    assert again.status_code == 401 and "sc_session" not in again.cookies


def test_user_reset_password_prints_a_one_time_link_that_works_once(live: Instance) -> None:
    live.ok("user", "create", "--email", "fay@example.com", "--workspace", "acme")
    text = live.ok("user", "reset-password", "--email", "fay@example.com")
    link = next(word for word in text.split() if "/reset/" in word)
    assert link.startswith(f"{live.url}/reset/")
    path = link.removeprefix(live.url)
    with httpx.Client(base_url=live.url) as browser:
        form = browser.get(path)
        assert form.status_code == 200
        fields = {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD, "_csrf": hidden_csrf(form.text)}
        used = browser.post(path, data=fields)
        assert used.status_code == 303 and used.headers["location"] == "/login?changed=1"
        assert browser.get(path).status_code == 404
        other = "another passphrase x"
        replay = browser.post(path, data={**fields, "password": other, "password_confirm": other})
        assert replay.status_code == 400 and "expired or was already used" in replay.text
        assert sign_in(browser, "fay@example.com", NEW_PASSWORD).status_code == 303  # not replaced


# --- workspaces -------------------------------------------------------------------------------


def test_workspace_create_then_list(instance: Instance) -> None:
    created = instance.ok("workspace", "create", "--slug", "ops", "--name", "Operations", "--owner", OWNER)
    assert created.strip() == "created workspace ops"
    assert instance.json("workspace", "list") == [
        {"slug": "acme", "name": "Acme"},
        {"slug": "ops", "name": "Operations"},
    ]
    with sqlite3.connect(instance.database) as conn:
        roles = conn.execute(
            "SELECT m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id WHERE w.slug = 'ops'"
        ).fetchall()
    assert roles == [("owner",)]


# --- API keys -------------------------------------------------------------------------------


def test_apikey_create_prints_a_key_that_authenticates_the_workspace_api(live: Instance) -> None:
    created = live.json("apikey", "create", "--workspace", "acme", "--name", "ci", "--role", "viewer")
    assert created["key"].startswith(created["prefix"] + "_")
    response = httpx.get(f"{live.url}/api/v1/workspaces/acme/", headers=bearer(created["key"]))
    assert response.status_code == 200
    assert response.json() == {"slug": "acme", "name": "Acme", "role": "viewer"}


def test_apikey_list_shows_the_prefix_but_never_the_key(live: Instance) -> None:
    created = live.json("apikey", "create", "--workspace", "acme", "--name", "listed", "--role", "responder")
    secret = created["key"].removeprefix(created["prefix"] + "_")
    text = live.ok("apikey", "list", "--workspace", "acme")
    as_json = live.ok("apikey", "list", "--workspace", "acme", "--json")
    assert f"{created['id']}\t{created['prefix']}\tresponder\tlisted" in text.splitlines()
    assert secret not in text and secret not in as_json
    (row,) = [k for k in json.loads(as_json) if k["id"] == created["id"]]
    assert row["prefix"] == created["prefix"] and row["revoked"] is False and "key" not in row


def test_apikey_revoke_by_id_makes_the_key_get_401(live: Instance) -> None:
    created = live.json("apikey", "create", "--workspace", "acme", "--name", "revoked", "--role", "admin")
    url = f"{live.url}/api/v1/workspaces/acme/"
    assert httpx.get(url, headers=bearer(created["key"])).status_code == 200
    out = live.ok("apikey", "revoke", "--workspace", "acme", "--id", str(created["id"]))
    assert out.strip() == f"revoked {created['prefix']}"
    assert httpx.get(url, headers=bearer(created["key"])).status_code == 401


# --- check-config and migrate --------------------------------------------------------------


def test_check_config_prints_ok_for_a_good_file(instance: Instance) -> None:
    assert instance.ok("check-config").strip() == f"configuration OK ({instance.config})"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[server]\nport = "eighty"\n', "server.port: expected an integer (an integer between 1 and 65535), "
                                        "got 'eighty'"),
        ("[server]\nprot = 8080\n", "server.prot: unknown key (known keys: "),
    ],
)  # fmt: skip
def test_check_config_exits_2_with_one_line_on_a_bad_file(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content)
    result = cli("check-config", "--config", str(config), cwd=tmp_path)
    assert_fails_in_one_line(result, f"config error: {config}: {message}")
    assert result.returncode == 2


def test_migrate_on_a_fresh_data_dir_applies_every_migration_then_is_a_no_op(tmp_path: Path) -> None:
    fresh = configured(tmp_path)
    names = [f"{m.version:04d}_{m.name}" for m in migrate.available()]
    assert fresh.json("migrate") == {"applied": names, "version": migrate.latest_version()}
    assert fresh.ok("migrate").strip() == "database is up to date"
    with sqlite3.connect(fresh.database) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == migrate.latest_version()
        assert conn.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'workspaces'").fetchone()[0] == 1


# --- backup and restore ---------------------------------------------------------------------


@dataclass
class KeyWriter:
    """Creates API keys over HTTP in a thread until stopped: a server busy writing."""

    url: str
    admin_key: str
    done: list[float] = field(default_factory=list)  # completion time of each stored key
    failures: list[int] = field(default_factory=list)
    first: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.url, headers=bearer(self.admin_key), timeout=10) as client:
            n = 0
            while not self.stop.is_set() and n < 2000:
                n += 1
                response = client.post(
                    "/api/v1/workspaces/acme/api-keys", json={"name": f"bk-{n}", "role": "viewer"}
                )
                if response.status_code == 201:
                    self.done.append(time.monotonic())
                    self.first.set()
                else:
                    self.failures.append(response.status_code)

    def stored_between(self, t0: float, t1: float) -> int:
        return sum(1 for t in self.done if t0 <= t <= t1)


def test_backup_while_serving_and_writing_is_consistent_and_holds_the_data(live: Instance) -> None:
    admin = live.json("apikey", "create", "--workspace", "acme", "--name", "writer", "--role", "admin")
    writer = KeyWriter(live.url, admin["key"])
    thread = threading.Thread(target=writer.run, daemon=True)
    thread.start()
    assert writer.first.wait(10)
    target = live.workdir / "backups" / "during-writes.tar"
    started = time.monotonic()
    stored_before = len(writer.done)
    result = live.run("backup", str(target))
    finished = time.monotonic()
    stored_during = writer.stored_between(started, finished)
    writer.stop.set()
    thread.join(15)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"backup written to {target} (")
    assert stored_during > 0, "no write happened while the backup ran"
    assert writer.failures == []
    with tarfile.open(target) as tar:
        assert sorted(tar.getnames())[:2] == ["signalcraft-backup.json", "signalcraft.db"]
        tar.extract("signalcraft.db", live.workdir / "backups" / "unpacked", filter="data")
    database = live.workdir / "backups" / "unpacked" / "signalcraft.db"
    assert not Path(f"{database}-wal").exists()  # a standalone file, not a WAL pair
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        keys = conn.execute("SELECT count(*) FROM api_keys WHERE name LIKE 'bk-%'").fetchone()[0]
        owners = conn.execute("SELECT email FROM users WHERE is_instance_admin = 1").fetchall()
    assert stored_before <= keys <= len(writer.done)
    assert owners == [(OWNER,)]


def test_restore_is_refused_while_serving_and_works_once_stopped(served_instance: Instance) -> None:
    inst = served_instance
    backup_file = inst.workdir / "before.tar"
    inst.ok("backup", str(backup_file))
    inst.ok("workspace", "create", "--slug", "after-backup")
    refused = inst.run("restore", str(backup_file))
    assert_fails_in_one_line(refused, "another SignalCraft process is using this data directory")
    assert inst.served is not None and inst.served.stop() == 0
    restored = inst.ok("restore", str(backup_file))
    assert restored.startswith(f"restored {backup_file} into ")
    assert [w["slug"] for w in inst.json("workspace", "list")] == ["acme"]  # the later write is gone


def test_restore_of_a_bad_or_missing_file_fails_clearly_and_leaves_the_database_untouched(
    instance: Instance,
) -> None:
    before = file_digest(instance.database)
    junk = instance.workdir / "notes.txt"
    junk.write_text("not a database, just text " * 100)
    foreign = instance.workdir / "other.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t(x)")
    cases = {
        junk: f"error: file: {junk}: not a SignalCraft backup (",
        foreign: f"error: file: {foreign}: not a SignalCraft database (no workspaces table)",
        instance.workdir / "missing.db": f"error: file: {instance.workdir / 'missing.db'}: no such file",
    }
    for path, message in cases.items():
        result = instance.run("restore", str(path))
        assert_fails_in_one_line(result, message)
    assert file_digest(instance.database) == before
    assert not list(instance.database.parent.glob("*.restoring"))


def _replay_files(data: Path) -> dict[str, bytes]:
    root = data / "replays"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_backup_and_restore_cover_the_replay_files(instance: Instance) -> None:
    data = instance.workdir / "data"
    finished = data / "replays" / "1" / "2026-11-20" / "a1b2c3d4e5f60718.rrweb.zst"
    spooled = data / "replays" / "spool" / "1" / "f0e1d2c3b4a59687.chunks"
    for path, body in ((finished, b"\x28\xb5\x2f\xfd compressed events"), (spooled, b'{"seq":1}\t[]\n')):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    before = _replay_files(data)
    archive_file = instance.workdir / "full.tar"
    written = instance.json("backup", str(archive_file))
    assert written["replay_files"] == 2
    # After the backup: a replay deleted, another one added, a workspace created.
    finished.unlink()
    (data / "replays" / "1" / "2026-11-21").mkdir()
    (data / "replays" / "1" / "2026-11-21" / "0011223344556677.rrweb.zst").write_bytes(b"later")
    instance.ok("workspace", "create", "--slug", "after-backup")
    restored = instance.ok("restore", str(archive_file))
    assert "2 replay files" in restored
    assert _replay_files(data) == before
    assert [w["slug"] for w in instance.json("workspace", "list")] == ["acme"]
    assert not list(data.glob("replays.before-restore")) and not list(data.glob(".restoring-*"))


def test_database_only_backup_restores_the_database_and_leaves_replays(instance: Instance) -> None:
    data = instance.workdir / "data"
    kept = data / "replays" / "1" / "2026-11-20" / "a1b2c3d4e5f60718.rrweb.zst"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"replay")
    target = instance.workdir / "db-only.db"
    assert "database only" in instance.ok("backup", "--database-only", str(target))
    with sqlite3.connect(f"file:{target}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT slug FROM workspaces").fetchall() == [("acme",)]
    instance.ok("workspace", "create", "--slug", "after-backup")
    instance.ok("restore", str(target))
    assert [w["slug"] for w in instance.json("workspace", "list")] == ["acme"]
    assert kept.read_bytes() == b"replay"


def _archive_with(path: Path, good: Path, extra: tarfile.TarInfo, body: bytes = b"") -> None:
    import io

    with tarfile.open(good) as src, tarfile.open(path, "w") as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        dst.addfile(extra, io.BytesIO(body) if extra.isfile() else None)


def test_restore_refuses_archives_that_escape_the_data_directory(instance: Instance) -> None:
    good = instance.workdir / "good.tar"
    instance.ok("backup", str(good))
    before = file_digest(instance.database)
    escape = tarfile.TarInfo("replays/../../evil.txt")
    escape.size = 4
    link = tarfile.TarInfo("replays/1/link")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    stranger = tarfile.TarInfo("etc/cron.d/job")
    stranger.size = 4
    for n, bad in enumerate((escape, link, stranger)):
        hostile = instance.workdir / f"hostile-{n}.tar"
        _archive_with(hostile, good, bad, b"evil")
        result = instance.run("restore", str(hostile))
        assert_fails_in_one_line(result, f"error: file: {hostile}: unexpected member {bad.name!r}")
    assert file_digest(instance.database) == before
    assert not (instance.workdir / "evil.txt").exists()
    assert not list((instance.workdir / "data").glob(".restoring-*"))


# --- db ---------------------------------------------------------------------------------------


def test_db_tables_json_lists_each_table_with_its_row_count(instance: Instance) -> None:
    counts = instance.json("db", "tables")
    expected = {"workspaces": 1, "users": 1, "memberships": 1, "sessions": 1, "api_keys": 0, "audit_log": 0}
    assert {name: counts[name] for name in expected} == expected
    assert all(isinstance(n, int) for n in counts.values())


def test_db_export_users_prints_one_json_object_a_line(instance: Instance) -> None:
    lines = instance.ok("db", "export", "users").splitlines()
    rows = [json.loads(line) for line in lines]
    assert [(r["id"], r["email"], r["is_instance_admin"]) for r in rows] == [(1, OWNER, 1)]
    assert "password_hash" not in rows[0] and "$argon2" not in lines[0]


@pytest.mark.parametrize("table", ["sessions", "api_keys"])
def test_db_export_refuses_tables_holding_credentials(instance: Instance, table: str) -> None:
    result = instance.run("db", "export", table)
    assert_fails_in_one_line(result, f"error: table: {table} holds credentials and is not exported")


# --- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("user", "disable", "--email", "nobody@example.com"), None,
         "error: --email: no user with email nobody@example.com"),
        (("user", "create"), None, "error: --email: is required here"),
        (("user", "create", "--email", "not-an-email"), None,
         "error: email: enter an email address like name@example.com"),
        (("user", "create", "--email", "short@example.com", "--password-file", "-"), "short",
         "error: password: must be at least 10 characters"),
        (("user", "create", "--email", "x@example.com", "--password-file", "/nonexistent/pw"), None,
         "error: No such file or directory: /nonexistent/pw"),
        (("workspace", "create", "--slug", "acme"), None,
         "error: slug: a workspace named 'acme' exists already"),
        (("apikey", "create", "--workspace", "nope", "--name", "k"), None,
         "error: --workspace: no workspace 'nope'"),
        (("apikey", "create", "--workspace", "acme", "--name", "k", "--role", "owner"), None,
         "error: --role: an API key's role is admin, responder or viewer"),
    ],
)  # fmt: skip
def test_a_failing_command_prints_one_line_to_stderr_and_no_traceback(
    instance: Instance, args: tuple[str, ...], stdin: str | None, message: str
) -> None:
    assert_fails_in_one_line(instance.run(*args, stdin=stdin), message)


@pytest.mark.parametrize("args", [("db", "tables"), ("db", "export", "users")])
def test_db_commands_on_a_file_that_is_not_a_database_fail_in_one_line(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    broken = configured(tmp_path)
    broken.database.parent.mkdir()
    broken.database.write_text("not a database " * 100)
    assert_fails_in_one_line(broken.run(*args), f"{broken.database}: not a SignalCraft database")


def test_a_failed_init_leaves_no_config_behind_so_it_can_be_retried(tmp_path: Path) -> None:
    config = tmp_path / "signalcraft.toml"
    result = cli("init", "--email", "not-an-email", "--config", str(config), cwd=tmp_path)
    assert_fails_in_one_line(result, "error: email: enter an email address like name@example.com")
    assert not config.exists()
