"""Acting on alert groups: the service through the JSON API (and the HTML forms where the
permission rules differ), with alerts ingested over HTTP and time moved by hand."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from litestar.testing import TestClient

from signalcraft import alert_actions as actions
from signalcraft.auth.rbac import Role
from signalcraft.db.queries import alert_work as aw
from signalcraft.errors import InvalidInput
from signalcraft.events import RELOAD, AlertBus, GroupsChanged
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, Member, member
from tests.ingest_http.conftest import group_detail

WS = "/api/v1/workspaces/acme"
JSON = {"Content-Type": "application/json"}


# --- helpers shared with test_inbox_pages.py and test_live.py ------------------------------------


def am_payload(
    name: str,
    *,
    severity: str = "critical",
    status: str = "firing",
    summary: str = "",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    generator_url: str = "",
    fingerprint: str = "",
) -> dict[str, Any]:
    """An Alertmanager webhook notification with one alert."""
    return {
        "version": "4",
        "status": status,
        "receiver": "signalcraft",
        "groupKey": name,
        "groupLabels": {"alertname": name},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.com",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": name, "severity": severity, **(labels or {})},
                "annotations": {"summary": summary or f"{name} fired", **(annotations or {})},
                "startsAt": "2026-11-27T19:31:44Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": generator_url,
                "fingerprint": fingerprint or f"fp-{name}",
            }
        ],
    }


def create_integration(client: TestClient, type_: str = "alertmanager", slug: str = "acme") -> dict[str, Any]:
    response = client.post(f"/api/v1/workspaces/{slug}/integrations", json={"type": type_, "name": type_})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def integration_url(client: TestClient, slug: str = "acme") -> str:
    """A new Alertmanager integration's ingest path."""
    return "/" + create_integration(client, slug=slug)["ingest_url"].split("/", 3)[3]


def sentry_api(client: TestClient) -> tuple[str, dict[str, str]]:
    """A new Sentry integration: its project's path (``/api/<id>``) and the auth header an SDK sends."""
    dsn = create_integration(client, "sentry")["credential"]["dsn"]
    key, project = dsn.split("//", 1)[1].split("@")[0], dsn.rsplit("/", 1)[1]
    return f"/api/{project}", {"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"}


def fire(client: TestClient, url: str, name: str, slug: str = "acme", **kwargs: Any) -> int:
    """Post one alert; return the id of its group."""
    response = client.post(url, json=am_payload(name, **kwargs), headers=JSON)
    assert response.status_code == 200, response.text
    listing = client.get(f"/api/v1/workspaces/{slug}/alert-groups", params={"status": ""}).json()["groups"]
    title = kwargs.get("summary") or f"{name} fired"
    return int(next(g["id"] for g in listing if g["title"] == title))


def as_member(client: TestClient, who: Member) -> TestClient:
    client.cookies.set("sc_session", who.session_token)
    client.headers["X-CSRF-Token"] = who.csrf
    return client


@pytest.fixture
def api(client: TestClient, owner: Member) -> TestClient:
    """The owner's session, with the CSRF header set for writes."""
    return as_member(client, owner)


@pytest.fixture
def am(api: TestClient) -> str:
    return integration_url(api)


def timeline_kinds(client: TestClient, group_id: int) -> list[str]:
    return [e["kind"] for e in group_detail(client, group_id)["timeline"]]


# --- acknowledge, resolve ----------------------------------------------------------------------


def test_acknowledge_records_who_in_the_timeline_and_twice_changes_nothing(api: TestClient, am: str) -> None:
    gid = fire(api, am, "HighErrorRate")
    first = api.post(f"{WS}/alert-groups/{gid}/acknowledge")
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["changed"] and body["group"]["status"] == "acknowledged"
    assert body["group"]["acknowledged_by"] == "owner@example.com"
    again = api.post(f"{WS}/alert-groups/{gid}/acknowledge").json()
    assert not again["changed"]
    events = group_detail(api, gid)["timeline"]
    assert [(e["kind"], e["actor"]) for e in events if e["kind"] == "acknowledged"] == [
        ("acknowledged", "owner@example.com")
    ]


