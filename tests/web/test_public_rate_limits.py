"""Public routes have limits too ([limits] public_per_minute_per_ip, replay_per_minute_per_ip):
calendar feeds, heartbeat pings and pushes, status pages and badges per client address (each
area on its own), the replay recorder per public key and address. Past a limit: 429 with
Retry-After; another address (told apart by X-Forwarded-For from a trusted proxy) is not
affected, and the bucket refills with time."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest

from signalcraft.config import LimitsConfig, Settings, with_overrides
from signalcraft.db.queries import replays as rq
from signalcraft.replay.ids import new_public_key
from signalcraft.runtime import Parts
from signalcraft.web.ratelimit import address_key
from tests.helpers import FakeClock, Member

PROXY = "10.0.0.5"  # every request arrives through this trusted reverse proxy
ORIGIN = "https://shop.example.com"
PER_MINUTE = 3


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_overrides(
        settings,
        server=replace(settings.server, trusted_proxies=("10.0.0.0/8",)),
        limits=LimitsConfig(public_per_minute_per_ip=PER_MINUTE, replay_per_minute_per_ip=PER_MINUTE),
    )


def get(parts: Parts, path: str, client: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """One request from ``client`` (its address forwarded by the proxy)."""

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=parts.app, client=(PROXY, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://alerts.example") as http:
            return await http.get(path, headers={"X-Forwarded-For": client, **(headers or {})})

    return asyncio.run(send())


def assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1


PUBLIC_ROUTES = {
    "ical schedule feed": "/ical/schedules/nosuchtoken.ics",
    "ical user feed": "/ical/users/nosuchtoken.ics",
    "heartbeat ping": "/ping/00000000-0000-4000-8000-000000000000",
    "heartbeat ping action": "/ping/00000000-0000-4000-8000-000000000000/start",
    "kuma push": "/api/push/nosuchkey?status=up",
    "status page": "/status/nosuchworkspace",
    "badge": "/badge/nosuchmonitor.svg",
}


@pytest.mark.parametrize("path", list(PUBLIC_ROUTES.values()), ids=list(PUBLIC_ROUTES))
def test_hammering_a_public_route_gets_429_with_retry_after_and_other_addresses_go_on(
    parts: Parts, clock: FakeClock, path: str
) -> None:
    answers = [get(parts, path, "203.0.113.7").status_code for _ in range(PER_MINUTE)]
    assert answers == [404] * PER_MINUTE  # unknown tokens: counted all the same
    assert_limited(get(parts, path, "203.0.113.7"))
    assert get(parts, path, "198.51.100.20").status_code == 404  # another client
    clock.advance(60 / PER_MINUTE)  # one token back
    assert get(parts, path, "203.0.113.7").status_code == 404
    assert_limited(get(parts, path, "203.0.113.7"))


def test_each_public_area_has_its_own_bucket(parts: Parts) -> None:
    for _ in range(PER_MINUTE):
        get(parts, PUBLIC_ROUTES["ical schedule feed"], "203.0.113.7")
    assert_limited(get(parts, PUBLIC_ROUTES["ical user feed"], "203.0.113.7"))  # the feeds share one
    assert get(parts, PUBLIC_ROUTES["heartbeat ping"], "203.0.113.7").status_code == 404
    assert get(parts, PUBLIC_ROUTES["badge"], "203.0.113.7").status_code == 404


def test_a_known_heartbeat_is_limited_too_and_a_limited_ping_is_not_recorded(
    parts: Parts, owner: Member, clock: FakeClock
) -> None:
    from signalcraft.db.connection import scalar
    from tests.uptime.conftest import create_monitor

    monitor = create_monitor(parts, owner, clock, kind="heartbeat", settings={"period_seconds": 3600})
    path = f"/ping/{monitor.ping_key}"
    assert [get(parts, path, "203.0.113.7").text for _ in range(PER_MINUTE)] == ["OK"] * PER_MINUTE
    assert_limited(get(parts, path, "203.0.113.7"))
    pings = parts.ctx.db.read(lambda c: scalar(c, "SELECT count(*) FROM monitor_pings"))
    assert pings == PER_MINUTE


def test_the_replay_recorder_is_limited_per_key_and_address_with_cors_headers_on_the_429(
    parts: Parts, owner: Member, clock: FakeClock
) -> None:
    def recorder() -> str:
        return parts.ctx.db.write(
            lambda c: rq.save_recorder(c, owner.workspace.id, new_public_key(), (ORIGIN,), None, clock())
        ).public_key

    key = recorder()
    origin = {"Origin": ORIGIN}
    path = f"/replay/{key}/config"
    assert [get(parts, path, "203.0.113.7", origin).status_code for _ in range(PER_MINUTE)] == [200] * 3
    limited = get(parts, path, "203.0.113.7", origin)
    assert_limited(limited)
    assert limited.headers["access-control-allow-origin"] == ORIGIN  # the recorder can read it
    assert get(parts, path, "198.51.100.20", origin).status_code == 200  # another visitor


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),  # one host owns its /64
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("testclient", "testclient"),
    ],
)
def test_clients_are_counted_by_address_ipv6_by_its_64(address: str, key: str) -> None:
    assert address_key(address) == key
