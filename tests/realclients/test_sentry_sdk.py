"""The real ``sentry-sdk`` (PyPI), with its default transport, pointed at SignalCraft by DSN only.

A small application runs in its own interpreter: ``sentry_sdk.init(dsn=...)``, a
``ZeroDivisionError`` raised two calls deep and captured twice from the same code, one
``capture_message(level="warning")``, and a cron check-in pair (``in_progress`` then
``ok``), then ``flush()``. The SDK's debug log says what it sent and whether any answer
was not a 2xx; SignalCraft's ingest log says what it accepted.

The SDK compresses with brotli (``Content-Encoding: br``) whenever the application has the
``brotli`` package, else with gzip; both must work.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.realclients.conftest import Appliance, Integration, wait_for

APP = """\
import sys

import sentry_sdk
from sentry_sdk.crons import capture_checkin


def divide(total, parts):
    return total / parts


def checkout(cart):
    return divide(sum(cart), len(cart))


def main(dsn, compression):
    # "default" leaves the choice to the SDK, as an application does.
    experiments = {} if compression == "default" else {"transport_compression_algo": compression}
    sentry_sdk.init(dsn=dsn, debug=True, environment="staging", _experiments=experiments)
    for _ in range(2):  # the same exception from the same code: one issue, two events
        try:
            checkout([])
        except ZeroDivisionError:
            sentry_sdk.capture_exception()
    sentry_sdk.capture_message("Disk almost full on /var", level="warning")
    check_in = capture_checkin(
        monitor_slug="nightly-report",
        status="in_progress",
        monitor_config={"schedule": {"type": "crontab", "value": "0 2 * * *"}, "checkin_margin": 5,
                        "max_runtime": 30, "timezone": "UTC"},
    )
    capture_checkin(monitor_slug="nightly-report", check_in_id=check_in, status="ok", duration=1.5)
    sentry_sdk.flush(timeout=20)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
"""
ENVELOPES = 5  # two errors, one message, two check-ins
ERROR_TITLE = "ZeroDivisionError: division by zero"
MESSAGE = "Disk almost full on /var"
WAIT = 10.0  # seconds; the app flushed before it exited and a 200 means committed, so this is slack


def run_app(workdir: Path, dsn: str, compression: str = "default") -> str:
    """Run the application from its own directory (the SDK marks frames under the cwd in-app)."""
    app = workdir / "shop" / "checkout.py"
    app.parent.mkdir()
    app.write_text(APP)
    result = subprocess.run(
        [sys.executable, app.name, dsn, compression],
        cwd=app.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


@pytest.fixture(scope="module")
def sentry(appliance: Appliance, tmp_path_factory: pytest.TempPathFactory) -> tuple[Integration, str]:
    """A sentry integration and the debug log of one run of the application against it."""
    integration = appliance.create_integration("sentry", "shop")
    dsn = integration.credential
    assert dsn.startswith("http://") and dsn.endswith(f"@127.0.0.1:{appliance.port}/{integration.id}")
    return integration, run_app(tmp_path_factory.mktemp("sentry-app"), dsn)


def delivered(sentry: tuple[Integration, str]) -> Integration:
    """The integration, once the SDK's log shows every envelope answered with a 2xx."""
    integration, sdk_log = sentry
    complaints = ("[sentry] ERROR", "[sentry] WARNING")
    assert not [line for line in sdk_log.splitlines() if line.startswith(complaints)], sdk_log
    return integration


def _groups_by_title(appliance: Appliance, integration: Integration) -> dict[str, dict[str, Any]]:
    return {g["title"]: g for g in appliance.groups(integration)}


def _detail(appliance: Appliance, integration: Integration, title: str, events: int) -> dict[str, Any] | None:
    group = _groups_by_title(appliance, integration).get(title)
    return appliance.group(group["id"]) if group and group["event_count"] >= events else None


def _ingest_log(appliance: Appliance, integration: Integration, at_least: int) -> list[dict[str, Any]]:
    """The integration's ingest log once it has ``at_least`` entries."""

    def enough() -> list[dict[str, Any]] | None:
        found: list[dict[str, Any]] = appliance.ingest_log(integration)
        return found if len(found) >= at_least else None

    return wait_for(enough, f"{at_least} requests in the ingest log", timeout=WAIT)


