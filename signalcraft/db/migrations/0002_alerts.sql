-- Integrations, alerts, alert groups, their timeline, raw payloads, deploys, the ingest log.

CREATE TABLE integrations (
    id           INTEGER PRIMARY KEY,      -- also the Sentry DSN's project id
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    type         TEXT NOT NULL,            -- alertmanager, prometheus, grafana, pagerduty, opsgenie, sentry, datadog, webhook
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,     -- sha256 of the credential (URL token, routing key, GenieKey, DSN key)
    token_hint   TEXT NOT NULL,            -- first characters, to recognise it
    settings     TEXT NOT NULL DEFAULT '{}', -- JSON: group_by, fingerprint_fields, field mapping...
    created_at   REAL NOT NULL,
    rotated_at   REAL,
    revoked_at   REAL,
    last_received_at REAL
);
CREATE INDEX integrations_workspace ON integrations(workspace_id);

-- One row per accepted ingest request, zstd-compressed; alerts point at their latest one.
CREATE TABLE raw_payloads (
    id             INTEGER PRIMARY KEY,
    workspace_id   INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    integration_id INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    received_at    REAL NOT NULL,
    content_type   TEXT NOT NULL DEFAULT '',
    size           INTEGER NOT NULL,       -- bytes before compression
    body           BLOB NOT NULL           -- zstd
);
CREATE INDEX raw_payloads_received ON raw_payloads(received_at);
CREATE INDEX raw_payloads_integration ON raw_payloads(integration_id, id);

CREATE TABLE alert_groups (
    id              INTEGER PRIMARY KEY,
    workspace_id    INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    integration_id  INTEGER REFERENCES integrations(id) ON DELETE SET NULL,
    group_key       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'resolved', 'snoozed')),
    severity        INTEGER NOT NULL,
    title           TEXT NOT NULL,
    source          TEXT NOT NULL,
    service         TEXT NOT NULL DEFAULT '',
    group_labels    TEXT NOT NULL DEFAULT '{}',
    alert_count     INTEGER NOT NULL DEFAULT 0,  -- distinct alerts (fingerprints) in the group
    firing_count    INTEGER NOT NULL DEFAULT 0,  -- of which not resolved
    event_count     INTEGER NOT NULL DEFAULT 0,  -- every event received, duplicates included
    first_seen_at   REAL NOT NULL,
    last_seen_at    REAL NOT NULL,
    acknowledged_at REAL,
    acknowledged_by TEXT,
    resolved_at     REAL,
    resolved_by     TEXT,
    snoozed_until   REAL,
    assignee_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL
);
CREATE INDEX alert_groups_inbox ON alert_groups(workspace_id, status, last_seen_at);
CREATE INDEX alert_groups_recent ON alert_groups(workspace_id, last_seen_at);
CREATE INDEX alert_groups_open_key ON alert_groups(integration_id, group_key, last_seen_at)
    WHERE status <> 'resolved';
CREATE INDEX alert_groups_by_key ON alert_groups(integration_id, group_key, resolved_at);

CREATE TABLE alerts (
    id             INTEGER PRIMARY KEY,
    workspace_id   INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    integration_id INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    group_id       INTEGER NOT NULL REFERENCES alert_groups(id) ON DELETE CASCADE,
    fingerprint    TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('firing', 'acknowledged', 'resolved')),
    severity       INTEGER NOT NULL,
    title          TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    source         TEXT NOT NULL,
    service        TEXT NOT NULL DEFAULT '',
    labels         TEXT NOT NULL DEFAULT '{}',
    annotations    TEXT NOT NULL DEFAULT '{}',
    links          TEXT NOT NULL DEFAULT '[]',
    stacktrace     TEXT,                    -- JSON, Sentry events
    occurred_at    REAL,
    first_seen_at  REAL NOT NULL,
    last_seen_at   REAL NOT NULL,
    resolved_at    REAL,
    event_count    INTEGER NOT NULL DEFAULT 1,
    raw_id         INTEGER REFERENCES raw_payloads(id) ON DELETE SET NULL
);
-- Dedup: one open alert per fingerprint and integration.
CREATE UNIQUE INDEX alerts_open_fingerprint ON alerts(integration_id, fingerprint) WHERE status <> 'resolved';
CREATE INDEX alerts_fingerprint ON alerts(integration_id, fingerprint, id);
CREATE INDEX alerts_group ON alerts(group_id);
CREATE INDEX alerts_workspace_recent ON alerts(workspace_id, id);

