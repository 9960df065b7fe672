"""On-call schedules over HTTP: DST-proof handoffs, who is on call now / at T / next, what a
save refuses (naming the field), who may change what, another workspace's 404, the audit
trail, and the secret iCal feeds (parsed back; a rotated token stops working)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import TestClient

from signalcraft.auth.rbac import Role
from signalcraft.db.queries import audit
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, Member, member

WS = "/api/v1/workspaces/alpha"
BERLIN = ZoneInfo("Europe/Berlin")


def at(*args: int) -> float:
    return dt.datetime(*args, tzinfo=BERLIN).timestamp()


@pytest.fixture
def people(parts: Parts, clock: FakeClock) -> dict[str, Member]:
    clock.t = at(2027, 3, 20, 12)
    db, now = parts.ctx.db, clock()
    return {
        role: member(db, f"{role}@example.com", Role(role), "alpha", now)
        for role in ("owner", "responder", "viewer")
    } | {"stranger": member(db, "stranger@example.com", Role.OWNER, "beta", now)}


def as_(client: TestClient, who: Member) -> TestClient:  # type: ignore[type-arg]
    client.cookies.set("sc_session", who.session_token)
    client.headers["X-CSRF-Token"] = who.csrf
    return client


def daily(*who: Member, start: str = "2027-03-26T09:00") -> dict[str, Any]:
    return {"unit": "days", "count": 1, "start": start, "participants": [p.user.id for p in who]}


def create(api: TestClient, layers: list[dict[str, Any]], name: str = "Primary") -> int:  # type: ignore[type-arg]
    made = api.post(f"{WS}/schedules", json={"name": name, "timezone": "Europe/Berlin", "layers": layers})
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def on_call(api: TestClient, sid: int, when: str | None = None) -> dict[str, Any]:  # type: ignore[type-arg]
    found = api.get(f"{WS}/schedules/{sid}/on-call", params={"at": when} if when else {})
    assert found.status_code == 200, found.text
    return dict(found.json())


def names(people_out: list[dict[str, Any]]) -> list[str]:
    return [p["name"] for p in people_out]


def test_a_daily_handoff_stays_at_nine_local_time_across_the_dst_change(
    client: TestClient, parts: Parts, people: dict[str, Member], clock: FakeClock
) -> None:
    api = as_(client, people["owner"])
    sid = create(api, [daily(people["owner"], people["responder"])])
    # Berlin moves its clocks forward on 2027-03-28 at 02:00: 09:00 is now +02:00
    assert names(on_call(api, sid, "2027-03-28T08:59+02:00")["on_call"]) == ["responder"]
    assert names(on_call(api, sid, "2027-03-28T09:00+02:00")["on_call"]) == ["owner"]
    assert names(on_call(api, sid, "2027-03-28T07:30Z")["on_call"]) == ["owner"]
    shifts = api.get(
        f"{WS}/schedules/{sid}/shifts", params={"start": "2027-03-27T09:00", "end": "2027-03-29T09:00"}
    ).json()["final"]
    assert [s["start_iso"] for s in shifts] == ["2027-03-27T08:00:00Z", "2027-03-28T07:00:00Z"]
    assert shifts[0]["end"] - shifts[0]["start"] == 23 * 3600  # the night the clocks moved
    clock.t = at(2027, 3, 28, 8, 59)  # "now" is the clock's: no ``at``
    api = as_(
        client, member(parts.ctx.db, "owner@example.com", Role.OWNER, "alpha", clock())
    )  # fresh session
    now = on_call(api, sid)
    assert names(now["on_call"]) == ["responder"] and names(now["next"]) == ["owner"]
    assert now["until"] == "2027-03-28T07:00:00Z" == now["next_start"]


def test_the_workspace_on_call_lists_every_schedule(client: TestClient, people: dict[str, Member]) -> None:
    api = as_(client, people["owner"])
    create(api, [daily(people["owner"])], name="Databases")
    create(api, [daily(people["responder"])], name="Apps")
    found = api.get(f"{WS}/on-call", params={"at": "2027-03-27T12:00"}).json()
    assert [(o["schedule"], names(o["on_call"])) for o in found] == [
        ("Apps", ["responder"]),
        ("Databases", ["owner"]),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"name": "Empty", "layers": [{"unit": "days", "start": "2027-03-26T09:00", "participants": []}]},
            "layers[0].participants",
        ),
        ({"name": "None", "layers": []}, "layers"),
        (
            {"name": "", "layers": [{"unit": "days", "start": "2027-03-26T09:00", "participants": [1]}]},
            "name",
        ),
        ({"name": "Tz", "timezone": "Berlin", "layers": []}, "timezone"),
    ],
)
def test_a_bad_schedule_is_refused_naming_the_field(
    client: TestClient, people: dict[str, Member], body: dict[str, Any], field: str
) -> None:
    refused = as_(client, people["owner"]).post(f"{WS}/schedules", json=body)
    assert refused.status_code == 400
    assert refused.json()["error"]["field"] == field


def test_overlapping_overrides_are_refused_naming_the_start(
    client: TestClient, people: dict[str, Member]
) -> None:
    api = as_(client, people["owner"])
    sid = create(api, [daily(people["owner"])])
    first = {"user_id": people["responder"].user.id, "start": "2027-03-27T00:00", "end": "2027-03-28T00:00"}
    assert api.post(f"{WS}/schedules/{sid}/overrides", json=first).status_code == 201
    clash = {**first, "start": "2027-03-27T18:00", "end": "2027-03-29T00:00"}
    refused = api.post(f"{WS}/schedules/{sid}/overrides", json=clash)
    assert refused.status_code == 400
    assert refused.json()["error"]["field"] == "start"
    assert "overlaps override" in refused.json()["error"]["message"]
    assert names(on_call(api, sid, "2027-03-27T12:00")["on_call"]) == ["responder"]


def test_another_workspace_gets_404_for_a_schedule_id(client: TestClient, people: dict[str, Member]) -> None:
    sid = create(as_(client, people["owner"]), [daily(people["owner"])])
    api = as_(client, people["stranger"])
    beta = "/api/v1/workspaces/beta"
    assert api.get(f"{beta}/schedules/{sid}").status_code == 404
    assert api.get(f"{beta}/schedules/{sid}/on-call").status_code == 404
    assert api.put(f"{beta}/schedules/{sid}", json={"name": "x", "layers": []}).status_code == 404
    assert api.get(f"{WS}/schedules/{sid}").status_code == 404
    assert api.get(f"{beta}/on-call").json() == []


def test_a_viewer_reads_schedules_but_cannot_change_them(
    client: TestClient, people: dict[str, Member]
) -> None:
    sid = create(as_(client, people["owner"]), [daily(people["owner"])])
    api = as_(client, people["viewer"])
    body = {"name": "Mine", "layers": [daily(people["viewer"])]}
    assert api.post(f"{WS}/schedules", json=body).status_code == 403
    assert api.put(f"{WS}/schedules/{sid}", json=body).status_code == 403
    assert api.delete(f"{WS}/schedules/{sid}").status_code == 403
    override = {"user_id": people["viewer"].user.id, "start": "2027-03-27T00:00", "end": "2027-03-28T00:00"}
    assert api.post(f"{WS}/schedules/{sid}/overrides", json=override).status_code == 403
    assert api.get(f"{WS}/schedules/{sid}").json()["name"] == "Primary"


def test_a_responder_swaps_their_shift_but_cannot_reassign_someone_elses(
    client: TestClient, people: dict[str, Member]
) -> None:
    owner, responder = people["owner"], people["responder"]
    sid = create(as_(client, owner), [daily(responder, owner)])
    api = as_(client, responder)
    others = {"user_id": responder.user.id, "start": "2027-03-27T10:00", "end": "2027-03-27T11:00"}
    assert api.post(f"{WS}/schedules/{sid}/overrides", json=others).status_code == 201  # taking a shift: fine
    foreign = {"user_id": owner.user.id, "start": "2027-03-27T12:00", "end": "2027-03-27T13:00"}
    refused = api.post(
        f"{WS}/schedules/{sid}/overrides", json=foreign
    )  # owner's day: not the responder's call
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "user_id"
    swap = {
        "to_user_id": owner.user.id,
        "start": "2027-03-26T18:00",
        "end": "2027-03-27T09:00",
        "reason": "party",
    }
    swapped = api.post(f"{WS}/schedules/{sid}/swap", json=swap)
    assert swapped.status_code == 201, swapped.text
    assert names(on_call(api, sid, "2027-03-26T20:00")["on_call"]) == ["owner"]
    assert names(on_call(api, sid, "2027-03-26T17:00")["on_call"]) == ["responder"]
    not_mine = {**swap, "start": "2027-03-27T14:00", "end": "2027-03-27T15:00"}  # the owner's day
    assert api.post(f"{WS}/schedules/{sid}/swap", json=not_mine).json()["error"]["field"] == "start"
    assert api.delete(f"{WS}/schedules/{sid}/overrides/{swapped.json()['id']}").status_code == 204
    assert names(on_call(api, sid, "2027-03-26T20:00")["on_call"]) == ["responder"]


def test_changes_are_audited_with_before_and_after(
    client: TestClient, parts: Parts, people: dict[str, Member]
) -> None:
    api = as_(client, people["owner"])
    sid = create(api, [daily(people["owner"])])
    body = {
        "name": "Renamed",
        "timezone": "Europe/Berlin",
        "layers": [daily(people["owner"], people["viewer"])],
    }
    assert api.put(f"{WS}/schedules/{sid}", json=body).status_code == 200
    assert api.delete(f"{WS}/schedules/{sid}").status_code == 204
    ws = people["owner"].workspace.id
    trail = parts.ctx.db.read(lambda c: audit.entries(c, ws, action_prefix="schedule."))
    assert [e.action for e in trail] == ["schedule.delete", "schedule.update", "schedule.create"]
    update = trail[1]
    assert update.actor == "owner@example.com"
    assert (update.detail["before"]["name"], update.detail["after"]["name"]) == ("Primary", "Renamed")
    assert trail[0].detail["after"] == {} and trail[0].detail["before"]["name"] == "Renamed"


def vevents(calendar: str) -> list[dict[str, str]]:
    """A minimal RFC 5545 reader: unfold lines, collect each VEVENT's properties."""
    lines = calendar.replace("\r\n ", "").split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-2] == "END:VCALENDAR" and lines[-1] == ""
    events: list[dict[str, str]] = []
    for line in lines:
        if line == "BEGIN:VEVENT":
            events.append({})
        elif events and ":" in line and line != "END:VEVENT":
            key, value = line.split(":", 1)
            events[-1][key] = value
    return events


