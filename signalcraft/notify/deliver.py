"""The delivery worker: claim -> send through the channel's transport -> record -> retry or fail.

Sends run on one event loop in a thread of their own ("signalcraft-notify"), which owns the
process's guarded HTTP client (a client is bound to the loop that made it, and one shared
client reuses connections). Huey tasks and the sweeper hand ids over with :meth:`Notifier.submit`
and return at once, so a slow receiver never holds a Huey worker; at most ``concurrency``
sends run at a time. A row is finished only by the worker holding its lease: if the lease
ran out and someone else took over, the late outcome is logged and not applied.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import secrets
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import apsw

from signalcraft.auth.keyring import KeyringError
from signalcraft.clock import Clock
from signalcraft.db import Database
from signalcraft.db.queries import channels as cq
from signalcraft.db.queries import notifications as nq
from signalcraft.notify import outbox
from signalcraft.notify.base import DeliveryResult, NotifyDeps, TransportError
from signalcraft.notify.message import AlertMessage, message_for
from signalcraft.notify.registry import TRANSPORTS

log = logging.getLogger(__name__)
T = TypeVar("T")
UPDATE_KINDS = frozenset({"acknowledged", "resolved"})

GroupsChanged = Callable[[int, list[int]], None]  # (workspace id, group ids): the live inbox hears of it
Reschedule = Callable[[int, float], None]  # (notification id, delay in seconds): wake a worker later


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed notification with what sending it needs."""

    row: nq.NotificationRow
    owner: str
    channel: cq.Channel | None
    message: AlertMessage
    update_ref: str | None


@dataclass(frozen=True, slots=True)
class SendOutcome:
    ok: bool
    status_code: int | None = None
    error: str = ""
    permanent: bool = False
    retry_after: float | None = None
    provider_ref: str | None = None
    duration_ms: int = 0


@dataclass(frozen=True, slots=True)
class Finished:
    verdict: str  # delivered, retry, failed, lost_lease
    retry_in: float | None = None
    raised_group_id: int | None = None


