-- Dashboard rollups: counts per workspace, integration and UTC hour, so a 30-day dashboard
-- reads a few thousand rows instead of every alert and ingest request of the month.
--
-- Rows are added by the periodic rollup task (signalcraft/rollups.py) for every alert and
-- ingest_log line up to the ids in rollup_progress; the dashboard adds the rows past those
-- ids from the base tables, so its figures never wait for the task. Alerts are only ever
-- deleted through the cascades below, and ids are never reused while higher ones exist, so
-- "id <= done" splits the rows exactly. Ingest lines deleted by retention stay counted here.

-- New alerts by the hour they were first seen in (and their severity when rolled up).
CREATE TABLE alert_rollups (
    workspace_id   INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    hour           INTEGER NOT NULL,      -- epoch seconds, a multiple of 3600
    integration_id INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    severity       INTEGER NOT NULL,
    new_alerts     INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, hour, integration_id, severity)
) WITHOUT ROWID;
CREATE INDEX alert_rollups_integration ON alert_rollups(integration_id);

-- Ingest requests by the hour they were received in.
CREATE TABLE ingest_rollups (
    workspace_id   INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    hour           INTEGER NOT NULL,
    integration_id INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    events         INTEGER NOT NULL,      -- alert events in accepted requests
    accepted       INTEGER NOT NULL,      -- requests
    refused        INTEGER NOT NULL,      -- requests
    PRIMARY KEY (workspace_id, hour, integration_id)
) WITHOUT ROWID;
CREATE INDEX ingest_rollups_integration ON ingest_rollups(integration_id);

-- How far the rollups go: every alert with id <= alerts_done, every ingest line with id <= ingest_done.
CREATE TABLE rollup_progress (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    alerts_done INTEGER NOT NULL,
    ingest_done INTEGER NOT NULL
);

-- Existing data, rolled up once here (the task then only adds what arrives later).
INSERT INTO alert_rollups(workspace_id, hour, integration_id, severity, new_alerts)
    SELECT workspace_id, CAST(first_seen_at / 3600 AS INTEGER) * 3600 AS h, integration_id, severity, count(*)
    FROM alerts GROUP BY workspace_id, h, integration_id, severity;
INSERT INTO ingest_rollups(workspace_id, hour, integration_id, events, accepted, refused)
    SELECT workspace_id, CAST(received_at / 3600 AS INTEGER) * 3600 AS h, integration_id,
        coalesce(sum(CASE WHEN accepted = 1 THEN alerts END), 0), sum(accepted = 1), sum(accepted = 0)
    FROM ingest_log GROUP BY workspace_id, h, integration_id;
INSERT INTO rollup_progress(id, alerts_done, ingest_done)
    VALUES (1, coalesce((SELECT max(id) FROM alerts), 0), coalesce((SELECT max(id) FROM ingest_log), 0));

-- The dashboard's group figures (pages, MTTA/MTTR, after-hours, the noisiest titles) read the
-- groups created in a period from this index alone. first_seen_at and title never change and
-- the times change once per acknowledgement or resolution, so ingest's repeats (which update
-- last_seen_at and the counters) never touch it.
CREATE INDEX alert_groups_created
    ON alert_groups(workspace_id, first_seen_at, integration_id, title, acknowledged_at, resolved_at);
