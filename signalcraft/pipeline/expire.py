"""Resolve alerts whose ``endsAt`` passed without a re-send (Alertmanager API v2 semantics:
Prometheus sends nothing when a rule is deleted or Prometheus itself goes away)."""

from __future__ import annotations

import secrets
from collections import defaultdict

import apsw

from signalcraft.db.queries import alerts as q
from signalcraft.db.queries import integrations as iq
from signalcraft.ingest.model import AlertStatus, RawAlert, Severity
from signalcraft.pipeline.process import IngestOutcome, PreparedAlert, apply


def expire_due(conn: apsw.Connection, now: float, window_seconds: float) -> list[tuple[int, IngestOutcome]]:
    """Resolve up to 500 due alerts; returns (workspace id, outcome) per integration touched."""
    by_integration: dict[int, list[str]] = defaultdict(list)
    for integration_id, fingerprint in q.alerts_past_ends_at(conn, now):
        by_integration[integration_id].append(fingerprint)
    results = []
    for integration_id, fingerprints in by_integration.items():
        integration = iq.by_id(conn, integration_id)
        if integration is None:
            continue
        prepared = [
            PreparedAlert(
                alert=RawAlert(
                    source=integration.type,
                    title=fp,
                    status=AlertStatus.RESOLVED,
                    severity=Severity.INFO,
                    dedup_key=fp,
                ),
                fingerprint=fp,
                group_key="",
                labels="{}",
                annotations="{}",
                links="[]",
                stacktrace=None,
                occurred_at=None,
            )
            for fp in fingerprints
        ]
        outcome = apply(
            conn,
            integration,
            prepared,
            (),
            None,
            request_id=secrets.token_hex(16),
            now=now,
            window_seconds=window_seconds,
            action="expire",
        )
        results.append((integration.workspace_id, outcome))
    return results
