-- Session replays: each workspace's recorder key and allowed origins, and one row per
-- recorded browser session. The events themselves live in files under <data>/replays
-- (signalcraft/replay/storage.py); these rows are what lists, filters and quotas read.

-- The recorder's key is public (it is in the page's <script> tag): what keeps other sites
-- out is the Origin allow-list. One row per workspace that set replays up.
CREATE TABLE replay_settings (
    workspace_id    INTEGER PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    public_key      TEXT NOT NULL UNIQUE,        -- scr_... (not a secret)
    allowed_origins TEXT NOT NULL DEFAULT '[]',  -- JSON list of "scheme://host[:port]"
    sample_rate     INTEGER CHECK (sample_rate BETWEEN 0 AND 100),  -- NULL: [replay] sample_rate
    used_bytes      INTEGER NOT NULL DEFAULT 0,  -- quota: files of ready replays + chunks of open ones
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL
);

CREATE TABLE replays (
    id               INTEGER PRIMARY KEY,
    workspace_id     INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    session_id       TEXT NOT NULL,            -- chosen by the recorder, checked by ids.SESSION_ID
    status           TEXT NOT NULL CHECK (status IN ('recording', 'finalizing', 'ready')),
    started_at       REAL NOT NULL,            -- server time of the first chunk
    last_chunk_at    REAL NOT NULL,            -- server time; finalized after [replay] inactivity_minutes
    claimed_at       REAL,                     -- when a finalizer took it ('finalizing')
    finalized_at     REAL,
    client_start_ms  INTEGER NOT NULL DEFAULT 0,  -- first event's timestamp (browser clock, ms)
    duration_ms      INTEGER NOT NULL DEFAULT 0,
    chunk_count      INTEGER NOT NULL DEFAULT 0,
    event_count      INTEGER NOT NULL DEFAULT 0,
    raw_bytes        INTEGER NOT NULL DEFAULT 0,  -- JSON size of the events
    compressed_bytes INTEGER NOT NULL DEFAULT 0,  -- size of the .rrweb.zst file
    file_path        TEXT NOT NULL DEFAULT '',    -- relative to <data>/replays; '' until ready
    first_url        TEXT NOT NULL DEFAULT '',
    urls             TEXT NOT NULL DEFAULT '[]',  -- JSON: distinct page URLs in visit order
    user_agent       TEXT NOT NULL DEFAULT '',
    user_id          TEXT NOT NULL DEFAULT '',    -- optional, set by the page (identify())
    error_count      INTEGER NOT NULL DEFAULT 0,
    errors           TEXT NOT NULL DEFAULT '[]',  -- JSON: [{"offset_ms", "message"}], the first 100
    UNIQUE (workspace_id, session_id)
);
CREATE INDEX replays_workspace_started ON replays(workspace_id, started_at);
CREATE INDEX replays_status_last_chunk ON replays(status, last_chunk_at);
CREATE INDEX replays_started ON replays(started_at);

-- Alerts carry the session id in the label "replay_id" (a Sentry tag, an Alertmanager
-- label...): this index finds the alerts of a replay and the replays of a group.
-- Queries must repeat the expression and the WHERE clause exactly (db/queries/replays.py).
-- A later migration that rebuilds `alerts` must create it again.
CREATE INDEX alerts_replay_id ON alerts(workspace_id, json_extract(labels, '$.replay_id'))
    WHERE labels LIKE '%replay_id%';
