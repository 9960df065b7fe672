"""Probes against real local servers, driven by the engine with a hand-moved clock: a monitor
goes down after N failures (500, server gone, too slow, assertion failed), its alert fires
through the normal pipeline, and it resolves when the target recovers."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from signalcraft.db.connection import rows
from signalcraft.runtime import Parts
from signalcraft.uptime.engine import Engine
from tests.helpers import FakeClock, Member
from tests.uptime.conftest import Listener, Target, create_monitor, self_signed, start_target


def alerts_of(parts: Parts, monitor_id: int) -> list[tuple[str, str]]:
    """(status, title) of the monitor's alerts, oldest first."""
    return parts.ctx.db.read(
        lambda c: [
            (r[0], r[1])
            for r in rows(
                c,
                "SELECT status, title FROM alerts WHERE fingerprint = ? ORDER BY id",
                (f"monitor:{monitor_id}",),
            )
        ]
    )


def monitor_row(parts: Parts, monitor_id: int) -> tuple[str, str, int | None]:
    return parts.ctx.db.read(
        lambda c: rows(
            c, "SELECT status, last_message, last_latency_ms FROM monitors WHERE id = ?", (monitor_id,)
        )[0]
    )


def check(engine: Engine, clock: FakeClock, times: int = 1, step: float = 60.0) -> None:
    """Let ``times`` intervals pass, running what is due after each (a new monitor's first check
    falls somewhere in its first interval: checks are spread, not all at once)."""

    async def run() -> None:
        for _ in range(times):
            await engine.reload(clock())
            clock.advance(step)
            await engine.run_due(clock())
        await engine.aclose()

    asyncio.run(run())


def http_monitor(parts: Parts, owner: Member, clock: FakeClock, url: str, **settings: object) -> int:
    return create_monitor(
        parts,
        owner,
        clock,
        kind="http",
        interval_seconds=60,
        timeout_seconds=2,
        settings={"url": url, **settings},
    ).id


def test_an_http_monitor_goes_down_after_three_500s_and_recovers(
    parts: Parts, owner: Member, clock: FakeClock, engine: Engine, target: Target
) -> None:
    monitor_id = http_monitor(parts, owner, clock, target.url + "/health")
    check(engine, clock)
    assert monitor_row(parts, monitor_id)[0] == "up"
    target.behaviour.status = 500
    check(engine, clock, 2)
    assert monitor_row(parts, monitor_id)[:2] == ("up", "HTTP 500 (expected 200-299)")
    assert alerts_of(parts, monitor_id) == []
    check(engine, clock)
    assert monitor_row(parts, monitor_id)[0] == "down"
    assert alerts_of(parts, monitor_id) == [("firing", "Site is down")]
    target.behaviour.status = 200
    check(engine, clock)
    assert monitor_row(parts, monitor_id)[0] == "up"
    assert alerts_of(parts, monitor_id) == [("resolved", "Site is down")]


def test_a_server_that_goes_away_is_a_connection_failure(
    parts: Parts, owner: Member, clock: FakeClock, engine: Engine, target: Target
) -> None:
    monitor_id = create_monitor(
        parts,
        owner,
        clock,
        kind="http",
        interval_seconds=60,
        timeout_seconds=2,
        failures_before_down=1,
        settings={"url": target.url},
    ).id
    target.stop()
    check(engine, clock)
    status, message, _ = monitor_row(parts, monitor_id)
    assert status == "down"
    assert "connection failed" in message
    assert alerts_of(parts, monitor_id) == [("firing", "Site is down")]


def test_a_slow_answer_times_out_and_a_threshold_catches_a_merely_slow_one(
    parts: Parts, owner: Member, clock: FakeClock, engine: Engine, target: Target
) -> None:
    target.behaviour.delay = 1.3
    timed_out = create_monitor(
        parts,
        owner,
        clock,
        kind="http",
        name="timeout",
        interval_seconds=60,
        timeout_seconds=1,
        settings={"url": target.url},
    ).id
    too_slow = http_monitor(parts, owner, clock, target.url, max_response_ms=500)
    check(engine, clock)
    assert monitor_row(parts, timed_out)[1] == "timed out after 1 s"
    message, latency = monitor_row(parts, too_slow)[1:]
    assert "slower than 500 ms" in message
    assert latency is not None and latency >= 1300


