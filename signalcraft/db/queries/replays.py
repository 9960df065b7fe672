"""Session replays: recorder settings per workspace, replay metadata, links to alerts.

An alert is linked to a replay when its labels hold ``replay_id`` = the session id. The
lookups repeat the expression and the WHERE clause of the ``alerts_replay_id`` index
(migration 0004) so SQLite uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apsw
import orjson

from signalcraft.db.connection import Row, one, rows, scalar
from signalcraft.replay.chunks import ErrorOffset, SessionSummary

_LINKED = "labels LIKE '%replay_id%' AND json_extract(labels, '$.replay_id')"
_LINKED_A = "a.labels LIKE '%replay_id%' AND json_extract(a.labels, '$.replay_id')"
STATUSES = ("recording", "finalizing", "ready")


# --- recorder settings ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recorder:
    workspace_id: int
    public_key: str
    allowed_origins: tuple[str, ...]
    sample_rate: int | None  # None: the instance default ([replay] sample_rate)
    used_bytes: int
    created_at: float
    updated_at: float


_RECORDER_COLS = "workspace_id, public_key, allowed_origins, sample_rate, used_bytes, created_at, updated_at"


def _recorder(row: Row) -> Recorder:
    return Recorder(row[0], row[1], tuple(orjson.loads(row[2])), row[3], row[4], row[5], row[6])


def recorder_of(conn: apsw.Connection, workspace_id: int) -> Recorder | None:
    row = one(conn, f"SELECT {_RECORDER_COLS} FROM replay_settings WHERE workspace_id = ?", (workspace_id,))
    return _recorder(row) if row else None


def recorder_by_key(conn: apsw.Connection, public_key: str) -> Recorder | None:
    row = one(conn, f"SELECT {_RECORDER_COLS} FROM replay_settings WHERE public_key = ?", (public_key,))
    return _recorder(row) if row else None


def save_recorder(
    conn: apsw.Connection,
    workspace_id: int,
    public_key: str,
    origins: tuple[str, ...],
    sample_rate: int | None,
    now: float,
) -> Recorder:
    """Create the workspace's recorder settings, or change origins and rate (the key stays)."""
    conn.execute(
        "INSERT INTO replay_settings(workspace_id, public_key, allowed_origins, sample_rate, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(workspace_id) DO UPDATE SET"
        " allowed_origins = excluded.allowed_origins, sample_rate = excluded.sample_rate,"
        " updated_at = excluded.updated_at",
        (workspace_id, public_key, orjson.dumps(origins).decode(), sample_rate, now, now),
    )
    found = recorder_of(conn, workspace_id)
    assert found is not None
    return found


def rotate_key(conn: apsw.Connection, workspace_id: int, public_key: str, now: float) -> None:
    conn.execute(
        "UPDATE replay_settings SET public_key = ?, updated_at = ? WHERE workspace_id = ?",
        (public_key, now, workspace_id),
    )


def used_bytes(conn: apsw.Connection, workspace_id: int) -> int:
    return int(
        scalar(conn, "SELECT used_bytes FROM replay_settings WHERE workspace_id = ?", (workspace_id,)) or 0
    )


def add_usage(conn: apsw.Connection, workspace_id: int, delta: int) -> None:
    conn.execute(
        "UPDATE replay_settings SET used_bytes = max(0, used_bytes + ?) WHERE workspace_id = ?",
        (delta, workspace_id),
    )


def reconcile_usage(conn: apsw.Connection) -> None:
    """Recount every workspace's usage from its replays (the counter is kept incrementally)."""
    conn.execute(
        "UPDATE replay_settings SET used_bytes = (SELECT coalesce(sum(CASE status WHEN 'ready'"
        " THEN compressed_bytes ELSE raw_bytes END), 0) FROM replays"
        " WHERE replays.workspace_id = replay_settings.workspace_id)"
    )


# --- replays ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Replay:
    id: int
    workspace_id: int
    session_id: str
    status: str
    started_at: float
    last_chunk_at: float
    finalized_at: float | None
    client_start_ms: int
    duration_ms: int
    chunk_count: int
    event_count: int
    raw_bytes: int
    compressed_bytes: int
    file_path: str
    first_url: str
    urls: tuple[str, ...]
    user_agent: str
    user_id: str
    error_count: int
    errors: tuple[ErrorOffset, ...]
    alert_count: int = 0

    @property
    def ratio(self) -> float:
        return self.raw_bytes / self.compressed_bytes if self.compressed_bytes else 0.0


_REPLAY_COLS = (
    "id, workspace_id, session_id, status, started_at, last_chunk_at, finalized_at, client_start_ms,"
    " duration_ms, chunk_count, event_count, raw_bytes, compressed_bytes, file_path, first_url, urls,"
    " user_agent, user_id, error_count, errors"
)
_ALERT_COUNT = (
    f"(SELECT count(*) FROM alerts a WHERE a.workspace_id = r.workspace_id AND {_LINKED_A} = r.session_id)"
)


