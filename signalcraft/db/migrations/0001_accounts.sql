-- Workspaces, users, memberships, sessions, one-time links, API keys, audit log.
-- Times are unix epoch seconds (REAL). Secrets are stored only as hashes.

CREATE TABLE instance (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE workspaces (
    id         INTEGER PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at REAL NOT NULL
);

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    email               TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name                TEXT NOT NULL DEFAULT '',
    password_hash       TEXT,              -- argon2id; NULL until set (SSO-only or pending reset)
    is_instance_admin   INTEGER NOT NULL DEFAULT 0,
    disabled_at         REAL,
    created_at          REAL NOT NULL,
    password_changed_at REAL
);

CREATE TABLE memberships (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'responder', 'viewer')),
    created_at   REAL NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id);

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,      -- sha256 of the cookie value
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   REAL NOT NULL,
    last_seen_at REAL NOT NULL,
    expires_at   REAL NOT NULL,             -- absolute expiry
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE login_failures (
    id    INTEGER PRIMARY KEY,
    email TEXT NOT NULL COLLATE NOCASE,
    ip    TEXT NOT NULL,
    at    REAL NOT NULL
);
CREATE INDEX login_failures_email ON login_failures(email, at);
CREATE INDEX login_failures_ip ON login_failures(ip, at);

-- One-time links: first-admin setup and admin-issued password resets.
CREATE TABLE one_time_tokens (
    id         INTEGER PRIMARY KEY,
    purpose    TEXT NOT NULL CHECK (purpose IN ('setup', 'password_reset')),
    token_hash TEXT NOT NULL UNIQUE,
    user_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at    REAL
);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL UNIQUE,      -- shown for identification, e.g. sck_AbC123
    key_hash     TEXT NOT NULL,             -- sha256 of the whole key (high-entropy: no KDF needed)
    role         TEXT NOT NULL CHECK (role IN ('admin', 'responder', 'viewer')),
    created_by   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at   REAL NOT NULL,
    expires_at   REAL,
    last_used_at REAL,
    revoked_at   REAL
);
CREATE INDEX api_keys_workspace ON api_keys(workspace_id);

CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER REFERENCES workspaces(id) ON DELETE CASCADE,
    actor_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    actor        TEXT NOT NULL,             -- email, "apikey:<prefix>", "cli" or "system"
    action       TEXT NOT NULL,             -- e.g. user.create, login.failure
    target       TEXT NOT NULL DEFAULT '',
    detail       TEXT NOT NULL DEFAULT '{}', -- JSON: before/after for changes
    ip           TEXT NOT NULL DEFAULT '',
    at           REAL NOT NULL
);
CREATE INDEX audit_log_workspace ON audit_log(workspace_id, at);

-- Append-only from the application's side.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
