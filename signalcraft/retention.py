"""What stays and for how long: the nightly ``retention`` task (tasks.py, 03:17 UTC).

- Raw payloads and ingest log lines received more than ``[ingest] raw_retention_days`` ago.
  Alerts, groups and deploys keep their normalized data and lose only the raw link.
- Alert groups resolved more than ``[retention] resolved_alert_days`` ago, with their alerts
  (and the alerts' full-text index rows), timeline events and notes; their notifications
  and escalation rows cascade.
- Finished notifications (delivered or failed) and their delivery attempts older than
  ``[retention] notification_log_days``.
- Audit entries older than ``[retention] audit_days`` (0 keeps them forever). This is the only
  way audit entries are deleted, and each run that deletes anything leaves an audit entry.

Session replays (``[replay] retention_days``, hourly ``replay_retention`` task) and probe
samples (``[uptime] raw_retention_days``, pruned by the probe engine) have their own jobs;
docs/operations.md lists all of them in one place.

Deletion runs in batches of at most :data:`BATCH` rows, each its own write through the
single writer. Between two batches every write queued meanwhile gets its turn, so a large
backlog (the first night after lowering a setting) makes retention take longer; it never
holds ingest up for more than one batch. Afterwards, if the database file is in
``auto_vacuum=incremental`` mode (``signalcraft db vacuum --incremental`` converts it), the
freed pages go back to the file system, again a few at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

import apsw

from signalcraft.config import IngestConfig, RetentionConfig
from signalcraft.db import Database
from signalcraft.db.queries import audit
from signalcraft.db.queries import retention as rq

log = logging.getLogger("signalcraft.retention")

BATCH = 500
VACUUM_PAGES = 2_000  # pages (4 KiB each by default) returned per write
DAY_SECONDS = 86_400.0

DeleteBatch = Callable[[apsw.Connection, float, int], int]


@dataclass(frozen=True, slots=True)
class RetentionResult:
    """Rows deleted per table, how many writes (batches) it took, and pages returned to the disk."""

    ingest_log: int = 0
    raw_payloads: int = 0
    alerts: int = 0
    alert_events: int = 0
    alert_groups: int = 0
    notifications: int = 0
    audit: int = 0
    batches: int = 0
    vacuumed_pages: int = 0

    def __add__(self, other: RetentionResult) -> RetentionResult:
        return RetentionResult(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @property
    def deleted(self) -> int:
        return sum(v for k, v in asdict(self).items() if k not in ("batches", "vacuumed_pages"))


def cutoff_for(now: float, days: int) -> float:
    """Rows received before this instant are past retention (one exactly ``days`` old stays)."""
    return now - days * DAY_SECONDS


def apply_retention(db: Database, config: IngestConfig, now: float, *, batch: int = BATCH) -> RetentionResult:
    """Delete raw payloads and ingest log lines older than ``config.raw_retention_days``."""
    cutoff = cutoff_for(now, config.raw_retention_days)
    # Log lines first: every raw payload deleted afterwards then has fewer lines to unlink.
    log_rows, log_batches = _in_batches(db, rq.delete_ingest_log_before, cutoff, batch)
    raw_rows, raw_batches = _in_batches(db, rq.delete_raw_payloads_before, cutoff, batch)
    return RetentionResult(ingest_log=log_rows, raw_payloads=raw_rows, batches=log_batches + raw_batches)


def apply_history_retention(
    db: Database, config: RetentionConfig, now: float, *, batch: int = BATCH
) -> RetentionResult:
    """Delete resolved alert groups, finished notifications and (when set) old audit entries."""
    resolved = cutoff_for(now, config.resolved_alert_days)
    # Children first, so that no single write cascades over a large group.
    alerts, b1 = _in_batches(db, rq.delete_resolved_alerts_before, resolved, batch)
    events, b2 = _in_batches(db, rq.delete_resolved_group_events_before, resolved, batch)
    groups, b3 = _in_batches(db, rq.delete_resolved_groups_before, resolved, batch)
    notes_cutoff = cutoff_for(now, config.notification_log_days)
    notifications, b4 = _in_batches(db, rq.delete_notifications_before, notes_cutoff, batch)
    audits, b5 = 0, 0
    if config.audit_days:
        audits, b5 = _in_batches(db, rq.delete_audit_before, cutoff_for(now, config.audit_days), batch)
    return RetentionResult(
        alerts=alerts,
        alert_events=events,
        alert_groups=groups,
        notifications=notifications,
        audit=audits,
        batches=b1 + b2 + b3 + b4 + b5,
    )


def run_nightly(
    db: Database, ingest: IngestConfig, config: RetentionConfig, now: float, *, batch: int = BATCH
) -> RetentionResult:
    """Everything the nightly task does: delete, record it in the audit log, free disk pages."""
    result = apply_retention(db, ingest, now, batch=batch) + apply_history_retention(
        db, config, now, batch=batch
    )
    if result.deleted:
        detail = {k: v for k, v in asdict(result).items() if v and k not in ("batches", "vacuumed_pages")}
        db.write(lambda c: audit.record(c, audit.SYSTEM, "retention.purge", now, detail=detail))
        log.info("retention: deleted %s in %d batches", detail, result.batches)
    return result + RetentionResult(vacuumed_pages=release_free_pages(db))


def release_free_pages(db: Database, *, pages: int = VACUUM_PAGES, max_writes: int = 1_000) -> int:
    """With auto_vacuum=incremental, give free pages back to the file system a few at a time.

    Without it (SQLite's default) free pages stay in the file and are reused by later writes:
    the file stops growing but does not shrink; see docs/operations.md.
    """
    if db.read(rq.auto_vacuum_mode) != rq.AUTO_VACUUM_INCREMENTAL:
        return 0
    released = 0
    for _ in range(max_writes):

        def step(conn: apsw.Connection) -> int:
            before = rq.free_pages(conn)
            rq.incremental_vacuum(conn, pages)
            return before - rq.free_pages(conn)

        done = db.write(step)
        released += done
        if done < pages:
            break
    return released


def _in_batches(db: Database, delete: DeleteBatch, cutoff: float, batch: int) -> tuple[int, int]:
    """Run ``delete`` as one write per batch until a batch comes back short: (rows, batches)."""
    rows = batches = 0
    while True:
        deleted = db.write(lambda conn: delete(conn, cutoff, batch))
        rows, batches = rows + deleted, batches + 1
        if deleted < batch:
            return rows, batches
