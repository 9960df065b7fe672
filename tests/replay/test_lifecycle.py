"""A session's life: chunks arrive, the session goes quiet, the periodic task finalizes it
into one compressed file (which decompresses to exactly the events sent), retention and
delete remove row and file together. The clock is a FakeClock; nothing sleeps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import zstandard
from litestar.testing import TestClient

from signalcraft.db.queries import replays as rq
from signalcraft.replay import service
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, Member
from tests.replay.conftest import SESSION, Browser, error_event, recorded_events

MINUTE = 60.0


def replay_of(parts: Parts, ws_id: int, session: str = SESSION) -> rq.Replay:
    found = parts.ctx.db.read(lambda c: rq.replay_by_session(c, ws_id, session))
    assert found is not None
    return found


def usage(parts: Parts, ws_id: int) -> int:
    found = parts.ctx.db.read(lambda c: rq.recorder_of(c, ws_id))
    assert found is not None
    return found.used_bytes


def send_session(browser: Browser, clock: FakeClock) -> list[dict[str, Any]]:
    """Three chunks, a minute apart, with a page error in the last one; returns every event."""
    events = recorded_events()
    events.append(error_event(events[-1]["timestamp"] + 1500, "TypeError: cart is undefined"))
    for seq, part in enumerate((events[:4], events[4:9], events[9:])):
        assert browser.send(seq, part, user_id="customer-42").status_code == 202
        clock.advance(MINUTE)
    return events


def finalized(browser: Browser, parts: Parts, clock: FakeClock, tasks: dict[str, Any]) -> Path:
    """A session sent, then quiet past the inactivity window and finalized: its file."""
    send_session(browser, clock)
    clock.advance(31 * MINUTE)
    assert tasks["replay_finalize"].call_local() == [SESSION]
    replay = parts.ctx.db.read(lambda c: rq.list_replays(c, 1, rq.ReplayFilter()))[0]
    return parts.ctx.settings.data.path / "replays" / replay.file_path


def test_a_quiet_session_is_finalized_into_a_file_of_exactly_the_events_sent(
    browser: Browser, parts: Parts, recorder: rq.Recorder, clock: FakeClock, tasks: dict[str, Any]
) -> None:
    events = send_session(browser, clock)
    clock.advance(29 * MINUTE)
    assert tasks["replay_finalize"].call_local() == []  # 29 quiet minutes: still recording
    clock.advance(2 * MINUTE)
    assert tasks["replay_finalize"].call_local() == [SESSION]
    replay = replay_of(parts, recorder.workspace_id)
    assert replay.status == "ready"
    path = parts.ctx.settings.data.path / "replays" / replay.file_path
    assert path.name == f"{SESSION}.rrweb.zst" and path.parent.parent.name == str(recorder.workspace_id)
    stored = orjson.loads(zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read())
    assert stored == events
    assert (replay.event_count, replay.chunk_count, replay.user_id) == (13, 3, "customer-42")
    assert replay.client_start_ms == events[0]["timestamp"]
    assert replay.duration_ms == events[-1]["timestamp"] - events[0]["timestamp"]
    assert replay.urls == (events[2]["data"]["href"],)
    assert replay.error_count == 1 and replay.errors[0].message == "TypeError: cart is undefined"
    assert replay.errors[0].offset_ms == events[-1]["timestamp"] - events[0]["timestamp"]
    assert replay.raw_bytes == len(orjson.dumps(events)) and replay.compressed_bytes == path.stat().st_size
    assert usage(parts, recorder.workspace_id) == replay.compressed_bytes  # the quota counts the file now
    assert not (parts.ctx.settings.data.path / "replays" / "spool" / "1" / f"{SESSION}.chunks").exists()


def test_a_chunk_for_a_finalized_session_gets_409_so_the_recorder_starts_anew(
    browser: Browser, parts: Parts, recorder: rq.Recorder, clock: FakeClock, tasks: dict[str, Any]
) -> None:
    finalized(browser, parts, clock, tasks)
    late = browser.send(3, recorded_events()[4:])
    assert late.status_code == 409
    assert late.json()["error"]["code"] == "replay_session_finalized"
    assert late.headers["access-control-allow-origin"] == "https://shop.example.com"
    assert replay_of(parts, recorder.workspace_id).event_count == 13


def test_a_chunk_arriving_after_the_scan_wins_over_the_finalizer(
    browser: Browser, parts: Parts, recorder: rq.Recorder, clock: FakeClock
) -> None:
    send_session(browser, clock)
    clock.advance(31 * MINUTE)
    quiet_since = clock() - 30 * MINUTE
    assert browser.send(3, recorded_events()[4:]).status_code == 202  # lands between scan and claim
    replay = replay_of(parts, recorder.workspace_id)
    assert not parts.ctx.db.write(lambda c: rq.claim(c, replay.id, quiet_since, clock() - 600, clock()))
    assert replay_of(parts, recorder.workspace_id).status == "recording"


def test_a_claim_left_by_a_crash_is_taken_again_later(
    browser: Browser, parts: Parts, recorder: rq.Recorder, clock: FakeClock, tasks: dict[str, Any]
) -> None:
    send_session(browser, clock)
    clock.advance(31 * MINUTE)
    replay = replay_of(parts, recorder.workspace_id)
    assert parts.ctx.db.write(lambda c: rq.claim(c, replay.id, clock(), clock(), clock()))  # then the crash
    assert tasks["replay_finalize"].call_local() == []  # a fresh claim is left alone
    clock.advance(service.STALE_CLAIM_SECONDS + 1)
    assert tasks["replay_finalize"].call_local() == [SESSION]


def test_a_session_whose_spool_is_gone_is_dropped(
    browser: Browser, parts: Parts, recorder: rq.Recorder, clock: FakeClock, tasks: dict[str, Any]
) -> None:
    send_session(browser, clock)
    service.store_of(parts.ctx).delete_spool(recorder.workspace_id, SESSION)
    clock.advance(31 * MINUTE)
    assert tasks["replay_finalize"].call_local() == []
    assert parts.ctx.db.read(lambda c: rq.replay_by_session(c, recorder.workspace_id, SESSION)) is None
    assert usage(parts, recorder.workspace_id) == 0


def test_retention_deletes_old_replays_with_their_files(
    browser: Browser, parts: Parts, recorder: rq.Recorder, clock: FakeClock, tasks: dict[str, Any]
) -> None:
    path = finalized(browser, parts, clock, tasks)
    clock.advance(29 * 86400.0)
    assert tasks["replay_retention"].call_local() == 0
    assert path.exists()
    clock.advance(1 * 86400.0)
    assert tasks["replay_retention"].call_local() == 1
    assert not path.exists() and not path.parent.exists()
    assert parts.ctx.db.read(lambda c: rq.replay_by_session(c, recorder.workspace_id, SESSION)) is None
    assert usage(parts, recorder.workspace_id) == 0


def test_deleting_a_replay_from_its_page_deletes_its_file(
    browser: Browser,
    client: TestClient,
    parts: Parts,
    recorder: rq.Recorder,
    owner: Member,
    clock: FakeClock,
    tasks: dict[str, Any],
) -> None:
    path = finalized(browser, parts, clock, tasks)
    client.cookies.set("sc_session", owner.session_token)
    response = client.post(
        f"/w/acme/replays/{SESSION}/delete", data={"_csrf": owner.csrf}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/w/acme/replays"
    assert not path.exists()
    assert parts.ctx.db.read(lambda c: rq.replay_by_session(c, recorder.workspace_id, SESSION)) is None
    assert client.get(f"/w/acme/replays/{SESSION}").status_code == 404
    audit = client.get("/w/acme/settings/audit?action=replay.")
    assert "replay.delete" in audit.text
