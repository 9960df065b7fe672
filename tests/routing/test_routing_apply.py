"""Routing applied to real ingest: alerts posted over HTTP, the routing task run as the queue
would run it, decisions, timeline events and outbox rows read back from the database."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from litestar.testing import TestClient

from signalcraft.db.connection import rows, scalar
from signalcraft.db.queries import channels as cq
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, Member
from tests.ingest_http.conftest import Make, api, group_detail, groups, make_integration  # noqa: F401

WS = "/api/v1/workspaces/acme"
JSON = {"Content-Type": "application/json"}


class World:
    """One workspace with an Alertmanager integration, routed by the real task."""

    def __init__(self, client: TestClient, parts: Parts, owner: Member, url: str) -> None:
        self.api, self.parts, self.ws_id, self.url = client, parts, owner.workspace.id, url
        self.task: Any = parts.ctx.extras["tasks"]["route_ingest"]  # registered by runtime.build
        self.woken: list[int] = []
        # Stand in for the delivery worker: record which outbox rows routing woke it for.
        parts.ctx.extras["notifier"] = self

    def submit(self, notification_id: int) -> None:
        self.woken.append(notification_id)

    def channel(self, name: str) -> int:
        now = self.parts.ctx.now()
        return self.parts.ctx.db.write(
            lambda c: cq.create(
                c, self.ws_id, "webhook", name, {"url": "https://hooks.example.com/x"}, {}, now
            )
        ).id

    def fire(self, status: str = "firing", **labels: str) -> None:
        alert = {
            "status": status,
            "labels": labels,
            "annotations": {"summary": labels["alertname"]},
            "startsAt": "2026-11-27T19:31:44Z",
            "endsAt": "0001-01-01T00:00:00Z",
        }
        body = orjson.dumps({"receiver": "all", "status": status, "alerts": [alert]})
        response = self.api.post(self.url, content=body, headers=JSON)
        assert response.status_code == 200, response.text

    def route(self) -> list[Any]:
        """Run the routing task over every event (already-routed and other kinds are skipped)."""
        ids = self.parts.ctx.db.read(
            lambda c: [
                r[0] for r in rows(c, "SELECT id FROM alert_events WHERE workspace_id = ?", (self.ws_id,))
            ]
        )
        return self.task.call_local(self.ws_id, ids)  # type: ignore[no-any-return]

    def group_of(self, alertname: str) -> dict[str, Any]:
        return next(g for g in groups(self.api) if g["title"] == alertname)

    def decisions(self, group_id: int) -> list[dict[str, Any]]:
        response = self.api.get(f"{WS}/alert-groups/{group_id}/routing")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def timeline(self, group_id: int) -> list[dict[str, Any]]:
        return group_detail(self.api, group_id)["timeline"]  # type: ignore[no-any-return]

    def outbox(self) -> list[tuple[int, int, str]]:
        return self.parts.ctx.db.read(
            lambda c: [
                tuple(r) for r in rows(c, "SELECT channel_id, group_id, event_kind FROM notifications")
            ]
        )

    def put(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.api.put(f"{WS}/{path}", json=body)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def world(api: TestClient, parts: Parts, owner: Member, make_integration: Make) -> World:  # noqa: F811
    url = make_integration("alertmanager")["ingest_url"].split("8080", 1)[1]
    return World(api, parts, owner, url)


def test_a_matching_rule_notifies_its_channels_and_acks_and_resolves_follow_them(world: World) -> None:
    db_team, fallback = world.channel("db"), world.channel("everyone")
    saved = world.put(
        "routing/rules",
        {
            "rules": [
                {
                    "name": "Database team",
                    "conditions": {"matchers": ['team="db"']},
                    "actions": {"notify": [db_team]},
                },
            ]
        },
    )
    world.put("routing/default", {"actions": {"notify": [fallback], "escalation_policy": 7}})
    world.fire(alertname="DiskFull", team="db")
    world.fire(alertname="CpuHigh", team="web")
    world.route()

    disk, cpu = world.group_of("DiskFull"), world.group_of("CpuHigh")
    (decision,) = world.decisions(disk["id"])
    assert decision["matched_rules"] == [saved["rules"][0]["id"]]
    assert decision["notified_channels"] == [db_team] and not decision["used_default"]
    (fallback_decision,) = world.decisions(cpu["id"])
    assert fallback_decision["used_default"] and fallback_decision["notified_channels"] == [fallback]
    assert fallback_decision["escalation_policies"] == [7]  # recorded for the escalation engine
    routed = [e for e in world.timeline(disk["id"]) if e["kind"] == "routed"]
    assert routed[0]["detail"]["rules"] == ["Database team"]
    assert sorted(world.outbox()) == sorted(
        [(db_team, disk["id"], "triggered"), (fallback, cpu["id"], "triggered")]
    )
    assert len(world.woken) == 2

    world.fire("resolved", alertname="DiskFull", team="db")
    world.route()
    assert (db_team, disk["id"], "resolved") in world.outbox()  # the same channel hears it ended
    assert [d["event_kind"] for d in world.decisions(disk["id"])] == ["triggered", "resolved"]


def test_a_drop_rule_keeps_the_alert_and_pages_nobody(world: World) -> None:
    world.put("routing/default", {"actions": {"notify": [world.channel("everyone")]}})
    world.put(
        "routing/rules",
        {
            "rules": [
                {"name": "Ignore info", "conditions": {"severities": ["info"]}, "actions": {"drop": True}},
            ]
        },
    )
    world.fire(alertname="Chatty", severity="info")
    world.route()
    group = world.group_of("Chatty")
    (decision,) = world.decisions(group["id"])
    assert decision["dropped"] and decision["notified_channels"] == [] and not decision["used_default"]
    assert world.outbox() == [] and world.woken == []
    assert group["status"] == "triggered"  # kept and visible


def test_a_silence_from_an_alert_mutes_its_next_firing_only_and_ends_on_time(
    world: World, clock: FakeClock, parts: Parts
) -> None:
    world.put("routing/default", {"actions": {"notify": [world.channel("everyone")]}})
    labels = {"alertname": "DiskFull", "instance": "db-1"}
    world.fire(**labels)
    world.route()
    group = world.group_of("DiskFull")
    response = world.api.post(
        f"{WS}/alert-groups/{group['id']}/silence", json={"duration_minutes": 60, "comment": "cleaning up"}
    )
    assert response.status_code == 201, response.text
    silence = response.json()
    assert silence["matchers"] == ['alertname="DiskFull"', 'instance="db-1"'] and silence["state"] == "active"

    world.fire("resolved", **labels)
    clock.advance(60)
    world.fire(**labels)  # the same alert fires again: the group reopens
    world.fire(alertname="DiskFull", instance="db-2")  # another alert of the same name joins
    world.fire(alertname="CpuHigh", instance="db-1")  # a different alert
    world.route()
    last = world.decisions(group["id"])[-1]
    assert (last["suppressed_reason"], last["suppressed_by"]) == ("silence", silence["id"])
    assert last["notified_channels"] == []
    suppressed = [e for e in world.timeline(group["id"]) if e["kind"] == "suppressed"]
    assert suppressed[-1]["detail"]["comment"] == "cleaning up"
    (cpu,) = world.decisions(world.group_of("CpuHigh")["id"])
    assert cpu["suppressed_reason"] is None and cpu["notified_channels"]

    # An hour later the silence has ended: the next firing pages again.
    world.fire("resolved", **labels)
    clock.advance(parts.ctx.settings.ingest.group_window_minutes * 60 + 3600)
    world.fire(**labels)
    world.route()
    newest = max((g for g in groups(world.api) if g["title"] == "DiskFull"), key=lambda g: g["id"])
    assert world.decisions(newest["id"])[-1]["suppressed_reason"] is None
    listed = world.api.get(f"{WS}/silences").json()
    assert listed[0]["state"] == "expired"


def test_a_maintenance_window_keeps_the_alert_but_marks_it_suppressed(world: World, clock: FakeClock) -> None:
    world.put("routing/default", {"actions": {"notify": [world.channel("everyone")]}})
    integration_id = world.api.get(f"{WS}/integrations").json()[0]["id"]
    world.put(
        "maintenance-windows",
        {
            "windows": [
                {
                    "name": "DB upgrade",
                    "integrations": [integration_id],
                    "starts_at": clock() - 60,
                    "ends_at": clock() + 3600,
                },
            ]
        },
    )
    world.fire(alertname="ReplicaLag")
    world.route()
    group = world.group_of("ReplicaLag")
    (decision,) = world.decisions(group["id"])
    assert decision["suppressed_reason"] == "maintenance" and world.outbox() == []
    events = world.timeline(group["id"])
    assert [e["kind"] for e in events] == ["created", "suppressed"]
    assert events[1]["detail"]["name"] == "DB upgrade"


def test_a_firing_node_down_inhibits_warnings_on_the_same_instance(world: World) -> None:
    everyone = world.channel("everyone")
    world.put("routing/default", {"actions": {"notify": [everyone]}})
    world.put(
        "inhibit-rules",
        {
            "inhibit_rules": [
                {
                    "name": "Node down mutes its warnings",
                    "source_matchers": ["alertname=NodeDown"],
                    "target_matchers": ["severity=warning"],
                    "equal": ["instance"],
                }
            ]
        },
    )
    world.fire(alertname="NodeDown", instance="web-1", severity="critical")
    world.fire(alertname="DiskSlow", instance="web-1", severity="warning")
    world.fire(alertname="MemoryHigh", instance="web-2", severity="warning")
    world.route()
    assert world.decisions(world.group_of("NodeDown")["id"])[0]["notified_channels"] == [everyone]
    (muted,) = world.decisions(world.group_of("DiskSlow")["id"])
    assert muted["suppressed_reason"] == "inhibited"
    (other,) = world.decisions(world.group_of("MemoryHigh")["id"])
    assert other["suppressed_reason"] is None and other["notified_channels"] == [everyone]


def test_routing_an_event_twice_changes_nothing(world: World) -> None:
    world.put("routing/default", {"actions": {"notify": [world.channel("everyone")]}})
    world.fire(alertname="DiskFull")
    assert len(world.route()) == 1
    assert world.route() == []  # a retried task: one decision, one outbox row, one timeline entry
    assert len(world.outbox()) == 1
    assert [e["kind"] for e in world.timeline(world.group_of("DiskFull")["id"])].count("routed") == 1


def test_test_these_rules_shows_the_last_n_alerts_outcomes_and_stores_nothing(world: World) -> None:
    for name, team in (("A", "db"), ("B", "web"), ("C", "db")):
        world.fire(alertname=name, team=team)
    count = world.parts.ctx.db.read(lambda c: scalar(c, "SELECT count(*) FROM routing_decisions"))
    response = world.api.post(
        f"{WS}/routing/test",
        json={
            "n": 2,
            "default": {"notify": []},
            "rules": [
                {
                    "name": "db",
                    "conditions": {"matchers": ["team=db"]},
                    "actions": {"set_severity": "critical"},
                },
                {"name": "drop web", "conditions": {"matchers": ["team=web"]}, "actions": {"drop": True}},
            ],
        },
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["title"] for r in results] == ["C", "B"]
    assert (
        results[0]["matched"] == [{"position": 0, "name": "db"}]
        and results[0]["severity_after"] == "critical"
    )
    assert results[1]["dropped"]
    assert world.parts.ctx.db.read(lambda c: scalar(c, "SELECT count(*) FROM routing_decisions")) == count
    assert world.api.get(f"{WS}/routing/rules").json()["rules"] == []
