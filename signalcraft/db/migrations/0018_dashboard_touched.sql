-- The dashboard counts the alerts first seen before its period that received an event in it
-- (the deduplication ratio's distinct alerts). Those belong to the groups that span the
-- period's start: first seen before it, last seen in it. Finding those groups read each group
-- seen in the period from the table (17,000 lookups for 30 days of 1,000,000 alerts), and
-- counting their alerts read every alert of them (90,000 for 7 days: a long flapping group
-- holds tens of thousands).
--
-- alert_groups_span replaces alert_groups_recent (workspace_id, last_seen_at), whose every
-- use it serves (the inbox's newest-first order, ties on last_seen_at sorted by id in small
-- blocks); it changes exactly when that index did, so group writes cost what they cost.
-- alerts_touched changes with every re-sent alert (last_seen_at): docs/benchmarks.md has
-- what that costs ingest.
DROP INDEX alert_groups_recent;
CREATE INDEX alert_groups_span ON alert_groups(workspace_id, last_seen_at, first_seen_at);
CREATE INDEX alerts_touched ON alerts(group_id, last_seen_at, first_seen_at);
