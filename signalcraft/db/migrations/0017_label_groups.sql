-- Which alert groups carry a label: one row per (group, key, value) found in the group's own
-- labels or in any of its alerts' labels, so the inbox's label filter reads the groups that
-- can match instead of every alert of every group in the page's order.
--
-- A superset: the inbox still checks each candidate's labels exactly, so a pair left behind
-- (an alert whose labels changed, an alert deleted by retention while its group stays) costs
-- a check, never a wrong result. Rows go with their group (cascade). Only text values are
-- kept: the filter compares a label with text, which a number or an object never equals.
--
-- Kept up by the triggers below, on the writer's transaction: a new alert adds its pairs
-- (INSERT OR IGNORE: a pair its group has already costs one lookup), a re-sent alert writes
-- nothing (ingest updates labels only when they changed).
CREATE TABLE label_groups (
    group_id     INTEGER NOT NULL REFERENCES alert_groups(id) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    value        TEXT NOT NULL,
    workspace_id INTEGER NOT NULL,         -- the group's (a workspace's deletion cascades through its groups)
    PRIMARY KEY (group_id, key, value)
) WITHOUT ROWID;

-- Existing data, once.
INSERT OR IGNORE INTO label_groups(group_id, key, value, workspace_id)
    SELECT a.group_id, j.key, j.value, a.workspace_id FROM alerts a, json_each(a.labels) j
    WHERE j.type = 'text';
INSERT OR IGNORE INTO label_groups(group_id, key, value, workspace_id)
    SELECT g.id, j.key, j.value, g.workspace_id FROM alert_groups g, json_each(g.group_labels) j
    WHERE j.type = 'text';

CREATE INDEX label_groups_lookup ON label_groups(workspace_id, key, value, group_id);

CREATE TRIGGER label_groups_alert_insert AFTER INSERT ON alerts BEGIN
    INSERT OR IGNORE INTO label_groups(group_id, key, value, workspace_id)
        SELECT new.group_id, j.key, j.value, new.workspace_id FROM json_each(new.labels) j
        WHERE j.type = 'text';
END;
CREATE TRIGGER label_groups_alert_update AFTER UPDATE OF labels, group_id ON alerts BEGIN
    INSERT OR IGNORE INTO label_groups(group_id, key, value, workspace_id)
        SELECT new.group_id, j.key, j.value, new.workspace_id FROM json_each(new.labels) j
        WHERE j.type = 'text';
END;
CREATE TRIGGER label_groups_group_insert AFTER INSERT ON alert_groups BEGIN
    INSERT OR IGNORE INTO label_groups(group_id, key, value, workspace_id)
        SELECT new.id, j.key, j.value, new.workspace_id FROM json_each(new.group_labels) j
        WHERE j.type = 'text';
END;
CREATE TRIGGER label_groups_group_update AFTER UPDATE OF group_labels ON alert_groups BEGIN
    INSERT OR IGNORE INTO label_groups(group_id, key, value, workspace_id)
        SELECT new.id, j.key, j.value, new.workspace_id FROM json_each(new.group_labels) j
        WHERE j.type = 'text';
END;
