"""The recorder's endpoints over HTTP (the real app, a real database, real files): the happy
path, and every kind of bad input refused with its status before it costs a write."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from litestar.testing import TestClient

from signalcraft.db.queries import replays as rq
from signalcraft.replay.storage import ReplayStore
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, Member
from tests.replay.conftest import ORIGIN, SESSION, Browser, body, chunk_url, recorded_events

OTHER_SESSION = "fedcba9876543210fedcba9876543210"


def replay_dir(parts: Parts) -> Path:
    return parts.ctx.settings.data.path / "replays"


def configure(parts: Parts, **replay: object) -> None:
    settings = parts.ctx.settings
    parts.ctx.settings = dataclasses.replace(settings, replay=dataclasses.replace(settings.replay, **replay))


def row(parts: Parts, ws_id: int, session: str = SESSION) -> rq.Replay | None:
    return parts.ctx.db.read(lambda c: rq.replay_by_session(c, ws_id, session))


def test_the_recorder_learns_its_sampling_rate_and_limits(
    client: TestClient, parts: Parts, recorder: rq.Recorder, clock: FakeClock
) -> None:
    response = client.get(f"/replay/{recorder.public_key}/config", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.json() == {
        "sample_rate": 100,
        "max_chunk_bytes": 2_097_152,
        "inactivity_minutes": 30,
        "flush_ms": 5000,
    }
    parts.ctx.db.write(
        lambda c: rq.save_recorder(c, recorder.workspace_id, recorder.public_key, (ORIGIN,), 25, clock())
    )
    assert (
        client.get(f"/replay/{recorder.public_key}/config", headers={"Origin": ORIGIN}).json()["sample_rate"]
        == 25
    )


def test_a_chunk_is_on_disk_before_the_202(browser: Browser, parts: Parts, recorder: rq.Recorder) -> None:
    events = recorded_events()
    response = browser.send(0, events, user_id="customer-42")
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": True, "seq": 0}
    assert response.headers["access-control-allow-origin"] == ORIGIN
    stored = row(parts, recorder.workspace_id)
    assert stored is not None and stored.status == "recording"
    assert (stored.chunk_count, stored.event_count, stored.user_agent) == (1, 12, "testclient")
    assert stored.first_url == events[2]["data"]["href"]
    spool = replay_dir(parts) / "spool" / str(recorder.workspace_id) / f"{SESSION}.chunks"
    assert spool.read_bytes().count(b"\n") == 1


def test_preflight_is_answered_for_the_workspaces_origins_only(
    client: TestClient, recorder: rq.Recorder
) -> None:
    url = chunk_url(recorder.public_key)
    asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    ok = client.options(url, headers={"Origin": ORIGIN, **asked})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == ORIGIN
    assert ok.headers["access-control-allow-methods"] == "POST"
    assert "content-type" in ok.headers["access-control-allow-headers"]
    foreign = client.options(url, headers={"Origin": "https://evil.example", **asked})
    assert foreign.status_code == 403
    assert "access-control-allow-origin" not in foreign.headers


FOREIGN = [
    "https://evil.example",
    "https://shop.example.com.evil.example",
    "http://shop.example.com",
    "null",
    "",
]


def test_events_from_a_foreign_origin_are_refused(
    client: TestClient, parts: Parts, recorder: rq.Recorder
) -> None:
    for origin in FOREIGN:
        headers = {"Origin": origin} if origin else {}
        response = client.post(
            chunk_url(recorder.public_key), content=body(0, recorded_events()), headers=headers
        )
        assert response.status_code == 403, origin
        assert response.json()["error"]["code"] == "origin_not_allowed"
        assert "access-control-allow-origin" not in response.headers
    assert row(parts, recorder.workspace_id) is None and not replay_dir(parts).exists()


def test_events_for_an_unknown_key_are_404(client: TestClient, parts: Parts, recorder: rq.Recorder) -> None:
    for key in ("scr_AAAAAAAAAAAAAAAAAAAAAAAA", "scr_short", "sck_AAAAAAAAAAAAAAAAAAAAAAAA"):
        response = client.post(chunk_url(key), content=body(0, recorded_events()), headers={"Origin": ORIGIN})
        assert response.status_code == 404, key
        assert response.json()["error"]["code"] == "unknown_replay_key"
        assert client.get(f"/replay/{key}/config", headers={"Origin": ORIGIN}).status_code == 404
    assert not replay_dir(parts).exists()


def test_an_oversized_chunk_is_413_whether_declared_or_streamed(
    browser: Browser, client: TestClient, parts: Parts, recorder: rq.Recorder
) -> None:
    configure(parts, max_chunk_bytes=4096)
    big = recorded_events() * 2  # ~11 KB
    declared = browser.send(0, big)
    assert declared.status_code == 413
    assert declared.json()["error"]["message"] == "chunk larger than 4096 bytes ([replay] max_chunk_bytes)"
    assert declared.headers["access-control-allow-origin"] == ORIGIN  # the recorder can read why
    streamed = client.post(
        chunk_url(recorder.public_key),
        headers={"Origin": ORIGIN},
        content=iter([body(0, big)[:3000], body(0, big)[3000:]]),
    )  # chunked, no length
    assert streamed.status_code == 413
    assert row(parts, recorder.workspace_id) is None and not replay_dir(parts).exists()
    assert browser.send(0, recorded_events()[:3]).status_code == 202  # small ones still pass


BAD_BODIES = [
    (b'{"seq": 0, "events": [', ""),
    (b"\xff\xfe not utf-8", ""),
    (b'{"seq": 0, "events": [{"type": 3}]}', "events[0].timestamp"),
]


def test_invalid_json_is_400_naming_the_field(
    client: TestClient, parts: Parts, recorder: rq.Recorder
) -> None:
    for raw, field in BAD_BODIES:
        response = client.post(chunk_url(recorder.public_key), content=raw, headers={"Origin": ORIGIN})
        assert response.status_code == 400, raw
        assert (response.json()["error"]["field"] or "") == field
    assert row(parts, recorder.workspace_id) is None and not replay_dir(parts).exists()


TRAVERSALS = [
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "..%2F" + SESSION,
    "%2E%2E",
    "a%00" + SESSION,
    SESSION + "%2F..%2Fx",
]


def test_a_session_id_with_dot_dot_slash_is_refused(
    client: TestClient, parts: Parts, recorder: rq.Recorder
) -> None:
    data_dir = parts.ctx.settings.data.path
    before = sorted(p.name for p in data_dir.iterdir())
    for path in TRAVERSALS:
        response = client.post(
            f"/replay/{recorder.public_key}/sessions/{path}/chunks",
            content=body(0, recorded_events()),
            headers={"Origin": ORIGIN},
        )
        assert response.status_code in (400, 404), path
        if response.status_code == 400:
            assert response.json()["error"]["field"] == "session_id"
    assert sorted(p.name for p in data_dir.iterdir()) == before
    assert not replay_dir(parts).exists() and not (data_dir.parent / "etc").exists()


def test_a_literal_dot_dot_slash_does_not_even_route(client: TestClient, recorder: rq.Recorder) -> None:
    response = client.post(
        f"/replay/{recorder.public_key}/sessions/../../x/chunks",
        content=body(0, recorded_events()),
        headers={"Origin": ORIGIN},
    )
    assert response.status_code in (404, 405)


def test_when_the_quota_is_used_new_sessions_get_507_and_open_ones_continue(
    browser: Browser, parts: Parts, recorder: rq.Recorder
) -> None:
    configure(parts, quota_mb_per_workspace=1)
    filler = [{"type": 5, "timestamp": 1_795_815_477_000, "data": {"tag": "x", "payload": "p" * 1_050_000}}]
    assert browser.send(0, filler).status_code == 202  # a new session starts under the quota, then passes it
    refused = browser.send(0, recorded_events(), session=OTHER_SESSION)
    assert refused.status_code == 507
    assert refused.json()["error"]["code"] == "replay_quota_exceeded"
    assert "quota_mb_per_workspace" in refused.json()["error"]["message"]
    assert refused.headers["access-control-allow-origin"] == ORIGIN
    assert row(parts, recorder.workspace_id, OTHER_SESSION) is None
    assert browser.send(1, recorded_events()).status_code == 202  # the open session is untouched
    spool = replay_dir(parts) / "spool" / str(recorder.workspace_id) / f"{SESSION}.chunks"
    assert spool.read_bytes().count(b"\n") == 2


def test_on_a_nearly_full_disk_new_sessions_get_507_and_open_ones_continue(
    browser: Browser, parts: Parts, recorder: rq.Recorder
) -> None:
    assert browser.send(0, recorded_events()).status_code == 202
    parts.ctx.extras["replay_store"] = ReplayStore(replay_dir(parts), free_bytes=lambda _: 10 << 20)
    refused = browser.send(0, recorded_events(), session=OTHER_SESSION)
    assert refused.status_code == 507
    assert refused.json()["error"]["code"] == "replay_storage_full"
    assert browser.send(1, recorded_events()).status_code == 202


def test_a_write_the_disk_refuses_is_507(browser: Browser, parts: Parts, recorder: rq.Recorder) -> None:
    spool = replay_dir(parts) / "spool" / str(recorder.workspace_id) / f"{SESSION}.chunks"
    spool.parent.mkdir(parents=True)
    spool.symlink_to("/dev/full")  # ENOSPC from the kernel on every write
    response = browser.send(0, recorded_events())
    assert response.status_code == 507
    assert response.json()["error"]["code"] == "replay_storage_full"


def test_with_replays_disabled_the_endpoints_answer_404(
    browser: Browser, parts: Parts, recorder: rq.Recorder
) -> None:
    configure(parts, enabled=False)
    response = browser.send(0, recorded_events())
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "replays_disabled"
    assert row(parts, recorder.workspace_id) is None


def test_a_workspace_key_cannot_send_into_another_workspace(
    client: TestClient, parts: Parts, recorder: rq.Recorder, owner: Member
) -> None:
    assert Browser(client, recorder.public_key).send(0, recorded_events()).status_code == 202
    found = parts.ctx.db.read(lambda c: rq.list_replays(c, owner.workspace.id, rq.ReplayFilter()))
    assert [r.session_id for r in found] == [SESSION]
