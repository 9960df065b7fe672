"""Heartbeat pings (Healthchecks and Uptime Kuma URL styles, Sentry check-ins) and lateness.

- ``success`` (a plain ping, exit status 0, Kuma ``status=up``, Sentry ``ok``): the monitor is up;
  the run's duration is measured from its ``start`` when there was one.
- ``fail`` (``/fail``, exit status 1-255, Kuma ``status=down``, Sentry ``error``): down at once.
- ``start`` (``/start``, Sentry ``in_progress``): the run must end within the grace time.
- ``log`` (``/log``): kept in the ping log, changes nothing.

Every ping is kept with the first ``[uptime] log_body_max_bytes`` of its body, the last
``log_bodies_kept`` per monitor. Lateness (:func:`mark_late`) is found by the probe engine,
which computes deadlines outside the writer and asks it to confirm.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass

import apsw

from signalcraft.config import UptimeConfig
from signalcraft.db.queries import uptime as uq
from signalcraft.errors import Conflict, InvalidInput, NotFound
from signalcraft.pipeline.process import IngestOutcome
from signalcraft.uptime import alerts, samples
from signalcraft.uptime.model import Kind, settings_from_json
from signalcraft.uptime.record import Pending, apply_step, policy_for, state_of
from signalcraft.uptime.schedule import HeartbeatSchedule, late_after
from signalcraft.uptime.state import after_verdict


class PingKind(enum.StrEnum):
    SUCCESS = "success"
    START = "start"
    FAIL = "fail"
    LOG = "log"


class UnknownMonitor(NotFound):
    def __init__(self) -> None:
        super().__init__("not found: no monitor has this ping URL")


class PausedMonitor(Conflict):
    def __init__(self) -> None:
        super().__init__("this monitor is paused: resume it to record pings (nothing was stored)")


@dataclass(frozen=True, slots=True)
class Ping:
    kind: PingKind
    source: str  # ping, push, sentry
    exit_status: int | None = None
    message: str = ""
    body: bytes | None = None
    body_size: int = 0
    remote: str = ""
    latency_ms: int | None = None  # Uptime Kuma's ?ping=
    duration: float | None = None  # a run time the sender measured itself (Sentry)


def parse_action(action: str) -> tuple[PingKind, int | None]:
    """The path step after the key: '', start, fail, log, or an exit status 0-255."""
    if action in ("", "start", "fail", "log"):
        return (PingKind(action) if action else PingKind.SUCCESS), None
    if action.isdigit() and len(action) <= 3:
        status = int(action)
        if status <= 255:
            return (PingKind.SUCCESS if status == 0 else PingKind.FAIL), status
    raise InvalidInput(
        f"unknown ping {action[:40]!r}: use start, fail, log or an exit status 0-255", field="action"
    )


def _message(ping: Ping, monitor: uq.MonitorRow, duration: float | None) -> str:
    if ping.message:
        return ping.message
    if ping.kind is PingKind.FAIL:
        return (
            f"exit status {ping.exit_status}"
            if ping.exit_status is not None
            else "the job reported a failure"
        )
    if ping.kind is PingKind.START:
        return "run started"
    return f"ran for {duration:.1f} s" if duration is not None else "ping received"


def apply_ping(
    conn: apsw.Connection, monitor: uq.MonitorRow, ping: Ping, cfg: UptimeConfig, now: float, pending: Pending
) -> None:
    duration = ping.duration
    running = monitor.started_at is not None and monitor.started_at >= (monitor.last_ping_at or 0.0)
    if duration is None and running and ping.kind in (PingKind.SUCCESS, PingKind.FAIL):
        assert monitor.started_at is not None
        duration = now - monitor.started_at
    message = _message(ping, monitor, duration)
    uq.insert_ping(
        conn,
        monitor.id,
        now,
        ping.kind.value,
        exit_status=ping.exit_status,
        duration=duration,
        source=ping.source,
        remote=ping.remote,
        message=ping.message,
        body=ping.body,
        body_size=ping.body_size,
        keep=cfg.log_bodies_kept,
    )
    if ping.kind is PingKind.LOG:
        return
    if ping.kind is PingKind.START:
        uq.save_heartbeat(
            conn,
            monitor.id,
            last_ping_at=monitor.last_ping_at,
            started_at=now,
            last_duration=monitor.last_duration,
            message=message,
        )
        return
    up = ping.kind is PingKind.SUCCESS
    latency = ping.latency_ms if ping.latency_ms is not None else int((duration or 0.0) * 1000)
    uq.append_sample(conn, monitor.id, samples.hour_of(now), samples.pack(now, up, latency))
    uq.save_heartbeat(
        conn,
        monitor.id,
        last_ping_at=now if up else monitor.last_ping_at,
        started_at=None,
        last_duration=duration if duration is not None else monitor.last_duration,
        message=message,
    )
    apply_step(
        conn,
        monitor,
        after_verdict(state_of(monitor), up, now, policy_for(monitor, cfg)),
        message,
        now,
        pending,
    )


def record_ping(
    conn: apsw.Connection, ping_key: str, ping: Ping, cfg: UptimeConfig, now: float, window_seconds: float
) -> dict[int, IngestOutcome]:
    """One ping by URL key. UnknownMonitor / PausedMonitor store nothing."""
    monitor = uq.monitor_by(conn, "ping_key", ping_key)
    if monitor is None or monitor.kind != Kind.HEARTBEAT:
        raise UnknownMonitor
    if monitor.paused:
        raise PausedMonitor
    pending = Pending()
    apply_ping(conn, monitor, ping, cfg, now, pending)
    return alerts.emit(conn, pending.alerts, now, window_seconds)


def schedule_of(monitor: uq.MonitorRow) -> HeartbeatSchedule:
    found = settings_from_json(Kind.HEARTBEAT, monitor.settings)
    assert isinstance(found, HeartbeatSchedule)
    return found


def deadline_of(monitor: uq.MonitorRow) -> float | None:
    """When the monitor goes down without a ping; None when it cannot (pending, down, paused)."""
    if monitor.paused or monitor.status != "up":
        return None
    return late_after(schedule_of(monitor), monitor.last_ping_at, monitor.started_at)


def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def mark_late(
    conn: apsw.Connection, monitor_ids: Sequence[int], cfg: UptimeConfig, now: float, window_seconds: float
) -> dict[int, IngestOutcome]:
    """Monitors the engine found late go down, if the fresh row agrees (a ping may have won)."""
    pending = Pending()
    for monitor_id in monitor_ids:
        monitor = uq.monitor_by_id(conn, monitor_id)
        if monitor is None:
            continue
        deadline = deadline_of(monitor)
        if deadline is None or deadline > now:
            continue
        if monitor.started_at is not None and monitor.started_at >= (monitor.last_ping_at or 0.0):
            message = f"started at {_when(monitor.started_at)} and did not finish in time"
        else:
            last = _when(monitor.last_ping_at or monitor.created_at)
            message = f"no ping since {last}; late since {_when(deadline)}"
        uq.save_heartbeat(
            conn,
            monitor.id,
            last_ping_at=monitor.last_ping_at,
            started_at=monitor.started_at,
            last_duration=monitor.last_duration,
            message=message,
        )
        step = after_verdict(state_of(monitor), False, now, policy_for(monitor, cfg))
        apply_step(conn, monitor, step, message, now, pending)
    return alerts.emit(conn, pending.alerts, now, window_seconds)
