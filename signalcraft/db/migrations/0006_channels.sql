-- Notification channels, the outbox of notifications, and every delivery attempt.

-- A destination: Slack, Teams, Discord, email, webhook, ntfy or Apprise. ``config`` is what
-- the API shows; ``secret_config`` holds webhook URLs, tokens and passwords (a later change
-- encrypts this one column) and is never returned. A channel is soft-deleted so the delivery
-- log of past alert groups keeps its name.
CREATE TABLE channels (
    id              INTEGER PRIMARY KEY,
    workspace_id    INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,            -- slack, teams, discord, email, webhook, ntfy, apprise
    name            TEXT NOT NULL,
    config          TEXT NOT NULL DEFAULT '{}',
    secret_config   TEXT NOT NULL DEFAULT '{}',
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    deleted_at      REAL,
    -- Set by a permanent delivery failure (a deleted webhook, a revoked token); cleared by
    -- saving a new configuration or by "repair". The workspace alert it raised:
    broken_at       REAL,
    broken_reason   TEXT,
    broken_group_id INTEGER REFERENCES alert_groups(id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX channels_name ON channels(workspace_id, name) WHERE deleted_at IS NULL;
CREATE INDEX channels_broken_group ON channels(broken_group_id) WHERE broken_group_id IS NOT NULL;

-- The outbox: a row is written (in the same transaction as the event that causes it) before
-- anything is sent, claimed with a lease, and updated after each attempt.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    workspace_id    INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    channel_id      INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    group_id        INTEGER REFERENCES alert_groups(id) ON DELETE CASCADE,
    event_id        INTEGER REFERENCES alert_events(id) ON DELETE SET NULL,
    event_kind      TEXT NOT NULL
        CHECK (event_kind IN ('triggered', 'acknowledged', 'resolved', 'escalated', 'test')),
    idempotency_key TEXT NOT NULL UNIQUE,     -- sent with every attempt: receivers drop duplicates
    status          TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    lease_until     REAL,
    lease_owner     TEXT,
    provider_ref    TEXT,                     -- e.g. Slack's channel:ts, to update the message later
    created_at      REAL NOT NULL,
    delivered_at    REAL,
    last_error      TEXT
);
CREATE INDEX notifications_due ON notifications(next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_leased ON notifications(lease_until) WHERE status = 'sending';
CREATE INDEX notifications_group ON notifications(group_id, id);
CREATE INDEX notifications_channel ON notifications(channel_id, group_id);
CREATE INDEX notifications_event ON notifications(event_id) WHERE event_id IS NOT NULL;

CREATE TABLE notification_attempts (
    id              INTEGER PRIMARY KEY,
    notification_id INTEGER NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
    at              REAL NOT NULL,
    outcome         TEXT NOT NULL,            -- delivered, retry, failed, lease_expired, skipped
    status_code     INTEGER,
    error           TEXT NOT NULL DEFAULT '',
    duration_ms     INTEGER
);
CREATE INDEX notification_attempts_notification ON notification_attempts(notification_id, id);
