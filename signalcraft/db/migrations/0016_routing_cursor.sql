-- routing_cursor: how far the router's sweep has looked for alert events left without a
-- routing decision (a crash between an ingest commit and its routing, a failed batch).
-- One row. Events up to the cursor have been routed or needed no routing.
CREATE TABLE routing_cursor (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    event_id INTEGER NOT NULL
);
-- Events stored before this version were routed through the task queue: start after them.
INSERT INTO routing_cursor(id, event_id) VALUES (1, COALESCE((SELECT max(id) FROM alert_events), 0));
