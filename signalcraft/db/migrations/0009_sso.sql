-- SAML single sign-on per workspace: the IdP (metadata holds the pinned signing certificate),
-- attribute mapping and policy; outstanding AuthnRequest ids (InResponseTo) and consumed
-- assertion ids (replay), each kept until it expires.

CREATE TABLE sso_settings (
    workspace_id        INTEGER PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    enabled             INTEGER NOT NULL DEFAULT 0,
    idp_metadata_xml    TEXT NOT NULL DEFAULT '',   -- as uploaded or last fetched; the trust anchor
    idp_metadata_url    TEXT NOT NULL DEFAULT '',
    idp_entity_id       TEXT NOT NULL DEFAULT '',
    idp_sso_url         TEXT NOT NULL DEFAULT '',   -- HTTP-Redirect SingleSignOnService
    idp_cert_sha256     TEXT NOT NULL DEFAULT '',   -- fingerprints of the pinned signing certs (display)
    email_attribute     TEXT NOT NULL DEFAULT 'email',
    name_attribute      TEXT NOT NULL DEFAULT 'name',
    role_attribute      TEXT NOT NULL DEFAULT '',
    role_map            TEXT NOT NULL DEFAULT '{}', -- JSON: IdP value -> admin|responder|viewer
    default_role        TEXT NOT NULL DEFAULT 'viewer' CHECK (default_role IN ('admin', 'responder', 'viewer')),
    jit_create          INTEGER NOT NULL DEFAULT 0,
    idp_initiated       INTEGER NOT NULL DEFAULT 0,
    sso_only            INTEGER NOT NULL DEFAULT 0,
    break_glass_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    updated_at          REAL NOT NULL
);

CREATE TABLE sso_requests (
    request_id   TEXT PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    created_at   REAL NOT NULL,
    expires_at   REAL NOT NULL
);
CREATE INDEX sso_requests_expiry ON sso_requests(expires_at);

CREATE TABLE sso_consumed_assertions (
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    assertion_id TEXT NOT NULL,
    consumed_at  REAL NOT NULL,
    expires_at   REAL NOT NULL,
    PRIMARY KEY (workspace_id, assertion_id)
);
CREATE INDEX sso_consumed_expiry ON sso_consumed_assertions(expires_at);
