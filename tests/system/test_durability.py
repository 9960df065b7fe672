"""A 2xx is a promise: ``kill -9`` under load loses nothing that was acknowledged.

A real ``signalcraft serve`` takes PagerDuty trigger events from 8 concurrent clients for
a bounded time; mid-load the process gets SIGKILL (no shutdown hook runs). It restarts on
the same data directory, and the database must hold:

- every ``dedup_key`` whose request was answered 202, exactly once (one alert);
- nothing that was never sent; a request cut off by the kill (no answer) may or may not
  be there, but is never counted twice;
- counts that agree: each alert's ``event_count`` lies between the 202s and the attempts
  for its key; the events add up to the accepted requests in the ingest log and to the
  raw payloads kept; each alert's group counts the same;
- ``PRAGMA integrity_check`` = ok, no dangling foreign keys.

Phase 2 re-sends keys stored in phase 1 (deduplication) and races the same new key from
every client at once, then kills again: the dedup counts must survive the second crash too.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.realclients.conftest import Appliance, Integration, provision, wait_for

pytestmark = pytest.mark.slow

CLIENTS = 8
LOAD_SECONDS = 3.0  # hard bound on one load phase
KILL_AFTER_ACKS = 250  # the kill comes once this many events were acknowledged (or at the bound)
# The test drives far more than the default 100 requests/s per integration.
CONFIG = '[ingest]\nrate_limit_per_minute = 1000000\n[log]\nlevel = "warning"\n'

KeyFor = Callable[[int, int], str]  # (client, step) -> dedup_key


@dataclass
class Ledger:
    """What the clients know: per dedup_key, requests tried, answered 202, cut off, refused."""

    sent: Counter[str] = field(default_factory=Counter)
    acked: Counter[str] = field(default_factory=Counter)
    cut_off: Counter[str] = field(default_factory=Counter)
    refused: list[tuple[str, int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def total_acked(self) -> int:
        with self.lock:
            return sum(self.acked.values())


def trigger(routing_key: str, dedup_key: str) -> dict[str, object]:
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {"summary": f"Queue depth high ({dedup_key})", "source": "worker-1", "severity": "error"},
    }


def client_loop(
    url: str,
    routing_key: str,
    client: int,
    key_for: KeyFor,
    ledger: Ledger,
    stop: threading.Event,
    deadline: float,
) -> None:
    """Post triggers until told to stop, the deadline passes or the server is gone."""
    with httpx.Client(timeout=5) as http:
        step = 0
        while not stop.is_set() and time.monotonic() < deadline:
            key = key_for(client, step)
            step += 1
            with ledger.lock:
                ledger.sent[key] += 1
            try:
                response = http.post(f"{url}/v2/enqueue", json=trigger(routing_key, key))
            except httpx.TransportError:
                with ledger.lock:
                    ledger.cut_off[key] += 1
                return  # the server is gone: this client's one in-flight request is cut off
            with ledger.lock:
                if response.status_code == 202 and response.json()["dedup_key"] == key:
                    ledger.acked[key] += 1
                else:
                    ledger.refused.append((key, response.status_code, response.text[:200]))


def load_then_kill(appliance: Appliance, pagerduty: Integration, key_for: KeyFor) -> Ledger:
    """CLIENTS concurrent clients; SIGKILL once KILL_AFTER_ACKS events are acknowledged."""
    ledger, stop = Ledger(), threading.Event()
    deadline = time.monotonic() + LOAD_SECONDS
    threads = [
        threading.Thread(
            target=client_loop,
            args=(appliance.url, pagerduty.credential, n, key_for, ledger, stop, deadline),
            daemon=True,
        )
        for n in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    wait_for(
        lambda: ledger.total_acked() >= KILL_AFTER_ACKS or time.monotonic() >= deadline - 1.0,
        "the load to get going",
        timeout=LOAD_SECONDS,
        every=0.01,
    )
    appliance.kill()
    stop.set()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads)
    assert not ledger.refused, f"refused while serving: {ledger.refused[:5]}"
    assert ledger.total_acked() > 0
    assert ledger.cut_off, "the load ended before the kill"
    return ledger


@dataclass(frozen=True)
class Stored:
    """What the database holds for the integration, read on a connection of our own."""

    # dedup_key -> one (event_count, its group's alert_count, its group's event_count) per alert
    alerts: dict[str, list[tuple[int, int, int]]]
    accepted_requests: int
    raw_payloads: int
    integrity: list[str]
    dangling: list[tuple[object, ...]]


def read_back(database: Path, integration_id: int) -> Stored:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    try:
        alerts: dict[str, list[tuple[int, int, int]]] = {}
        for key, events, group_alerts, group_events in conn.execute(
            "SELECT a.fingerprint, a.event_count, g.alert_count, g.event_count FROM alerts a"
            " JOIN alert_groups g ON g.id = a.group_id WHERE a.integration_id = ?",
            (integration_id,),
        ):
            alerts.setdefault(key, []).append((events, group_alerts, group_events))
        [(accepted,)] = conn.execute(
            "SELECT count(*) FROM ingest_log WHERE integration_id = ? AND accepted", (integration_id,)
        )
        [(raw,)] = conn.execute(
            "SELECT count(*) FROM raw_payloads WHERE integration_id = ?", (integration_id,)
        )
        integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        dangling = list(conn.execute("PRAGMA foreign_key_check"))
        return Stored(alerts, accepted, raw, integrity, dangling)
    finally:
        conn.close()


def assert_consistent(stored: Stored, ledgers: list[Ledger]) -> None:
    sent, acked, cut_off = Counter[str](), Counter[str](), Counter[str]()
    for ledger in ledgers:
        sent.update(ledger.sent)
        acked.update(ledger.acked)
        cut_off.update(ledger.cut_off)

    assert stored.integrity == ["ok"]
    assert stored.dangling == []
    lost = sorted(set(acked) - set(stored.alerts))
    assert not lost, f"{len(lost)} acknowledged keys lost, e.g. {lost[:5]}"
    invented = sorted(set(stored.alerts) - set(sent))
    assert not invented, f"stored keys nobody sent: {invented[:5]}"
    twice = {key: rows for key, rows in stored.alerts.items() if len(rows) != 1}
    assert not twice, f"keys stored as more than one alert: {list(twice.items())[:5]}"
    unanswered = set(stored.alerts) - set(acked)
    assert unanswered <= set(cut_off), "only a request cut off by the kill may be stored without a 202"
    assert len(unanswered) <= CLIENTS * len(ledgers), "at most one request per client is in flight at a kill"
    for key, [(events, group_alerts, group_events)] in stored.alerts.items():
        assert acked[key] <= events <= acked[key] + cut_off[key], (key, events, acked[key], cut_off[key])
        assert (group_alerts, group_events) == (1, events), (key, group_alerts, group_events, events)
    total_events = sum(rows[0][0] for rows in stored.alerts.values())
    assert total_events == stored.accepted_requests == stored.raw_payloads


def test_kill_9_under_load_loses_no_acknowledged_event_and_counts_no_event_twice(tmp_path: Path) -> None:
    appliance = provision(tmp_path, CONFIG)
    try:
        pagerduty = appliance.create_integration("pagerduty", "durability")

        # Phase 1: unique keys only.
        first = load_then_kill(appliance, pagerduty, lambda client, step: f"p1-c{client}-{step}")
        appliance.serve()  # same data directory: start-up must recover the database by itself
        stored = read_back(appliance.database, pagerduty.id)
        assert_consistent(stored, [first])
        assert all(rows[0][0] == 1 for rows in stored.alerts.values())  # no key was sent twice
        assert sum(rows[0][0] for rows in stored.alerts.values()) == len(stored.alerts)
        assert appliance.groups(pagerduty)  # and the restarted server serves them

        # Phase 2: re-send acknowledged keys (dedup) and race one new key from every client.
        acked_before = sorted(first.acked)

        def phase_two(client: int, step: int) -> str:
            if step % 2 == 0:
                return acked_before[(step // 2 * CLIENTS + client) % len(acked_before)]
            return f"p2-{step // 2}"

        second = load_then_kill(appliance, pagerduty, phase_two)
        appliance.serve()
        stored = read_back(appliance.database, pagerduty.id)
        assert_consistent(stored, [first, second])
        resent = [key for key in second.acked if key.startswith("p1-")]
        assert resent, "phase 2 re-sent no phase-1 key before the kill"
        assert all(stored.alerts[key][0][0] >= 2 for key in resent)
        # Several clients got a 202 for the same new key at once, and it is still one alert.
        assert any(n > 1 for key, n in second.acked.items() if key.startswith("p2-"))

        # After two crashes the server still deduplicates onto the stored alert.
        key = resent[0]
        before = stored.alerts[key][0][0]
        response = httpx.post(
            f"{appliance.url}/v2/enqueue", json=trigger(pagerduty.credential, key), timeout=10
        )
        assert response.status_code == 202, response.text
        after = read_back(appliance.database, pagerduty.id).alerts[key]
        assert after == [(before + 1, 1, before + 1)]
        assert appliance.served is not None and appliance.served.stop() == 0
    finally:
        appliance.kill()
