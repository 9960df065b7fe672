"""The alert bus: in-process pub/sub of "these alert groups changed", by workspace.

Publishers are the ingest edge (:func:`signalcraft.web.ingest.common.accept`), the actions
people take, and the snooze wake-up task (a Huey worker thread). Subscribers are live
streams (``GET /w/{slug}/live``), each with its own bounded asyncio queue on the event
loop that subscribed. A subscriber that falls behind loses its backlog and gets one
:data:`RELOAD` message instead: it re-reads everything, which is what it would do anyway.

Messages are small (group ids); a subscriber re-reads what it shows, so nothing here can
leak a row to someone who may no longer see it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Protocol

QUEUE_SIZE = 64


class HasGroupIds(Protocol):
    @property
    def group_ids(self) -> Collection[int]: ...


@dataclass(frozen=True, slots=True)
class GroupsChanged:
    """Groups that changed in one workspace; ``reload`` means "too much happened: re-read all"."""

    group_ids: tuple[int, ...] = ()
    reload: bool = False

    def merge(self, other: GroupsChanged) -> GroupsChanged:
        if self.reload or other.reload:
            return RELOAD
        return GroupsChanged(tuple(sorted({*self.group_ids, *other.group_ids})))


RELOAD = GroupsChanged(reload=True)


class Subscription:
    """One subscriber's queue. Read it from the loop that created it."""

    def __init__(self, workspace_id: int, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.workspace_id = workspace_id
        self.loop = loop
        self.queue: asyncio.Queue[GroupsChanged] = asyncio.Queue(maxsize=size)

    def offer(self, message: GroupsChanged) -> None:
        """Deliver from any thread: directly on the subscriber's loop, else handed over to it."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._put(message)
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._put, message)

    def _put(self, message: GroupsChanged) -> None:
        if self.queue.full():  # a slow reader: drop the backlog, tell it to re-read everything
            while not self.queue.empty():
                self.queue.get_nowait()
            message = RELOAD
        self.queue.put_nowait(message)

    async def next(self, timeout: float) -> GroupsChanged | None:
        """The next message, or None after ``timeout`` seconds."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None

    def drain(self, first: GroupsChanged) -> GroupsChanged:
        """``first`` merged with everything already queued."""
        merged = first
        while not self.queue.empty():
            merged = merged.merge(self.queue.get_nowait())
        return merged


class AlertBus:
    def __init__(self, *, queue_size: int = QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[int, set[Subscription]] = {}
        self._lock = threading.Lock()

    def subscribe(self, workspace_id: int) -> Subscription:
        """A queue of this workspace's changes; call from a coroutine, unsubscribe when done."""
        sub = Subscription(workspace_id, asyncio.get_running_loop(), self._queue_size)
        with self._lock:
            self._subscribers.setdefault(workspace_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subscribers.get(sub.workspace_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subscribers[sub.workspace_id]

    def subscriber_count(self, workspace_id: int) -> int:
        with self._lock:
            return len(self._subscribers.get(workspace_id, ()))

    def publish(self, workspace_id: int, change: HasGroupIds | Iterable[int]) -> None:
        """Tell the workspace's subscribers which groups changed (an ingest outcome, an action
        result, or plain ids). Safe from the event loop thread and from worker threads."""
        ids = change.group_ids if hasattr(change, "group_ids") else change
        message = GroupsChanged(tuple(sorted(set(ids))))
        if not message.group_ids:
            return
        with self._lock:
            subs = list(self._subscribers.get(workspace_id, ()))
        for sub in subs:
            sub.offer(message)


def bus_of(extras: dict[str, object]) -> AlertBus:
    """The process's bus (``runtime.build`` installs it as ``extras["alert_bus"]``)."""
    bus = extras.get("alert_bus")
    if not isinstance(bus, AlertBus):  # a context built without the runtime: start one
        bus = extras["alert_bus"] = AlertBus()
    return bus
