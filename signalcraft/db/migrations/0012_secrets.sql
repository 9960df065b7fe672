-- Secrets at rest (docs/security.md): channel secrets are sealed with AES-GCM under a
-- per-workspace data key; each data key is stored here only wrapped (AES-GCM) by a master
-- key that never enters the database (config or <data dir>/master.key).

-- Every master key that has wrapped data keys, by fingerprint. ``seq`` orders them: a
-- rotation adds a newer one; the first start with the newer key configured deletes the
-- older ones (and, by cascade, their wrappings).
CREATE TABLE master_keys (
    id       TEXT PRIMARY KEY,                 -- fingerprint: sha256 of a label and the key, 16 hex
    seq      INTEGER NOT NULL UNIQUE,
    added_at REAL NOT NULL
);

-- A workspace's data keys. ``version`` is the number in ciphertexts ("v1:<version>:..."); the
-- highest is the one new secrets are sealed with, older ones still open what they sealed until
-- a data-key rotation re-seals every row and deletes them. During a master-key rotation a
-- data key has one row per master key.
CREATE TABLE data_keys (
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,
    master_key_id TEXT NOT NULL REFERENCES master_keys(id) ON DELETE CASCADE,
    wrapped       BLOB NOT NULL,               -- 12-byte nonce || AES-GCM ciphertext of 32 bytes
    created_at    REAL NOT NULL,
    PRIMARY KEY (workspace_id, version, master_key_id)
) WITHOUT ROWID;
CREATE INDEX data_keys_master ON data_keys(master_key_id);
