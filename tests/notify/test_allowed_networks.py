"""``[notify] allowed_networks``: notifications reach public addresses only, unless the instance
lists a network. The allow-list is read from the configuration by the process's notifier, so
it governs both the save-time check (a 400 naming the field) and the send; a listed network
never opens cloud metadata addresses it does not contain, nor addresses hidden in other
encodings (decimal IPv4, IPv4-mapped IPv6)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from signalcraft.auth.rbac import Role
from signalcraft.config import ConfigError, NotifyConfig, Settings, load_settings
from signalcraft.db import Database
from signalcraft.notify.deliver import Notifier
from signalcraft.notify.tasks import notifier_of
from signalcraft.runtime import Parts
from tests.helpers import Member, free_port, member
from tests.notify.test_channels import Receiver, receiving
from tests.system.conftest import start, write_config

SECRET = "allow-list-signing-secret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiving()


def allowing(settings: Settings, *networks: str) -> Settings:
    return dataclasses.replace(settings, notify=NotifyConfig(allowed_networks=networks))


@pytest.fixture
def allowed() -> tuple[str, ...]:
    """The networks the instance lists; tests override it with ``pytest.mark.parametrize``."""
    return ()


@pytest.fixture
def settings(settings: Settings, allowed: tuple[str, ...]) -> Settings:
    return allowing(settings, *allowed)


@pytest.fixture
def notifier(parts: Parts) -> Iterator[Notifier]:
    """The process's own notifier, built from the configuration (no test stand-in)."""
    found = notifier_of(parts.ctx)
    yield found
    found.close()


@pytest.fixture
def api(client: TestClient, owner: Member, notifier: Notifier) -> TestClient:
    client.cookies.set("sc_session", owner.session_token)
    client.headers["X-CSRF-Token"] = owner.csrf
    return client


def create(api: Any, kind: str, config: dict[str, Any]) -> Any:
    return api.post("/api/v1/workspaces/acme/channels", json={"kind": kind, "name": "ops", "config": config})


