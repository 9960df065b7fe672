"""The router: routes committed alert events in batches, in a thread of its own.

The ingest edge calls :meth:`Router.submit` after its commit with the new event ids; that
only appends them to a list (no I/O on the event loop). The router thread takes everything
submitted since its last pass and routes it in one write per workspace, so under a burst a
pass routes dozens of events in one transaction instead of one queue task, one dequeue and
one write each. After the commit it hands the outbox rows to the notifier.

Nothing depends on the in-memory list surviving: a sweep (at start and every
``SWEEP_SECONDS``) routes every trigger or follow-up event after a stored cursor that has no
decision yet, then moves the cursor. So an event committed just before a crash, or in a
batch that failed, is routed by the next sweep. Routing the same event twice is harmless:
:func:`signalcraft.routing.apply.route_events` skips an event that has a decision, inside
the single writer's transaction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import apsw

from signalcraft.db.queries import routing as rq
from signalcraft.routing.apply import Routed, route_events

if TYPE_CHECKING:
    from signalcraft.web.context import AppContext

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30.0
SWEEP_BATCH = 2000  # events examined per sweep write (a long backlog takes several writes)

Woken = Callable[[list[Routed]], None]


class Router:
    """One thread that routes what :meth:`submit` hands it, and sweeps for what it missed."""

    def __init__(
        self, ctx: AppContext, after_commit: Woken, *, sweep_seconds: float = SWEEP_SECONDS
    ) -> None:
        self.ctx = ctx
        self.after_commit = after_commit
        self.sweep_seconds = sweep_seconds
        self._pending: dict[int, list[int]] = {}
        self._cond = threading.Condition()
        self._stopping = False
        self._busy = False
        self._thread: threading.Thread | None = None

    # --- the ingest side ---------------------------------------------------------------

    def submit(self, workspace_id: int, event_ids: list[int]) -> None:
        """Route these committed events soon. Cheap and thread-safe (called on the event loop)."""
        if not event_ids:
            return
        with self._cond:
            self._pending.setdefault(workspace_id, []).extend(event_ids)
            self._cond.notify()

    # --- lifecycle -----------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="router", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Route what was submitted, then stop (what is left is found by the next sweep)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once nothing is pending or being routed (tests)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    # --- the thread --------------------------------------------------------------------

    def _run(self) -> None:
        next_sweep = time.monotonic()  # the first pass catches up on what a previous process left
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    left = next_sweep - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                batch, self._pending = self._pending, {}
                stopping = self._stopping
                self._busy = True
            try:
                if batch:
                    self.route(batch)
                if time.monotonic() >= next_sweep and not stopping:
                    self.sweep()
                    next_sweep = time.monotonic() + self.sweep_seconds
            except Exception:  # never let the thread die; the sweep retries
                log.exception("routing pass failed; the next sweep retries it")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
            if stopping:
                with self._cond:
                    if not self._pending:
                        return

    def route(self, batch: dict[int, list[int]]) -> list[Routed]:
        """Route a batch in one write: each workspace in a savepoint of its own, so one
        workspace's (or one event's) failure leaves the rest routed."""
        now = self.ctx.now()
        work = {workspace_id: sorted(set(ids)) for workspace_id, ids in batch.items()}

        def step(conn: apsw.Connection) -> list[Routed]:
            routed: list[Routed] = []
            for workspace_id, ids in work.items():
                routed += _route_alone(conn, workspace_id, ids, now)
            return routed

        routed = self.ctx.db.write(step)
        if routed:
            self.after_commit(routed)
        return routed

    def sweep(self) -> int:
        """Route every event after the cursor that still lacks a decision; returns how many
        events were examined. Moves the cursor only past events it routed (or that failed
        alone, logged: a poisoned event must not stop routing)."""
        examined = 0
        while True:

            def step(conn: apsw.Connection, now: float = self.ctx.now()) -> tuple[int, list[Routed]]:
                after = rq.routing_cursor(conn)
                found = rq.events_after(conn, after, SWEEP_BATCH)
                if not found.events:
                    if found.last > after:
                        rq.move_routing_cursor(conn, found.last)
                    return 0, []
                routed: list[Routed] = []
                by_workspace: dict[int, list[int]] = {}
                for event_id, workspace_id in found.events:
                    by_workspace.setdefault(workspace_id, []).append(event_id)
                for workspace_id, ids in by_workspace.items():
                    routed += _route_alone(conn, workspace_id, ids, now)
                rq.move_routing_cursor(conn, found.last)
                return len(found.events), routed

            count, routed = self.ctx.db.write(step)
            if routed:
                log.info("routing sweep routed %d events missed by the in-memory path", len(routed))
                self.after_commit(routed)
            examined += count
            if count < SWEEP_BATCH:
                return examined


def _route_alone(conn: apsw.Connection, workspace_id: int, ids: list[int], now: float) -> list[Routed]:
    """Route ``ids`` in a savepoint; if that fails, one event at a time, logging (and
    leaving undecided, for the sweep) the ones that fail."""
    try:
        with conn:
            return route_events(conn, workspace_id, ids, now)
    except Exception:
        log.exception("routing events of workspace %d failed; retrying one by one", workspace_id)
    routed: list[Routed] = []
    for event_id in ids:
        try:
            with conn:
                routed += route_events(conn, workspace_id, [event_id], now)
        except Exception:
            log.exception("event %d of workspace %d cannot be routed", event_id, workspace_id)
    return routed