ASSERTIONS = [
    ({"keyword": "healthy"}, ""),
    ({"keyword": "broken"}, "the response does not contain 'broken'"),
    ({"keyword": "healthy", "keyword_absent": True}, "the response contains 'healthy'"),
    ({"json_path": "$.db.up", "json_expected": "true"}, ""),
    ({"json_path": "status", "json_expected": "degraded"}, "JSON path status is 'ok', expected 'degraded'"),
    ({"json_path": "missing"}, "nothing at JSON path missing"),
    ({"expected_status": "201"}, "HTTP 200 (expected 201)"),
    ({"method": "POST", "body": "ping", "headers": "X-Probe: 1"}, ""),
]


def test_http_assertions_on_status_keyword_and_json_path(
    parts: Parts, owner: Member, clock: FakeClock, engine: Engine, target: Target
) -> None:
    target.behaviour.body = b'{"status": "ok", "db": {"up": true}, "note": "healthy"}'
    ids = [http_monitor(parts, owner, clock, target.url, **extra) for extra, _ in ASSERTIONS]
    check(engine, clock)
    for monitor_id, (extra, problem) in zip(ids, ASSERTIONS, strict=True):
        status, message, _ = monitor_row(parts, monitor_id)
        assert (status == "up") == (not problem), extra
        if problem:
            assert message == problem


def test_redirects_are_followed_unless_turned_off(
    parts: Parts, owner: Member, clock: FakeClock, engine: Engine, target: Target
) -> None:
    followed = http_monitor(parts, owner, clock, target.url + "/redirect")
    not_followed = http_monitor(parts, owner, clock, target.url + "/redirect", follow_redirects=False)
    check(engine, clock)
    assert monitor_row(parts, followed)[0] == "up"
    assert monitor_row(parts, not_followed)[1] == "HTTP 302 (expected 200-299)"


def test_a_tcp_port_is_open_until_the_listener_closes(
    parts: Parts, owner: Member, clock: FakeClock, engine: Engine, tcp_listener: Listener
) -> None:
    monitor_id = create_monitor(
        parts,
        owner,
        clock,
        kind="tcp",
        interval_seconds=60,
        failures_before_down=1,
        settings={"host": "127.0.0.1", "port": tcp_listener.port},
    ).id
    check(engine, clock)
    assert monitor_row(parts, monitor_id)[:2] == ("up", f"port {tcp_listener.port} open")
    tcp_listener.close()
    check(engine, clock)
    status, message, _ = monitor_row(parts, monitor_id)
    assert status == "down" and message.startswith(f"cannot connect to 127.0.0.1:{tcp_listener.port}")


def test_dns_localhost_resolves_to_the_expected_address_and_invalid_names_fail(
    parts: Parts, owner: Member, clock: FakeClock, engine: Engine
) -> None:
    ok = create_monitor(
        parts,
        owner,
        clock,
        kind="dns",
        interval_seconds=60,
        settings={"hostname": "localhost", "expected": "127.0.0.1"},
    ).id
    wrong = create_monitor(
        parts,
        owner,
        clock,
        kind="dns",
        interval_seconds=60,
        failures_before_down=1,
        settings={"hostname": "localhost", "expected": "127.0.0.9"},
    ).id
    missing = create_monitor(
        parts,
        owner,
        clock,
        kind="dns",
        interval_seconds=60,
        failures_before_down=1,
        settings={"hostname": "nothing-here.invalid"},
    ).id
    check(engine, clock)
    assert monitor_row(parts, ok)[0] == "up"
    assert monitor_row(parts, wrong)[1].endswith("expected 127.0.0.9")
    status, message, _ = monitor_row(parts, missing)
    assert status == "down" and message.startswith("nothing-here.invalid does not resolve")


def cert_alerts(parts: Parts, monitor_id: int) -> list[tuple[str, str]]:
    return parts.ctx.db.read(
        lambda c: [
            (r[0], r[1])
            for r in rows(
                c,
                "SELECT status, title FROM alerts WHERE fingerprint = ? ORDER BY id",
                (f"monitor:{monitor_id}:certificate",),
            )
        ]
    )