class Notifier:
    def __init__(
        self,
        db: Database,
        deps: NotifyDeps,
        public_url: str,
        *,
        lease_seconds: float = outbox.LEASE_SECONDS,
        concurrency: int = 16,
    ) -> None:
        self.db = db
        self.deps = deps
        self.public_url = public_url
        self.lease_seconds = lease_seconds
        self.concurrency = concurrency
        self.reschedule: Reschedule | None = None
        self.groups_changed: GroupsChanged | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._limit: asyncio.Semaphore | None = None
        self._in_flight: set[int] = set()

    @property
    def clock(self) -> Clock:
        return self.deps.clock

    # --- the loop thread ---------------------------------------------------------------

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    self._limit = asyncio.Semaphore(self.concurrency)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=run, name="signalcraft-notify", daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def run_soon(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the notify loop from any thread."""
        return asyncio.run_coroutine_threadsafe(coro, self._ensure_loop())

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 120.0) -> T:
        """Run ``coro`` on the notify loop and wait (threads, CLI, tests)."""
        return self.run_soon(coro).result(timeout)

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the notify loop and await it from another loop (request handlers)."""
        return await asyncio.wrap_future(self.run_soon(coro))

    def close(self, timeout: float = 10.0) -> None:
        """Let running sends finish (up to ``timeout``), close the HTTP client, stop the loop.
        Anything unfinished keeps its lease and is recovered after a restart."""
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return

        async def drain() -> None:
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            if pending:
                await asyncio.wait(pending, timeout=timeout)
            await self.deps.http.aclose()

        asyncio.run_coroutine_threadsafe(drain(), loop).result(timeout + 5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        loop.close()

    # --- entry points ------------------------------------------------------------------

    def submit(self, notification_id: int) -> concurrent.futures.Future[str] | None:
        """Start delivering ``notification_id`` (returns at once); None if it is already in flight here."""
        with self._lock:
            if notification_id in self._in_flight:
                return None
            self._in_flight.add(notification_id)
        return self.run_soon(self._deliver_limited(notification_id))

    def sweep(self, now: float) -> list[int]:
        """Recover expired leases and start every due notification (the periodic safety net)."""
        found = self.db.write(lambda c: outbox.recover_expired_leases(c, now) + outbox.due(c, now))
        ids = list(dict.fromkeys(found))  # a recovered row is also due
        for notification_id in ids:
            self.submit(notification_id)
        return ids

    async def _deliver_limited(self, notification_id: int) -> str:
        try:
            assert self._limit is not None
            async with self._limit:
                return await self.deliver(notification_id)
        except Exception:  # e.g. the database is unavailable: the lease expires, the sweeper retries
            log.exception("notification %s: delivery failed; it will be recovered", notification_id)
            return "error"
        finally:
            with self._lock:
                self._in_flight.discard(notification_id)

    # --- one delivery ------------------------------------------------------------------

    async def deliver(self, notification_id: int) -> str:
        """Claim, send, record. Returns what happened: delivered, retry, failed, skipped,
        not_claimed (someone else has it, or it is not due), lost_lease."""
        owner = secrets.token_hex(8)
        now = self.clock()
        job = await self.db.awrite(lambda c: self._claim(c, notification_id, owner, now))
        if job is None:
            return "not_claimed"
        channel, reason = job.channel, ""
        if channel is None or channel.deleted_at is not None:
            reason = "the channel was deleted"
        elif channel.broken_at is not None:
            reason = f"the channel is broken: {channel.broken_reason}"
        if channel is None or reason:
            await self.db.awrite(lambda c: outbox.skip(c, job.row, owner, self.clock(), reason))
            return "skipped"
        outcome = await self.attempt(channel, job.message, job.update_ref)
        finished = await self.db.awrite(lambda c: self._finish(c, job, outcome, self.clock()))
        # After the commit: wake a worker for the retry, tell live inboxes of a raised alert.
        if finished.retry_in is not None and self.reschedule is not None:
            self.reschedule(notification_id, finished.retry_in)
        if finished.raised_group_id is not None and self.groups_changed is not None:
            self.groups_changed(job.row.workspace_id, [finished.raised_group_id])
        return finished.verdict

    def _claim(self, conn: apsw.Connection, notification_id: int, owner: str, now: float) -> Job | None:
        row = outbox.claim(conn, notification_id, owner, now, self.lease_seconds)
        if row is None:
            return None
        channel = cq.by_id(conn, row.channel_id)
        update_ref = None
        if row.event_kind in UPDATE_KINDS and row.group_id is not None:
            update_ref = nq.first_provider_ref(conn, row.channel_id, row.group_id)
        return Job(row, owner, channel, message_for(conn, row, self.public_url), update_ref)

    async def attempt(
        self, channel: cq.Channel, message: AlertMessage, update_ref: str | None = None
    ) -> SendOutcome:
        """One send through the channel's transport, never raising: the outcome says what happened."""
        transport = TRANSPORTS.get(channel.kind)
        started = time.perf_counter()

        def took() -> int:
            return round((time.perf_counter() - started) * 1000)

        if transport is None:
            return SendOutcome(False, error=f"unknown channel kind {channel.kind!r}", permanent=True)
        try:  # secrets are opened here, for this send only
            config = await self.db.aread(lambda c: cq.full_config(c, channel))
        except KeyringError as exc:  # retryable: during a data-key rotation a re-read row opens
            return SendOutcome(False, error=exc.message, duration_ms=took())
        try:
            if update_ref and transport.updates_messages:
                result: DeliveryResult = await transport.update(message, config, self.deps, update_ref)
            else:
                result = await transport.send(message, config, self.deps)
        except TransportError as exc:
            return SendOutcome(
                False, exc.status_code, exc.message, exc.permanent, exc.retry_after, duration_ms=took()
            )
        except Exception as exc:  # a bug in a transport must not lose the notification: retry it
            log.exception("channel %s (%s): send failed unexpectedly", channel.id, channel.kind)
            return SendOutcome(
                False, error=f"internal error: {type(exc).__name__}: {exc}", duration_ms=took()
            )
        return SendOutcome(True, result.status_code, provider_ref=result.provider_ref, duration_ms=took())

    def _finish(self, conn: apsw.Connection, job: Job, outcome: SendOutcome, now: float) -> Finished:
        row, owner = job.row, job.owner
        current = nq.get(conn, row.id)
        if current is None or current.lease_owner != owner:
            outbox.record_attempt(
                conn,
                row.id,
                now=now,
                outcome="lost_lease",
                status_code=outcome.status_code,
                error=outcome.error or "finished after the lease expired",
                duration_ms=outcome.duration_ms,
            )
            return Finished("lost_lease")
        finished = Finished("delivered")
        if outcome.ok:
            outbox.mark_delivered(conn, row.id, owner, now, outcome.provider_ref)
        elif outcome.permanent or outbox.out_of_attempts(current):
            error = outcome.error if outcome.permanent else outbox.gave_up(current, outcome.error)
            finished = Finished(
                "failed", raised_group_id=outbox.mark_failed_permanently(conn, current, owner, now, error)
            )
        else:
            next_at = outbox.schedule_retry(conn, current, owner, now, outcome.error, outcome.retry_after)
            finished = Finished("retry", retry_in=None if next_at is None else next_at - now)
        outbox.record_attempt(
            conn,
            row.id,
            now=now,
            outcome=finished.verdict,
            status_code=outcome.status_code,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
        )
        return finished
