-- Routing: ordered rules, a default route, silences, maintenance windows, inhibition rules,
-- and the stored routing decision for every alert event routing looked at.

-- One row per rule; ``doc`` is the rule as the API takes it (name, conditions, actions),
-- validated by signalcraft.routing.rules.rule_from before it is written.
CREATE TABLE routing_rules (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    name         TEXT NOT NULL,
    doc          TEXT NOT NULL,
    enabled      INTEGER NOT NULL DEFAULT 1,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL
);
CREATE INDEX routing_rules_workspace ON routing_rules(workspace_id, position);

-- What applies when no rule pages anyone: an actions document (notify, escalation_policy...).
CREATE TABLE routing_defaults (
    workspace_id INTEGER PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    doc          TEXT NOT NULL DEFAULT '{}',
    updated_at   REAL NOT NULL
);

-- Alertmanager-style silences; ``expired_at`` is set when someone ends one early.
CREATE TABLE silences (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    matchers     TEXT NOT NULL,            -- JSON list of matcher strings: ["alertname=\"X\"", ...]
    starts_at    REAL NOT NULL,
    ends_at      REAL NOT NULL,
    author       TEXT NOT NULL,
    comment      TEXT NOT NULL DEFAULT '',
    created_at   REAL NOT NULL,
    expired_at   REAL,
    group_id     INTEGER REFERENCES alert_groups(id) ON DELETE SET NULL  -- created from this group
);
CREATE INDEX silences_active ON silences(workspace_id, ends_at);

-- Scheduled maintenance: once (starts_at/ends_at) or weekly (``weekly`` JSON: weekdays,
-- start, duration_minutes, timezone); for some integrations (or all) and matchers.
CREATE TABLE maintenance_windows (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    integrations TEXT NOT NULL DEFAULT '[]',
    matchers     TEXT NOT NULL DEFAULT '[]',
    starts_at    REAL,
    ends_at      REAL,
    weekly       TEXT,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL
);
CREATE INDEX maintenance_windows_workspace ON maintenance_windows(workspace_id);

-- Alertmanager's inhibit_rules: a firing source alert mutes targets with equal labels.
CREATE TABLE inhibit_rules (
    id              INTEGER PRIMARY KEY,
    workspace_id    INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    source_matchers TEXT NOT NULL,
    target_matchers TEXT NOT NULL,
    equal           TEXT NOT NULL DEFAULT '[]',
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL
);
CREATE INDEX inhibit_rules_workspace ON inhibit_rules(workspace_id);

-- What routing decided for one alert event (one row per event, so a retried task is a no-op).
CREATE TABLE routing_decisions (
    id                 INTEGER PRIMARY KEY,
    workspace_id       INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    group_id           INTEGER NOT NULL REFERENCES alert_groups(id) ON DELETE CASCADE,
    alert_id           INTEGER REFERENCES alerts(id) ON DELETE SET NULL,
    event_id           INTEGER REFERENCES alert_events(id) ON DELETE SET NULL,
    event_kind         TEXT NOT NULL,      -- triggered, acknowledged, resolved (as the outbox names them)
    at                 REAL NOT NULL,
    matched_rules      TEXT NOT NULL DEFAULT '[]',  -- rule ids, in the order they matched
    used_default       INTEGER NOT NULL DEFAULT 0,
    notified_channels  TEXT NOT NULL DEFAULT '[]',  -- channel ids an outbox row was written for
    escalation_policies TEXT NOT NULL DEFAULT '[]', -- policy ids for the escalation engine to start
    severity           TEXT NOT NULL DEFAULT '',
    labels             TEXT NOT NULL DEFAULT '{}',
    suppressed_reason  TEXT,               -- silence, maintenance, inhibited
    suppressed_by      INTEGER,            -- the silence, window or inhibit rule id
    dropped            INTEGER NOT NULL DEFAULT 0,
    note               TEXT NOT NULL DEFAULT ''      -- e.g. why a channel was skipped
);
CREATE UNIQUE INDEX routing_decisions_event ON routing_decisions(event_id) WHERE event_id IS NOT NULL;
CREATE INDEX routing_decisions_group ON routing_decisions(group_id, id);
