"""The escalation API: policies are validated at save time (a loop, an unknown user, schedule or
channel is a 400 naming the field) and audited with before/after; routing starts a policy for a
triggered alert and acknowledging over the API stops it; each person manages their own contact
methods and rules, which never show up among the workspace's channels."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from signalcraft.auth.rbac import Role
from signalcraft.db.queries import audit
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, Member, member
from tests.ingest_http.conftest import Make, api, make_integration  # noqa: F401
from tests.notify.test_channels import notifier  # noqa: F401
from tests.routing.test_routing_apply import World, world  # noqa: F401

WS = "/api/v1/workspaces/acme"
HOOK = {"url": "http://127.0.0.2:9/hook", "secret": "a-long-shared-secret"}  # allow-listed by notifier


def step(*targets: tuple[str, int], wait: int = 10) -> dict[str, Any]:
    return {"targets": [{"kind": k, "id": i} for k, i in targets], "wait_minutes": wait}


def create(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"{WS}/escalation-policies", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def refused(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["field"]


def test_a_policy_is_created_read_changed_and_deleted_with_before_and_after_in_the_audit_log(
    api: TestClient,  # noqa: F811
    owner: Member,
    parts: Parts,
) -> None:
    saved = create(api, {"name": "Primary", "steps": [step(("user", owner.user.id))], "repeat": 2})
    assert (saved["name"], saved["repeat"], saved["steps"][0]["wait_minutes"]) == ("Primary", 2, 10)
    assert api.get(f"{WS}/escalation-policies").json()[0]["id"] == saved["id"]
    changed = api.put(
        f"{WS}/escalation-policies/{saved['id']}",
        json={"name": "Primary", "steps": [step(("user", owner.user.id), wait=30)]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["steps"][0]["wait_minutes"] == 30 and changed.json()["repeat"] == 0
    assert api.delete(f"{WS}/escalation-policies/{saved['id']}").status_code == 204
    assert api.get(f"{WS}/escalation-policies/{saved['id']}").status_code == 404
    log = {e.action: e.detail for e in parts.ctx.db.read(lambda c: audit.entries(c, owner.workspace.id))}
    assert log["escalation_policy.create"]["before"] == {}
    assert log["escalation_policy.update"]["before"] == {"steps": saved["steps"], "repeat": 2}
    assert log["escalation_policy.update"]["after"]["steps"][0]["wait_minutes"] == 30
    assert log["escalation_policy.delete"]["after"] == {}


def test_a_hand_over_loop_is_refused_naming_the_field(api: TestClient, owner: Member) -> None:  # noqa: F811
    first = create(api, {"name": "First", "steps": [step(("user", owner.user.id))]})
    second = create(api, {"name": "Second", "steps": [step(("policy", first["id"]))]})
    response = api.put(
        f"{WS}/escalation-policies/{first['id']}",
        json={"name": "First", "steps": [step(("policy", second["id"]))]},
    )
    assert refused(response) == (400, "steps")
    assert "First -> Second -> First" in response.json()["error"]["message"]
    assert refused(api.delete(f"{WS}/escalation-policies/{first['id']}")) == (409, "policy")


@pytest.mark.parametrize(
    ("target", "field"),
    [
        (("user", 999), "steps[1].targets[0].id"),
        (("schedule", 999), "steps[1].targets[0].id"),
        (("schedule_next", 999), "steps[1].targets[0].id"),
        (("channel", 999), "steps[1].targets[0].id"),
        (("policy", 999), "steps[1].targets[0].id"),
        (("pager", 1), "steps[1].targets[0].kind"),
    ],
)
def test_unknown_targets_are_refused_naming_the_field(
    api: TestClient,  # noqa: F811
    owner: Member,
    target: tuple[str, int],
    field: str,
) -> None:
    body = {"name": "P", "steps": [step(("user", owner.user.id)), step(target)]}
    response = api.post(f"{WS}/escalation-policies", json=body)
    assert refused(response) == (400, field), response.text


def test_a_viewer_is_not_a_target_and_bad_waits_and_repeats_name_their_field(
    api: TestClient,  # noqa: F811
    owner: Member,
    parts: Parts,
    clock: FakeClock,
) -> None:
    viewer = member(parts.ctx.db, "vic@example.com", Role.VIEWER, "acme", clock())
    base = {"name": "P", "steps": [step(("user", owner.user.id))]}
    assert refused(
        api.post(f"{WS}/escalation-policies", json={**base, "steps": [step(("user", viewer.user.id))]})
    ) == (400, "steps[0].targets[0].id")
    assert refused(api.post(f"{WS}/escalation-policies", json={**base, "repeat": 11})) == (400, "repeat")
    assert refused(
        api.post(
            f"{WS}/escalation-policies", json={**base, "steps": [step(("user", owner.user.id), wait=-1)]}
        )
    ) == (400, "steps[0].wait_minutes")
    assert refused(api.post(f"{WS}/escalation-policies", json={**base, "name": " "})) == (400, "name")
    create(api, base)
    assert refused(api.post(f"{WS}/escalation-policies", json=base)) == (409, "name")


def test_routing_starts_the_policy_and_acknowledging_over_the_api_stops_it(
    world: World,  # noqa: F811
    owner: Member,
    clock: FakeClock,
) -> None:
    ops = world.channel("ops")
    pid = create(world.api, {"name": "Ops", "steps": [step(("channel", ops), wait=5)], "repeat": 3})["id"]
    world.put("routing/default", {"actions": {"escalation_policy": pid}})
    world.fire(alertname="DiskFull")
    world.route()
    group_id = world.group_of("DiskFull")["id"]
    (run,) = world.api.get(f"{WS}/alert-groups/{group_id}/escalations").json()
    assert (run["status"], run["steps_fired"], run["next_at"]) == ("running", 1, clock() + 300)
    assert [n["channel_id"] for n in run["notices"]] == [ops]
    assert (ops, group_id, "escalated") in world.outbox()
    kinds = [e["kind"] for e in world.timeline(group_id)]
    assert "escalated" in kinds
    assert world.api.post(f"{WS}/alert-groups/{group_id}/acknowledge").status_code == 200
    (run,) = world.api.get(f"{WS}/alert-groups/{group_id}/escalations").json()
    assert (run["status"], run["stop_reason"]) == ("stopped", "acknowledged")


@pytest.mark.usefixtures("notifier")
def test_my_contact_methods_and_rules_are_mine_and_not_workspace_channels(
    api: TestClient,  # noqa: F811
    owner: Member,
    parts: Parts,
    clock: FakeClock,
) -> None:
    phone = api.post(f"{WS}/me/contact-methods", json={"kind": "webhook", "name": "Phone", "config": HOOK})
    assert phone.status_code == 201, phone.text
    assert phone.json()["config"]["secret"] == "********"
    assert api.get(f"{WS}/channels").json() == []
    team = api.post(f"{WS}/channels", json={"kind": "webhook", "name": "Phone", "config": HOOK})
    assert team.status_code == 201, "a personal method's name does not block a workspace channel's"
    rules = [{"urgency": "high", "contact_method_id": phone.json()["id"], "delay_minutes": 5}]
    assert api.put(f"{WS}/me/notification-rules", json={"rules": rules}).status_code == 200
    assert api.get(f"{WS}/me/notification-rules").json() == rules
    not_mine = [{"urgency": "high", "contact_method_id": team.json()["id"]}]
    assert refused(api.put(f"{WS}/me/notification-rules", json={"rules": not_mine})) == (
        400,
        "rules[0].contact_method_id",
    )
    bad = [{"urgency": "urgent", "contact_method_id": phone.json()["id"]}]
    assert refused(api.put(f"{WS}/me/notification-rules", json={"rules": bad})) == (400, "rules[0].urgency")
    assert refused(api.post(f"{WS}/me/contact-methods", json={"kind": "email", "name": "Mail"})) == (
        400,
        "kind",
    )
    routing = api.put(f"{WS}/routing/default", json={"actions": {"notify": [phone.json()["id"]]}})
    assert refused(routing) == (400, "actions.notify[0]"), "routing cannot page a person's own channel"
    ana = member(parts.ctx.db, "ana@example.com", Role.RESPONDER, "acme", clock())
    api.cookies.set("sc_session", ana.session_token)
    api.headers["X-CSRF-Token"] = ana.csrf
    assert api.get(f"{WS}/me/contact-methods").json() == []
    assert api.delete(f"{WS}/me/contact-methods/{phone.json()['id']}").status_code == 404
