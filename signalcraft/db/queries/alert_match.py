"""Filters on alert groups by what their alerts contain: full-text search, and labels.

Both answer "the group has an alert that matches", for a WHERE clause on ``alert_groups``.

A label ``key=value`` is looked up in ``label_groups`` (migration 0017): the groups whose own
labels or whose alerts' labels held that pair, kept by triggers. It may name a group that no
longer has the pair (labels changed, alerts deleted), so each candidate is checked exactly.

For a search, the full-text index finds matching alerts; what is cheap then depends on how
many there are:

- few (at most ``FEW_MATCHES``): map each match to its group once (one lookup per match),
  and filter the groups by those ids;
- many: walk the groups in the caller's order and stop at the page's end; a matching alert
  is met early in most groups.

The index is read once, up to the cap. Either way the result is the same set of groups, in
the caller's order.
"""

from __future__ import annotations

import apsw
import orjson

from signalcraft.db.connection import rows

FEW_MATCHES = 20_000
FEW_GROUPS = 200  # label candidates read one by one; with more, the groups are walked in page order


def fts_query(text: str) -> str:
    """User text as an FTS5 query of quoted terms (all must match): no syntax errors, no operators."""
    terms = [t.replace('"', '""') for t in text.split() if t][:20]
    return " ".join(f'"{t}"' for t in terms) or '""'


def matching_groups(conn: apsw.Connection, workspace_id: int, fts: str) -> str | None:
    """The ids (a JSON array) of the groups with an alert that matches ``fts``; None when more
    than ``FEW_MATCHES`` alerts match: the caller then walks the groups instead."""
    matches = [
        r[0]
        for r in conn.execute(
            "SELECT rowid FROM alerts_fts WHERE alerts_fts MATCH ? LIMIT ?", (fts, FEW_MATCHES + 1)
        )
    ]
    if len(matches) > FEW_MATCHES:
        return None
    found = rows(
        conn,
        "SELECT DISTINCT group_id FROM alerts WHERE id IN (SELECT value FROM json_each(?))"
        " AND workspace_id = ? ORDER BY group_id",
        (orjson.dumps(matches).decode(), workspace_id),
    )
    return orjson.dumps([r[0] for r in found]).decode()


def search_clause(conn: apsw.Connection, workspace_id: int, text: str) -> tuple[str, list[object]]:
    """A clause on ``alert_groups``: one of the group's alerts matches the search ``text``."""
    fts = fts_query(text)
    ids = matching_groups(conn, workspace_id, fts)
    if ids is not None:
        return IN_IDS, [ids]
    # Many matches: walk the groups (the caller's order and page size) and probe each one's
    # alert ids in the set of matches, built once. "+a.id" keeps the planner on alerts_group.
    # The group is in the workspace, so its alerts are.
    return (
        "EXISTS (SELECT 1 FROM alerts a WHERE a.group_id = alert_groups.id AND +a.id IN"
        " (SELECT rowid FROM alerts_fts WHERE alerts_fts MATCH ?))",
        [fts],
    )


IN_IDS = "id IN (SELECT value FROM json_each(?))"


def label_path(key: str) -> str:
    """A JSON path for one object key, quoted so dots in the key are literal (the caller
    allows no quote or backslash in keys)."""
    return f'$."{key}"'


def label_clause(conn: apsw.Connection, workspace_id: int, key: str, value: str) -> tuple[str, list[object]]:
    """A clause on ``alert_groups``: the group's labels or one of its alerts' labels have
    ``key = value``. Each candidate from ``label_groups`` is checked exactly, reading the
    group's alerts only until one has the label.

    Up to ``FEW_GROUPS`` candidates are passed as ids (read one by one, or probed while the
    caller's order is walked, as the planner finds cheaper); with more, the caller's index
    order is walked and each group probed in the candidates, read once: the page fills after
    about ``page size * groups / candidates`` groups, and only the groups on the page are
    checked exactly."""
    path = label_path(key)
    candidates = "SELECT group_id FROM label_groups WHERE workspace_id = ? AND key = ? AND value = ?"
    few = [r[0] for r in rows(conn, f"{candidates} LIMIT ?", (workspace_id, key, value, FEW_GROUPS + 1))]
    exact = (
        " AND (json_extract(group_labels, ?) = ? OR EXISTS (SELECT 1 FROM alerts a"
        " WHERE a.group_id = alert_groups.id AND json_extract(a.labels, ?) = ?))"
    )
    if len(few) <= FEW_GROUPS:
        return IN_IDS + exact, [orjson.dumps(few).decode(), path, value, path, value]
    # The unary + keeps the planner off the rowid lookup: the subquery is read once.
    return f"+id IN ({candidates}){exact}", [workspace_id, key, value, path, value, path, value]
