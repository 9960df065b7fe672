"""A duplicate that changes nothing searchable leaves the full-text index alone.

Prometheus re-sends every firing alert each evaluation interval; re-indexing the title,
description and labels each time would be most of the cost of a duplicate. The index is
``alerts_fts`` (FTS5, external content); its shadow table ``alerts_fts_data`` gains rows on
every index write, so an untouched index keeps exactly the same rows.
"""

from __future__ import annotations

import json
from pathlib import Path

from signalcraft.db.connection import rows, scalar
from tests.ingest_http.test_bad_input import ROUTES, Bench, open_bench

PROMETHEUS = next(r for r in ROUTES if r.name == "alertmanager-api-v2-prefixed")


def alert(summary: str, runbook: str) -> bytes:
    return json.dumps(
        [
            {
                "labels": {"alertname": "DiskFull", "instance": "db1"},
                "annotations": {"summary": summary, "description": "/var is 97% full", "runbook": runbook},
            }
        ]
    ).encode()


def index_rows(bench: Bench) -> list[tuple[object, ...]]:
    sql = "SELECT id, block FROM alerts_fts_data"
    return bench.parts.ctx.db.read(lambda c: [tuple(r) for r in rows(c, sql)])


def found(bench: Bench, word: str) -> int:
    sql = "SELECT count(*) FROM alerts_fts WHERE alerts_fts MATCH ?"
    return int(bench.parts.ctx.db.read(lambda c: scalar(c, sql, (f'"{word}"',))))


def event_count(bench: Bench) -> int:
    return int(bench.parts.ctx.db.read(lambda c: scalar(c, "SELECT event_count FROM alerts")))


def test_an_unchanged_duplicate_is_counted_without_touching_the_search_index(tmp_path: Path) -> None:
    with open_bench(tmp_path) as bench:
        credential = bench.create(PROMETHEUS)
        assert bench.send(PROMETHEUS, credential, alert("disk almost full", "v1")).status_code == 200
        indexed = index_rows(bench)
        assert indexed and found(bench, "almost") == 1

        # same title, description and labels; only an annotation outside the index differs
        assert bench.send(PROMETHEUS, credential, alert("disk almost full", "v2")).status_code == 200
        assert event_count(bench) == 2
        assert index_rows(bench) == indexed


def test_a_duplicate_with_a_new_title_is_re_indexed(tmp_path: Path) -> None:
    with open_bench(tmp_path) as bench:
        credential = bench.create(PROMETHEUS)
        assert bench.send(PROMETHEUS, credential, alert("disk almost full", "v1")).status_code == 200
        indexed = index_rows(bench)
        assert bench.send(PROMETHEUS, credential, alert("disk completely full", "v1")).status_code == 200
        assert event_count(bench) == 2
        assert index_rows(bench) != indexed
        assert (found(bench, "completely"), found(bench, "almost")) == (1, 0)
