"""Configuration: defaults, TOML, environment overrides, secret files, one-line errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from signalcraft.config import ConfigError, defaults_as_toml, load_settings

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_no_file_gives_the_embedded_default() -> None:
    s = load_settings(None, env={})
    assert (s.data.dir, s.server.host, s.server.port) == ("./signalcraft-data", "127.0.0.1", 8080)


def test_toml_values_are_read(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, '[server]\nport = 9000\n[log]\nformat = "json"\n'), env={})
    assert s.server.port == 9000 and s.log.format == "json"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, "[server]\nport = 9000\n"), env={"SIGNALCRAFT_SERVER_PORT": "9100"})
    assert s.server.port == 9100


def test_environment_list_values_are_comma_separated() -> None:
    s = load_settings(None, env={"SIGNALCRAFT_SERVER_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1"})
    assert s.server.trusted_proxies == ("10.0.0.0/8", "127.0.0.1")


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("[server]\nprot = 1\n", {}, "c.toml: server.prot: unknown key"),
        ("[sever]\n", {}, "c.toml: sever: unknown section"),
        ('[server]\nport = "abc"\n', {}, "c.toml: server.port: expected an integer"),
        (
            "[server]\nport = 70000\n",
            {},
            "c.toml: server.port: expected an integer between 1 and 65535, got 70000",
        ),
        ('[log]\nformat = "xml"\n', {}, 'c.toml: log.format: expected "text" or "json", got \'xml\''),
        ("[server\n", {}, "c.toml: invalid TOML"),
        (
            "",
            {"SIGNALCRAFT_SERVER_PORT": "eighty"},
            "environment SIGNALCRAFT_SERVER_PORT: server.port: expected",
        ),
        ("", {"SIGNALCRAFT_SERVR_PORT": "80"}, "environment SIGNALCRAFT_SERVR_PORT: unknown setting"),
        ('[server]\ntrusted_proxies = ["not-a-net"]\n', {}, "server.trusted_proxies: expected a list of IP"),
    ],
)
def test_bad_config_is_one_line_naming_file_key_and_expectation(
    tmp_path: Path, text: str, env: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text), env=env)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.toml: file not found"):
        load_settings(tmp_path / "nope.toml", env={})


def test_example_config_documents_every_key_with_its_default() -> None:
    example = tomllib.loads((ROOT / "config.example.toml").read_text())
    defaults = tomllib.loads(defaults_as_toml())
    assert example == defaults
    # and it loads as a valid config
    load_settings(ROOT / "config.example.toml", env={})


def test_a_secret_can_come_from_a_file_in_toml(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret-token-from-a-file\n")
    s = load_settings(write(tmp_path, f'[server]\nmetrics_token_file = "{secret}"\n'), env={})
    assert s.server.metrics_token == "s3cret-token-from-a-file"


def test_a_secret_can_come_from_a_file_named_in_the_environment(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("another-long-secret-token")
    s = load_settings(None, env={"SIGNALCRAFT_SERVER_METRICS_TOKEN_FILE": str(secret)})
    assert s.server.metrics_token == "another-long-secret-token"


def test_an_unreadable_secret_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="server.metrics_token_file: expected a readable file"):
        load_settings(write(tmp_path, f'[server]\nmetrics_token_file = "{tmp_path}/missing"\n'), env={})


def test_only_secret_keys_take_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="server.port_file: unknown key"):
        load_settings(write(tmp_path, '[server]\nport_file = "/x"\n'), env={})


def test_a_rejected_secret_is_not_printed() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, env={"SIGNALCRAFT_SERVER_METRICS_TOKEN": "hunter2-secret"})
    assert "hunter2" not in str(info.value) and "server.metrics_token" in str(info.value)
