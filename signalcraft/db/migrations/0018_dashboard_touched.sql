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
-- alerts_touched holds only alerts seen more than once (an alert first seen before a period
-- and touched in it was), so a new alert writes nothing to it and a re-sent one moves its
-- entry: docs/benchmarks.md has what that costs ingest. Being partial, it also never stands
-- in for alerts_group (group_id), whose order the group page reads.
DROP INDEX alert_groups_recent;
CREATE INDEX alert_groups_span ON alert_groups(workspace_id, last_seen_at, first_seen_at);
CREATE INDEX alerts_touched ON alerts(group_id, last_seen_at, first_seen_at)
    WHERE last_seen_at > first_seen_at;
