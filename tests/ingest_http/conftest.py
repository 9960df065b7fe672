"""Integrations created through the API, payloads posted through HTTP, state read back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.helpers import Member

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "payloads"

Make = Callable[..., dict[str, Any]]


@pytest.fixture
def api(client: TestClient, owner: Member) -> TestClient:
    """The owner's session, with the CSRF header set for API writes."""
    client.cookies.set("sc_session", owner.session_token)
    client.headers["X-CSRF-Token"] = owner.csrf
    return client


@pytest.fixture
def make_integration(api: TestClient) -> Make:
    def make(type_: str, name: str = "", **settings: Any) -> dict[str, Any]:
        response = api.post(
            "/api/v1/workspaces/acme/integrations",
            json={"type": type_, "name": name or type_, "settings": settings},
        )
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    return make


def sample(source: str, name: str) -> bytes:
    return (SAMPLES / source / name).read_bytes()


def groups(api: TestClient, **params: str) -> list[dict[str, Any]]:
    response = api.get("/api/v1/workspaces/acme/alert-groups", params=params)
    assert response.status_code == 200, response.text
    return response.json()["groups"]  # type: ignore[no-any-return]


def group_detail(api: TestClient, group_id: int) -> dict[str, Any]:
    response = api.get(f"/api/v1/workspaces/acme/alert-groups/{group_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]
