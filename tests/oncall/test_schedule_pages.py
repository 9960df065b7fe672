"""Schedule pages: the list says who is on call now, the schedule page draws the timeline (layers,
overrides, final row), the editor refuses bad input next to the field, overrides and swaps save
from their form, feed URLs are shown once, and viewers get no edit controls."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import TestClient

from signalcraft.auth.rbac import Role
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, Member, member

BASE = "/w/alpha/schedules"


@pytest.fixture
def people(parts: Parts, clock: FakeClock) -> dict[str, Member]:
    clock.t = dt.datetime(2027, 3, 24, 12, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()  # a Wednesday
    db, now = parts.ctx.db, clock()
    return {
        role: member(db, f"{role}@example.com", Role(role), "alpha", now)
        for role in ("owner", "responder", "viewer")
    }


def as_(client: TestClient, who: Member) -> TestClient:  # type: ignore[type-arg]
    client.cookies.set("sc_session", who.session_token)
    return client


def layer_form(i: int, participants: str, **kw: str) -> dict[str, str]:
    base = {
        "rotation": "weekly",
        "every": "1",
        "start_date": "2027-03-22",
        "handoff": "09:00",
        "timezone": "",
        "participants": participants,
        "name": "",
    }
    return {f"layer{i}_{k}": v for k, v in {**base, **kw}.items()}


def create(
    client: TestClient, who: Member, participants: str = "owner@example.com\nresponder@example.com"
) -> str:  # type: ignore[type-arg]
    form = {
        "_csrf": who.csrf,
        "name": "Primary",
        "timezone": "Europe/Berlin",
        "layer_count": "2",
        **layer_form(0, participants),
        **layer_form(1, ""),
    }
    saved = as_(client, who).post(f"{BASE}/", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text[:500]
    return str(saved.headers["location"])


def test_the_list_says_who_is_on_call_now(client: TestClient, people: dict[str, Member]) -> None:
    create(client, people["owner"])
    page = as_(client, people["viewer"]).get(f"{BASE}/")
    assert page.status_code == 200
    assert re.search(r"Primary</a>.*?<strong>owner</strong>", page.text, re.S)
    assert "New schedule" not in page.text and "/my-feed" not in page.text  # a viewer edits nothing


def test_the_schedule_page_draws_layers_overrides_and_the_final_row(
    client: TestClient, people: dict[str, Member]
) -> None:
    owner = people["owner"]
    url = create(client, owner)
    override = {
        "_csrf": owner.csrf,
        "kind": "override",
        "user_id": str(people["viewer"].user.id),
        "start": "2027-03-25T09:00",
        "end": "2027-03-26T09:00",
        "reason": "covering",
    }
    assert (
        as_(client, owner).post(f"{url}/overrides", data=override, follow_redirects=False).status_code == 303
    )
    page = client.get(url, params={"weeks": 2}).text
    rows = re.findall(r'data-row="([^"]+)"', page)
    assert rows == ["Layer 1", "Overrides", "On call"]
    overrides_row = page.split('data-row="Overrides"')[1].split("</g>\n      </g>")[0]
    assert "viewer: Thu 25 Mar 09:00 to Fri 26 Mar 09:00" in overrides_row
    final = page.split('data-row="On call"')[1]
    assert final.count("<title>") == 5  # owner, viewer (override), owner, responder, owner
    assert 'class="tl-now"' in page
    assert 'data-confirm="Delete the schedule' in page and 'data-confirm="Remove this override' in page


def test_the_editor_refuses_a_schedule_without_participants_next_to_the_field(
    client: TestClient, people: dict[str, Member]
) -> None:
    owner = people["owner"]
    form = {"_csrf": owner.csrf, "name": "Empty", "timezone": "UTC", "layer_count": "1", **layer_form(0, "")}
    refused = as_(client, owner).post(f"{BASE}/", data=form)
    assert refused.status_code == 400
    assert re.search(r'id="layer0_participants-error">[^<]*at least one rotation', refused.text)
    form.update(layer_form(0, "stranger@example.com"))
    refused = client.post(f"{BASE}/", data=form)
    assert refused.status_code == 400
    assert re.search(
        r'id="layer0_participants-error">not a member of this workspace: stranger@example.com', refused.text
    )


def test_an_overlapping_override_is_refused_next_to_the_start(
    client: TestClient, people: dict[str, Member]
) -> None:
    owner = people["owner"]
    url = create(client, owner)
    override = {
        "_csrf": owner.csrf,
        "kind": "override",
        "user_id": str(people["viewer"].user.id),
        "start": "2027-03-25T09:00",
        "end": "2027-03-26T09:00",
    }
    assert (
        as_(client, owner).post(f"{url}/overrides", data=override, follow_redirects=False).status_code == 303
    )
    refused = client.post(
        f"{url}/overrides", data={**override, "start": "2027-03-25T20:00", "end": "2027-03-27T00:00"}
    )
    assert refused.status_code == 400
    assert re.search(r'id="ov-start-error">overlaps override', refused.text)


def test_a_responder_swaps_their_shift_from_the_page(client: TestClient, people: dict[str, Member]) -> None:
    url = create(client, people["owner"], "responder@example.com\nowner@example.com")  # responder's week now
    responder = people["responder"]
    swap = {
        "_csrf": responder.csrf,
        "kind": "swap",
        "user_id": str(people["owner"].user.id),
        "start": "2027-03-26T18:00",
        "end": "2027-03-27T09:00",
        "reason": "away",
    }
    assert (
        as_(client, responder).post(f"{url}/overrides", data=swap, follow_redirects=False).status_code == 303
    )
    page = client.get(url).text
    assert "away" in page and "/edit" not in page  # the override is listed; no edit for a responder
    not_mine = {**swap, "start": "2027-03-30T10:00", "end": "2027-03-30T11:00"}  # the owner's week
    refused = client.post(f"{url}/overrides", data=not_mine)
    assert refused.status_code == 400 and 'id="ov-start-error"' in refused.text


def test_feed_urls_are_shown_once_with_a_copy_button(client: TestClient, people: dict[str, Member]) -> None:
    owner = people["owner"]
    url = create(client, owner)
    shown = as_(client, owner).post(f"{url}/feed", data={"_csrf": owner.csrf})
    feed = re.search(r'<code id="feed-url">[^<]*(/ical/schedules/[^<]+\.ics)</code>', shown.text)
    assert feed and 'data-copy-target="#feed-url"' in shown.text
    assert "feed-url" not in client.get(url).text  # not shown again
    assert "Rotate the URL" in client.get(url).text
    mine = client.post(f"{BASE}/my-feed", data={"_csrf": owner.csrf})
    personal = re.search(r'<code id="feed-url">[^<]*(/ical/users/[^<]+\.ics)</code>', mine.text)
    assert personal
    client.cookies.clear()
    assert client.get(feed.group(1)).status_code == 200
    assert client.get(personal.group(1)).text.count("BEGIN:VEVENT") >= 4


def test_the_edit_form_shows_the_saved_layers(client: TestClient, people: dict[str, Member]) -> None:
    url = create(client, people["owner"])
    page = client.get(f"{url}/edit").text
    assert "owner@example.com\nresponder@example.com</textarea>" in page
    assert 'name="layer1_participants"' in page  # room for one more layer
    assert as_(client, people["viewer"]).get(f"{url}/edit").status_code == 403
