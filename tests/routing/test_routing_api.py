"""Who may change routing over HTTP: viewers read only, responders silence (also from an alert
group) but cannot edit routing, another workspace's member gets 404; bad input is a 400 naming
the field."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from signalcraft.auth.rbac import Role
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, Member, member

WS = "/api/v1/workspaces/alpha"
RULES = {"rules": [{"name": "all", "conditions": {}, "actions": {"drop": True}}]}
SILENCE = {"matchers": ["alertname=DiskFull"], "duration_minutes": 30, "comment": "on it"}
CONFIG_WRITES: list[tuple[str, dict[str, Any]]] = [
    ("routing/rules", RULES),
    ("routing/default", {"actions": {}}),
    ("maintenance-windows", {"windows": []}),
    ("inhibit-rules", {"inhibit_rules": []}),
]


@pytest.fixture
def people(parts: Parts, clock: FakeClock) -> dict[str, Member]:
    db, now = parts.ctx.db, clock()
    return {
        role: member(db, f"{role}@example.com", Role(role), "alpha", now)
        for role in ("owner", "responder", "viewer")
    } | {"stranger": member(db, "stranger@example.com", Role.OWNER, "beta", now)}


def as_(client: TestClient, who: Member) -> TestClient:
    client.cookies.set("sc_session", who.session_token)
    client.headers["X-CSRF-Token"] = who.csrf
    return client


def test_a_viewer_reads_and_tests_rules_but_changes_nothing(
    client: TestClient, people: dict[str, Member]
) -> None:
    api = as_(client, people["viewer"])
    for path, body in CONFIG_WRITES:
        assert api.put(f"{WS}/{path}", json=body).status_code == 403, path
    assert api.post(f"{WS}/silences", json=SILENCE).status_code == 403
    assert api.post(f"{WS}/silences/expire", json={"id": 1}).status_code == 403
    assert api.get(f"{WS}/routing/rules").status_code == 200
    assert api.post(f"{WS}/routing/test", json={**RULES, "n": 5}).json() == {"results": []}


def test_a_responder_silences_but_cannot_edit_routing(client: TestClient, people: dict[str, Member]) -> None:
    api = as_(client, people["responder"])
    for path, body in CONFIG_WRITES:
        assert api.put(f"{WS}/{path}", json=body).status_code == 403, path
    created = api.post(f"{WS}/silences", json=SILENCE)
    assert created.status_code == 201, created.text
    assert created.json()["author"] == "responder@example.com"
    expired = api.post(f"{WS}/silences/expire", json={"id": created.json()["id"]})
    assert expired.status_code == 200 and expired.json()["state"] == "expired"
    # one click from an alert group: this group does not exist, so 404 (not 403)
    assert api.post(f"{WS}/alert-groups/999/silence", json={}).status_code == 404


def test_an_owner_saves_and_bad_input_names_the_field(client: TestClient, people: dict[str, Member]) -> None:
    api = as_(client, people["owner"])
    for path, body in CONFIG_WRITES:
        assert api.put(f"{WS}/{path}", json=body).status_code == 200, path
    bad = api.put(
        f"{WS}/routing/rules", json={"rules": [{"name": "x", "conditions": {"matchers": ["a=~("]}}]}
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "rules[0].conditions.matchers[0]"
    bad_silence = api.post(f"{WS}/silences", json={"matchers": ["a=b"]})
    assert bad_silence.status_code == 400 and bad_silence.json()["error"]["field"] == "ends_at"


def test_another_workspace_is_not_found(client: TestClient, people: dict[str, Member]) -> None:
    api = as_(client, people["stranger"])
    for path, body in CONFIG_WRITES:
        assert api.put(f"{WS}/{path}", json=body).status_code == 404, path
        assert api.get(f"{WS}/{path}").status_code == 404, path
    assert api.post(f"{WS}/silences", json=SILENCE).status_code == 404
    assert api.get(f"{WS}/alert-groups/1/routing").status_code == 404
