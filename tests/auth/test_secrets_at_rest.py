"""Secrets at rest: channel secrets are sealed (AES-GCM, per-workspace data keys wrapped by a
master key kept outside the database) so a copied database file reveals none of them; a
sealed value does not open in another row or workspace; a wrong or missing master key stops
start-up with one line; plaintext left by an earlier version is sealed at start; ``keys
rotate`` re-wraps and re-encrypts while deliveries keep working; and no secret reaches the log.
"""

from __future__ import annotations

import base64
import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from signalcraft import cli, logs
from signalcraft.auth.keyring import KeyringError, MasterKey, is_sealed, version_of
from signalcraft.config import LogConfig, SecretsConfig, Settings, with_overrides
from signalcraft.db import Database, migrate
from signalcraft.db.connection import open_connection, rows
from signalcraft.db.queries import channels as cq
from signalcraft.notify.deliver import Notifier
from signalcraft.notify.message import sample_message
from signalcraft.notify.tasks import build_notifier
from signalcraft.runtime import Parts, build
from tests.helpers import FakeClock, Member, workspace
from tests.notify.test_channels import Receiver, Reply, allowing_receivers, receiving

SLACK_WEBHOOK = "https://hooks.slack.com/services/T0SECRET/B0SECRET/9xQ2mZsecretWebhookPath"
BOT_TOKEN = "xoxb-1111111111-2222222222-SeCrEtBoTtOkEnValue"
SMTP_PASSWORD = "correct-horse-battery-staple-SMTP-pw"
SECRETS = (SLACK_WEBHOOK, BOT_TOKEN, SMTP_PASSWORD)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiving()


def new_key_text() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@contextmanager
def running(settings: Settings, clock: FakeClock) -> Iterator[tuple[Parts, Notifier]]:
    """The process as `serve` builds it (database open), with a notifier allowed to reach receivers."""
    parts = build(settings, clock=clock)
    parts.ctx.db.open()
    notifier = parts.ctx.extras["notifier"] = build_notifier(parts.ctx, http=allowing_receivers())
    try:
        yield parts, notifier
    finally:
        notifier.close()
        parts.ctx.db.close()


def channel(
    db: Database, slug: str, kind: str, public: dict[str, Any], secret: dict[str, Any], now: float
) -> int:
    ws = workspace(db, slug, now)
    return db.write(
        lambda c: cq.create(c, ws.id, kind, f"{kind}-{len(secret)}-{now}", public, secret, now).id
    )


def stored(db: Database, channel_id: int) -> cq.Channel:
    found = db.read(lambda c: cq.by_id(c, channel_id))
    assert found is not None
    return found


