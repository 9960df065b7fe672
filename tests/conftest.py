"""Shared fixtures: real SQLite files in a temporary directory, the real app in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from signalcraft.config import DataConfig, Settings, load_settings, with_overrides
from signalcraft.runtime import Parts, build
from tests.helpers import FakeClock, Member, member


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    base = load_settings(None, env={})
    return with_overrides(base, data=DataConfig(dir=str(tmp_path / "data")))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def parts(settings: Settings, clock: FakeClock) -> Iterator[Parts]:
    built = build(settings, clock=clock)
    built.ctx.db.open()
    try:
        yield built
    finally:
        built.ctx.db.close()


@pytest.fixture
def client(parts: Parts) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(app=parts.app, base_url="http://127.0.0.1:8080") as c:
        yield c


@pytest.fixture
def owner(parts: Parts, clock: FakeClock) -> Member:
    from signalcraft.auth.rbac import Role

    return member(parts.ctx.db, "owner@example.com", Role.OWNER, "acme", clock(), admin=True)


def signed_in(client: TestClient, who: Member) -> TestClient:  # type: ignore[type-arg]
    client.cookies.set("sc_session", who.session_token)
    return client
