-- Escalation: policies, their runs (the durable timer), the notices a step sends, and the
-- personal side of paging (contact methods and per-user notification rules).

-- ``doc`` is the policy as the API takes it ({"steps": [{"targets": [{"kind": "user", "id": 3}],
-- "wait_minutes": 10}], "repeat": 1}), validated by signalcraft.oncall.escalation.check_policy
-- (loops refused) before it is written.
CREATE TABLE escalation_policies (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    doc          TEXT NOT NULL,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    UNIQUE (workspace_id, name)
);

-- One policy escalating one alert group. While ``status`` is 'running', ``next_at`` is when the
-- step at (``step``, ``round``) fires: a restart reads it and continues on time. A worker claims
-- a step by compare-and-set on (step, round, next_at).
CREATE TABLE escalation_runs (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    group_id     INTEGER NOT NULL REFERENCES alert_groups(id) ON DELETE CASCADE,
    policy_id    INTEGER REFERENCES escalation_policies(id) ON DELETE SET NULL,
    policy_name  TEXT NOT NULL,            -- kept for the history when the policy is deleted
    event_id     INTEGER REFERENCES alert_events(id) ON DELETE SET NULL,  -- the trigger
    status       TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'stopped', 'finished')),
    step         INTEGER NOT NULL DEFAULT 0,
    round        INTEGER NOT NULL DEFAULT 0,
    next_at      REAL,
    steps_fired  INTEGER NOT NULL DEFAULT 0,
    stop_reason  TEXT,                     -- acknowledged, resolved, policy deleted...
    started_at   REAL NOT NULL,
    ended_at     REAL
);
CREATE INDEX escalation_runs_due ON escalation_runs(next_at) WHERE status = 'running';
CREATE INDEX escalation_runs_group ON escalation_runs(group_id, id);
CREATE UNIQUE INDEX escalation_runs_live ON escalation_runs(group_id, policy_id) WHERE status = 'running';
-- One index per foreign key, so deleting a parent (nightly retention deletes resolved groups and
-- their events) finds the referencing rows without scanning the table.
CREATE INDEX escalation_runs_workspace ON escalation_runs(workspace_id);
CREATE INDEX escalation_runs_policy ON escalation_runs(policy_id) WHERE policy_id IS NOT NULL;
CREATE INDEX escalation_runs_event ON escalation_runs(event_id) WHERE event_id IS NOT NULL;

-- What a fired step sends to one channel, and when: at once for a channel target, after the
-- person's rule delay for a user. A pending notice becomes an outbox row when due, unless the
-- group was acknowledged or resolved meanwhile (then it is cancelled).
CREATE TABLE escalation_notices (
    id              INTEGER PRIMARY KEY,
    workspace_id    INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    run_id          INTEGER NOT NULL REFERENCES escalation_runs(id) ON DELETE CASCADE,
    group_id        INTEGER NOT NULL REFERENCES alert_groups(id) ON DELETE CASCADE,
    event_id        INTEGER REFERENCES alert_events(id) ON DELETE SET NULL,  -- the step's timeline event
    user_id         INTEGER REFERENCES users(id) ON DELETE SET NULL,
    channel_id      INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    due_at          REAL NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'cancelled')),
    notification_id INTEGER REFERENCES notifications(id) ON DELETE SET NULL,
    created_at      REAL NOT NULL
);
CREATE INDEX escalation_notices_due ON escalation_notices(due_at) WHERE status = 'pending';
CREATE INDEX escalation_notices_run ON escalation_notices(run_id, id);
CREATE INDEX escalation_notices_workspace ON escalation_notices(workspace_id);
CREATE INDEX escalation_notices_group ON escalation_notices(group_id);
CREATE INDEX escalation_notices_event ON escalation_notices(event_id) WHERE event_id IS NOT NULL;
CREATE INDEX escalation_notices_user ON escalation_notices(user_id) WHERE user_id IS NOT NULL;
CREATE INDEX escalation_notices_channel ON escalation_notices(channel_id);
CREATE INDEX escalation_notices_notification ON escalation_notices(notification_id)
    WHERE notification_id IS NOT NULL;

-- Personal contact methods are channel rows owned by a user, so delivery, retries and the
-- attempt log stay one path. They never appear in the workspace's channel list or routing.
ALTER TABLE channels ADD COLUMN owner_user_id INTEGER REFERENCES users(id) ON DELETE CASCADE;
DROP INDEX channels_name;
CREATE UNIQUE INDEX channels_name ON channels(workspace_id, name)
    WHERE deleted_at IS NULL AND owner_user_id IS NULL;
CREATE UNIQUE INDEX channels_personal_name ON channels(workspace_id, owner_user_id, name)
    WHERE deleted_at IS NULL AND owner_user_id IS NOT NULL;
-- The foreign keys: both unique indexes above are partial on other columns, no use to a delete.
CREATE INDEX channels_workspace ON channels(workspace_id);
CREATE INDEX channels_owner ON channels(owner_user_id) WHERE owner_user_id IS NOT NULL;

-- What reaches a person, per workspace and urgency (alerts of severity error or critical are
-- high urgency): a contact method, ``delay_minutes`` after the step that pages them fired.
CREATE TABLE user_notification_rules (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    urgency       TEXT NOT NULL CHECK (urgency IN ('normal', 'high')),
    channel_id    INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    delay_minutes INTEGER NOT NULL CHECK (delay_minutes BETWEEN 0 AND 1440),
    created_at    REAL NOT NULL,
    UNIQUE (workspace_id, user_id, urgency, channel_id, delay_minutes)
);
CREATE INDEX user_notification_rules_user ON user_notification_rules(workspace_id, user_id, urgency);
CREATE INDEX user_notification_rules_person ON user_notification_rules(user_id);
CREATE INDEX user_notification_rules_channel ON user_notification_rules(channel_id);
