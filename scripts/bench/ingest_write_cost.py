"""What a schema object read by the pages costs ingest: in-process, back to back.

Each variant is a freshly migrated database with a few schema objects removed (``VARIANTS``
below): the shipped schema against the schema without the label_groups triggers (migration
0017), without the alerts_touched index (migration 0018), and as it was before both. Each
round sends the same requests to every variant in turn, through the real ingest code (``prepare`` then
``apply`` in a write transaction, committed per request as the writer does with one request
in its queue; raw payloads left out, they are the same for every variant):

- ``new``: ``--requests`` Alertmanager webhook bodies of ``--batch`` alerts never seen before
  (8 labels each: alertname, service, region, env, team, instance, pod, severity; groups by
  alertname and service, as Alertmanager's ``group_by`` would);
- ``re-send``: the same bodies again (every alert a duplicate: the common case, Alertmanager
  and Prometheus re-send firing alerts every few minutes).

The databases grow round after round, equally. Printed: per variant and phase, the median
over rounds of CPU microseconds per alert (user + system of this process: commits write the
WAL without waiting for the disk), and the ratio to the first variant.

    .venv/bin/python scripts/bench/ingest_write_cost.py [--rounds 7] [--requests 300] [--batch 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from signalcraft.db import migrate
from signalcraft.db.connection import open_connection
from signalcraft.db.queries import accounts, integrations
from signalcraft.ingest import alertmanager
from signalcraft.pipeline.process import apply, prepare

WITHOUT_LABEL_GROUPS = tuple(
    f"DROP TRIGGER label_groups_{table}_{event}"
    for table in ("alert", "group")
    for event in ("insert", "update")
)
VARIANTS: dict[str, tuple[str, ...]] = {
    # name -> SQL run on the migrated database to remove what the variant goes without
    "shipped": (),
    "without label_groups triggers": WITHOUT_LABEL_GROUPS,
    "without alerts_touched": ("DROP INDEX alerts_touched",),
    "as before 0017": (
        *WITHOUT_LABEL_GROUPS,
        "DROP INDEX alerts_touched",
        "DROP INDEX alert_groups_span",
        "CREATE INDEX alert_groups_recent ON alert_groups(workspace_id, last_seen_at)",
    ),
}
SERVICES = ("checkout", "payments", "search", "auth", "billing", "catalog", "gateway", "mailer")
CHECKS = ("HighErrorRate", "HighLatency", "DiskFull", "PodCrashLooping", "ReplicationLag", "TargetDown")
REGIONS = ("eu-west-1", "us-east-1", "ap-south-1")


def body(request: int, batch: int) -> dict[str, object]:
    """One Alertmanager notification: ``batch`` alerts of one check on one service."""
    check, service = CHECKS[request % len(CHECKS)], SERVICES[request // len(CHECKS) % len(SERVICES)]
    alerts = []
    for k in range(batch):
        region = REGIONS[k % len(REGIONS)]
        labels = {
            "alertname": check,
            "service": service,
            "region": region,
            "env": "prod",
            "team": f"team-{request % 4}",
            "instance": f"{service}-{k}.{region}.internal:9100",
            "pod": f"{service}-{request}-{k}",
            "severity": "critical" if k % 3 == 0 else "warning",
        }
        alerts.append(
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": f"{check} on {service}"},
                "startsAt": "2026-11-27T19:31:44Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"{request:x}.{k:x}",
            }
        )
    return {
        "status": "firing",
        "alerts": alerts,
        "groupLabels": {"alertname": check, "service": service},
    }


class Target:
    def __init__(self, path: Path, drop: tuple[str, ...]) -> None:
        migrate.migrate_file(path)
        self.conn = open_connection(path)
        for statement in drop:
            self.conn.execute(statement)
        ws = accounts.create_workspace(self.conn, "bench", "Bench", time.time())
        self.integration = integrations.create(
            self.conn, ws.id, "alertmanager", "am", f"token-{path.name}", {}, time.time()
        )
        self.sent = 0

    def send(self, bodies: list[dict[str, object]], tag: str) -> float:
        """CPU seconds (this process, user + system) to store ``bodies``, one committed
        transaction each: on a shared machine, wall time mostly measures the neighbours."""
        parsed = [alertmanager.parse_webhook(b, {}) for b in bodies]  # parsing is not measured
        started = time.process_time()
        for result in parsed:
            self.sent += 1
            prepared = prepare(result, self.integration)
            with self.conn:
                apply(
                    self.conn,
                    self.integration,
                    prepared,
                    (),
                    None,
                    request_id=f"{tag}-{self.sent}",
                    now=time.time(),
                    window_seconds=3600.0,
                )
        return time.process_time() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--batch", type=int, default=10)
    args = parser.parse_args()
    per_alert: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        targets = {
            name: Target(Path(tmp) / f"v{i}.db", drop) for i, (name, drop) in enumerate(VARIANTS.items())
        }
        print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
        for r in range(args.rounds):
            first = r * args.requests
            bodies = [body(first + n, args.batch) for n in range(args.requests)]
            # Alternate which variant goes first, so a drift in the machine's load is shared.
            order = list(targets.items())
            order = order if r % 2 == 0 else order[::-1]
            for phase in ("new", "re-send"):
                for name, target in order:
                    took = target.send(bodies, phase)
                    per_alert.setdefault((name, phase), []).append(took / (args.requests * args.batch) * 1e6)
            print(f"  round {r + 1}/{args.rounds} done", flush=True)
        for target in targets.values():
            target.conn.close()
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())} ({os.cpu_count()} cores)")
    print(
        f"\n{args.rounds} rounds of {args.requests} requests x {args.batch} alerts; median CPU us per alert\n"
    )
    print("| Variant | new alerts (us/alert) | re-sends (us/alert) |")
    print("|---|---:|---:|")
    base = {p: statistics.median(per_alert[(next(iter(VARIANTS)), p)]) for p in ("new", "re-send")}
    for name in VARIANTS:
        cells = []
        for phase in ("new", "re-send"):
            value = statistics.median(per_alert[(name, phase)])
            cells.append(f"{value:.1f} (x{value / base[phase]:.2f})")
        print(f"| {name} | {cells[0]} | {cells[1]} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
