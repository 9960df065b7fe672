-- Rows that point at a raw payload, indexed: retention deletes payloads in batches and the
-- foreign keys (ON DELETE SET NULL) must find the referring rows without scanning tables.
CREATE INDEX alerts_raw ON alerts(raw_id) WHERE raw_id IS NOT NULL;
CREATE INDEX deploy_events_raw ON deploy_events(raw_id) WHERE raw_id IS NOT NULL;
CREATE INDEX ingest_log_raw ON ingest_log(raw_id) WHERE raw_id IS NOT NULL;

-- Alertmanager API v2 alerts end at their endsAt unless re-sent (Prometheus re-sends while firing).
ALTER TABLE alerts ADD COLUMN ends_at REAL;
CREATE INDEX alerts_ends_at ON alerts(ends_at) WHERE ends_at IS NOT NULL AND status <> 'resolved';
