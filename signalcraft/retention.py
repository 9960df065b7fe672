"""What ingest leaves behind and how long it stays.

Raw payloads and ingest log lines received more than ``[ingest] raw_retention_days`` ago
are deleted by the nightly ``retention`` task (tasks.py). Alerts, groups and deploys stay:
they keep their normalized data and lose only the link to the raw payload.

Deletion runs in batches of at most :data:`BATCH` rows, each its own write through the
single writer. Between two batches every write queued meanwhile gets its turn, so a large
backlog (the first night after lowering the setting) makes retention take longer; it never
holds ingest up for more than one batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import apsw

from signalcraft.config import IngestConfig
from signalcraft.db import Database
from signalcraft.db.queries import retention as rq

log = logging.getLogger("signalcraft.retention")

BATCH = 500
DAY_SECONDS = 86_400.0

DeleteBatch = Callable[[apsw.Connection, float, int], int]


@dataclass(frozen=True, slots=True)
class RetentionResult:
    """Rows deleted per table, and how many writes (batches) it took."""

    ingest_log: int = 0
    raw_payloads: int = 0
    batches: int = 0


def cutoff_for(now: float, days: int) -> float:
    """Rows received before this instant are past retention (one exactly ``days`` old stays)."""
    return now - days * DAY_SECONDS


def apply_retention(db: Database, config: IngestConfig, now: float, *, batch: int = BATCH) -> RetentionResult:
    """Delete raw payloads and ingest log lines older than ``config.raw_retention_days``."""
    cutoff = cutoff_for(now, config.raw_retention_days)
    # Log lines first: every raw payload deleted afterwards then has fewer lines to unlink.
    log_rows, log_batches = _in_batches(db, rq.delete_ingest_log_before, cutoff, batch)
    raw_rows, raw_batches = _in_batches(db, rq.delete_raw_payloads_before, cutoff, batch)
    result = RetentionResult(log_rows, raw_rows, log_batches + raw_batches)
    if log_rows or raw_rows:
        log.info(
            "retention: deleted %d raw payloads and %d ingest log lines older than %d days in %d batches",
            raw_rows,
            log_rows,
            config.raw_retention_days,
            result.batches,
        )
    return result


def _in_batches(db: Database, delete: DeleteBatch, cutoff: float, batch: int) -> tuple[int, int]:
    """Run ``delete`` as one write per batch until a batch comes back short: (rows, batches)."""
    rows = batches = 0
    while True:
        deleted = db.write(lambda conn: delete(conn, cutoff, batch))
        rows, batches = rows + deleted, batches + 1
        if deleted < batch:
            return rows, batches
