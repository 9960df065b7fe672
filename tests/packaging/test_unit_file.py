"""packaging/signalcraft.service: a dedicated user, a state directory, the hardening options
the install docs promise, a stop that leaves the drain time, and a file systemd accepts
(``systemd-analyze verify`` and its offline security score; scripts/test installs systemd)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from signalcraft.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "packaging" / "signalcraft.service"
BINARY = "/usr/local/bin/signalcraft"


def parse(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> every value, in order (systemd keys may repeat; an empty value resets)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        header = re.fullmatch(r"\[(\w+)\]", line)
        if header:
            current = sections.setdefault(header[1], {})
            continue
        assert current is not None, f"a key outside any section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"not key=value: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.fixture(scope="module")
def service() -> dict[str, list[str]]:
    return parse(UNIT.read_text())["Service"]


def one(service: dict[str, list[str]], key: str) -> str:
    assert key in service, f"{key}= is missing"
    return service[key][-1]


def test_the_unit_has_unit_service_and_install_sections() -> None:
    sections = parse(UNIT.read_text())
    assert set(sections) == {"Unit", "Service", "Install"}
    assert sections["Install"]["WantedBy"] == ["multi-user.target"]
    assert "network-online.target" in sections["Unit"]["After"][0]


def test_it_runs_serve_from_the_binary_with_the_etc_config_as_a_dedicated_user(
    service: dict[str, list[str]],
) -> None:
    assert one(service, "ExecStart") == f"{BINARY} serve --config /etc/signalcraft/signalcraft.toml"
    assert one(service, "User") == "signalcraft" and one(service, "Group") == "signalcraft"
    assert "DynamicUser" not in service
    assert one(service, "StateDirectory") == "signalcraft"
    assert one(service, "WorkingDirectory") == "/var/lib/signalcraft"
    assert one(service, "ConfigurationDirectory") == "signalcraft"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("PrivateMounts", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"),
        ("ProtectControlGroups", "yes"),
        ("ProtectClock", "yes"),
        ("ProtectHostname", "yes"),
        ("RestrictNamespaces", "yes"),
        ("RestrictRealtime", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("LockPersonality", "yes"),
        ("SystemCallArchitectures", "native"),
        ("CapabilityBoundingSet", ""),
        ("AmbientCapabilities", ""),
    ],
)
def test_the_hardening_option_is_set(service: dict[str, list[str]], key: str, value: str) -> None:
    assert one(service, key) == value


def test_only_the_address_families_and_system_calls_a_server_needs_are_allowed(
    service: dict[str, list[str]],
) -> None:
    assert set(one(service, "RestrictAddressFamilies").split()) <= {
        "AF_UNIX",
        "AF_INET",
        "AF_INET6",
        "AF_NETLINK",
    }
    filters = service["SystemCallFilter"]
    assert "@system-service" in filters
    assert any(f.startswith("~") and "@privileged" in f for f in filters)


def test_nothing_outside_the_state_directory_is_made_writable(service: dict[str, list[str]]) -> None:
    # ProtectSystem=strict makes everything read-only; StateDirectory= is the one exception.
    assert "ReadWritePaths" not in service and "BindPaths" not in service


def test_systemd_waits_longer_than_the_graceful_drain_before_killing(service: dict[str, list[str]]) -> None:
    assert one(service, "KillSignal") == "SIGTERM"
    # Requests drain for up to shutdown_timeout, then running tasks for up to it again.
    drain = load_settings(None, env={}).server.shutdown_timeout
    assert int(one(service, "TimeoutStopSec")) > 2 * drain
    assert one(service, "Restart") == "on-failure"
    assert one(service, "RestartPreventExitStatus") == "2"  # a config error: restarting won't help


@pytest.fixture
def unit_with_a_stand_in_binary(tmp_path: Path) -> Path:
    """The unit, with ExecStart pointing at an executable that exists here (verify checks it)."""
    stand_in = tmp_path / "signalcraft"
    stand_in.write_text("#!/bin/sh\nexit 0\n")
    stand_in.chmod(0o755)
    unit = tmp_path / "signalcraft.service"
    unit.write_text(UNIT.read_text().replace(BINARY, str(stand_in)))
    return unit


def test_systemd_analyze_verify_accepts_the_unit(unit_with_a_stand_in_binary: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit_with_a_stand_in_binary)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_systemd_rates_the_unit_ok_or_better_on_exposure(unit_with_a_stand_in_binary: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit_with_a_stand_in_binary)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
    assert found is not None, f"no offline security report (systemd 252 or newer has one): {result.stderr}"
    assert float(found[1]) <= 2.0, result.stdout  # 0 = fully locked down, 10 = exposed; "OK" is < 4