def refusal(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    found: dict[str, Any] = response.json()["error"]
    return found


# --- the configuration key --------------------------------------------------------------------


def test_the_key_is_a_list_of_networks_from_the_file_or_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[notify]\nallowed_networks = ["10.0.0.0/8", "fd00::/8"]\n')
    assert load_settings(path, env={}).notify.allowed_networks == ("10.0.0.0/8", "fd00::/8")
    from_env = load_settings(None, env={"SIGNALCRAFT_NOTIFY_ALLOWED_NETWORKS": "127.0.0.0/8, 10.1.0.0/16"})
    assert from_env.notify.allowed_networks == ("127.0.0.0/8", "10.1.0.0/16")
    assert load_settings(None, env={}).notify.allowed_networks == ()


def test_a_value_that_is_not_a_network_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[notify]\nallowed_networks = ["intranet"]\n')
    with pytest.raises(ConfigError, match=r"notify\.allowed_networks: expected a list of IP networks"):
        load_settings(path, env={})


# --- without the key: public addresses only -----------------------------------------------------


def test_without_the_key_a_loopback_webhook_is_refused_at_save_naming_the_field_and_the_key(
    api: TestClient, receiver: Receiver
) -> None:
    error = refusal(create(api, "webhook", {"url": f"{receiver.url}/hook", "secret": SECRET}))
    assert error["field"] == "config.url"
    assert "127.0.0.2" in error["message"] and "[notify] allowed_networks" in error["message"]


def test_without_the_key_a_loopback_smtp_host_is_refused_naming_the_field(api: TestClient) -> None:
    config = {
        "host": "127.0.0.2",
        "port": 2525,
        "security": "none",
        "from_address": "a@example.com",
        "to": ["b@example.com"],
    }
    error = refusal(create(api, "email", config))
    assert error["field"] == "config.host" and "127.0.0.2" in error["message"]


# --- with the key ------------------------------------------------------------------------------


@pytest.mark.parametrize("allowed", [("127.0.0.0/8",)])
def test_a_listed_network_is_accepted_at_save_and_the_send_reaches_it(
    api: TestClient, receiver: Receiver
) -> None:
    created = create(api, "webhook", {"url": f"{receiver.url}/hook", "secret": SECRET})
    assert created.status_code == 201, created.text
    outcome = api.post(f"/api/v1/workspaces/acme/channels/{created.json()['id']}/test").json()
    assert outcome["ok"] is True and outcome["status_code"] == 200
    [request] = receiver.wait_for(1)
    assert request.path == "/hook" and request.json["event"] == "test"


@pytest.mark.parametrize("allowed", [("127.0.0.0/8",), ("10.0.0.0/8", "169.254.0.0/24")])
def test_the_metadata_address_stays_refused_unless_a_listed_network_contains_it(api: TestClient) -> None:
    error = refusal(create(api, "webhook", {"url": "http://169.254.169.254/latest/", "secret": SECRET}))
    assert error["field"] == "config.url" and "169.254.169.254" in error["message"]


@pytest.mark.parametrize("allowed", [("169.254.169.254/32",)])
def test_the_metadata_address_is_accepted_when_listed_explicitly(api: TestClient) -> None:
    created = create(api, "webhook", {"url": "http://169.254.169.254/latest/", "secret": SECRET})
    assert created.status_code == 201, created.text


@pytest.mark.parametrize("allowed", [("10.0.0.0/8",)])
@pytest.mark.parametrize(
    ("url", "hidden"),
    [
        ("http://2130706433/hook", "127.0.0.1"),  # decimal IPv4
        ("http://0x7f000001/hook", "127.0.0.1"),  # hexadecimal IPv4
        ("http://[::ffff:127.0.0.1]/hook", "127.0.0.1"),  # IPv4-mapped IPv6
        ("http://[::ffff:a9fe:a9fe]/hook", "169.254.169.254"),  # metadata, mapped
        ("http://[64:ff9b::a9fe:a9fe]/hook", "169.254.169.254"),  # metadata, NAT64
    ],
)
def test_other_encodings_of_unlisted_addresses_stay_refused(api: TestClient, url: str, hidden: str) -> None:
    error = refusal(create(api, "webhook", {"url": url, "secret": SECRET}))
    assert error["field"] == "config.url", error
    inside = create(api, "webhook", {"url": "http://[::ffff:10.1.2.3]/hook", "secret": SECRET})
    assert inside.status_code == 201, inside.text  # the listed network, in the same encoding, is fine


@pytest.mark.parametrize("allowed", [("127.0.0.2/32",)])
def test_an_smtp_host_in_a_listed_network_passes_the_save_time_check(api: TestClient) -> None:
    config = {
        "host": "127.0.0.2",
        "port": 2525,
        "security": "none",
        "from_address": "a@example.com",
        "to": ["b@example.com"],
    }
    assert create(api, "email", config).status_code == 201


# --- a real process -----------------------------------------------------------------------------


def test_a_served_instance_configured_with_loopback_delivers_a_webhook_to_a_loopback_receiver(
    tmp_path: Path, receiver: Receiver
) -> None:
    port = free_port()
    config = write_config(tmp_path, port, '[notify]\nallowed_networks = ["127.0.0.0/8"]\n')
    db = Database(tmp_path / "data" / "signalcraft.db")
    db.open()
    try:
        owner = member(db, "owner@example.com", Role.OWNER, "acme", time.time(), admin=True)
    finally:
        db.close()
    served = start(tmp_path, config, port)
    stream = served.proc.stderr
    assert stream is not None
    threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()  # keep the pipe drained
    try:
        with httpx.Client(
            base_url=served.url,
            cookies={"sc_session": owner.session_token},
            headers={"X-CSRF-Token": owner.csrf},
            timeout=15,
        ) as api:
            created = create(api, "webhook", {"url": f"{receiver.url}/served", "secret": SECRET})
            assert created.status_code == 201, created.text
            outcome = api.post(f"/api/v1/workspaces/acme/channels/{created.json()['id']}/test").json()
        assert outcome["ok"] is True, outcome
        [request] = receiver.wait_for(1)
        assert request.path == "/served" and "x-signalcraft-signature" in request.headers
    finally:
        assert served.stop() == 0
