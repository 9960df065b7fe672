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
    assert api.put(f"{WS}/silences/1", json=SILENCE).status_code == 403
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


def test_a_silence_is_edited_in_place_or_replaced_as_in_alertmanager(
    client: TestClient, people: dict[str, Member], clock: FakeClock
) -> None:
    api = as_(client, people["responder"])
    now = clock()
    pending = api.post(f"{WS}/silences", json={**SILENCE, "starts_at": now + 600}).json()
    moved = api.put(f"{WS}/silences/{pending['id']}",
                    json={"matchers": ["team=db"], "starts_at": now + 1200, "duration_minutes": 10})
    assert moved.status_code == 200, moved.text
    assert moved.json()["id"] == pending["id"] and moved.json()["matchers"] == ['team="db"']
    assert (moved.json()["starts_at"], moved.json()["ends_at"]) == (now + 1200, now + 1800)

    active = api.post(f"{WS}/silences", json=SILENCE).json()
    longer = api.put(f"{WS}/silences/{active['id']}",
                     json={"matchers": active["matchers"], "ends_at": now + 7200, "comment": "longer"})
    assert longer.json()["id"] == active["id"] and longer.json()["starts_at"] == active["starts_at"]
    assert longer.json()["ends_at"] == now + 7200 and longer.json()["comment"] == "longer"
    other = api.put(f"{WS}/silences/{active['id']}",
                    json={"matchers": ["alertname=~Disk.*"], "ends_at": now + 60})
    assert other.status_code == 200 and other.json()["id"] != active["id"]
    states = {s["id"]: s["state"] for s in api.get(f"{WS}/silences").json()}
    assert states[active["id"]] == "expired" and states[other.json()["id"]] == "active"

    ended = api.put(f"{WS}/silences/{active['id']}", json=SILENCE)
    assert ended.status_code == 400 and ended.json()["error"]["field"] == "silence_id"
    bad = api.put(f"{WS}/silences/{other.json()['id']}", json={"matchers": ["a=~("], "duration_minutes": 5})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "matchers[0]"
    assert api.put(f"{WS}/silences/999999", json=SILENCE).status_code == 404


def test_another_workspace_is_not_found(client: TestClient, people: dict[str, Member]) -> None:
    api = as_(client, people["stranger"])
    for path, body in CONFIG_WRITES:
        assert api.put(f"{WS}/{path}", json=body).status_code == 404, path
        assert api.get(f"{WS}/{path}").status_code == 404, path
    assert api.post(f"{WS}/silences", json=SILENCE).status_code == 404
    assert api.put(f"{WS}/silences/1", json=SILENCE).status_code == 404
    assert api.get(f"{WS}/alert-groups/1/routing").status_code == 404
