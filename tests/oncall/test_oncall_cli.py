"""``signalcraft oncall who`` on a real data directory: who is on call per schedule, at a given
time, filtered by workspace and schedule name, as text and JSON; bad input exits 2 naming the flag."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from signalcraft.auth.rbac import Role
from signalcraft.cli import main
from signalcraft.config import load_settings
from signalcraft.db import Database
from signalcraft.db.queries import audit
from signalcraft.oncall import store
from tests.helpers import member
from tests.system.conftest import cli, write_config

NOW = 1_805_000_000.0  # 2027-03-13


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    path = write_config(tmp_path, 8099)
    db = Database.from_settings(load_settings(str(path)))
    db.open()
    ada = member(db, "ada@example.com", Role.OWNER, "alpha", NOW)
    bob = member(db, "bob@example.com", Role.RESPONDER, "alpha", NOW)
    eve = member(db, "eve@example.com", Role.OWNER, "beta", NOW)

    def schedule(ws: int, name: str, *people: int) -> None:
        layer = {"unit": "days", "count": 1, "start": "2027-03-01T09:00", "participants": list(people)}
        db.write(lambda c: store.save_schedule(c, ws, None, name, "Europe/Berlin", [layer], audit.CLI, NOW))

    schedule(ada.workspace.id, "Primary", ada.user.id, bob.user.id)
    schedule(ada.workspace.id, "Secondary", bob.user.id)
    schedule(eve.workspace.id, "Beta team", eve.user.id)
    db.close()
    yield path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_who_prints_each_schedules_on_call_at_a_time(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "oncall", "who", "--config", str(config), "--at", "2027-03-01T10:00+01:00")
    assert code == 0
    assert out.splitlines() == ["alpha\tPrimary\tada", "alpha\tSecondary\tbob", "beta\tBeta team\teve"]
    code, out, _ = run(
        capsys,
        "oncall",
        "who",
        "--config",
        str(config),
        "--workspace",
        "alpha",
        "--schedule",
        "Primary",
        "--at",
        "2027-03-02T10:00+01:00",
        "--json",
    )
    assert code == 0
    (row,) = json.loads(out)
    assert (row["schedule"], row["user"]) == ("Primary", "bob")
    assert row["until"] == 1_804_060_800.0  # 2027-03-03 09:00 Berlin


def test_before_the_first_shift_nobody_is_on_call(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "oncall", "who", "--config", str(config), "--workspace", "beta", "--at", "2027-02-01T00:00"
    )
    assert (code, out) == (0, "beta\tBeta team\t(nobody)\n")


def test_bad_input_exits_2_naming_the_flag(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "oncall", "who", "--config", str(config), "--at", "yesterday")
    assert code == 2 and err.startswith("error: --at:")
    code, _, err = run(capsys, "oncall", "who", "--config", str(config), "--schedule", "Nope")
    assert code == 1 and "--schedule" in err
    code, _, err = run(capsys, "oncall", "who", "--config", str(config), "--workspace", "gamma")
    assert code == 1 and "--workspace" in err


def test_the_installed_command_answers_the_same(config: Path) -> None:
    done = cli(
        "oncall",
        "who",
        "--config",
        str(config),
        "--workspace",
        "alpha",
        "--at",
        "2027-03-01T10:00+01:00",
        cwd=config.parent,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["alpha\tPrimary\tada", "alpha\tSecondary\tbob"]
