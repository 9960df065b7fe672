"""Schedules stored in a real database: who is on call (override-aware), who is next, what a
save refuses (naming the field), overrides and swaps with their permissions, and the audit."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from signalcraft.auth.rbac import Role
from signalcraft.db import Database
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import audit
from signalcraft.errors import Forbidden, InvalidInput
from signalcraft.oncall import overrides as ov
from signalcraft.oncall import store
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, Member, member

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600.0


def at(*args: int) -> float:
    return dt.datetime(*args, tzinfo=BERLIN).timestamp()


@pytest.fixture
def db(parts: Parts) -> Database:
    return parts.ctx.db


@pytest.fixture
def team(db: Database, clock: FakeClock) -> dict[str, Member]:
    clock.t = at(2027, 3, 1, 12)
    return {
        name: member(db, f"{name}@example.com", role, "alpha", clock())
        for name, role in (("ada", Role.ADMIN), ("bob", Role.RESPONDER), ("cy", Role.RESPONDER))
    } | {"eve": member(db, "eve@example.com", Role.OWNER, "beta", clock())}


def layer(*people: Member, **kw: object) -> dict[str, object]:
    return {
        "unit": "weeks",
        "count": 1,
        "start": "2027-03-01T09:00",
        "participants": [p.user.id for p in people],
    } | kw


def save(
    db: Database, ws: int, layers: list[object], name: str = "Primary", schedule_id: int | None = None
) -> int:
    actor = audit.Actor("ada@example.com")
    return db.write(
        lambda c: store.save_schedule(c, ws, schedule_id, name, "Europe/Berlin", layers, actor, 0.0)
    ).id


def ids(*people: Member) -> list[int]:
    return [p.user.id for p in people]


def test_on_call_follows_the_weekly_rotation_and_an_override_wins(
    db: Database, team: dict[str, Member], clock: FakeClock
) -> None:
    ada, bob, cy = team["ada"], team["bob"], team["cy"]
    ws = ada.workspace.id
    sid = save(db, ws, [layer(ada, bob)])
    who = lambda t: db.read(lambda c: store.on_call_user_ids(c, ws, sid, t))  # noqa: E731
    assert who(at(2027, 3, 1, 8, 59)) == []
    assert who(at(2027, 3, 1, 9)) == ids(ada)
    assert who(at(2027, 3, 8, 9)) == ids(bob)
    req = ov.OverrideRequest(cy.user.id, at(2027, 3, 2, 0), at(2027, 3, 3, 0), "dentist")
    db.write(
        lambda c: ov.add_override(
            c, ws, sid, req, audit.Actor("a", ada.user.id), may_configure=True, now=clock()
        )
    )
    assert who(at(2027, 3, 2, 12)) == ids(cy)
    assert who(at(2027, 3, 3, 0)) == ids(ada)


def test_next_on_call_is_whoever_takes_over_after_the_current_shift(
    db: Database, team: dict[str, Member]
) -> None:
    ada, bob = team["ada"], team["bob"]
    ws = ada.workspace.id
    sid = save(db, ws, [layer(ada, bob)])
    nxt = lambda t: db.read(lambda c: store.next_on_call_user_ids(c, ws, sid, t))  # noqa: E731
    assert nxt(at(2027, 3, 2, 12)) == ids(bob)
    assert nxt(at(2027, 3, 9, 12)) == ids(ada)
    assert nxt(at(2027, 2, 1, 0)) == ids(ada)  # before the first shift: the first one on call
    solo = save(db, ws, [layer(ada)], name="Solo")
    assert db.read(lambda c: store.next_on_call_user_ids(c, ws, solo, at(2027, 3, 2))) == []


def test_another_workspace_sees_no_schedule_and_nobody_on_call(db: Database, team: dict[str, Member]) -> None:
    ada, eve = team["ada"], team["eve"]
    sid = save(db, ada.workspace.id, [layer(ada)])
    assert db.read(lambda c: store.schedule_exists(c, ada.workspace.id, sid))
    assert not db.read(lambda c: store.schedule_exists(c, eve.workspace.id, sid))
    assert db.read(lambda c: store.on_call_user_ids(c, eve.workspace.id, sid, at(2027, 3, 2))) == []
    assert db.read(lambda c: store.next_on_call_user_ids(c, eve.workspace.id, sid, at(2027, 3, 2))) == []


def test_a_member_removed_after_saving_is_a_gap_and_lower_layers_show_through(
    db: Database, team: dict[str, Member]
) -> None:
    ada, bob, cy = team["ada"], team["bob"], team["cy"]
    ws = ada.workspace.id
    sid = save(db, ws, [layer(ada, bob)])
    two = save(db, ws, [layer(cy), layer(ada, bob)], name="Layered")
    db.write(lambda c: q.remove_membership(c, ws, bob.user.id))
    assert db.read(lambda c: store.on_call_user_ids(c, ws, sid, at(2027, 3, 9))) == []
    assert db.read(lambda c: store.on_call_user_ids(c, ws, two, at(2027, 3, 9))) == ids(cy)


@pytest.mark.parametrize(
    ("layers", "field"),
    [
        ([], "layers"),
        (
            [{"unit": "weeks", "count": 1, "start": "2027-03-01T09:00", "participants": []}],
            "layers[0].participants",
        ),
        (
            [{"unit": "fortnights", "count": 1, "start": "2027-03-01T09:00", "participants": ["ADA"]}],
            "layers[0].unit",
        ),
        (
            [{"unit": "days", "count": 0, "start": "2027-03-01T09:00", "participants": ["ADA"]}],
            "layers[0].count",
        ),
        ([{"unit": "days", "start": "next monday", "participants": ["ADA"]}], "layers[0].start"),
        (
            [{"unit": "days", "start": "2027-03-01T09:00", "timezone": "Mars/Base", "participants": ["ADA"]}],
            "layers[0].timezone",
        ),
        (
            [
                {
                    "unit": "days",
                    "start": "2027-03-01T09:00",
                    "participants": ["ADA"],
                    "restriction": {"weekdays": [9], "start": "09:00", "end": "17:00"},
                }
            ],
            "layers[0].restriction.weekdays",
        ),
        ([{"unit": "days", "start": "2027-03-01T09:00", "participants": ["EVE"]}], "layers[0].participants"),
    ],
)
def test_a_save_refuses_bad_layers_naming_the_field(
    db: Database, team: dict[str, Member], layers: list[dict[str, object]], field: str
) -> None:
    names = {"ADA": team["ada"].user.id, "EVE": team["eve"].user.id}
    for doc in layers:
        doc["participants"] = [names.get(p, p) for p in doc["participants"]]  # type: ignore[attr-defined, union-attr]
    with pytest.raises(InvalidInput) as caught:
        save(db, team["ada"].workspace.id, layers)
    assert caught.value.field == field, caught.value.message


def test_saving_records_before_and_after_in_the_audit_log(db: Database, team: dict[str, Member]) -> None:
    ada, bob = team["ada"], team["bob"]
    ws = ada.workspace.id
    sid = save(db, ws, [layer(ada)])
    save(db, ws, [layer(ada, bob)], name="Renamed", schedule_id=sid)
    updated, created = db.read(lambda c: audit.entries(c, ws, action_prefix="schedule."))[:2]
    assert created.action == "schedule.create" and created.detail["after"]["name"] == "Primary"
    assert updated.action == "schedule.update"
    assert updated.detail["before"]["name"] == "Primary" and updated.detail["after"]["name"] == "Renamed"
    assert updated.detail["after"]["layers"][0]["participants"] == ids(ada, bob)


def test_overlapping_overrides_are_refused_naming_the_start(
    db: Database, team: dict[str, Member], clock: FakeClock
) -> None:
    ada, cy = team["ada"], team["cy"]
    ws = ada.workspace.id
    sid = save(db, ws, [layer(ada)])
    boss = audit.Actor("ada", ada.user.id)
    first = ov.OverrideRequest(cy.user.id, at(2027, 3, 2, 0), at(2027, 3, 3, 0))
    db.write(lambda c: ov.add_override(c, ws, sid, first, boss, may_configure=True, now=clock()))
    second = ov.OverrideRequest(cy.user.id, at(2027, 3, 2, 23), at(2027, 3, 4, 0))
    with pytest.raises(InvalidInput) as caught:
        db.write(lambda c: ov.add_override(c, ws, sid, second, boss, may_configure=True, now=clock()))
    assert caught.value.field == "start" and "overlaps override" in caught.value.message
    touching = ov.OverrideRequest(cy.user.id, at(2027, 3, 3, 0), at(2027, 3, 4, 0))
    db.write(lambda c: ov.add_override(c, ws, sid, touching, boss, may_configure=True, now=clock()))


def test_a_responder_takes_a_shift_or_hands_over_their_own_but_not_someone_elses(
    db: Database, team: dict[str, Member], clock: FakeClock
) -> None:
    ada, bob, cy = team["ada"], team["bob"], team["cy"]
    ws = ada.workspace.id
    sid = save(db, ws, [layer(bob, ada)])  # bob's week first
    as_bob = audit.Actor("bob", bob.user.id)
    week2 = ov.OverrideRequest(cy.user.id, at(2027, 3, 9, 0), at(2027, 3, 10, 0))  # ada's time
    with pytest.raises(Forbidden):
        db.write(lambda c: ov.add_override(c, ws, sid, week2, as_bob, may_configure=False, now=clock()))
    take = ov.OverrideRequest(bob.user.id, at(2027, 3, 9, 0), at(2027, 3, 10, 0))
    db.write(lambda c: ov.add_override(c, ws, sid, take, as_bob, may_configure=False, now=clock()))
    give = ov.OverrideRequest(cy.user.id, at(2027, 3, 5, 18), at(2027, 3, 6, 9))
    swap = db.write(
        lambda c: ov.swap_shift(c, ws, sid, bob.user.id, give, as_bob, may_configure=False, now=clock())
    )
    assert swap.user_id == cy.user.id and swap.created_by == bob.user.id
    assert db.read(lambda c: store.on_call_user_ids(c, ws, sid, at(2027, 3, 6, 0))) == ids(cy)
    beyond = ov.OverrideRequest(cy.user.id, at(2027, 3, 8, 0), at(2027, 3, 8, 12))  # crosses into ada's week
    with pytest.raises(InvalidInput) as caught:
        db.write(
            lambda c: ov.swap_shift(c, ws, sid, bob.user.id, beyond, as_bob, may_configure=False, now=clock())
        )
    assert caught.value.field == "start"
