-- audit_limits: retention scans, and a permit that makes retention the only way to delete
-- audit entries (the audit log stays append-only from the application's side).

-- Retention scans: oldest first, without reading the whole table.
CREATE INDEX alert_groups_resolved ON alert_groups(resolved_at) WHERE status = 'resolved';
CREATE INDEX notifications_created ON notifications(created_at);
CREATE INDEX audit_log_at ON audit_log(at);

-- Retention deletes audit entries older than [retention] audit_days inside one write that
-- inserts a permit row first and removes it afterwards (see db/queries/retention.py). Any
-- other DELETE is refused, except the cascade when a whole workspace is deleted.
CREATE TABLE audit_purge_permit (
    cutoff REAL NOT NULL
);
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM audit_purge_permit WHERE old.at < cutoff)
    AND (old.workspace_id IS NULL OR EXISTS (SELECT 1 FROM workspaces WHERE id = old.workspace_id))
BEGIN SELECT RAISE(ABORT, 'audit_log entries are deleted only by retention'); END;

-- Deleting a resolved group cascades to (or unlinks) these rows: without an index on the
-- referencing column SQLite scans the whole table once per deleted row.
CREATE INDEX silences_group ON silences(group_id) WHERE group_id IS NOT NULL;
CREATE INDEX alert_events_alert ON alert_events(alert_id) WHERE alert_id IS NOT NULL;
CREATE INDEX routing_decisions_alert ON routing_decisions(alert_id) WHERE alert_id IS NOT NULL;