def raw_bytes(path: Path) -> bytes:
    """The database file and its WAL, as someone copying them would get them."""
    conn = open_connection(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def send(notifier: Notifier, channel_id: int) -> Any:
    found = stored(notifier.db, channel_id)
    message = sample_message("acme", "Acme", "http://127.0.0.1:8080", 1_800_000_000.0)
    return notifier.run(notifier.attempt(found, message))


def config_file(tmp_path: Path, settings: Settings, extra: str = "") -> str:
    path = tmp_path / "signalcraft.toml"
    path.write_text(f'[data]\ndir = "{settings.data.dir}"\n{extra}')
    return str(path)


# --- sealing -------------------------------------------------------------------------------


def test_a_sealed_secret_opens_to_what_was_stored_and_the_row_holds_only_ciphertext(parts: Parts) -> None:
    db = parts.ctx.db
    channel_id = channel(db, "acme", "email", {"host": "smtp.example.com"}, {"password": SMTP_PASSWORD}, 1.0)
    found = stored(db, channel_id)
    assert is_sealed(found.secret_config["password"]) and SMTP_PASSWORD not in str(found.secret_config)
    assert db.read(lambda c: cq.secrets_of(c, found)) == {"password": SMTP_PASSWORD}
    assert db.read(lambda c: cq.full_config(c, found)) == {
        "host": "smtp.example.com",
        "password": SMTP_PASSWORD,
    }


def test_a_sealed_value_copied_to_another_row_does_not_open(parts: Parts) -> None:
    db = parts.ctx.db
    first = channel(db, "acme", "slack", {}, {"webhook_url": SLACK_WEBHOOK}, 1.0)
    second = channel(
        db, "acme", "slack", {}, {"webhook_url": "https://hooks.slack.com/services/T1/B1/other"}, 2.0
    )
    copied = stored(db, first).secret_config
    db.write(
        lambda c: c.execute("UPDATE channels SET secret_config = ? WHERE id = ?", (cq._json(copied), second))
    )
    target = stored(db, second)
    with pytest.raises(
        KeyringError, match=f"channels.secret_config\\|id={second} of workspace .* does not open"
    ):
        db.read(lambda c: cq.secrets_of(c, target))


def test_a_sealed_value_copied_to_another_workspace_does_not_open(parts: Parts) -> None:
    db = parts.ctx.db
    mine = channel(db, "acme", "slack", {}, {"webhook_url": SLACK_WEBHOOK}, 1.0)
    theirs = channel(
        db, "other", "slack", {}, {"webhook_url": "https://hooks.slack.com/services/T2/B2/x"}, 1.0
    )
    copied = stored(db, mine)
    # the attacker's row claims the victim's ciphertext and row id; only the workspace differs
    moved = replace(copied, id=copied.id, workspace_id=stored(db, theirs).workspace_id)
    with pytest.raises(KeyringError, match="does not open"):
        db.read(lambda c: cq.secrets_of(c, moved))


def test_a_database_file_copied_alone_reveals_no_secret(parts: Parts) -> None:
    db = parts.ctx.db
    channel(db, "acme", "slack", {}, {"webhook_url": SLACK_WEBHOOK}, 1.0)
    channel(db, "acme", "slack", {"channel": "#ops-visible-name"}, {"bot_token": BOT_TOKEN}, 2.0)
    channel(db, "acme", "email", {"host": "smtp.visible.example"}, {"password": SMTP_PASSWORD}, 3.0)
    data = raw_bytes(db.path)
    assert b"#ops-visible-name" in data and b"smtp.visible.example" in data  # the copy holds the channels
    for secret in SECRETS:
        assert secret.encode() not in data, secret


def test_secrets_stored_in_plaintext_by_the_previous_schema_are_sealed_at_start(tmp_path: Path) -> None:
    path = tmp_path / "data" / "signalcraft.db"
    path.parent.mkdir()
    conn = open_connection(path)
    before = next(m.version for m in migrate.available() if m.name == "secrets") - 1
    migrate.apply(conn, target=before)
    conn.execute("INSERT INTO workspaces(id, slug, name, created_at) VALUES (1, 'acme', 'Acme', 1)")
    for channel_id, kind, public, secrets in (
        (1, "slack", {}, {"webhook_url": SLACK_WEBHOOK}),
        (2, "email", {"host": "smtp.example.com"}, {"password": SMTP_PASSWORD}),
        (3, "discord", {}, {}),
    ):
        conn.execute(
            "INSERT INTO channels(id, workspace_id, kind, name, config, secret_config, created_at,"
            " updated_at) VALUES (?, 1, ?, ?, ?, ?, 1, 1)",
            (channel_id, kind, kind, cq._json(public), cq._json(secrets)),
        )
    conn.close()
    assert SLACK_WEBHOOK.encode() in raw_bytes(path)  # the old schema did store it in clear

    db = Database(path)
    db.open(now=10.0)
    try:
        first = {r[0]: r[1] for r in db.read(lambda c: rows(c, "SELECT id, secret_config FROM channels"))}
        slack, email = stored(db, 1), stored(db, 2)
        assert is_sealed(slack.secret_config["webhook_url"]) and is_sealed(email.secret_config["password"])
        assert db.read(lambda c: cq.secrets_of(c, slack)) == {"webhook_url": SLACK_WEBHOOK}
        assert db.read(lambda c: cq.secrets_of(c, email)) == {"password": SMTP_PASSWORD}
        assert stored(db, 3).secret_config == {}
    finally:
        db.close()
    data = raw_bytes(path)
    for secret in (SLACK_WEBHOOK, SMTP_PASSWORD):
        assert secret.encode() not in data, secret  # not even in free pages or old WAL frames

    again = Database(path)
    again.open(now=20.0)  # idempotent: sealed values are left as they are
    try:
        assert {
            r[0]: r[1] for r in again.read(lambda c: rows(c, "SELECT id, secret_config FROM channels"))
        } == first
    finally:
        again.close()


# --- the master key ------------------------------------------------------------------------


def test_the_first_start_generates_a_private_master_key_file_and_says_where(
    settings: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="signalcraft.auth.keyring"), running(settings, clock):
        pass
    key_file = settings.data.path / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(base64.b64decode(key_file.read_text())) == 32
    [warning] = [r.getMessage() for r in caplog.records if "master key" in r.getMessage()]
    assert str(key_file) in warning and "back it up separately" in warning
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="signalcraft.auth.keyring"), running(settings, clock):
        pass  # the second start reads it and says nothing
    assert not [r for r in caplog.records if "generated" in r.getMessage()]


