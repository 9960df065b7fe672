"""Replay pages (HTML): the list with filters, the player, the events it plays, delete, the
replays of an alert group (a fragment for its page), and the recorder settings.

The player page has its own Content-Security-Policy (:func:`player_csp`): rrweb rebuilds
the recorded page inside an ``about:blank`` iframe, which inherits the parent's policy, and
the recorded page's CSS arrives as inline ``<style>`` text and ``style`` attributes. See
docs/replays.md, "Content-Security-Policy".
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Stream

from signalcraft.auth.rbac import Permission
from signalcraft.db.queries import audit
from signalcraft.db.queries import replays as rq
from signalcraft.errors import InvalidInput, NotFound, SignalCraftError
from signalcraft.replay import ids
from signalcraft.replay.origins import parse_origins
from signalcraft.replay.service import MIB, delete_replay, store_of
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.context import ctx_of
from signalcraft.web.forms import read_form
from signalcraft.web.observe import CSP
from signalcraft.web.responses import render

PAGE_SIZE = 50


def _page(permission: Permission) -> dict[str, Any]:
    return {"permission": permission, "scope": "workspace", "html": True}


# --- pure helpers ---------------------------------------------------------------------------


def _day(value: str, name: str) -> float | None:
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput("use a date like 2024-05-31", field=name) from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def _int_or_none(value: str, name: str) -> int | None:
    if not value:
        return None
    if not value.isdigit() or len(value) > 18:
        raise InvalidInput("must be a whole number", field=name)
    return int(value)


def parse_filter(query: Mapping[str, str]) -> rq.ReplayFilter:
    """The list's query string -> a filter; InvalidInput names the bad parameter."""
    until = _day(query.get("to", ""), "to")
    status = query.get("status", "")
    if status and status not in rq.STATUSES:
        raise InvalidInput(f"one of {', '.join(rq.STATUSES)}", field="status")
    return rq.ReplayFilter(
        url=query.get("url", "").strip()[:200],
        user_id=query.get("user", "").strip()[:200],
        with_errors=query.get("errors", "") == "1",
        with_alerts=query.get("alerts", "") == "1",
        group_id=_int_or_none(query.get("group", ""), "group"),
        started_from=_day(query.get("from", ""), "from"),
        started_until=None if until is None else until + 86400.0,
        status=status,
    )


@dataclass(frozen=True, slots=True)
class Marker:
    """A point on the player's timeline: an error in the page or an alert linked to the session."""

    kind: str  # "error" | "alert"
    offset_ms: int
    label: str
    href: str = ""


def markers_for(replay: rq.Replay, alerts: list[rq.LinkedAlert], slug: str) -> list[Marker]:
    """Errors and linked alerts, placed by their time since the first event (clamped to the
    replay: an alert's clock is the sender's, not the browser's)."""
    found = [Marker("error", e.offset_ms, e.message) for e in replay.errors]
    for alert in alerts:
        offset = int(alert.at * 1000) - replay.client_start_ms
        found.append(Marker("alert", max(0, min(replay.duration_ms, offset)), alert.title,
                            f"/w/{slug}/alerts/{alert.group_id}"))
    return sorted(found, key=lambda m: (m.offset_ms, m.kind))


def player_csp(allowed_origins: tuple[str, ...]) -> str:
    """The app's policy with what replaying needs: inline styles (the recorded CSS), and
    images, fonts and stylesheets from the recorded site's own origins; scripts stay 'self'."""
    extra = " ".join(allowed_origins)
    directives = {
        "style-src": f"'self' 'unsafe-inline' {extra}".strip(),
        "img-src": f"'self' data: blob: {extra}".strip(),
        "font-src": f"'self' data: {extra}".strip(),
        "media-src": f"'self' blob: {extra}".strip(),
    }
    parts = []
    for directive in CSP.split(";"):
        name = directive.strip().split(" ", 1)[0]
        parts.append(f"{name} {directives.pop(name)}" if name in directives else directive.strip())
    parts.extend(f"{name} {value}" for name, value in directives.items())
    return "; ".join(parts)