def test_resolve_closes_every_open_alert_and_names_the_resolver(api: TestClient, am: str) -> None:
    gid = fire(api, am, "DiskFull", fingerprint="a")
    assert fire(api, am, "DiskFull", fingerprint="b") == gid
    response = api.post(f"{WS}/alert-groups/{gid}/resolve")
    assert response.status_code == 200
    detail = group_detail(api, gid)
    assert detail["group"]["status"] == "resolved" and detail["group"]["firing_count"] == 0
    assert detail["group"]["resolved_by"] == "owner@example.com"
    assert {a["status"] for a in detail["alerts"]} == {"resolved"}
    assert detail["timeline"][-1]["kind"] == "resolved" and detail["timeline"][-1]["detail"] == {"alerts": 2}
    refused = api.post(f"{WS}/alert-groups/{gid}/acknowledge")
    assert refused.status_code == 409 and refused.json()["error"]["field"] == "status"


def test_an_alert_firing_again_after_a_manual_resolve_reopens_the_group(api: TestClient, am: str) -> None:
    gid = fire(api, am, "Flappy")
    api.post(f"{WS}/alert-groups/{gid}/resolve")
    assert fire(api, am, "Flappy") == gid
    assert group_detail(api, gid)["group"]["status"] == "triggered"
    assert timeline_kinds(api, gid)[-2:] == ["reopened", "joined"]


# --- snooze ----------------------------------------------------------------------------------------


def test_a_snoozed_group_comes_back_triggered_when_its_time_has_passed(
    api: TestClient,
    am: str,
    parts: Parts,
    clock: FakeClock,
) -> None:
    gid = fire(api, am, "QueueBacklog")
    response = api.post(f"{WS}/alert-groups/{gid}/snooze", json={"minutes": 15})
    assert response.status_code == 200
    assert response.json()["snoozed_until"] == clock() + 900
    wake = parts.ctx.extras["tasks"]["wake_snoozed"]
    clock.advance(14 * 60)
    wake.call_local()
    assert group_detail(api, gid)["group"]["status"] == "snoozed"
    clock.advance(61)
    wake.call_local()
    detail = group_detail(api, gid)
    assert detail["group"]["status"] == "triggered"
    assert detail["timeline"][-1]["kind"] == "unsnoozed" and detail["timeline"][-1]["actor"] == ""