def _replay(row: Row) -> Replay:
    errors = tuple(ErrorOffset(int(e["offset_ms"]), str(e["message"])) for e in orjson.loads(row[19]))
    alert_count = row[20] if len(row) > 20 else 0
    return Replay(
        *row[:15],
        tuple(orjson.loads(row[15])),
        row[16],
        row[17],
        row[18],
        errors,  # type: ignore[call-arg]
        alert_count,
    )


def replay_by_session(conn: apsw.Connection, workspace_id: int, session_id: str) -> Replay | None:
    row = one(
        conn,
        f"SELECT {_REPLAY_COLS}, {_ALERT_COUNT} FROM replays r WHERE workspace_id = ? AND session_id = ?",
        (workspace_id, session_id),
    )
    return _replay(row) if row else None


def replay_by_id(conn: apsw.Connection, replay_id: int) -> Replay | None:
    row = one(conn, f"SELECT {_REPLAY_COLS} FROM replays WHERE id = ?", (replay_id,))
    return _replay(row) if row else None


def session_state(conn: apsw.Connection, workspace_id: int, session_id: str) -> tuple[int, str] | None:
    """(id, status) of a session: the chunk path's lookup, without the metadata."""
    row = one(
        conn,
        "SELECT id, status FROM replays WHERE workspace_id = ? AND session_id = ?",
        (workspace_id, session_id),
    )
    return (int(row[0]), str(row[1])) if row else None


def start_session(
    conn: apsw.Connection, workspace_id: int, session_id: str, now: float, user_agent: str
) -> int:
    conn.execute(
        "INSERT INTO replays(workspace_id, session_id, status, started_at, last_chunk_at, user_agent)"
        " VALUES (?, ?, 'recording', ?, ?, ?)",
        (workspace_id, session_id, now, now, user_agent),
    )
    return conn.last_insert_rowid()


def count_chunk(
    conn: apsw.Connection, replay_id: int, now: float, nbytes: int, events: int, first_url: str
) -> None:
    conn.execute(
        "UPDATE replays SET last_chunk_at = max(last_chunk_at, ?), chunk_count = chunk_count + 1,"
        " event_count = event_count + ?, raw_bytes = raw_bytes + ?,"
        " first_url = CASE first_url WHEN '' THEN ? ELSE first_url END WHERE id = ?",
        (now, events, nbytes, first_url, replay_id),
    )


def inactive_sessions(
    conn: apsw.Connection, quiet_since: float, stale_claim_before: float, limit: int = 100
) -> list[Replay]:
    """Recording sessions without a chunk since ``quiet_since``, and claims a crash left behind."""
    found = rows(
        conn,
        f"SELECT {_REPLAY_COLS} FROM replays WHERE (status = 'recording' AND last_chunk_at < ?)"
        " OR (status = 'finalizing' AND claimed_at < ?) ORDER BY last_chunk_at LIMIT ?",
        (quiet_since, stale_claim_before, limit),
    )
    return [_replay(r) for r in found]


def claim(
    conn: apsw.Connection, replay_id: int, quiet_since: float, stale_claim_before: float, now: float
) -> bool:
    """Compare-and-set recording -> finalizing; False when a chunk came in meanwhile (or another
    finalizer was first)."""
    conn.execute(
        "UPDATE replays SET status = 'finalizing', claimed_at = ? WHERE id = ? AND"
        " ((status = 'recording' AND last_chunk_at < ?) OR (status = 'finalizing' AND claimed_at < ?))",
        (now, replay_id, quiet_since, stale_claim_before),
    )
    return conn.changes() == 1


def release(conn: apsw.Connection, replay_id: int) -> None:
    conn.execute(
        "UPDATE replays SET status = 'recording', claimed_at = NULL WHERE id = ? AND status = 'finalizing'",
        (replay_id,),
    )


def mark_ready(
    conn: apsw.Connection,
    replay: Replay,
    summary: SessionSummary,
    relative_path: str,
    raw_bytes: int,
    compressed_bytes: int,
    now: float,
) -> None:
    """The replay's file is in place: store what it holds and move its quota to the file size."""
    errors = [{"offset_ms": e.offset_ms, "message": e.message} for e in summary.errors]
    counted = scalar(conn, "SELECT raw_bytes FROM replays WHERE id = ?", (replay.id,)) or 0
    conn.execute(
        "UPDATE replays SET status = 'ready', finalized_at = ?, claimed_at = NULL, client_start_ms = ?,"
        " duration_ms = ?, chunk_count = ?, event_count = ?, raw_bytes = ?, compressed_bytes = ?,"
        " file_path = ?, first_url = ?, urls = ?, user_id = ?, error_count = ?, errors = ? WHERE id = ?",
        (
            now,
            summary.client_start_ms,
            summary.duration_ms,
            summary.chunk_count,
            summary.event_count,
            raw_bytes,
            compressed_bytes,
            relative_path,
            summary.urls[0] if summary.urls else replay.first_url,
            orjson.dumps(summary.urls).decode(),
            summary.user_id,
            summary.error_count,
            orjson.dumps(errors).decode(),
            replay.id,
        ),
    )
    add_usage(conn, replay.workspace_id, compressed_bytes - counted)


