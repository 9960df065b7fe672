-- On-call schedules: the schedule (its rotation layers as one JSON document), time-bounded
-- overrides (shift swaps are overrides too), and secret iCal feed tokens.
--
-- Layers live in ``schedules.layers`` as JSON rather than in normalized tables because a
-- schedule's layers are only ever read and written whole (the schedule math needs all of
-- them at once, the editor saves them as one ordered list), nothing else references a
-- layer, and the document is validated by signalcraft.oncall.store before it is written.
-- Overrides get their own table: they are added and removed one by one, by responders,
-- during incidents, they are queried by time range, and each one has an author.

CREATE TABLE schedules (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    timezone     TEXT NOT NULL DEFAULT 'UTC',
    layers       TEXT NOT NULL DEFAULT '[]',   -- JSON list, see signalcraft.oncall.store.layer_from
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE schedule_overrides (
    id          INTEGER PRIMARY KEY,
    schedule_id INTEGER NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    starts_at   REAL NOT NULL,
    ends_at     REAL NOT NULL CHECK (ends_at > starts_at),
    created_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    reason      TEXT NOT NULL DEFAULT '',
    created_at  REAL NOT NULL
);
CREATE INDEX schedule_overrides_span ON schedule_overrides(schedule_id, ends_at);
-- Deleting a user finds their overrides (and the ones they wrote) without a table scan.
CREATE INDEX schedule_overrides_user ON schedule_overrides(user_id);
CREATE INDEX schedule_overrides_author ON schedule_overrides(created_by) WHERE created_by IS NOT NULL;

-- A feed is either one schedule's or one person's (across the workspace's schedules).
-- Only the SHA-256 of the token is stored; rotating replaces the row's hash.
CREATE TABLE ical_feeds (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    schedule_id  INTEGER REFERENCES schedules(id) ON DELETE CASCADE,
    user_id      INTEGER REFERENCES users(id) ON DELETE CASCADE,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   REAL NOT NULL,
    CHECK ((schedule_id IS NULL) <> (user_id IS NULL))
);
CREATE UNIQUE INDEX ical_feeds_schedule ON ical_feeds(schedule_id) WHERE schedule_id IS NOT NULL;
CREATE UNIQUE INDEX ical_feeds_user ON ical_feeds(workspace_id, user_id) WHERE user_id IS NOT NULL;
-- For the foreign keys: the partial index above serves neither a workspace's nor a user's delete.
CREATE INDEX ical_feeds_workspace ON ical_feeds(workspace_id);
CREATE INDEX ical_feeds_person ON ical_feeds(user_id) WHERE user_id IS NOT NULL;
