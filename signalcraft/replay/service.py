"""Replays end to end: accept a chunk, finalize quiet sessions, expire old replays, delete one.

Ordering that keeps the database and the files in step:

- **Chunk**: one write transaction registers it (creating the session after the quota and
  disk checks, or refusing a finalized one with 409), then the chunk is appended to the
  spool and fsynced; only then does the caller answer 202.
- **Finalize**: the row is claimed by compare-and-set (``recording`` -> ``finalizing``,
  only if still quiet), the file is written and renamed into place, the row becomes
  ``ready``, the spool is removed. A crash in between leaves a claim that is taken again
  after :data:`STALE_CLAIM_SECONDS`; the spool is still there.
- **Delete**: the row goes first (so nobody is offered a replay whose file is going), then
  the file.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import apsw

from signalcraft.db import Database
from signalcraft.db.queries import replays as rq
from signalcraft.errors import StorageError
from signalcraft.replay.chunks import Chunk, summarize
from signalcraft.replay.errors import ReplayQuotaExceeded, ReplayStorageFull, SessionFinalized
from signalcraft.replay.storage import ReplayStore

if TYPE_CHECKING:
    from signalcraft.config import ReplayConfig, Settings
    from signalcraft.web.context import AppContext

log = logging.getLogger("signalcraft.replay")

STALE_CLAIM_SECONDS = 600.0
HARD_LIMIT_FACTOR = 1.1  # recordings in progress may run this far over the quota, no further
MIB = 1 << 20


def store_for(settings: Settings) -> ReplayStore:
    return ReplayStore(
        settings.data.path / "replays", min_free_bytes=max(256 * MIB, 8 * settings.replay.max_chunk_bytes)
    )


def store_of(ctx: AppContext) -> ReplayStore:
    """The process's store (tests may put one with a fake free-space probe in ``ctx.extras``)."""
    store = ctx.extras.get("replay_store")
    if store is None:
        store = ctx.extras["replay_store"] = store_for(ctx.settings)
    assert isinstance(store, ReplayStore)
    return store


# --- ingest --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChunkLimits:
    quota_bytes: int
    disk_has_room: bool

    @classmethod
    def of(cls, config: ReplayConfig, store: ReplayStore) -> ChunkLimits:
        return cls(config.quota_mb_per_workspace * MIB, store.room_for_new_session())


def register_chunk(
    conn: apsw.Connection,
    recorder: rq.Recorder,
    session_id: str,
    chunk: Chunk,
    user_agent: str,
    limits: ChunkLimits,
    now: float,
) -> int:
    """Write function: count the chunk in its session's row (created when new, if quota and
    disk allow); returns the row's id. Runs on the writer thread: two small lookups only."""
    ws = recorder.workspace_id
    used = rq.used_bytes(conn, ws)
    state = rq.session_state(conn, ws, session_id)
    if state is None:
        if not limits.disk_has_room:
            raise ReplayStorageFull("the disk holding replays is nearly full: new sessions are refused")
        if used >= limits.quota_bytes:
            raise ReplayQuotaExceeded(
                f"this workspace's replays use their quota ({limits.quota_bytes // MIB} MB): new sessions are"
                " refused; delete replays or raise [replay] quota_mb_per_workspace"
            )
        replay_id = rq.start_session(conn, ws, session_id, now, user_agent[:500])
    elif state[1] != "recording":
        raise SessionFinalized
    elif used >= limits.quota_bytes * HARD_LIMIT_FACTOR:
        raise ReplayQuotaExceeded("this workspace's replays are over their quota: the recording stops here")
    else:
        replay_id = state[0]
    first_url = chunk.facts.urls[0] if chunk.facts.urls else ""
    rq.count_chunk(conn, replay_id, now, len(chunk.events_json), chunk.facts.event_count, first_url)
    rq.add_usage(conn, ws, len(chunk.events_json))
    return replay_id


async def accept_chunk(
    ctx: AppContext, recorder: rq.Recorder, session_id: str, chunk: Chunk, user_agent: str
) -> None:
    """Register and store one chunk; returns once it is durable."""
    store = store_of(ctx)
    limits = ChunkLimits.of(ctx.settings.replay, store)
    now = ctx.now()
    await ctx.db.awrite(lambda c: register_chunk(c, recorder, session_id, chunk, user_agent, limits, now))
    await asyncio.to_thread(store.append, recorder.workspace_id, session_id, chunk)


# --- finalize --------------------------------------------------------------------------------


def finalize_inactive(db: Database, store: ReplayStore, config: ReplayConfig, now: float) -> list[str]:
    """Finalize every session quiet for ``inactivity_minutes``; returns their session ids."""
    quiet_since = now - config.inactivity_minutes * 60.0
    stale = now - STALE_CLAIM_SECONDS
    done: list[str] = []
    while batch := db.read(lambda c: rq.inactive_sessions(c, quiet_since, stale)):
        progressed = False
        for replay in batch:
            if not _claim(db, replay, quiet_since, stale, now):
                continue
            progressed = True
            try:
                if finalize_claimed(db, store, replay, now):
                    done.append(replay.session_id)
            except (OSError, StorageError) as exc:  # the disk: leave the claim, it is retried later
                log.error("replay %s: cannot finalize: %s", replay.session_id, exc)
        if not progressed or len(batch) < 100:
            break
    return done


def _claim(db: Database, replay: rq.Replay, quiet_since: float, stale: float, now: float) -> bool:
    return db.write(lambda c: rq.claim(c, replay.id, quiet_since, stale, now))


def finalize_claimed(db: Database, store: ReplayStore, replay: rq.Replay, now: float) -> bool:
    """Write the file of a claimed session and mark it ready; an empty session is dropped."""
    entries = store.read_spool(replay.workspace_id, replay.session_id)
    if not entries:
        db.write(lambda c: rq.delete(c, replay))
        store.delete_spool(replay.workspace_id, replay.session_id)
        return False
    try:
        final = store.write_final(replay.workspace_id, replay.session_id, replay.started_at, entries)
    except ReplayStorageFull:
        db.write(lambda c: rq.release(c, replay.id))
        raise
    summary = summarize(e.facts for e in entries)
    db.write(
        lambda c: rq.mark_ready(
            c, replay, summary, final.relative_path, final.raw_bytes, final.compressed_bytes, now
        )
    )
    store.delete_spool(replay.workspace_id, replay.session_id)
    return True


# --- retention and delete ----------------------------------------------------------------------


def delete_replay(db: Database, store: ReplayStore, replay: rq.Replay) -> None:
    db.write(lambda c: rq.delete(c, replay))
    if replay.file_path:
        store.delete_final(replay.file_path)
    store.delete_spool(replay.workspace_id, replay.session_id)


def prune_expired(db: Database, store: ReplayStore, config: ReplayConfig, now: float) -> int:
    """Delete replays that started more than ``retention_days`` ago, files first after rows."""
    cutoff = now - config.retention_days * 86400.0
    count = 0
    while batch := db.read(lambda c: rq.expired(c, cutoff)):
        for replay in batch:
            delete_replay(db, store, replay)
            count += 1
    db.write(rq.reconcile_usage)
    return count