def snippet(base_url: str, key: str) -> str:
    return f'<script src="{base_url}/static/replay/recorder.js" data-key="{key}" async></script>'


# --- pages ----------------------------------------------------------------------------------


class ReplayPages(Controller):
    path = "/w/{slug:str}"
    include_in_schema = False

    @get("/replays", opt=_page(Permission.READ))
    async def list_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ws = workspace_of(request).workspace
        query = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
        errors: dict[str, str] = {}
        try:
            flt = parse_filter(query)
            before = _int_or_none(query.get("before", ""), "before")
        except InvalidInput as exc:
            errors[exc.field or ""] = exc.message
            flt, before = rq.ReplayFilter(), None
        found = await ctx_of(request).db.aread(
            lambda c: rq.list_replays(c, ws.id, flt, before_id=before, limit=PAGE_SIZE + 1))
        return render(request, "replays/list.html", {
            "replays": found[:PAGE_SIZE], "values": query, "errors": errors, "active_nav": "replay",
            "next_before": found[PAGE_SIZE - 1].id if len(found) > PAGE_SIZE else None,
            "filtered": any(query.get(k) for k in ("url", "user", "errors", "alerts", "group", "from", "to",
                                                   "status"))},
            status=400 if errors else 200)

    async def _replay(self, request: Request[Any, Any, Any], session_id: str) -> rq.Replay:
        ws = workspace_of(request).workspace
        sid = ids.check_session_id(session_id)
        found = await ctx_of(request).db.aread(lambda c: rq.replay_by_session(c, ws.id, sid))
        if found is None:
            raise NotFound("no such replay (it may have been deleted after the retention period)")
        return found

    @get("/replays/{identifier:str}", opt=_page(Permission.READ))
    async def player_page(self, request: Request[Any, Any, Any], identifier: FromPath[str]) -> Response[Any]:
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        replay = await self._replay(request, identifier)
        alerts, recorder = await ctx.db.aread(
            lambda c: (rq.alerts_of_replay(c, ws.id, replay.session_id), rq.recorder_of(c, ws.id)))
        origins = recorder.allowed_origins if recorder else ()
        return render(request, "replays/player.html", {
            "replay": replay, "alerts": alerts, "markers": markers_for(replay, alerts, ws.slug),
            "inactivity_minutes": ctx.settings.replay.inactivity_minutes, "active_nav": "replay"},
            headers={"Content-Security-Policy": player_csp(origins)})

    @get("/replays/{identifier:str}/events", opt=_page(Permission.READ))
    async def events(self, request: Request[Any, Any, Any], identifier: FromPath[str]) -> Stream:
        """The replay's events as one JSON array (decompressed as it streams)."""
        replay = await self._replay(request, identifier)
        if replay.status != "ready":
            raise NotFound("this replay is still being recorded")
        store = store_of(ctx_of(request))
        if not store.path_of(replay.file_path).exists():
            raise NotFound("this replay's file is missing from the data directory")
        return Stream(store.read_events(replay.file_path), media_type="application/json",
                      headers={"Cache-Control": "private, max-age=3600"})

    @post("/replays/{identifier:str}/delete", opt=_page(Permission.CONFIGURE))
    async def delete(self, request: Request[Any, Any, Any], identifier: FromPath[str]) -> Response[Any]:
        ctx, ws, identity = ctx_of(request), workspace_of(request).workspace, identity_of(request)
        replay = await self._replay(request, identifier)
        now = ctx.now()
        await ctx.db.awrite(lambda c: audit.record(c, identity.actor, "replay.delete", now,
                                                   workspace_id=ws.id, target=replay.session_id))
        await asyncio.to_thread(delete_replay, ctx.db, store_of(ctx), replay)
        return Redirect(f"/w/{ws.slug}/replays", status_code=303)

    @get("/replays/group/{group_id:int}", opt=_page(Permission.READ))
    async def group_replays(self, request: Request[Any, Any, Any], group_id: FromPath[int]) -> Response[Any]:
        """A fragment for the alert group page: the sessions its alerts came from."""
        ws = workspace_of(request).workspace
        found = await ctx_of(request).db.aread(lambda c: rq.replays_of_group(c, ws.id, group_id))
        return render(request, "replays/_group_replays.html", {"replays": found, "group_id": group_id})

    # --- recorder settings ----------------------------------------------------------------

    async def _settings_page(self, request: Request[Any, Any, Any], *, errors: dict[str, str] | None = None,
                             values: dict[str, str] | None = None, status: int = 200) -> Response[Any]:
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        recorder, counts = await ctx.db.aread(
            lambda c: (rq.recorder_of(c, ws.id), rq.usage_by_status(c, ws.id)))
        config = ctx.settings.replay
        shown = values or {}
        if recorder is not None and not values:
            shown = {"allowed_origins": "\n".join(recorder.allowed_origins),
                     "sample_rate": "" if recorder.sample_rate is None else str(recorder.sample_rate)}
        return render(request, "replays/settings.html", {
            "recorder": recorder, "config": config, "counts": counts, "errors": errors or {}, "values": shown,
            "snippet": snippet(ctx.settings.server.public_url(), recorder.public_key) if recorder else "",
            "quota_bytes": config.quota_mb_per_workspace * MIB, "active_nav": "replay"}, status=status)

    @get("/settings/replays", opt=_page(Permission.CONFIGURE))
    async def settings_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._settings_page(request)

    @post("/settings/replays", opt=_page(Permission.CONFIGURE))
    async def save_settings(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ctx, ws, identity = ctx_of(request), workspace_of(request).workspace, identity_of(request)
        form = await read_form(request)
        values = {k: form.get(k, "")[:5000] for k in ("allowed_origins", "sample_rate")}
        now = ctx.now()
        try:
            origins = parse_origins(values["allowed_origins"])
            rate = _sample_rate(values["sample_rate"].strip())
            await ctx.db.awrite(lambda c: _save(c, ws.id, origins, rate, identity.actor, now))
        except SignalCraftError as exc:
            return await self._settings_page(request, errors={exc.field or "": exc.message}, values=values,
                                             status=exc.status)
        return Redirect(f"/w/{ws.slug}/settings/replays", status_code=303)

    @post("/settings/replays/rotate-key", opt=_page(Permission.CONFIGURE))
    async def rotate_key(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ctx, ws, identity = ctx_of(request), workspace_of(request).workspace, identity_of(request)
        now = ctx.now()

        def rotate(conn: Any) -> None:
            if rq.recorder_of(conn, ws.id) is None:
                raise NotFound("set replays up first")
            rq.rotate_key(conn, ws.id, ids.new_public_key(), now)
            audit.record(conn, identity.actor, "replay.rotate_key", now, workspace_id=ws.id)

        await ctx.db.awrite(rotate)
        return Redirect(f"/w/{ws.slug}/settings/replays", status_code=303)


def _sample_rate(raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or not 0 <= int(raw) <= 100:
        raise InvalidInput("a whole percentage from 0 to 100, or empty for the instance default",
                           field="sample_rate")
    return int(raw)


def _save(conn: Any, workspace_id: int, origins: tuple[str, ...], rate: int | None, actor: audit.Actor,
          now: float) -> None:
    existing = rq.recorder_of(conn, workspace_id)
    key = existing.public_key if existing else ids.new_public_key()
    rq.save_recorder(conn, workspace_id, key, origins, rate, now)
    before = ({"allowed_origins": list(existing.allowed_origins), "sample_rate": existing.sample_rate}
              if existing else {})
    audit.record(conn, actor, "replay.settings", now, workspace_id=workspace_id,
                 detail=audit.changes(before, {"allowed_origins": list(origins), "sample_rate": rate}))


HANDLERS = [ReplayPages]