def delete(conn: apsw.Connection, replay: Replay) -> None:
    conn.execute("DELETE FROM replays WHERE id = ?", (replay.id,))
    add_usage(
        conn,
        replay.workspace_id,
        -(replay.compressed_bytes if replay.status == "ready" else replay.raw_bytes),
    )


def expired(conn: apsw.Connection, started_before: float, limit: int = 500) -> list[Replay]:
    found = rows(
        conn,
        f"SELECT {_REPLAY_COLS} FROM replays WHERE started_at < ? AND status = 'ready'"
        " ORDER BY started_at LIMIT ?",
        (started_before, limit),
    )
    return [_replay(r) for r in found]


# --- lists and links ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplayFilter:
    url: str = ""
    user_id: str = ""
    with_errors: bool = False
    with_alerts: bool = False
    group_id: int | None = None
    started_from: float | None = None
    started_until: float | None = None
    status: str = ""


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _filter_sql(f: ReplayFilter) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if f.url:
        clauses.append("r.urls LIKE ? ESCAPE '\\'")
        params.append(_like(f.url))
    if f.user_id:
        clauses.append("r.user_id = ?")
        params.append(f.user_id)
    if f.with_errors:
        clauses.append("r.error_count > 0")
    if f.with_alerts:
        clauses.append(f"{_ALERT_COUNT} > 0")
    if f.group_id is not None:
        clauses.append(
            f"r.session_id IN (SELECT json_extract(a.labels, '$.replay_id') FROM alerts a WHERE"
            f" a.group_id = ? AND a.workspace_id = r.workspace_id AND {_LINKED_A} IS NOT NULL)"
        )
        params.append(f.group_id)
    if f.started_from is not None:
        clauses.append("r.started_at >= ?")
        params.append(f.started_from)
    if f.started_until is not None:
        clauses.append("r.started_at < ?")
        params.append(f.started_until)
    if f.status:
        clauses.append("r.status = ?")
        params.append(f.status)
    return clauses, params


def list_replays(
    conn: apsw.Connection,
    workspace_id: int,
    f: ReplayFilter,
    *,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Replay]:
    """Newest first; ``before_id`` is the last id of the previous page."""
    clauses, params = _filter_sql(f)
    clauses.insert(0, "r.workspace_id = ?")
    params.insert(0, workspace_id)
    if before_id is not None:
        clauses.append("r.id < ?")
        params.append(before_id)
    sql = (
        f"SELECT {', '.join('r.' + c.strip() for c in _REPLAY_COLS.split(','))}, {_ALERT_COUNT}"
        f" FROM replays r WHERE {' AND '.join(clauses)} ORDER BY r.id DESC LIMIT ?"
    )
    return [_replay(r) for r in rows(conn, sql, (*params, limit))]


@dataclass(frozen=True, slots=True)
class LinkedAlert:
    id: int
    group_id: int
    title: str
    severity: int
    status: str
    at: float  # when it happened: occurred_at (the sender's clock) or first seen


def alerts_of_replay(
    conn: apsw.Connection, workspace_id: int, session_id: str, limit: int = 200
) -> list[LinkedAlert]:
    found = rows(
        conn,
        "SELECT id, group_id, title, severity, status, coalesce(occurred_at, first_seen_at) FROM alerts"
        f" WHERE workspace_id = ? AND {_LINKED} = ?"
        " ORDER BY coalesce(occurred_at, first_seen_at), id LIMIT ?",
        (workspace_id, session_id, limit),
    )
    return [LinkedAlert(*r) for r in found]


def replays_of_group(
    conn: apsw.Connection, workspace_id: int, group_id: int, limit: int = 20
) -> list[Replay]:
    return list_replays(conn, workspace_id, ReplayFilter(group_id=group_id), limit=limit)


def usage_by_status(conn: apsw.Connection, workspace_id: int) -> dict[str, int]:
    """How many replays each status has (for the settings page)."""
    found = rows(
        conn, "SELECT status, count(*) FROM replays WHERE workspace_id = ? GROUP BY status", (workspace_id,)
    )
    return {status: count for status, count in found}
