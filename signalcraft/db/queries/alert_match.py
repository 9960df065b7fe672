"""Filters on alert groups by what their alerts contain: full-text search, and labels.

Both answer "the group has an alert that matches", for a WHERE clause on ``alert_groups``. The
full-text index finds matching alerts; what is cheap then depends on how many there are:

- few (at most ``FEW_MATCHES``): map each match to its group once (one lookup per match),
  and filter the groups by those ids;
- many: walk the groups in the caller's order and stop at the page's end; a matching alert
  is met early in most groups.

The index is read once, up to the cap. Either way the result is the same set of groups, in
the caller's order.
"""

from __future__ import annotations

import re

import apsw
import orjson

from signalcraft.db.connection import rows

FEW_MATCHES = 20_000
_TOKEN = re.compile(r"[A-Za-z0-9]+")
_PLAIN = re.compile(r"[\x20-\x7e]*")  # printable ASCII: what every JSON encoder writes as is


def fts_query(text: str) -> str:
    """User text as an FTS5 query of quoted terms (all must match): no syntax errors, no operators."""
    terms = [t.replace('"', '""') for t in text.split() if t][:20]
    return " ".join(f'"{t}"' for t in terms) or '""'


def label_phrase(key: str, value: str) -> str | None:
    """An FTS5 query that every alert with ``labels[key] == value`` matches (others may too),
    or None when there is none.

    Labels are stored as JSON text (``{"key":"value",...}``) and indexed by the unicode61
    tokenizer, for which only letters and digits make tokens: the key's tokens are then
    directly followed by the value's, whatever the separator. That holds only when the JSON
    text has the key and value verbatim: printable ASCII without quote or backslash."""
    if not all(_PLAIN.fullmatch(s) and '"' not in s and "\\" not in s for s in (key, value)):
        return None
    tokens = _TOKEN.findall(key) + _TOKEN.findall(value)
    return f'labels : "{" ".join(tokens)}"' if tokens else None


def matching_groups(
    conn: apsw.Connection, workspace_id: int, fts: str, condition: str = "", params: tuple[object, ...] = ()
) -> str | None:
    """The ids (a JSON array) of the groups with an alert that matches ``fts`` and ``condition``
    (SQL on the alert as ``a``, with ``params``); None when more than ``FEW_MATCHES`` alerts
    match ``fts``: the caller then walks the groups instead."""
    matches = [
        r[0]
        for r in conn.execute(
            "SELECT rowid FROM alerts_fts WHERE alerts_fts MATCH ? LIMIT ?", (fts, FEW_MATCHES + 1)
        )
    ]
    if len(matches) > FEW_MATCHES:
        return None
    extra = f" AND {condition}" if condition else ""
    found = rows(
        conn,
        "SELECT DISTINCT group_id FROM alerts a WHERE id IN (SELECT value FROM json_each(?))"
        f" AND workspace_id = ?{extra} ORDER BY group_id",
        (orjson.dumps(matches).decode(), workspace_id, *params),
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