def test_snooze_times_are_checked_and_unsnooze_brings_the_group_back(
    api: TestClient,
    am: str,
    clock: FakeClock,
) -> None:
    gid = fire(api, am, "Cert")
    for body in (
        {"until": clock() - 10},
        {"until": clock() + 40 * 86400},
        {},
        {"until": clock() + 60, "minutes": 5},
    ):
        response = api.post(f"{WS}/alert-groups/{gid}/snooze", json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["field"] == "until"
    assert group_detail(api, gid)["group"]["status"] == "triggered"
    api.post(f"{WS}/alert-groups/{gid}/snooze", json={"until": clock() + 3600})
    response = api.post(f"{WS}/alert-groups/{gid}/unsnooze")
    assert response.json()["group"]["status"] == "triggered" and response.json()["snoozed_until"] is None
    assert timeline_kinds(api, gid)[-2:] == ["snoozed", "unsnoozed"]


# --- assign, notes ---------------------------------------------------------------------------------


def test_assign_only_to_members_who_may_respond(
    api: TestClient,
    am: str,
    parts: Parts,
    clock: FakeClock,
) -> None:
    db, now = parts.ctx.db, clock()
    responder = member(db, "resp@example.com", Role.RESPONDER, "acme", now)
    viewer = member(db, "view@example.com", Role.VIEWER, "acme", now)
    stranger = member(db, "other@example.com", Role.OWNER, "beta", now)
    gid = fire(api, am, "NodeDown")
    for user_id in (viewer.user.id, stranger.user.id, 999_999):
        refused = api.post(f"{WS}/alert-groups/{gid}/assign", json={"user_id": user_id})
        assert refused.status_code == 400 and refused.json()["error"]["field"] == "assignee"
    assigned = api.post(f"{WS}/alert-groups/{gid}/assign", json={"user_id": responder.user.id}).json()
    assert assigned["assignee_id"] == responder.user.id and assigned["assignee"] == "resp"
    assert api.post(f"{WS}/alert-groups/{gid}/assign", json={"user_id": None}).json()["assignee_id"] is None
    assert timeline_kinds(api, gid)[-2:] == ["assigned", "unassigned"]


def test_notes_are_bounded_and_listed_newest_first(api: TestClient, am: str) -> None:
    gid = fire(api, am, "Backup")
    for body in ("   ", "x" * (actions.NOTE_MAX_CHARS + 1)):
        refused = api.post(f"{WS}/alert-groups/{gid}/notes", json={"body": body})
        assert refused.status_code == 400 and refused.json()["error"]["field"] == "body"
    for text in ("rsync failed on nas-1", "  retried by hand: ok  "):
        assert api.post(f"{WS}/alert-groups/{gid}/notes", json={"body": text}).status_code == 201
    notes = api.get(f"{WS}/alert-groups/{gid}/notes").json()
    assert [n["body"] for n in notes] == ["retried by hand: ok", "rsync failed on nas-1"]
    assert {n["author"] for n in notes} == {"owner@example.com"}
    assert timeline_kinds(api, gid).count("note") == 2


# --- who may do what -------------------------------------------------------------------------------


def test_a_viewer_reads_but_every_action_is_refused_with_403(
    api: TestClient,
    am: str,
    parts: Parts,
    clock: FakeClock,
) -> None:
    gid = fire(api, am, "Viewer")
    viewer = as_member(api, member(parts.ctx.db, "view@example.com", Role.VIEWER, "acme", clock()))
    assert viewer.get(f"{WS}/alert-groups/{gid}/notes").status_code == 200
    assert viewer.get(f"/w/acme/alerts/{gid}").status_code == 200
    for verb, body in (
        ("acknowledge", None),
        ("resolve", None),
        ("snooze", {"minutes": 5}),
        ("unsnooze", None),
        ("assign", {"user_id": None}),
        ("notes", {"body": "hi"}),
    ):
        assert viewer.post(f"{WS}/alert-groups/{gid}/{verb}", json=body).status_code == 403, verb
        form = viewer.post(f"/w/acme/alerts/{gid}/{verb}", data={"_csrf": viewer.headers["X-CSRF-Token"]})
        assert form.status_code == 403, verb
    bulk = viewer.post(f"{WS}/alert-groups/bulk", json={"ids": [gid], "action": "resolve"})
    assert bulk.status_code == 403
    assert group_detail(viewer, gid)["group"]["status"] == "triggered"


def test_ids_of_another_workspace_answer_404(
    api: TestClient, am: str, parts: Parts, clock: FakeClock
) -> None:
    theirs = as_member(api, member(parts.ctx.db, "b@example.com", Role.OWNER, "beta", clock()))
    foreign = fire(theirs, integration_url(theirs, "beta"), "Theirs", slug="beta")
    mine = as_member(api, member(parts.ctx.db, "owner@example.com", Role.OWNER, "acme", clock()))
    for verb in ("acknowledge", "resolve", "unsnooze"):
        response = mine.post(f"{WS}/alert-groups/{foreign}/{verb}")
        assert response.status_code == 404 and "Theirs" not in response.text
    assert mine.get(f"{WS}/alert-groups/{foreign}/notes").status_code == 404
    assert mine.post(f"{WS}/alert-groups/{foreign}/notes", json={"body": "x"}).status_code == 404
    assert (
        mine.post(
            f"/w/acme/alerts/{foreign}/acknowledge", data={"_csrf": mine.headers["X-CSRF-Token"]}
        ).status_code
        == 404
    )


def test_bulk_with_a_foreign_id_changes_nothing(
    api: TestClient, am: str, parts: Parts, clock: FakeClock
) -> None:
    own = [fire(api, am, "One"), fire(api, am, "Two")]
    theirs = as_member(api, member(parts.ctx.db, "b@example.com", Role.OWNER, "beta", clock()))
    foreign = fire(theirs, integration_url(theirs, "beta"), "Theirs", slug="beta")
    mine = as_member(api, member(parts.ctx.db, "owner@example.com", Role.OWNER, "acme", clock()))
    before = [timeline_kinds(mine, g) for g in own]
    response = mine.post(f"{WS}/alert-groups/bulk", json={"ids": [*own, foreign], "action": "resolve"})
    assert response.status_code == 404 and response.json()["error"]["field"] == "ids"
    assert [group_detail(mine, g)["group"]["status"] for g in own] == ["triggered", "triggered"]
    assert [timeline_kinds(mine, g) for g in own] == before
    as_member(mine, member(parts.ctx.db, "b@example.com", Role.OWNER, "beta", clock()))
    assert group_detail_in(mine, "beta", foreign)["status"] == "triggered"


def group_detail_in(client: TestClient, slug: str, gid: int) -> dict[str, Any]:
    return client.get(f"/api/v1/workspaces/{slug}/alert-groups/{gid}").json()["group"]  # type: ignore[no-any-return]


def test_bulk_acknowledges_the_open_groups_and_skips_the_rest(api: TestClient, am: str) -> None:
    a, b, c = fire(api, am, "A"), fire(api, am, "B"), fire(api, am, "C")
    api.post(f"{WS}/alert-groups/{c}/resolve")
    response = api.post(f"{WS}/alert-groups/bulk", json={"ids": [a, b, c, a], "action": "acknowledge"})
    assert response.status_code == 200
    assert response.json() == {"changed": [a, b], "skipped": [c]}
    snoozed = api.post(f"{WS}/alert-groups/bulk", json={"ids": [a, b], "action": "snooze", "minutes": 30})
    assert snoozed.json()["changed"] == [a, b]


def test_bulk_refuses_bad_input_naming_the_field(api: TestClient, am: str) -> None:
    gid = fire(api, am, "A")
    for body, field in (
        ({"ids": [], "action": "resolve"}, "ids"),
        ({"ids": [gid], "action": "explode"}, "action"),
        ({"ids": list(range(1, 202)), "action": "resolve"}, "ids"),
        ({"ids": [gid], "action": "snooze"}, "until"),
    ):
        response = api.post(f"{WS}/alert-groups/bulk", json=body)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["field"] == field
    assert group_detail(api, gid)["group"]["status"] == "triggered"


# --- saved views -----------------------------------------------------------------------------------


def test_saved_views_keep_a_canonical_query_and_unique_names(api: TestClient) -> None:
    created = api.post(
        f"{WS}/views", json={"name": " Payments,  critical ", "query": "?q=checkout&severity=critical"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "Payments, critical"
    assert created.json()["query"] == "severity=critical&q=checkout"
    assert api.post(f"{WS}/views", json={"name": "Payments, critical", "query": ""}).status_code == 409
    for body, field in (
        ({"name": "a/b"}, "name"),
        ({"name": "x", "query": "colour=red"}, "query"),
        ({"name": "x", "query": "label=novalue"}, "label"),
    ):
        refused = api.post(f"{WS}/views", json=body)
        assert refused.status_code == 400 and refused.json()["error"]["field"] == field, body
    renamed = api.patch(f"{WS}/views/Payments, critical", json={"name": "Checkout", "query": "status=all"})
    assert renamed.json() == {**renamed.json(), "name": "Checkout", "query": "status=all"}
    assert [v["name"] for v in api.get(f"{WS}/views").json()] == ["Checkout"]
    assert api.delete(f"{WS}/views/Checkout").status_code == 204
    assert api.delete(f"{WS}/views/Checkout").status_code == 404


# --- pure rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "status", "expected"),
    [
        ("acknowledge", "triggered", "apply"),
        ("acknowledge", "acknowledged", "skip"),
        ("acknowledge", "snoozed", "apply"),
        ("acknowledge", "resolved", "refuse"),
        ("resolve", "acknowledged", "apply"),
        ("resolve", "resolved", "skip"),
        ("snooze", "acknowledged", "apply"),
        ("snooze", "resolved", "refuse"),
        ("unsnooze", "snoozed", "apply"),
        ("unsnooze", "triggered", "skip"),
    ],
)
def test_which_action_applies_in_which_status(action: str, status: str, expected: str) -> None:
    state = aw.WorkState(1, status, None)
    assert actions.verdict(actions.Change(action), state).value == expected


def test_assigning_the_current_assignee_again_is_skipped() -> None:
    assert (
        actions.verdict(actions.Change("assign", assignee_id=3), aw.WorkState(1, "triggered", 3)).value
        == "skip"
    )


@pytest.mark.parametrize(
    ("choice", "custom", "expected"),
    [
        ("15m", "", 1_800_000_900.0),
        ("4h", "", 1_800_014_400.0),
        # 1_800_000_000 is 2027-01-15 08:00 UTC: "tomorrow 09:00" is the 16th
        ("morning", "", 1_800_090_000.0),
        ("custom", "2027-01-15T10:30", 1_800_009_000.0),
    ],
)
def test_snooze_choices(choice: str, custom: str, expected: float) -> None:
    assert actions.snooze_until(choice, 1_800_000_000.0, custom) == expected


@pytest.mark.parametrize(
    ("choice", "custom", "field"),
    [("forever", "", "duration"), ("custom", "soon", "until"), ("custom", "2027-01-15T07:00", "until")],
)
def test_bad_snooze_choices_name_the_field(choice: str, custom: str, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        actions.snooze_until(choice, 1_800_000_000.0, custom)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "burning"}, "status"),
        ({"severity": "critical,loud"}, "severity"),
        ({"label": "env"}, "label"),
        ({"label": 'a"b=c'}, "label"),
        ({"integration": "x"}, "integration"),
        ({"assignee": "bob"}, "assignee"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_inbox_filters_are_validated_naming_the_parameter(params: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        actions.parse_inbox_query(params)
    assert caught.value.field == field


def test_inbox_filters_become_a_query_and_a_short_canonical_query_string() -> None:
    query = actions.parse_inbox_query(
        {"status": "open", "severity": "warning,critical", "label": "env=prod", "assignee": "me"}
    )
    assert query.query_string() == "severity=critical%2Cwarning&label=env%3Dprod&assignee=me"
    f = query.to_filter(me=7)
    assert (f.statuses, f.severities, f.label, f.assignee_id) == (
        ("triggered", "acknowledged"),
        (4, 2),
        ("env", "prod"),
        7,
    )
    assert actions.parse_inbox_query({}).is_default


# --- the bus ---------------------------------------------------------------------------------------


def test_the_bus_delivers_across_threads_and_a_slow_reader_gets_one_reload() -> None:
    async def scenario() -> tuple[GroupsChanged | None, GroupsChanged | None, GroupsChanged | None]:
        bus = AlertBus(queue_size=3)
        mine, other = bus.subscribe(1), bus.subscribe(2)
        worker = threading.Thread(target=bus.publish, args=(1, [5, 4, 5]))
        worker.start()
        worker.join()
        first = await mine.next(1.0)
        for i in range(10):  # nobody reads: the backlog is replaced by one reload
            bus.publish(1, [i])
        await asyncio.sleep(0)
        merged = mine.drain(await mine.next(1.0) or GroupsChanged())
        bus.unsubscribe(mine)
        bus.publish(1, [9])
        return first, merged, await other.next(0.01)

    first, merged, other = asyncio.run(scenario())
    assert first == GroupsChanged((4, 5)) and merged == RELOAD and other is None
