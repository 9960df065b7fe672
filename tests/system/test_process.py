"""The one process, run for real: start-up, first-run link, readiness, metrics, logs,
graceful SIGTERM, and the start-up errors an admin can hit."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx

from tests.helpers import free_port
from tests.system.conftest import Served, start, write_config


def test_serve_with_no_config_uses_the_embedded_default_and_prints_the_setup_link(tmp_path: Path) -> None:
    port = free_port()
    server = start(tmp_path, None, port, env={"SIGNALCRAFT_SERVER_PORT": str(port)})
    try:
        assert (tmp_path / "signalcraft-data" / "signalcraft.db").exists()
        page = httpx.get(f"{server.url}/login")
        assert page.status_code == 200 and "/static/app.css" in page.text
        assert httpx.get(f"{server.url}/static/app.css").status_code == 200
    finally:
        assert server.stop() == 0
    err = server.output()
    assert "using built-in defaults" in err
    link = next(word for word in err.split() if "/setup/" in word)
    assert link.startswith(f"http://127.0.0.1:{port}/setup/")


def test_readyz_reports_each_part(served: Served) -> None:
    body = httpx.get(f"{served.url}/readyz").json()
    assert body == {
        "status": "ready",
        "checks": {"database": "ok", "queue_consumer": "ok", "probe_loop": "ok"},
    }
    assert httpx.get(f"{served.url}/healthz").json() == {"status": "ok"}


def test_metrics_count_requests_by_route_template(served: Served) -> None:
    httpx.get(f"{served.url}/api/v1/workspaces/some-slug/")
    text = httpx.get(f"{served.url}/metrics").text
    assert (
        'signalcraft_http_requests_total{method="GET",route="/api/v1/workspaces/{slug}",status="401"}' in text
    )
    assert "signalcraft_http_request_duration_seconds_bucket" in text
    assert "signalcraft_queue_depth" in text


def test_sigterm_lets_an_in_flight_request_finish_then_exits_0(served: Served) -> None:
    body = b"email=a%40b.c&password=x&_csrf=y"
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        sock.sendall(
            b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body[:5]
        )
        time.sleep(0.3)
        served.proc.send_signal(15)
        time.sleep(0.5)
        assert served.proc.poll() is None  # still draining our request
        sock.sendall(body[5:])
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 403")  # answered (no CSRF cookie), not dropped
    assert served.proc.wait(30) == 0
    assert "stopped cleanly" in served.output()


def test_a_port_in_use_is_reported_in_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "signalcraft", "serve", "--config", str(write_config(tmp_path, port))],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}: the port is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_second_process_on_the_same_data_directory_is_refused(served: Served) -> None:
    import subprocess
    import sys

    config = served.workdir / "second.toml"
    config.write_text(f'[server]\nport = {free_port()}\n[data]\ndir = "{served.workdir / "data"}"\n')
    result = subprocess.run(
        [sys.executable, "-m", "signalcraft", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        result.returncode != 0 and "another SignalCraft process is using this data directory" in result.stderr
    )


def test_a_bad_config_stops_start_up_with_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    config = tmp_path / "c.toml"
    config.write_text("[server]\nport = 0\n")
    result = subprocess.run(
        [sys.executable, "-m", "signalcraft", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"config error: {config}: server.port: expected an integer between 1 and 65535, got 0"
    )


def test_json_logs_carry_the_request_id(tmp_path: Path) -> None:
    port = free_port()
    server = start(tmp_path, write_config(tmp_path, port, '[log]\nformat = "json"\n'), port)
    response = httpx.get(f"{server.url}/healthz", headers={"X-Request-ID": "trace-12345678"})
    assert response.headers["x-request-id"] == "trace-12345678"
    assert server.stop() == 0
    records = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    access = [r for r in records if r.get("path") == "/healthz"]
    assert access and access[0]["request_id"] == "trace-12345678" and access[0]["status"] == 200
