"""The routing and suppression pages, through the real app: forms posted as a browser posts
them, HTML read back. Alerts arrive over the real Alertmanager ingest endpoint and are routed by
the real task; what a page saved is checked through the JSON API and the audit log."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
from litestar.testing import TestClient

from signalcraft.auth.rbac import Role
from signalcraft.db.queries import audit
from signalcraft.db.queries import escalation as eq
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, Member, member
from tests.ingest_http.conftest import Make, api, make_integration  # noqa: F401
from tests.routing.test_routing_apply import World

W = "/w/acme"
API = "/api/v1/workspaces/acme"


@pytest.fixture
def world(api: TestClient, parts: Parts, owner: Member, make_integration: Make) -> World:  # noqa: F811
    url = make_integration("alertmanager")["ingest_url"].split("8080", 1)[1]
    return World(api, parts, owner, url)


def as_(client: TestClient, who: Member) -> TestClient:
    client.cookies.set("sc_session", who.session_token)
    client.headers["X-CSRF-Token"] = who.csrf
    return client


def post(client: TestClient, who: Member, path: str, **fields: Any) -> Any:
    """A form post as the browser sends it (with the page's hidden _csrf field, no header)."""
    client.cookies.set("sc_session", who.session_token)
    client.headers.pop("X-CSRF-Token", None)
    return client.post(f"{W}{path}", data={"_csrf": who.csrf, **fields}, follow_redirects=False)


def rule_form(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "enabled": "1", **fields}


def saved_rules(client: TestClient, who: Member) -> list[dict[str, Any]]:
    response = as_(client, who).get(f"{API}/routing/rules")
    assert response.status_code == 200, response.text
    return response.json()["rules"]  # type: ignore[no-any-return]


def field_error(page: str, field_id: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field_id}-error">([^<]*)</p>', page)
    assert found, f"no error shown under {field_id}"
    return found.group(1)


def audit_actions(parts: Parts, ws_id: int) -> list[str]:
    return [e.action for e in parts.ctx.db.read(lambda c: audit.entries(c, ws_id, limit=100))]


@pytest.fixture
def viewer(parts: Parts, clock: FakeClock) -> Member:
    return member(parts.ctx.db, "viewer@example.com", Role.VIEWER, "acme", clock())


@pytest.fixture
def responder(parts: Parts, clock: FakeClock) -> Member:
    return member(parts.ctx.db, "responder@example.com", Role.RESPONDER, "acme", clock())


# --- rules -------------------------------------------------------------------------------------


def test_created_rules_are_listed_in_order_with_their_conditions_and_actions(
    client: TestClient, owner: Member, world: World
) -> None:
    ops = world.channel("ops-webhook")
    first = post(client, owner, "/routing/rules", **rule_form(
        "Critical to ops", severities="critical", matchers="team=db\nrunbook", notify=str(ops)))
    assert first.status_code == 303 and first.headers["location"] == f"{W}/routing"
    post(client, owner, "/routing/rules", **rule_form("Drop noise", title_contains="flapping", drop="1"))

    page = client.get(f"{W}/routing").text
    assert page.index("Critical to ops") < page.index("Drop noise")
    for text in ("severity critical", "team=db", "runbook exists", "notify ops-webhook",
                 "title contains “flapping”", "drop (page nobody)"):
        assert text in page, text
    rules = saved_rules(client, owner)
    assert rules[0]["conditions"] == {"severities": ["critical"], "matchers": ["team=db"],
                                      "labels_exist": ["runbook"]}
    assert rules[0]["actions"] == {"notify": [ops]}
    assert "routing.rules_save" in audit_actions(world.parts, owner.workspace.id)


def test_a_bad_regex_is_refused_and_shown_under_the_labels_field_with_the_input_kept(
    client: TestClient, owner: Member
) -> None:
    response = post(client, owner, "/routing/rules", **rule_form("Broken", matchers="env=~(prod"))
    assert response.status_code == 400
    assert "invalid regex" in field_error(response.text, "rule-matchers")
    assert 'value="Broken"' in response.text and "env=~(prod</textarea>" in response.text
    assert saved_rules(client, owner) == []


def test_editing_a_rule_with_an_unknown_timezone_names_the_timezone_field(
    client: TestClient, owner: Member, world: World
) -> None:
    post(client, owner, "/routing/rules", **rule_form("Office hours"))
    rule_id = saved_rules(client, owner)[0]["id"]
    assert 'value="Office hours"' in client.get(f"{W}/routing/rules/{rule_id}").text

    bad = post(client, owner, f"/routing/rules/{rule_id}", **rule_form(
        "Office hours", window_start="09:00", window_end="17:00", window_weekdays=["0", "1"],
        window_timezone="Mars/Olympus"))
    assert bad.status_code == 400
    assert "unknown timezone" in field_error(bad.text, "rule-tz")

    ws_id = owner.workspace.id
    policy = world.parts.ctx.db.write(lambda c: eq.insert_policy(c, ws_id, "DB on-call", {}, 0.0))
    good = post(client, owner, f"/routing/rules/{rule_id}", **rule_form(
        "Office hours", window_start="09:00", window_end="17:00", window_weekdays=["0", "1"],
        window_timezone="Europe/Berlin", escalation_policy=str(policy), set_severity="error"))
    assert good.status_code == 303
    saved = saved_rules(client, owner)[0]
    assert saved["conditions"]["window"] == {"weekdays": [0, 1], "start": "09:00", "end": "17:00",
                                             "timezone": "Europe/Berlin"}
    assert saved["actions"] == {"escalation_policy": policy, "set_severity": "error"}
    assert "escalate with DB on-call" in client.get(f"{W}/routing").text


def test_an_escalation_policy_not_in_the_workspace_is_shown_under_its_field(
    client: TestClient, owner: Member
) -> None:
    for value, message in [("on-call", "choose from the list"),
                           ("7", "no escalation policy 7 in this workspace")]:
        response = post(client, owner, "/routing/rules", **rule_form("x", escalation_policy=value))
        assert response.status_code == 400
        assert field_error(response.text, "act-policy") == message
    assert saved_rules(client, owner) == []


def test_the_new_order_is_saved_only_when_it_names_each_rule_exactly_once(
    client: TestClient, owner: Member
) -> None:
    for name in ("a", "b", "c"):
        post(client, owner, "/routing/rules", **rule_form(name))
    a, b, c = (r["id"] for r in saved_rules(client, owner))

    assert post(client, owner, "/routing/order", order=f"{c},{a},{b}").status_code == 303
    assert [r["name"] for r in saved_rules(client, owner)] == ["c", "a", "b"]

    for wrong in (f"{c},{a}", f"{c},{a},{b},{b}", f"{c},{a},999", "c,a,b"):
        refused = post(client, owner, "/routing/order", order=wrong)
        assert refused.status_code == 400, wrong
        assert "flash-error" in refused.text
    assert [r["name"] for r in saved_rules(client, owner)] == ["c", "a", "b"]


def test_move_toggle_and_delete_change_the_saved_list(client: TestClient, owner: Member) -> None:
    for name in ("first", "second"):
        post(client, owner, "/routing/rules", **rule_form(name))
    first, second = (r["id"] for r in saved_rules(client, owner))

    assert post(client, owner, f"/routing/rules/{second}/move", direction="up").status_code == 303
    assert [r["name"] for r in saved_rules(client, owner)] == ["second", "first"]
    assert post(client, owner, f"/routing/rules/{second}/move", direction="sideways").status_code == 400

    post(client, owner, f"/routing/rules/{first}/toggle")
    assert [r["enabled"] for r in saved_rules(client, owner)] == [True, False]
    assert "Disabled" in client.get(f"{W}/routing").text

    page = client.get(f"{W}/routing").text
    assert f'action="{W}/routing/rules/{second}/delete"' in page
    assert "data-confirm=\"Delete the rule “second”?" in page
    post(client, owner, f"/routing/rules/{second}/delete")
    assert [r["name"] for r in saved_rules(client, owner)] == ["first"]
    assert post(client, owner, f"/routing/rules/{second}/delete").status_code == 404


def test_the_default_route_editor_saves_and_names_bad_fields(
    client: TestClient, owner: Member, world: World
) -> None:
    ops = world.channel("ops")
    bad = post(client, owner, "/routing/default", notify=str(ops), add_labels="no equals sign")
    assert bad.status_code == 400 and "not key=value" in field_error(bad.text, "act-labels")
    good = post(client, owner, "/routing/default", notify=str(ops), add_labels="routed=default")
    assert good.status_code == 303
    assert as_(client, owner).get(f"{API}/routing/default").json() == {
        "actions": {"notify": [ops], "add_labels": {"routed": "default"}}}
    assert "notify ops" in client.get(f"{W}/routing").text


# --- test against recent alerts -----------------------------------------------------------------


def test_testing_against_recent_alerts_shows_what_each_would_have_done(
    client: TestClient, owner: Member, world: World
) -> None:
    ops = world.channel("ops")
    world.fire(alertname="DiskFull", severity="critical", team="db")
    world.fire(alertname="Flapping", severity="warning", team="web")
    world.route()
    post(client, owner, "/routing/rules", **rule_form("DB pages ops", matchers="team=db", notify=str(ops)))

    client.headers["HX-Request"] = "true"
    response = post(client, owner, "/routing/test", n="50")
    assert response.status_code == 200
    rows = re.findall(r"<tr class=\"row-sev-[a-z]+\">(.*?)</tr>", response.text, re.S)
    assert len(rows) == 2
    disk = next(r for r in rows if "DiskFull" in r)
    flapping = next(r for r in rows if "Flapping" in r)
    assert "DB pages ops" in disk and "notify ops" in disk
    assert "default route" in flapping and "page nobody" in flapping

    # An unsaved draft of the rule, put in its place: it drops instead, and nothing is stored.
    rule_id = saved_rules(client, owner)[0]["id"]
    draft = post(client, owner, "/routing/test", draft="1", rule_id=str(rule_id), n="1",
                 **rule_form("DB dropped", matchers="team=web", drop="1"))
    rows = re.findall(r"<tr class=\"row-sev-[a-z]+\">(.*?)</tr>", draft.text, re.S)
    assert len(rows) == 1 and "Flapping" in rows[0] and "dropped" in rows[0] and "DB dropped" in rows[0]
    assert [r["name"] for r in saved_rules(client, owner)] == ["DB pages ops"]


def test_the_test_shows_alerts_that_were_suppressed_when_they_arrived(
    client: TestClient, owner: Member, world: World
) -> None:
    post(client, owner, "/silences", matchers="alertname=DiskFull", duration="1h")
    world.fire(alertname="DiskFull", severity="critical")
    world.route()
    client.headers["HX-Request"] = "true"
    assert "suppressed: silence" in post(client, owner, "/routing/test", n="5").text


def test_a_test_size_out_of_range_is_refused_next_to_the_field(client: TestClient, owner: Member) -> None:
    response = post(client, owner, "/routing/test", n="501")
    assert response.status_code == 400
    assert field_error(response.text, "test-n") == "between 1 and 500"


# --- silences ---------------------------------------------------------------------------------


def test_silence_from_an_alert_group_is_prefilled_with_its_labels_and_linked_to_it(
    client: TestClient, owner: Member, world: World
) -> None:
    world.fire(alertname="DiskFull", severity="critical", instance="db-1")
    world.route()
    group_id = world.group_of("DiskFull")["id"]
    group_page = client.get(f"{W}/alerts/{group_id}").text
    assert f'href="{W}/silences/new?group={group_id}"' in group_page

    form = html.unescape(client.get(f"{W}/silences/new?group={group_id}").text)
    assert 'alertname="DiskFull"\ninstance="db-1"\nseverity="critical"</textarea>' in form
    assert f'name="group_id" value="{group_id}"' in form

    created = post(client, owner, "/silences", matchers='alertname="DiskFull"\ninstance="db-1"',
                   duration="2h", comment="replacing the disk", group_id=str(group_id))
    assert created.status_code == 303 and created.headers["location"] == f"{W}/silences?tab=active"
    listed = client.get(f"{W}/silences?tab=active").text
    assert "replacing the disk" in listed and "owner@example.com" in listed
    assert f"from alert group #{group_id}" in listed
    assert as_(client, owner).get(f"{API}/silences").json()[0]["group_id"] == group_id
    assert "silence.create" in audit_actions(world.parts, owner.workspace.id)
    assert client.get(f"{W}/silences/new?group=999").status_code == 404


def test_the_preview_counts_the_open_alerts_the_matchers_select(
    client: TestClient, owner: Member, world: World
) -> None:
    world.fire(alertname="DiskFull", instance="db-1")
    world.fire(alertname="DiskFull", instance="db-2")
    world.fire(alertname="CPU", instance="db-1")
    preview = as_(client, owner).get(f"{W}/silences/preview", params={"matchers": "alertname=DiskFull"})
    assert "<strong>2</strong> open alerts match" in preview.text
    one = client.get(f"{W}/silences/preview", params={"matchers": "alertname=DiskFull\ninstance=~db-2"})
    assert "<strong>1</strong> open alert matches" in one.text
    assert "invalid regex" in client.get(f"{W}/silences/preview", params={"matchers": "a=~("}).text


def test_bad_silence_input_is_shown_next_to_its_field(client: TestClient, owner: Member) -> None:
    no_matchers = post(client, owner, "/silences", matchers="", duration="2h")
    assert no_matchers.status_code == 400
    assert field_error(no_matchers.text, "silence-matchers") == "give at least one matcher"
    bad_regex = post(client, owner, "/silences", matchers="a=b\nteam=~(db", duration="2h")
    assert "regex" in field_error(bad_regex.text, "silence-matchers")
    bad_duration = post(client, owner, "/silences", matchers="a=b", duration="soon")
    assert "like 30m, 2h or 1d" in field_error(bad_duration.text, "silence-duration")
    in_the_past = post(client, owner, "/silences", matchers="a=b", ends_at="2001-01-01T00:00")
    assert "later than" in field_error(in_the_past.text, "silence-end")


def test_expiring_a_silence_asks_first_and_moves_it_to_expired(
    client: TestClient, owner: Member, clock: FakeClock
) -> None:
    post(client, owner, "/silences", matchers="a=b", duration="1h")
    silence_id = as_(client, owner).get(f"{API}/silences").json()[0]["id"]
    active = client.get(f"{W}/silences").text
    assert 'data-confirm="Expire this silence now?' in active
    assert post(client, owner, f"/silences/{silence_id}/expire").status_code == 303
    clock.advance(1)
    assert 'a="b"' in html.unescape(client.get(f"{W}/silences?tab=expired").text)
    assert "No active silences" in client.get(f"{W}/silences?tab=active").text


def silences(client: TestClient, who: Member) -> dict[int, dict[str, Any]]:
    return {s["id"]: s for s in as_(client, who).get(f"{API}/silences").json()}


def test_editing_a_silence_changes_it_in_place_or_replaces_it_as_alertmanager_does(
    client: TestClient, parts: Parts, owner: Member, clock: FakeClock
) -> None:
    now = clock()
    post(client, owner, "/silences", matchers="team=db", starts_at=utc_input(now + 3600), duration="2h")
    post(client, owner, "/silences", matchers="alertname=DiskFull", duration="1h", comment="disk swap")
    (pending, active) = sorted(silences(client, owner).values(), key=lambda s: s["starts_at"], reverse=True)
    assert 'href="/w/acme/silences/{}/edit"'.format(active["id"]) in client.get(f"{W}/silences").text

    # A pending silence: every field changes in place.
    form = client.get(f"{W}/silences/{pending['id']}/edit").text
    assert 'team="db"' in html.unescape(form) and f'action="{W}/silences/{pending["id"]}"' in form
    moved = post(client, owner, f"/silences/{pending['id']}", matchers="team=db\nenv=prod",
                 starts_at=utc_input(now + 7200), ends_at=utc_input(now + 10800), comment="moved")
    assert moved.status_code == 303 and moved.headers["location"].endswith("?tab=pending")
    after = silences(client, owner)[pending["id"]]
    assert after["matchers"] == ['team="db"', 'env="prod"'] and after["comment"] == "moved"
    assert (after["starts_at"], after["ends_at"]) == (now + 7200, now + 10800)
    entry = parts.ctx.db.read(lambda c: audit.entries(c, owner.workspace.id, limit=1))[0]
    assert entry.action == "silence.update" and entry.detail["after"]["comment"] == "moved"

    # An active one: a new end and comment keep it; the start sent back unchanged stays exact.
    values = {"matchers": 'alertname="DiskFull"', "starts_at": utc_input(active["starts_at"]),
              "ends_at": utc_input(now + 7200), "comment": "disk swap, slower"}
    assert post(client, owner, f"/silences/{active['id']}", **values).status_code == 303
    kept = silences(client, owner)[active["id"]]
    assert kept["starts_at"] == active["starts_at"] and kept["ends_at"] == now + 7200
    assert kept["comment"] == "disk swap, slower" and kept["state"] == "active"

    # Other matchers on an active silence: it is expired and a new one takes its place.
    replaced = post(client, owner, f"/silences/{active['id']}", **{**values, "matchers": "alertname=~Disk.*"})
    assert replaced.status_code == 303
    now_saved = silences(client, owner)
    assert now_saved[active["id"]]["state"] == "expired"
    (new_id,) = set(now_saved) - {pending["id"], active["id"]}
    assert now_saved[new_id]["matchers"] == ['alertname=~"Disk.*"'] and now_saved[new_id]["state"] == "active"
    actions = audit_actions(parts, owner.workspace.id)[:2]
    assert actions == ["silence.create", "silence.expire"]

    bad = post(client, owner, f"/silences/{new_id}", matchers="alertname=~(", ends_at=utc_input(now + 600))
    assert bad.status_code == 400 and "regex" in field_error(bad.text, "silence-matchers")
    early = post(client, owner, f"/silences/{new_id}", matchers="a=b", starts_at=utc_input(now + 600),
                 ends_at=utc_input(now + 300))
    assert "later than" in field_error(early.text, "silence-end")
    ended = post(client, owner, f"/silences/{active['id']}", matchers="a=b", duration="1h")
    assert ended.status_code == 400 and "has ended" in ended.text
    assert "has ended" in client.get(f"{W}/silences/{active['id']}/edit").text
    assert client.get(f"{W}/silences/999999/edit").status_code == 404


# --- maintenance windows and inhibition ------------------------------------------------------


def utc_input(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M")


def test_maintenance_windows_once_and_weekly_show_which_is_active_and_delete(
    client: TestClient, parts: Parts, owner: Member, clock: FakeClock
) -> None:
    now = clock()
    once = post(client, owner, "/maintenance", name="DB upgrade", kind="once", matchers="team=db",
                starts_at=utc_input(now - 600), ends_at=utc_input(now + 3600))
    assert once.status_code == 303
    bad = post(client, owner, "/maintenance", name="Weekly", kind="weekly", weekly_weekdays=["6"],
               weekly_start="02:00", weekly_duration_minutes="60", weekly_timezone="Nowhere/Land")
    assert bad.status_code == 400 and "unknown timezone" in field_error(bad.text, "win-tz")
    post(client, owner, "/maintenance", name="Weekly", kind="weekly", weekly_weekdays=["6"],
         weekly_start="02:00", weekly_duration_minutes="60", weekly_timezone="UTC")

    page = client.get(f"{W}/maintenance").text
    db_row = page[page.index("DB upgrade"):page.index("Weekly")]
    assert "Active now" in db_row and "Every Sun at 02:00 for 60 min (UTC)" in page
    windows = as_(client, owner).get(f"{API}/maintenance-windows").json()["windows"]
    assert [w["name"] for w in windows] == ["DB upgrade", "Weekly"]
    assert 'data-confirm="Delete the maintenance window “DB upgrade”? It is active now' in page

    post(client, owner, f"/maintenance/{windows[0]['id']}/delete")
    assert [w["name"] for w in as_(client, owner).get(f"{API}/maintenance-windows").json()["windows"]] == [
        "Weekly"]
    assert "maintenance.save" in audit_actions(parts, owner.workspace.id)


def test_inhibit_rules_are_created_with_field_errors_and_deleted(client: TestClient, owner: Member) -> None:
    missing = post(client, owner, "/inhibition", name="DC down", source_matchers="", target_matchers="a=b")
    assert missing.status_code == 400
    assert field_error(missing.text, "inh-source") == "give at least one matcher"
    created = post(client, owner, "/inhibition", name="DC down", source_matchers="alertname=DatacenterDown",
                   target_matchers="severity=~warning|error", equal="datacenter, cluster")
    assert created.status_code == 303
    rules = as_(client, owner).get(f"{API}/inhibit-rules").json()["inhibit_rules"]
    assert rules[0]["equal"] == ["datacenter", "cluster"]
    assert "DC down" in client.get(f"{W}/inhibition").text
    post(client, owner, f"/inhibition/{rules[0]['id']}/delete")
    assert as_(client, owner).get(f"{API}/inhibit-rules").json()["inhibit_rules"] == []


def test_editing_a_maintenance_window_keeps_its_id_names_bad_fields_and_is_audited(
    client: TestClient, parts: Parts, owner: Member, clock: FakeClock
) -> None:
    now = clock()
    post(client, owner, "/maintenance", name="DB upgrade", kind="once", matchers="team=db",
         starts_at=utc_input(now + 600), ends_at=utc_input(now + 3600))
    (window,) = as_(client, owner).get(f"{API}/maintenance-windows").json()["windows"]
    listed = client.get(f"{W}/maintenance").text
    assert f'href="{W}/maintenance/{window["id"]}"' in listed

    form = client.get(f"{W}/maintenance/{window['id']}").text
    assert 'value="DB upgrade"' in form and 'team="db"' in html.unescape(form)
    assert f'value="{utc_input(now + 600)}"' in form and f'action="{W}/maintenance/{window["id"]}"' in form

    backwards = post(client, owner, f"/maintenance/{window['id']}", name="DB upgrade", kind="once",
                     matchers="team=db", starts_at=utc_input(now + 7200), ends_at=utc_input(now + 3600))
    assert backwards.status_code == 400
    assert field_error(backwards.text, "win-end") == "must be later than starts_at"
    assert f'value="{utc_input(now + 7200)}"' in backwards.text  # what was typed is kept
    bad_regex = post(client, owner, f"/maintenance/{window['id']}", name="DB upgrade", kind="once",
                     matchers="team=~(db", starts_at=utc_input(now), ends_at=utc_input(now + 60))
    assert "regex" in field_error(bad_regex.text, "win-matchers")
    no_days = post(client, owner, f"/maintenance/{window['id']}", name="DB upgrade", kind="weekly",
                   weekly_start="02:00", weekly_duration_minutes="60", weekly_timezone="UTC")
    assert "non-empty list" in field_error(no_days.text, "win-weekdays")

    saved = post(client, owner, f"/maintenance/{window['id']}", name="DB upgrade (weekly)", kind="weekly",
                 weekly_weekdays=["1", "3"], weekly_start="02:00", weekly_duration_minutes="45",
                 weekly_timezone="Europe/Paris", matchers="team=db\nenv=prod")
    assert saved.status_code == 303
    (after,) = as_(client, owner).get(f"{API}/maintenance-windows").json()["windows"]
    assert after["id"] == window["id"] and after["name"] == "DB upgrade (weekly)"
    assert after["weekly"] == {"weekdays": [1, 3], "start": "02:00", "duration_minutes": 45,
                               "timezone": "Europe/Paris"}
    assert after["starts_at"] is None and after["matchers"] == ['team="db"', 'env="prod"']
    assert "Every Tue, Thu at 02:00 for 45 min (Europe/Paris)" in client.get(f"{W}/maintenance").text
    entry = parts.ctx.db.read(lambda c: audit.entries(c, owner.workspace.id, limit=1))[0]
    assert entry.action == "maintenance.save" and {"before", "after"} <= set(entry.detail)
    assert post(client, owner, "/maintenance/999999", name="x", kind="weekly").status_code == 404


def test_editing_an_inhibit_rule_keeps_its_id_and_names_bad_fields(
    client: TestClient, parts: Parts, owner: Member
) -> None:
    post(client, owner, "/inhibition", name="DC down", source_matchers="alertname=DatacenterDown",
         target_matchers="severity=warning", equal="datacenter")
    post(client, owner, "/inhibition", name="Node down", source_matchers="alertname=NodeDown",
         target_matchers="alertname=DiskFull", equal="host")
    first, second = as_(client, owner).get(f"{API}/inhibit-rules").json()["inhibit_rules"]
    form = client.get(f"{W}/inhibition/{second['id']}").text
    assert 'value="Node down"' in form and 'value="host"' in form
    assert 'alertname="NodeDown"' in html.unescape(form)

    empty = post(client, owner, f"/inhibition/{second['id']}", name="Node down", source_matchers="",
                 target_matchers="alertname=DiskFull")
    assert empty.status_code == 400 and field_error(empty.text, "inh-source") == "give at least one matcher"
    bad = post(client, owner, f"/inhibition/{second['id']}", name="Node down",
               source_matchers="alertname=NodeDown", target_matchers="severity=~[warning")
    assert bad.status_code == 400 and "regex" in field_error(bad.text, "inh-target")
    assert "severity=~[warning" in html.unescape(bad.text)

    saved = post(client, owner, f"/inhibition/{second['id']}", name="Node down mutes disks",
                 source_matchers="alertname=NodeDown", target_matchers="alertname=~Disk.*",
                 equal="host, cluster")
    assert saved.status_code == 303
    rules = as_(client, owner).get(f"{API}/inhibit-rules").json()["inhibit_rules"]
    assert [r["id"] for r in rules] == [first["id"], second["id"]]
    assert rules[0] == first  # the other rule is untouched
    assert rules[1]["name"] == "Node down mutes disks" and rules[1]["equal"] == ["host", "cluster"]
    assert rules[1]["target_matchers"] == ['alertname=~"Disk.*"']
    entry = parts.ctx.db.read(lambda c: audit.entries(c, owner.workspace.id, limit=1))[0]
    assert entry.action == "inhibit.save" and {"before", "after"} <= set(entry.detail)


# --- who may do what -------------------------------------------------------------------------


def test_a_viewer_sees_no_edit_controls_and_is_refused_when_posting(
    client: TestClient, owner: Member, viewer: Member
) -> None:
    post(client, owner, "/routing/rules", **rule_form("ops"))
    post(client, owner, "/silences", matchers="a=b", duration="1h")
    post(client, owner, "/maintenance", name="w", kind="weekly", weekly_weekdays=["0"], weekly_start="01:00",
         weekly_duration_minutes="30", weekly_timezone="UTC")
    post(client, owner, "/inhibition", name="i", source_matchers="a=b", target_matchers="c=d")
    rule_id = saved_rules(client, owner)[0]["id"]

    as_(client, viewer)
    for path in ("/routing", "/silences", "/maintenance", "/inhibition"):
        main = re.search(r'<main id="main".*</main>', client.get(f"{W}{path}").text, re.S)
        assert main, path
        posts = re.findall(r'<form[^>]*method="post"[^>]*action="([^"]+)"', main.group(0))
        assert set(posts) <= {f"{W}/routing/test"}, path  # the test stores nothing
        assert "New rule" not in main.group(0) and "New silence" not in main.group(0), path
        assert "data-confirm" not in main.group(0), path
        assert not re.search(rf'href="{W}/(maintenance|inhibition|silences)/\d+', main.group(0)), path
    assert client.get(f"{W}/routing/rules/{rule_id}").status_code == 403
    silence_id = as_(client, owner).get(f"{API}/silences").json()[0]["id"]
    window_id = client.get(f"{API}/maintenance-windows").json()["windows"][0]["id"]
    inhibit_id = client.get(f"{API}/inhibit-rules").json()["inhibit_rules"][0]["id"]
    as_(client, viewer)
    assert client.get(f"{W}/maintenance/{window_id}").status_code == 403
    assert client.get(f"{W}/silences/{silence_id}/edit").status_code == 403
    assert client.get(f"{W}/inhibition/{inhibit_id}").status_code == 403
    assert post(client, viewer, "/routing/test", n="5").status_code == 200

    for path, fields in [("/routing/rules", rule_form("x")), (f"/routing/rules/{rule_id}/delete", {}),
                         ("/routing/order", {"order": str(rule_id)}), ("/routing/default", {}),
                         ("/silences", {"matchers": "a=b", "duration": "1h"}), ("/silences/1/expire", {}),
                         ("/maintenance", {"name": "w"}), ("/inhibition", {"name": "i"}),
                         (f"/maintenance/{window_id}", {"name": "w"}),
                         (f"/silences/{silence_id}", {"matchers": "a=b", "duration": "1h"}),
                         (f"/inhibition/{inhibit_id}", {"name": "i"})]:
        assert post(client, viewer, path, **fields).status_code == 403, path
    assert [r["name"] for r in saved_rules(client, owner)] == ["ops"]


def test_a_responder_silences_but_cannot_configure_routing(client: TestClient, responder: Member) -> None:
    as_(client, responder)
    assert "New silence" in client.get(f"{W}/silences").text
    assert "New rule" not in client.get(f"{W}/routing").text
    assert "New maintenance window" not in client.get(f"{W}/maintenance").text
    assert post(client, responder, "/silences", matchers="a=b", duration="30m").status_code == 303
    assert post(client, responder, "/routing/rules", **rule_form("x")).status_code == 403
    assert post(client, responder, "/maintenance", name="w").status_code == 403
