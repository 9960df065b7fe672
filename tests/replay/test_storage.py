"""Replay files: chunks appended to a spool (fsynced, locked), finalized into one zstd file
that decompresses to exactly the events sent, in sequence order, each chunk once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest
import zstandard

from signalcraft.replay.chunks import parse_chunk
from signalcraft.replay.errors import ReplayStorageFull
from signalcraft.replay.storage import ReplayStore
from tests.replay.conftest import SESSION, body, recorded_events

STARTED = dt.datetime(2026, 3, 4, 23, 59, tzinfo=dt.UTC).timestamp()


def store(tmp_path: Path, free: int = 10 << 30) -> ReplayStore:
    return ReplayStore(tmp_path / "replays", min_free_bytes=1 << 20, free_bytes=lambda _: free)


def events_in(path: Path) -> list[dict[str, object]]:
    return orjson.loads(zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read())


def test_finalizing_writes_one_file_holding_exactly_the_events_in_seq_order(tmp_path: Path) -> None:
    s = store(tmp_path)
    events = recorded_events()
    parts = [events[:4], events[4:8], events[8:]]
    for seq in (2, 0, 1, 0):  # out of order, and chunk 0 resent (keepalive retry): kept once
        s.append(7, SESSION, parse_chunk(body(seq, parts[seq])))
    entries = s.read_spool(7, SESSION)
    assert [e.facts.seq for e in entries] == [0, 1, 2]
    final = s.write_final(7, SESSION, STARTED, entries)
    assert final.relative_path == f"7/2026-03-04/{SESSION}.rrweb.zst"
    path = tmp_path / "replays" / "7" / "2026-03-04" / f"{SESSION}.rrweb.zst"
    assert events_in(path) == events
    assert final.raw_bytes == len(orjson.dumps(events))
    assert final.compressed_bytes == path.stat().st_size
    assert b"".join(s.read_events(final.relative_path)) == orjson.dumps(events)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary file left


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    s = store(tmp_path)
    events = recorded_events()
    s.append(1, SESSION, parse_chunk(body(0, events)))
    with s.spool_path(1, SESSION).open("ab") as fh:  # power lost in the middle of the next append
        fh.write(b'{"seq":1,"n":1,"t0":1,"t1":1,"urls":[],"errors":[],"user_id":""}\t[{"type":3,"ti')
    assert [e.facts.seq for e in s.read_spool(1, SESSION)] == [0]
    final = s.write_final(1, SESSION, STARTED, s.read_spool(1, SESSION))
    assert events_in(s.path_of(final.relative_path)) == events


def test_no_spool_means_no_entries(tmp_path: Path) -> None:
    assert store(tmp_path).read_spool(1, SESSION) == []


@pytest.mark.parametrize("bad", ["../../etc/passwd", "..", "a/b", f"{SESSION}/../x"])
def test_paths_are_built_from_checked_ids_only(tmp_path: Path, bad: str) -> None:
    s = store(tmp_path)
    with pytest.raises(Exception, match="session_id|16 to 64"):
        s.spool_path(1, bad)
    with pytest.raises(ValueError):
        s.path_of(f"1/2026-03-04/{bad}.rrweb.zst")
    with pytest.raises(ValueError):
        s.path_of(f"../1/2026-03-04/{SESSION}.rrweb.zst")


def test_a_full_disk_refuses_the_chunk_with_507(tmp_path: Path) -> None:
    s = store(tmp_path)
    spool = s.spool_path(1, SESSION)
    spool.parent.mkdir(parents=True)
    spool.symlink_to("/dev/full")  # every write there fails with ENOSPC, from the kernel
    with pytest.raises(ReplayStorageFull) as info:
        s.append(1, SESSION, parse_chunk(body(0, recorded_events())))
    assert info.value.status == 507


def test_new_sessions_need_the_free_space_floor(tmp_path: Path) -> None:
    assert store(tmp_path, free=2 << 20).room_for_new_session()
    assert not store(tmp_path, free=1 << 19).room_for_new_session()


def test_deleting_a_replay_removes_its_file_and_its_empty_day(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.append(1, SESSION, parse_chunk(body(0, recorded_events())))
    final = s.write_final(1, SESSION, STARTED, s.read_spool(1, SESSION))
    s.delete_spool(1, SESSION)
    s.delete_final(final.relative_path)
    assert not (tmp_path / "replays" / "1" / "2026-03-04").exists()
    assert not s.spool_path(1, SESSION).exists()