def test_a_wrong_master_key_stops_start_up_with_one_line_naming_it(
    settings: Settings, clock: FakeClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    right = with_overrides(settings, secrets=SecretsConfig(master_key=new_key_text()))
    with running(right, clock) as (parts, _):
        channel(parts.ctx.db, "acme", "slack", {}, {"webhook_url": SLACK_WEBHOOK}, clock())
    wrong_key = tmp_path / "wrong.key"
    wrong_key.write_text(new_key_text())
    wrong_id = MasterKey(base64.b64decode(wrong_key.read_text()), "").id

    code = cli.main(
        [
            "user",
            "list",
            "--config",
            config_file(tmp_path, settings, f'[secrets]\nmaster_key_file = "{wrong_key}"\n'),
        ]
    )
    err = capsys.readouterr().err
    assert code == cli.EXIT_FAIL
    assert err.count("\n") == 1 and err.startswith("error: the master key from [secrets] master_key")
    assert f"(id {wrong_id}) is not the one this database's secrets are sealed under" in err


def test_a_missing_master_key_file_is_refused_not_replaced_by_a_new_one(
    settings: Settings, clock: FakeClock
) -> None:
    with running(settings, clock) as (parts, _):
        channel(parts.ctx.db, "acme", "slack", {}, {"webhook_url": SLACK_WEBHOOK}, clock())
    key_file = settings.data.path / "master.key"
    key_file.unlink()
    with pytest.raises(KeyringError, match=f"no master key: .* and {key_file} does not exist") as raised:
        Database.from_settings(settings).open()
    assert "\n" not in str(raised.value) and not key_file.exists()


def test_a_malformed_master_key_in_the_config_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    from signalcraft.config import ConfigError, load_settings

    path = tmp_path / "c.toml"
    path.write_text('[secrets]\nmaster_key = "c2hvcnQ="\n')
    with pytest.raises(ConfigError, match="secrets.master_key: expected 32 random bytes in base64") as raised:
        load_settings(path, env={})
    assert "c2hvcnQ" not in str(raised.value)  # a secret's value is never echoed


# --- rotation -----------------------------------------------------------------------------


def test_keys_rotate_rewraps_and_reencrypts_while_deliveries_keep_working(
    settings: Settings,
    clock: FakeClock,
    tmp_path: Path,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hook = f"{receiver.url}/services/T0/B0/rotation-secret"
    with running(settings, clock) as (parts, notifier):
        db = parts.ctx.db
        channel_id = channel(db, "acme", "slack", {}, {"webhook_url": hook}, clock())
        old_master = db.keyring.master.id
        before = stored(db, channel_id).secret_config["webhook_url"]
        assert send(notifier, channel_id).ok

        new_key = tmp_path / "keys" / "master-2.key"
        code = cli.main(
            [
                "keys",
                "rotate",
                "--config",
                config_file(tmp_path, settings),
                "--new-master-key-file",
                str(new_key),
                "--data-keys",
                "--batch-size",
                "1",
            ]
        )
        out = capsys.readouterr().out
        assert code == cli.EXIT_OK, out
        assert stat.S_IMODE(new_key.stat().st_mode) == 0o600
        assert "1 rows re-encrypted, 1 old keys deleted" in out and f'master_key_file = "{new_key}"' in out

        after = stored(db, channel_id).secret_config["webhook_url"]
        assert after != before and version_of(after) == version_of(before) + 1
        assert send(notifier, channel_id).ok  # the running server still has only the old master key
        masters = db.read(lambda c: rows(c, "SELECT DISTINCT master_key_id FROM data_keys ORDER BY 1"))
        new_id = MasterKey(base64.b64decode(new_key.read_text()), "").id
        assert sorted(m[0] for m in masters) == sorted([old_master, new_id])

    swapped = with_overrides(settings, secrets=SecretsConfig(master_key=new_key.read_text()))
    with running(swapped, clock) as (parts, notifier):
        db = parts.ctx.db
        assert send(notifier, channel_id).ok
        assert db.read(lambda c: rows(c, "SELECT DISTINCT master_key_id FROM data_keys")) == [(new_id,)]
        actions = [r[0] for r in db.read(lambda c: rows(c, "SELECT action FROM audit_log ORDER BY id"))]
        assert {"keys.master_added", "keys.data_keys_rotated", "keys.master_retired"} <= set(actions)
    assert [r.path for r in receiver.wait_for(3)] == ["/services/T0/B0/rotation-secret"] * 3

    with pytest.raises(KeyringError, match=f"master key {new_id}"):  # the old key is retired
        Database.from_settings(settings).open()


def test_keys_rotate_needs_a_new_master_key_file_or_data_keys(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["keys", "rotate", "--config", config_file(tmp_path, settings)]) == cli.EXIT_USAGE
    assert capsys.readouterr().err == (
        "error: --new-master-key-file: give a new master key file and/or --data-keys\n"
    )


def test_rotating_to_the_master_key_in_use_is_refused(
    settings: Settings, clock: FakeClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running(settings, clock):
        pass
    current = settings.data.path / "master.key"
    args = [
        "keys",
        "rotate",
        "--config",
        config_file(tmp_path, settings),
        "--new-master-key-file",
        str(current),
    ]
    assert cli.main(args) == cli.EXIT_FAIL
    assert "this is the master key in use" in capsys.readouterr().err


def test_backup_says_the_master_key_is_not_in_it(
    settings: Settings, clock: FakeClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running(settings, clock):
        pass
    target = tmp_path / "backup.db"
    args = ["backup", str(target), "--database-only", "--config", config_file(tmp_path, settings)]
    assert cli.main(args) == cli.EXIT_OK
    err = capsys.readouterr().err
    assert f"the master key ({settings.data.path / 'master.key'}) is not in the backup" in err
    assert base64.b64decode((settings.data.path / "master.key").read_text()) not in target.read_bytes()


# --- logs ---------------------------------------------------------------------------------


@pytest.fixture
def every_log_line() -> Iterator[list[str]]:
    """Logging configured as `serve` does at debug level, every formatted line collected."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    logs.configure(LogConfig(level="debug"))
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    collector = Collect(level=logging.DEBUG)
    collector.setFormatter(logs.JsonFormatter())
    root.addHandler(collector)
    try:
        yield lines
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)


def test_no_secret_reaches_the_log_on_create_update_or_failed_delivery(
    client: TestClient, owner: Member, parts: Parts, receiver: Receiver, every_log_line: list[str]
) -> None:
    parts.ctx.extras["notifier"] = notifier = build_notifier(parts.ctx, http=allowing_receivers())
    client.cookies.set("sc_session", owner.session_token)
    client.headers["X-CSRF-Token"] = owner.csrf
    url = "/api/v1/workspaces/acme/channels"
    first_hook, second_hook = (
        f"{receiver.url}/services/T9/B9/LogSecretOne",
        f"{receiver.url}/services/T9/B9/LogSecretTwo",
    )
    try:
        made = client.post(url, json={"kind": "slack", "name": "ops", "config": {"webhook_url": first_hook}})
        assert made.status_code == 201, made.text
        channel_id = made.json()["id"]
        edited = client.patch(f"{url}/{channel_id}", json={"config": {"webhook_url": second_hook}})
        assert edited.status_code == 200, edited.text
        receiver.reply("/services/T9/B9/LogSecretTwo", Reply(500, b"oops"), Reply(404, b"no_service"))
        for expected in ("HTTP 500: oops", "HTTP 404: no_service"):
            failed = client.post(f"{url}/{channel_id}/test").json()
            assert failed["ok"] is False and failed["error"] == expected
        bot = client.post(
            url,
            json={
                "kind": "slack",
                "name": "bot",
                "config": {"bot_token": BOT_TOKEN, "channel": "#ops", "api_url": receiver.url},
            },
        )
        assert bot.status_code == 201, bot.text
        assert client.post(f"{url}/{bot.json()['id']}/test").json()["ok"] is False  # "ok" is not Slack's JSON
    finally:
        notifier.close()
    assert len(receiver.requests) == 3 and every_log_line  # the requests were made, the log was written
    for secret in ("LogSecretOne", "LogSecretTwo", BOT_TOKEN):
        assert not [line for line in every_log_line if secret in line], secret
