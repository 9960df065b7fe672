"""Heartbeats over the real app: Healthchecks-style pings and Uptime Kuma pushes, lateness found
by the engine with a hand-moved clock (late -> alert -> ping -> resolved), run durations, capped
log bodies, the bad pings (unknown, paused, bad action: clear errors, nothing stored), and Sentry
cron check-ins feeding the same monitors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from litestar.testing import TestClient

from signalcraft.db.connection import rows, scalar
from signalcraft.db.queries import integrations as iq
from signalcraft.ingest.model import CheckIn
from signalcraft.runtime import Parts
from signalcraft.uptime.engine import Engine
from signalcraft.uptime.sentry import record_check_ins
from tests.helpers import FakeClock, Member
from tests.uptime.conftest import create_monitor


def heartbeat(parts: Parts, owner: Member, clock: FakeClock, **settings: object) -> tuple[int, str]:
    found = create_monitor(
        parts,
        owner,
        clock,
        kind="heartbeat",
        name="Nightly backup",
        settings={"period_seconds": 3600, "grace_seconds": 300, **settings},
    )
    assert found.ping_key
    return found.id, found.ping_key


def state(parts: Parts, monitor_id: int) -> tuple[str, str, float | None]:
    return parts.ctx.db.read(
        lambda c: rows(
            c, "SELECT status, last_message, last_duration FROM monitors WHERE id = ?", (monitor_id,)
        )[0]
    )


def alert_statuses(parts: Parts, monitor_id: int) -> list[str]:
    return parts.ctx.db.read(
        lambda c: [
            r[0]
            for r in rows(
                c, "SELECT status FROM alerts WHERE fingerprint = ? ORDER BY id", (f"monitor:{monitor_id}",)
            )
        ]
    )


def pings(parts: Parts, monitor_id: int) -> list[tuple[str, int | None, bytes | None, int]]:
    return parts.ctx.db.read(
        lambda c: [
            (r[0], r[1], r[2], r[3])
            for r in rows(
                c,
                "SELECT kind, exit_status, body, body_size FROM monitor_pings WHERE monitor_id = ?"
                " ORDER BY id",
                (monitor_id,),
            )
        ]
    )


def sweep(engine: Engine, clock: FakeClock) -> int:
    return asyncio.run(engine.sweep_heartbeats(clock()))


def test_a_late_heartbeat_alerts_and_the_next_ping_resolves(
    client: TestClient, parts: Parts, owner: Member, clock: FakeClock, engine: Engine
) -> None:
    monitor_id, key = heartbeat(parts, owner, clock)
    clock.advance(10 * 86400)
    assert sweep(engine, clock) == 0  # never pinged: pending, never late
    response = client.get(f"/ping/{key}")
    assert (response.status_code, response.text) == (200, "OK")
    assert state(parts, monitor_id)[0] == "up"
    clock.advance(3600 + 299)
    assert sweep(engine, clock) == 0  # within the grace time
    clock.advance(2)
    assert sweep(engine, clock) == 1
    status, message, _ = state(parts, monitor_id)
    assert status == "down" and message.startswith("no ping since")
    assert alert_statuses(parts, monitor_id) == ["firing"]
    assert client.post(f"/ping/{key}", content=b"done").status_code == 200
    assert state(parts, monitor_id)[0] == "up"
    assert alert_statuses(parts, monitor_id) == ["resolved"]


def test_start_then_success_measures_the_run_and_a_hung_run_goes_down(
    client: TestClient, parts: Parts, owner: Member, clock: FakeClock, engine: Engine
) -> None:
    monitor_id, key = heartbeat(parts, owner, clock)
    client.get(f"/ping/{key}")
    client.get(f"/ping/{key}/start")
    clock.advance(42.5)
    client.get(f"/ping/{key}/0")
    assert state(parts, monitor_id)[2] == 42.5
    client.put(f"/ping/{key}/start")
    clock.advance(301)
    assert sweep(engine, clock) == 1
    assert "did not finish in time" in state(parts, monitor_id)[1]


def test_failures_and_exit_statuses(
    client: TestClient, parts: Parts, owner: Member, clock: FakeClock
) -> None:
    monitor_id, key = heartbeat(parts, owner, clock)
    assert client.request("DELETE", f"/ping/{key}/3", content=b"disk full").status_code == 200
    status, message, _ = state(parts, monitor_id)
    assert (status, message) == ("down", "exit status 3")
    client.patch(f"/ping/{key}/0")
    client.post(f"/ping/{key}/fail")
    client.get(f"/ping/{key}/log", params={"x": "1"})
    assert [(k, e) for k, e, _, _ in pings(parts, monitor_id)] == [
        ("fail", 3),
        ("success", 0),
        ("fail", None),
        ("log", None),
    ]
    assert state(parts, monitor_id)[0] == "down"  # a log ping changes nothing


def test_a_100_mb_log_body_is_accepted_and_capped(
    client: TestClient, parts: Parts, owner: Member, clock: FakeClock
) -> None:
    monitor_id, key = heartbeat(parts, owner, clock)

    def body() -> Iterator[bytes]:
        chunk = b"log line\n" * 116_509  # ~1 MB
        for _ in range(100):
            yield chunk

    response = client.post(f"/ping/{key}", content=body())
    assert response.status_code == 200
    [(kind, _, kept, size)] = pings(parts, monitor_id)
    cap = parts.ctx.settings.uptime.log_body_max_bytes
    assert kind == "success" and kept is not None and len(kept) == cap and kept.startswith(b"log line\n")
    assert size == 100 * 116_509 * 9


def test_only_the_last_n_pings_are_kept(
    client: TestClient, parts: Parts, owner: Member, clock: FakeClock
) -> None:
    import dataclasses

    from signalcraft.config import with_overrides

    parts.ctx.settings = with_overrides(
        parts.ctx.settings, uptime=dataclasses.replace(parts.ctx.settings.uptime, log_bodies_kept=3)
    )
    monitor_id, key = heartbeat(parts, owner, clock)
    for i in range(6):
        client.post(f"/ping/{key}/log", content=f"run {i}".encode())
    assert [b for _, _, b, _ in pings(parts, monitor_id)] == [b"run 3", b"run 4", b"run 5"]


def test_bad_pings_get_clear_errors_and_store_nothing(
    client: TestClient, parts: Parts, owner: Member, clock: FakeClock
) -> None:
    monitor_id, key = heartbeat(parts, owner, clock)
    cases = [
        (f"/ping/{'0' * 36}", 404, "not found: no monitor has this ping URL"),
        ("/ping/not-a-uuid/start", 404, "not found"),
        (f"/ping/{key}/256", 400, "unknown ping '256': use start, fail, log or an exit status 0-255"),
        (f"/ping/{key}/restart", 400, "unknown ping 'restart'"),
    ]
    for url, status, message in cases:
        response = client.post(url, content=b"x")
        assert response.status_code == status, url
        assert response.text.startswith(message)
    parts.ctx.db.write(lambda c: c.execute("UPDATE monitors SET paused = 1 WHERE id = ?", (monitor_id,)))
    response = client.get(f"/ping/{key}")
    assert response.status_code == 409 and "paused" in response.text
    assert client.get(f"/api/push/{key}").json() == {
        "ok": False,
        "msg": "this monitor is paused: resume it to record pings (nothing was stored)",
    }
    assert pings(parts, monitor_id) == []
    assert state(parts, monitor_id)[0] == "pending"


def test_uptime_kuma_push(client: TestClient, parts: Parts, owner: Member, clock: FakeClock) -> None:
    monitor_id, key = heartbeat(parts, owner, clock)
    assert client.get(f"/api/push/{key}", params={"status": "up", "msg": "OK", "ping": "12.5"}).json() == {
        "ok": True
    }
    assert state(parts, monitor_id)[0] == "up"
    response = client.get(f"/api/push/{key}", params={"status": "down", "msg": "queue stuck"})
    assert response.json() == {"ok": True}
    assert state(parts, monitor_id)[:2] == ("down", "queue stuck")
    bad = client.get(f"/api/push/{key}", params={"status": "sideways"})
    assert (bad.status_code, bad.json()) == (400, {"ok": False, "msg": "status must be up or down"})
    unknown = client.get("/api/push/nope")
    assert unknown.status_code == 404 and unknown.json()["ok"] is False


def sentry_integration(parts: Parts, owner: Member, clock: FakeClock) -> iq.Integration:
    return parts.ctx.db.write(
        lambda c: iq.create(c, owner.workspace.id, "sentry", "app", "k" * 32, {}, clock())
    )


def test_sentry_check_ins_create_and_feed_a_heartbeat(parts: Parts, owner: Member, clock: FakeClock) -> None:
    integration = sentry_integration(parts, owner, clock)
    config = {
        "schedule": {"type": "crontab", "value": "0 * * * *"},
        "checkin_margin": 5,
        "max_runtime": 30,
        "timezone": "Europe/Paris",
    }

    def send(*check_ins: CheckIn):  # type: ignore[no-untyped-def]
        return parts.ctx.db.write(
            lambda c: record_check_ins(c, integration, check_ins, clock(), settings=parts.ctx.settings)
        )

    first = send(CheckIn("nightly-etl", "in_progress", "c1", None, config))
    assert (first.created, first.recorded) == (1, 1)
    monitor_id = parts.ctx.db.read(lambda c: scalar(c, "SELECT id FROM monitors WHERE slug = 'nightly-etl'"))
    clock.advance(12)
    send(CheckIn("nightly-etl", "ok", "c1", 11.5))
    assert state(parts, monitor_id)[0] == "up" and state(parts, monitor_id)[2] == 11.5
    send(CheckIn("nightly-etl", "error", "c2", 3.0, config))
    assert alert_statuses(parts, monitor_id) == ["firing"]
    ignored = send(
        CheckIn("unknown-job", "ok"),
        CheckIn("never", "ok", monitor_config={"schedule": {"type": "crontab", "value": "0 0 30 2 *"}}),
    )
    assert (ignored.recorded, ignored.ignored, ignored.created) == (0, 2, 0)
    settings = parts.ctx.db.read(
        lambda c: scalar(c, "SELECT settings FROM monitors WHERE id = ?", (monitor_id,))
    )
    assert '"grace_seconds":300' in settings and '"max_runtime_seconds":1800' in settings
