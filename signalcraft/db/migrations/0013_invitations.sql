-- Workspace invitations: an admin invites an email address with a role; the one-time link
-- (only its sha256 is stored) lets that person join, as the existing user with that email or
-- as a new user who sets a name and password. Kept apart from one_time_tokens because an
-- invitation names a workspace, a role and an email that may have no user yet, and the
-- pending list shows who invited whom and until when.
CREATE TABLE invitations (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email        TEXT NOT NULL COLLATE NOCASE,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'responder', 'viewer')),
    token_hash   TEXT NOT NULL UNIQUE,
    created_by   INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at   REAL NOT NULL,
    expires_at   REAL NOT NULL,
    accepted_at  REAL,
    accepted_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    revoked_at   REAL
);
CREATE INDEX invitations_workspace ON invitations(workspace_id, created_at);
CREATE INDEX invitations_created_by ON invitations(created_by) WHERE created_by IS NOT NULL;
CREATE INDEX invitations_accepted_by ON invitations(accepted_by) WHERE accepted_by IS NOT NULL;
