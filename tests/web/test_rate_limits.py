"""Rate limits: per API key and per session ([limits]), per address on sign-in ([auth]).

Past a limit the answer is 429 with Retry-After: JSON on the API, the error page on HTML
pages. Public routes (ingest, health, metrics, static files) are not limited by [limits].
"""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from signalcraft.auth import service
from signalcraft.auth.rbac import Role
from signalcraft.config import AuthConfig, LimitsConfig, Settings, with_overrides
from signalcraft.db.queries import audit
from signalcraft.errors import RateLimited
from signalcraft.runtime import Parts
from signalcraft.web.ratelimit import TokenBuckets
from tests.helpers import FakeClock, Member, hidden_csrf


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_overrides(
        settings,
        limits=LimitsConfig(api_key_per_minute=3, session_per_minute=2),
        auth=AuthConfig(login_max_failures_per_ip=3, login_max_failures_per_account=100),
    )


def api_key(parts: Parts, who: Member, now: float) -> str:
    return parts.ctx.db.write(
        lambda c: service.create_api_key(c, who.workspace.id, "k", Role.ADMIN, audit.CLI, now, None)
    ).key


# --- the bucket --------------------------------------------------------------------------


def test_a_bucket_allows_a_burst_of_its_size_then_refuses_with_the_seconds_to_wait() -> None:
    buckets = TokenBuckets(60)  # one token a second
    for _ in range(60):
        buckets.take("a", 100.0)
    with pytest.raises(RateLimited) as refused:
        buckets.take("a", 100.0)
    assert refused.value.retry_after == 1
    buckets.take("b", 100.0)  # another caller has its own bucket


def test_a_bucket_refills_evenly_and_never_above_its_size() -> None:
    buckets = TokenBuckets(6)  # one token every 10 s
    for _ in range(6):
        buckets.take("a", 0.0)
    with pytest.raises(RateLimited) as refused:
        buckets.take("a", 5.0)
    assert refused.value.retry_after == 5  # half a token short: 5 s
    buckets.take("a", 10.0)
    for _ in range(6):  # an hour later: full again, but only full
        buckets.take("a", 3600.0)
    with pytest.raises(RateLimited):
        buckets.take("a", 3600.0)


def test_a_clock_stepping_back_does_not_drain_a_bucket() -> None:
    buckets = TokenBuckets(2)
    buckets.take("a", 100.0)
    buckets.take("a", 50.0)
    with pytest.raises(RateLimited):
        buckets.take("a", 50.0)


def test_the_bucket_table_is_bounded_and_forgets_the_least_recently_seen_caller() -> None:
    buckets = TokenBuckets(1, max_callers=3)
    buckets.take("old", 0.0)
    for name in ("b", "c", "d"):
        buckets.take(name, 0.0)
    assert len(buckets) == 3
    buckets.take("old", 0.0)  # forgotten, so a fresh bucket: allowed
    with pytest.raises(RateLimited):
        buckets.take("d", 0.0)  # still remembered: empty


# --- wired into the access guard ------------------------------------------------------------


def test_an_api_key_past_its_limit_gets_429_json_with_retry_after(
    client: TestClient, parts: Parts, owner: Member, clock: FakeClock
) -> None:
    headers = {"Authorization": f"Bearer {api_key(parts, owner, clock())}"}
    for _ in range(3):
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    refused = client.get("/api/v1/me", headers=headers)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "20"  # 3/min: one token every 20 s
    assert refused.json()["error"]["code"] == "rate_limited"
    other = {"Authorization": f"Bearer {api_key(parts, owner, clock())}"}
    assert client.get("/api/v1/me", headers=other).status_code == 200
    clock.advance(20)
    assert client.get("/api/v1/me", headers=headers).status_code == 200


def test_a_session_past_its_limit_gets_the_429_page_with_retry_after(
    client: TestClient, parts: Parts, owner: Member, clock: FakeClock
) -> None:
    client.cookies.set("sc_session", owner.session_token)
    page = f"/w/{owner.workspace.slug}/settings/members"
    for _ in range(2):
        assert client.get(page).status_code == 200
    refused = client.get(page)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "30"
    assert refused.headers["content-type"].startswith("text/html")
    assert "Slow down" in refused.text
    # The same session on the API: the same bucket, JSON this time.
    api = client.get("/api/v1/me")
    assert api.status_code == 429 and api.json()["error"]["code"] == "rate_limited"
    clock.advance(30)
    assert client.get(page).status_code == 200


def test_public_routes_are_not_limited_by_the_session_limit(client: TestClient, owner: Member) -> None:
    client.cookies.set("sc_session", owner.session_token)
    for path in ("/healthz", "/static/app.css", "/metrics") * 3:
        assert client.get(path).status_code == 200, path


def test_sign_in_from_one_address_is_throttled_with_429_and_retry_after(
    client: TestClient, parts: Parts, owner: Member, clock: FakeClock
) -> None:
    def attempt(email: str, password: str):  # type: ignore[no-untyped-def]
        csrf = hidden_csrf(client.get("/login").text)
        return client.post(
            "/login", data={"email": email, "password": password, "_csrf": csrf}, follow_redirects=False
        )

    for n in range(3):  # different accounts: only the per-address limit applies
        assert attempt(f"nobody{n}@example.com", "wrong password").status_code == 401
    refused = attempt(owner.user.email, "wrong password")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 15 * 60 + 1
    assert "Too many failed sign-ins" in refused.text
    # Refused before the password is checked: the right password does not get through either.
    assert attempt(owner.user.email, "correct horse battery").status_code == 429
    clock.advance(15 * 60 + 1)
    assert attempt(owner.user.email, "correct horse battery").status_code == 303