def test_a_certificate_expiring_within_the_warning_days_raises_a_warning(
    parts: Parts, owner: Member, clock: FakeClock, engine: Engine, tmp_path: Path
) -> None:
    expires = dt.datetime.fromtimestamp(clock() + 3 * 86400, dt.UTC)
    server = start_target(
        self_signed(tmp_path, not_after=expires, not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    )
    try:
        tls = create_monitor(
            parts,
            owner,
            clock,
            kind="tls",
            interval_seconds=60,
            settings={"host": "localhost", "port": server.port, "verify_tls": False, "cert_expiry_days": 14},
        ).id
        https = http_monitor(parts, owner, clock, f"https://localhost:{server.port}/", verify_tls=False)
        check(engine, clock)
        assert monitor_row(parts, tls)[0] == "up"
        assert monitor_row(parts, https)[0] == "up"
        assert cert_alerts(parts, tls)[0][0] == "firing"
        assert cert_alerts(parts, https)[0][0] == "firing"
        assert "TLS certificate expires" in cert_alerts(parts, tls)[0][1]
        check(engine, clock, step=4 * 86400.0)  # time is a parameter: four days later it has expired
        assert monitor_row(parts, tls)[1].startswith("certificate expired on")
    finally:
        server.stop()


def test_a_self_signed_certificate_fails_validation_unless_verification_is_off(
    parts: Parts, owner: Member, clock: FakeClock, engine: Engine, tmp_path: Path
) -> None:
    server = start_target(self_signed(tmp_path, not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=300)))
    try:
        verified = create_monitor(
            parts,
            owner,
            clock,
            kind="tls",
            interval_seconds=60,
            failures_before_down=1,
            settings={"host": "localhost", "port": server.port},
        ).id
        https = create_monitor(
            parts,
            owner,
            clock,
            kind="http",
            interval_seconds=60,
            failures_before_down=1,
            settings={"url": f"https://localhost:{server.port}/"},
        ).id
        lenient = create_monitor(
            parts,
            owner,
            clock,
            kind="tls",
            interval_seconds=60,
            settings={"host": "localhost", "port": server.port, "verify_tls": False},
        ).id
        check(engine, clock)
        assert monitor_row(parts, verified)[:2] == ("down", "certificate not valid: self-signed certificate")
        assert "CERTIFICATE_VERIFY_FAILED" in monitor_row(parts, https)[1]
        assert monitor_row(parts, lenient)[0] == "up"
        assert cert_alerts(parts, lenient) == []
    finally:
        server.stop()


def test_a_name_resolving_to_a_metadata_address_is_refused_at_run_time(
    parts: Parts, owner: Member, clock: FakeClock, tcp_listener: Listener
) -> None:
    async def metadata(host: str, port: int) -> list[str]:
        return ["169.254.169.254"]

    engine = Engine(parts.ctx.db, parts.ctx.settings, clock, resolver=metadata)
    tcp = create_monitor(
        parts,
        owner,
        clock,
        kind="tcp",
        interval_seconds=60,
        failures_before_down=1,
        settings={"host": "metadata.example", "port": tcp_listener.port},
    ).id
    http = http_monitor(parts, owner, clock, "http://metadata.example/latest/meta-data/")
    check(engine, clock)
    assert "which probes may not reach" in monitor_row(parts, tcp)[1]
    assert "169.254.169.254, which is not allowed" in monitor_row(parts, http)[1]


def test_checks_never_exceed_the_concurrency_limit(
    parts: Parts, owner: Member, clock: FakeClock, target: Target
) -> None:
    import dataclasses

    from signalcraft.config import with_overrides

    settings = with_overrides(
        parts.ctx.settings, uptime=dataclasses.replace(parts.ctx.settings.uptime, max_concurrency=2)
    )
    engine = Engine(parts.ctx.db, settings, clock)
    target.behaviour.delay = 0.2
    for i in range(6):
        http_monitor(parts, owner, clock, f"{target.url}/{i}")
    in_flight, peak = [0], [0]
    original = target.server.RequestHandlerClass.do_GET  # type: ignore[attr-defined]

    def counting(handler):  # type: ignore[no-untyped-def]
        in_flight[0] += 1
        peak[0] = max(peak[0], in_flight[0])
        try:
            original(handler)
        finally:
            in_flight[0] -= 1

    target.server.RequestHandlerClass.do_GET = counting  # type: ignore[attr-defined]
    check(engine, clock)
    assert target.behaviour.hits == 6
    assert peak[0] == 2
