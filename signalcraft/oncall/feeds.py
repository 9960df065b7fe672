"""Secret iCal feed URLs: one per schedule, one per person (their shifts in every schedule of
the workspace). Only the token's SHA-256 is stored; rotating replaces it, so the old URL
answers 404 from then on. A feed shows :data:`FEED_WEEKS` weeks from now, overrides included."""

from __future__ import annotations

import apsw

from signalcraft.auth.secrets import new_token, token_hash
from signalcraft.db.queries import audit
from signalcraft.db.queries import schedules as sq
from signalcraft.errors import NotFound
from signalcraft.oncall import ical, store
from signalcraft.oncall.schedule import shifts

FEED_WEEKS = 8


def rotate_schedule_feed(
    conn: apsw.Connection, workspace_id: int, schedule_id: int, actor: audit.Actor, now: float
) -> str:
    """A new token for the schedule's feed (the old one stops working); returns the token."""
    if not store.schedule_exists(conn, workspace_id, schedule_id):
        raise NotFound("no such schedule", field="schedule")
    had = sq.feed_exists(conn, workspace_id, schedule_id=schedule_id)
    token = new_token()
    sq.set_schedule_feed(conn, workspace_id, schedule_id, token_hash(token), now)
    _audit(conn, actor, workspace_id, f"schedule:{schedule_id}", had, now)
    return token


def rotate_user_feed(
    conn: apsw.Connection, workspace_id: int, user_id: int, actor: audit.Actor, now: float
) -> str:
    had = sq.feed_exists(conn, workspace_id, user_id=user_id)
    token = new_token()
    sq.set_user_feed(conn, workspace_id, user_id, token_hash(token), now)
    _audit(conn, actor, workspace_id, f"user:{user_id}", had, now)
    return token


def _audit(conn: apsw.Connection, actor: audit.Actor, ws: int, target: str, had: bool, now: float) -> None:
    before = {"feed_token": "old"} if had else {}
    detail = audit.changes(before, {"feed_token": "new"}, secret_keys=("feed_token",))
    audit.record(conn, actor, "schedule.feed.rotate", now, workspace_id=ws, target=target, detail=detail)


def schedule_feed(conn: apsw.Connection, token: str, now: float) -> str:
    """The calendar behind a schedule feed token; NotFound for an unknown or rotated token."""
    feed = sq.feed_by_hash(conn, token_hash(token))
    if feed is None or feed.schedule_id is None:
        raise NotFound("no such feed", field="token")
    found = store.load(conn, feed.workspace_id, feed.schedule_id, overrides_from=now)
    assert found is not None  # the feed row goes with its schedule (ON DELETE CASCADE)
    timeline = shifts(found, now, now + FEED_WEEKS * 7 * 86400.0)
    people = sq.display_names(conn, {s.user_id for s in timeline})
    return ical.calendar(found.name, timeline, people, uid_prefix=f"schedule{found.id}", now=now)


def user_feed(conn: apsw.Connection, token: str, now: float) -> str:
    """One person's shifts in every schedule of the workspace; NotFound for an unknown token."""
    feed = sq.feed_by_hash(conn, token_hash(token))
    if feed is None or feed.user_id is None:
        raise NotFound("no such feed", field="token")
    names = sq.display_names(conn, {feed.user_id})
    events: list[ical.Event] = []
    for row in sq.schedules_of(conn, feed.workspace_id):
        found = store.load(conn, feed.workspace_id, row.id, overrides_from=now)
        assert found is not None
        mine = [s for s in shifts(found, now, now + FEED_WEEKS * 7 * 86400.0) if s.user_id == feed.user_id]
        events += ical.events_of(f"schedule{row.id}", row.name, mine, names)
    title = f"On call: {names.get(feed.user_id, 'me')}"
    return ical.feed(title, events, now=now)
