-- Working on alerts: notes, saved inbox views, and indexes for the inbox's filters and the
-- snooze wake-up. (alert_groups.snoozed_until and assignee_user_id exist since 0002.)

-- Notes people add to an alert group; shown in its timeline (an alert_events row of kind
-- 'note' points here by id).
CREATE TABLE alert_notes (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    group_id     INTEGER NOT NULL REFERENCES alert_groups(id) ON DELETE CASCADE,
    user_id      INTEGER REFERENCES users(id) ON DELETE SET NULL,  -- NULL for an API key
    author       TEXT NOT NULL,            -- email (or apikey:sck_...) when written
    body         TEXT NOT NULL,
    at           REAL NOT NULL
);
CREATE INDEX alert_notes_group ON alert_notes(group_id, id);

-- Named inbox filters, shared by the workspace ("assignee=me" means whoever opens it).
CREATE TABLE saved_views (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id      INTEGER REFERENCES users(id) ON DELETE SET NULL,  -- who saved it
    name         TEXT NOT NULL,
    query        TEXT NOT NULL,            -- canonical inbox query string: status=...&severity=...
    created_at   REAL NOT NULL,
    UNIQUE (workspace_id, name)
);

-- The periodic wake-up looks for snoozed groups whose time has come.
CREATE INDEX alert_groups_snoozed ON alert_groups(snoozed_until) WHERE status = 'snoozed';
-- "Assigned to me" / "to Ana" in the inbox, newest activity first.
CREATE INDEX alert_groups_assignee ON alert_groups(workspace_id, assignee_user_id, last_seen_at)
    WHERE assignee_user_id IS NOT NULL;