-- The timeline of a group: what routing, notifications and the UI consume.
CREATE TABLE alert_events (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    group_id     INTEGER NOT NULL REFERENCES alert_groups(id) ON DELETE CASCADE,
    alert_id     INTEGER REFERENCES alerts(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,            -- created, joined, reopened, resolved, acknowledged, group_resolved...
    at           REAL NOT NULL,
    actor        TEXT NOT NULL DEFAULT '',
    detail       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX alert_events_group ON alert_events(group_id, id);
CREATE INDEX alert_events_workspace ON alert_events(workspace_id, id);

CREATE TABLE deploy_events (
    id             INTEGER PRIMARY KEY,
    workspace_id   INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    integration_id INTEGER REFERENCES integrations(id) ON DELETE SET NULL,
    summary        TEXT NOT NULL,
    source         TEXT NOT NULL DEFAULT '',
    component      TEXT NOT NULL DEFAULT '',
    occurred_at    REAL,
    received_at    REAL NOT NULL,
    details        TEXT NOT NULL DEFAULT '{}',
    links          TEXT NOT NULL DEFAULT '[]',
    raw_id         INTEGER REFERENCES raw_payloads(id) ON DELETE SET NULL
);
CREATE INDEX deploy_events_workspace ON deploy_events(workspace_id, received_at);

-- Every ingest request's outcome: the UI's "last payloads" and Opsgenie's request status.
CREATE TABLE ingest_log (
    id             INTEGER PRIMARY KEY,
    request_id     TEXT NOT NULL UNIQUE,
    workspace_id   INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    integration_id INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    received_at    REAL NOT NULL,
    accepted       INTEGER NOT NULL,
    message        TEXT NOT NULL DEFAULT '',
    alerts         INTEGER NOT NULL DEFAULT 0,
    action         TEXT NOT NULL DEFAULT '',  -- e.g. create, close, acknowledge (Opsgenie)
    alert_id       INTEGER,
    raw_id         INTEGER REFERENCES raw_payloads(id) ON DELETE SET NULL
);
CREATE INDEX ingest_log_integration ON ingest_log(integration_id, id);
CREATE INDEX ingest_log_received ON ingest_log(received_at);

-- Opsgenie-style heartbeats: the last ping per name (monitors build on this).
CREATE TABLE heartbeat_pings (
    workspace_id   INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    integration_id INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    last_ping_at   REAL NOT NULL,
    ping_count     INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (integration_id, name)
);

-- Full-text search over titles, descriptions and labels.
CREATE VIRTUAL TABLE alerts_fts USING fts5(title, description, labels, content='alerts', content_rowid='id');
CREATE TRIGGER alerts_fts_insert AFTER INSERT ON alerts BEGIN
    INSERT INTO alerts_fts(rowid, title, description, labels) VALUES (new.id, new.title, new.description, new.labels);
END;
CREATE TRIGGER alerts_fts_delete AFTER DELETE ON alerts BEGIN
    INSERT INTO alerts_fts(alerts_fts, rowid, title, description, labels)
        VALUES ('delete', old.id, old.title, old.description, old.labels);
END;
CREATE TRIGGER alerts_fts_update AFTER UPDATE OF title, description, labels ON alerts BEGIN
    INSERT INTO alerts_fts(alerts_fts, rowid, title, description, labels)
        VALUES ('delete', old.id, old.title, old.description, old.labels);
    INSERT INTO alerts_fts(rowid, title, description, labels) VALUES (new.id, new.title, new.description, new.labels);
END;