def test_every_envelope_the_sdk_sends_is_answered_2xx_and_accepted(
    appliance: Appliance, sentry: tuple[Integration, str]
) -> None:
    integration, sdk_log = sentry
    sent = [line for line in sdk_log.splitlines() if "Sending envelope" in line]

    assert len(sent) >= ENVELOPES, sdk_log
    assert "Unexpected status code" not in sdk_log, sdk_log
    delivered(sentry)
    log = _ingest_log(appliance, integration, len(sent))
    assert len(log) == len(sent)
    assert all(entry["accepted"] for entry in log), log


def test_a_captured_exception_arrives_with_its_stack_trace(
    appliance: Appliance, sentry: tuple[Integration, str]
) -> None:
    integration = delivered(sentry)
    detail = wait_for(
        lambda: _detail(appliance, integration, ERROR_TITLE, 1), "the error group", timeout=WAIT
    )

    [alert] = detail["alerts"]
    assert alert["source"] == "sentry"
    assert alert["severity"] == "error"
    assert alert["labels"]["environment"] == "staging"
    assert alert["labels"]["platform"] == "python"
    trace = alert["stacktrace"]
    assert trace["exception_type"] == "ZeroDivisionError"
    assert trace["exception_value"] == "division by zero"
    in_app = [f for f in trace["frames"] if f["in_app"]]
    assert [f["function"] for f in in_app] == ["main", "checkout", "divide"]  # outermost first, as sent
    innermost = in_app[-1]
    assert innermost["filename"] == "checkout.py"
    assert innermost["context_line"].strip() == "return total / parts"
    assert innermost["lineno"] == APP.splitlines().index("    return total / parts") + 1


def test_the_same_exception_from_the_same_code_folds_into_one_group(
    appliance: Appliance, sentry: tuple[Integration, str]
) -> None:
    integration = delivered(sentry)
    detail = wait_for(
        lambda: _detail(appliance, integration, ERROR_TITLE, 2), "the second error event", timeout=WAIT
    )

    assert detail["group"]["event_count"] == 2
    assert detail["group"]["alert_count"] == 1
    [alert] = detail["alerts"]
    assert alert["event_count"] == 2
    assert alert["fingerprint"].startswith("sentry:")


def test_a_captured_message_is_a_group_of_its_own(
    appliance: Appliance, sentry: tuple[Integration, str]
) -> None:
    integration = delivered(sentry)
    detail = wait_for(lambda: _detail(appliance, integration, MESSAGE, 1), "the message group", timeout=WAIT)

    [alert] = detail["alerts"]
    assert alert["severity"] == "warning"
    assert alert["stacktrace"] is None
    groups = _groups_by_title(appliance, integration)
    assert set(groups) == {ERROR_TITLE, MESSAGE}


def test_cron_check_ins_are_accepted_without_becoming_alerts(
    appliance: Appliance, sentry: tuple[Integration, str]
) -> None:
    integration, sdk_log = sentry
    check_ins = [line for line in sdk_log.splitlines() if "Sending envelope" in line and "(monitor)" in line]
    assert len(check_ins) == 2, sdk_log
    delivered(sentry)

    log = _ingest_log(appliance, integration, ENVELOPES)
    # A check-in carries no alert: its request is accepted with nothing to do (monitors come later).
    assert sum(1 for entry in log if entry["accepted"] and entry["alerts"] == 0) >= 2, log
    assert sum(g["alert_count"] for g in appliance.groups(integration)) == 2


def test_brotli_compressed_envelopes_are_accepted(appliance: Appliance, tmp_path: Path) -> None:
    integration = appliance.create_integration("sentry", "brotli")
    delivered((integration, run_app(tmp_path, integration.credential, compression="br")))
    log = _ingest_log(appliance, integration, ENVELOPES)
    assert all(entry["accepted"] for entry in log), log
    assert {g["title"] for g in appliance.groups(integration)} == {ERROR_TITLE, MESSAGE}