def test_the_ical_feed_shows_eight_weeks_and_a_rotated_token_stops_working(
    client: TestClient, people: dict[str, Member], clock: FakeClock
) -> None:
    owner, responder = people["owner"], people["responder"]
    api = as_(client, owner)
    weekly = {
        "unit": "weeks",
        "count": 1,
        "start": "2027-03-22T09:00",
        "participants": [owner.user.id, responder.user.id],
    }
    sid = create(api, [weekly])
    override = {"user_id": responder.user.id, "start": "2027-03-23T09:00", "end": "2027-03-24T09:00"}
    assert api.post(f"{WS}/schedules/{sid}/overrides", json=override).status_code == 201
    url = api.post(f"{WS}/schedules/{sid}/ical-feed").json()["url"]
    assert url.startswith("http") and "/ical/schedules/" in url
    path = url[url.index("/ical/") :]
    client.cookies.clear()
    feed = client.get(path)
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    events = vevents(feed.text)
    # now is Sat 2027-03-20 12:00, the feed ends Sat 2027-05-15 12:00: weekly shifts start on
    # Mar 22, 29, Apr 5, 12, 19, 26, May 3 and 10 (8), the first cut in 3 by the override = 10
    assert len(events) == 10
    assert events[0]["DTSTART"] == "20270322T080000Z" and "owner" in events[0]["SUMMARY"]
    assert events[1]["DTSTART"] == "20270323T080000Z" and events[1]["SUMMARY"].endswith("(override)")
    assert events[-1]["DTEND"] == dt.datetime.fromtimestamp(clock() + 8 * 7 * 86400, dt.UTC).strftime(
        "%Y%m%dT%H%M%SZ"
    )
    rotated = as_(client, owner).post(f"{WS}/schedules/{sid}/ical-feed").json()["url"]
    client.cookies.clear()
    assert client.get(path).status_code == 404
    assert client.get(rotated[rotated.index("/ical/") :]).status_code == 200
    assert client.get("/ical/schedules/not-a-token.ics").status_code == 404


def test_a_personal_feed_lists_only_that_persons_shifts(
    client: TestClient, people: dict[str, Member]
) -> None:
    owner, responder = people["owner"], people["responder"]
    create(as_(client, owner), [daily(owner, responder)], name="One")
    create(as_(client, owner), [daily(responder, start="2027-03-21T09:00")], name="Two")
    url = as_(client, responder).post(f"{WS}/me/ical-feed").json()["url"]
    client.cookies.clear()
    events = vevents(client.get(url[url.index("/ical/") :]).text)
    assert events and all(e["SUMMARY"].startswith("On call: responder") for e in events)
    assert {e["SUMMARY"].split("(")[1].rstrip(")") for e in events} == {"One", "Two"}
    assert client.get(url[url.index("/ical/") :].replace("/users/", "/schedules/")).status_code == 404
