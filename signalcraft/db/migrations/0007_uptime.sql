-- Uptime: monitors (HTTP, TCP, DNS, TLS probes and heartbeats), their state changes, compact
-- results (raw samples packed per hour, hourly rollups), heartbeat pings, public status pages.

CREATE TABLE monitors (
    id                   INTEGER PRIMARY KEY,
    workspace_id         INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    public_id            TEXT NOT NULL UNIQUE,     -- random; names the monitor in badge URLs
    kind                 TEXT NOT NULL CHECK (kind IN ('http', 'tcp', 'dns', 'tls', 'heartbeat')),
    name                 TEXT NOT NULL,
    slug                 TEXT,                     -- heartbeats fed by Sentry check-ins: monitor_slug
    ping_key             TEXT UNIQUE,              -- heartbeats: /ping/<key> and /api/push/<key>
    settings             TEXT NOT NULL DEFAULT '{}', -- JSON, by kind (url, method, host, schedule...)
    interval_seconds     INTEGER NOT NULL,         -- probes: between checks; heartbeats: 0
    timeout_seconds      INTEGER NOT NULL,
    failures_before_down INTEGER NOT NULL,
    successes_before_up  INTEGER NOT NULL,
    paused               INTEGER NOT NULL DEFAULT 0,
    created_at           REAL NOT NULL,
    updated_at           REAL NOT NULL,
    -- state, written by the probe engine and the ping routes through the single writer
    status               TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'up', 'down')),
    status_since         REAL,
    fail_streak          INTEGER NOT NULL DEFAULT 0,
    ok_streak            INTEGER NOT NULL DEFAULT 0,
    alert_open           INTEGER NOT NULL DEFAULT 0,
    flapping             INTEGER NOT NULL DEFAULT 0,
    recent_changes       TEXT NOT NULL DEFAULT '[]', -- JSON epochs of state changes in the flap window
    last_check_at        REAL,
    last_latency_ms      INTEGER,
    last_message         TEXT NOT NULL DEFAULT '',
    cert_expires_at      REAL,
    cert_alert_open      INTEGER NOT NULL DEFAULT 0,
    last_ping_at         REAL,                     -- heartbeats: last success
    started_at           REAL,                     -- heartbeats: a start not yet followed by its end
    last_duration        REAL,                     -- heartbeats: seconds between start and success
    UNIQUE (workspace_id, slug)
);
CREATE INDEX monitors_workspace ON monitors(workspace_id, name);
CREATE INDEX monitors_heartbeats ON monitors(kind, paused) WHERE kind = 'heartbeat';

-- Every state change (up, down, pending after a resume, paused): uptime % is computed from these.
CREATE TABLE monitor_events (
    id         INTEGER PRIMARY KEY,
    monitor_id INTEGER NOT NULL REFERENCES monitors(id) ON DELETE CASCADE,
    at         REAL NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('pending', 'up', 'down', 'paused')),
    message    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX monitor_events_monitor ON monitor_events(monitor_id, at);

-- Raw check results, 3 bytes each, appended to one row per monitor and hour
-- (format: signalcraft/uptime/samples.py); kept for [uptime] raw_retention_days.
CREATE TABLE monitor_samples (
    monitor_id INTEGER NOT NULL REFERENCES monitors(id) ON DELETE CASCADE,
    hour       INTEGER NOT NULL,                   -- epoch seconds // 3600
    data       BLOB NOT NULL,
    PRIMARY KEY (monitor_id, hour)
) WITHOUT ROWID;

-- One row per monitor and closed hour; kept 90 days.
CREATE TABLE monitor_rollups (
    monitor_id INTEGER NOT NULL REFERENCES monitors(id) ON DELETE CASCADE,
    hour       INTEGER NOT NULL,
    checks     INTEGER NOT NULL,
    failures   INTEGER NOT NULL,
    p50_ms     INTEGER,
    p95_ms     INTEGER,
    PRIMARY KEY (monitor_id, hour)
) WITHOUT ROWID;

-- Heartbeat pings with their (capped) bodies; the last [uptime] log_bodies_kept per monitor.
CREATE TABLE monitor_pings (
    id          INTEGER PRIMARY KEY,
    monitor_id  INTEGER NOT NULL REFERENCES monitors(id) ON DELETE CASCADE,
    at          REAL NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('success', 'start', 'fail', 'log')),
    exit_status INTEGER,
    duration    REAL,
    source      TEXT NOT NULL DEFAULT '',          -- ping, push, sentry
    remote      TEXT NOT NULL DEFAULT '',
    message     TEXT NOT NULL DEFAULT '',
    body        BLOB,                              -- at most [uptime] log_body_max_bytes
    body_size   INTEGER NOT NULL DEFAULT 0         -- bytes received, before the cap
);
CREATE INDEX monitor_pings_monitor ON monitor_pings(monitor_id, id);

-- The public status page of a workspace (opt-in) and the monitors it shows, by public name.
CREATE TABLE status_pages (
    workspace_id INTEGER PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    enabled      INTEGER NOT NULL DEFAULT 0,
    title        TEXT NOT NULL DEFAULT '',
    logo         BLOB,                             -- PNG, JPEG, GIF or WebP
    logo_type    TEXT NOT NULL DEFAULT '',
    updated_at   REAL NOT NULL
);
CREATE TABLE status_page_monitors (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    monitor_id   INTEGER NOT NULL REFERENCES monitors(id) ON DELETE CASCADE,
    public_name  TEXT NOT NULL,
    position     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, monitor_id)
);
CREATE INDEX status_page_monitors_monitor ON status_page_monitors(monitor_id);
CREATE TABLE status_page_notes (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('incident', 'maintenance')),
    title        TEXT NOT NULL,
    body         TEXT NOT NULL DEFAULT '',
    starts_at    REAL NOT NULL,
    ends_at      REAL,                             -- NULL: open until someone closes it
    created_at   REAL NOT NULL
);
CREATE INDEX status_page_notes_workspace ON status_page_notes(workspace_id, starts_at);
