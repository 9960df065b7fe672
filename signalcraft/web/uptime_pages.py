"""Uptime pages (HTML): the monitor list, a monitor's page, create/edit with "test" and
"run check now", pause/resume/delete, and the public status page's settings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from signalcraft.auth.rbac import Permission
from signalcraft.db.queries import audit
from signalcraft.db.queries import uptime as uq
from signalcraft.errors import InvalidInput, SignalCraftError
from signalcraft.uptime import alerts, service, status_page, svg, validate, views
from signalcraft.uptime.model import Kind, settings_from_json, target_of
from signalcraft.uptime.schedule import HeartbeatSchedule, duration_text
from signalcraft.uptime.secrets import kept, masked
from signalcraft.uptime.stats import format_percent
from signalcraft.web import charts
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.context import AppContext, ctx_of
from signalcraft.web.forms import read_form
from signalcraft.web.responses import render
from signalcraft.web.uptime_api import engine_for, window

SETTINGS_KEYS: dict[Kind, tuple[str, ...]] = {
    Kind.HTTP: (
        "url",
        "method",
        "headers",
        "body",
        "expected_status",
        "keyword",
        "keyword_absent",
        "json_path",
        "json_expected",
        "max_response_ms",
        "follow_redirects",
        "cert_expiry_days",
        "verify_tls",
    ),
    Kind.TCP: ("host", "port"),
    Kind.TLS: ("host", "port", "cert_expiry_days", "verify_tls"),
    Kind.DNS: ("hostname", "record_type", "expected"),
    Kind.HEARTBEAT: ("period_seconds", "cron", "timezone", "grace_seconds"),
}
TOP_KEYS = ("name", "interval_seconds", "timeout_seconds", "failures_before_down", "successes_before_up")


def _page(permission: Permission) -> dict[str, Any]:
    return {"permission": permission, "scope": "workspace", "html": True}


def _kind(text: str) -> Kind:
    try:
        return Kind(text or "http")
    except ValueError:
        raise InvalidInput(f"one of {', '.join(k.value for k in Kind)}", field="kind") from None


def form_data(form: Mapping[str, str], kind: Kind) -> dict[str, Any]:
    """A monitor form as the service's input: top-level fields and the kind's settings."""
    data: dict[str, Any] = {"kind": kind.value, **{k: form[k] for k in TOP_KEYS if k in form}}
    settings = {k: form[k] for k in SETTINGS_KEYS[kind] if k in form}
    if kind is Kind.HEARTBEAT:
        drop = "period_seconds" if form.get("schedule") == "cron" else "cron"
        settings[drop] = ""
    data["settings"] = settings
    return data


def form_values(monitor: uq.MonitorRow) -> dict[str, str]:
    """A stored monitor as form values (strings, as the inputs hold them)."""
    values = {k: str(getattr(monitor, k)) for k in TOP_KEYS}
    for key, value in masked(monitor.settings).items():
        if key == "headers":
            values[key] = "\n".join(f"{k}: {v}" for k, v in value.items())
        elif key == "expected_status":
            values[key] = ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in value)
        elif isinstance(value, bool):
            values[key] = "1" if value else "0"
        else:
            values[key] = "" if value is None else str(value)
    values["schedule"] = "cron" if monitor.settings.get("cron") else "period"
    return values


def _errors(exc: SignalCraftError) -> dict[str, str]:
    return {(exc.field or "").removeprefix("settings."): exc.message}


def _latency_chart(points: list[views.LatencyPoint]) -> Any:
    """Hourly medians; hours before the first and after the last check are left out (not drawn
    as 0 ms)."""
    known = [i for i, p in enumerate(points) if p.p50_ms is not None]
    points = points[known[0] : known[-1] + 1] if known else []
    chart_points = [
        charts.Point(
            f"{_hour_label(p.start)}: p95 {p.p95_ms} ms, {p.checks} checks, {p.failures} failed"
            if p.p50_ms is not None
            else f"{_hour_label(p.start)}: no data",
            p.p50_ms or 0,
            _hour_label(p.start) if i % 6 == 0 else "",
            minor=i % 12 != 0,
        )
        for i, p in enumerate(points)
    ]
    return charts.line_chart(
        chart_points,
        caption="Latency (median per hour, ms)",
        series=charts.Series("series-latency", "ms"),
        empty="No checks yet",
    )


def _hour_label(start: float) -> str:
    return dt.datetime.fromtimestamp(start, dt.UTC).strftime("%d %b %H:00")


class UptimePages(Controller):
    path = "/w/{slug:str}"
    include_in_schema = False

    def _base(self, request: Request[Any, Any, Any]) -> str:
        return f"/w/{workspace_of(request).workspace.slug}/monitors"

    # --- list and page ---------------------------------------------------------------------------

    @get("/monitors", opt=_page(Permission.READ))
    async def monitor_list(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        now = ctx.now()
        found = await ctx.db.aread(lambda c: views.workspace_summaries(c, ws.id, now))
        engine = engine_for(ctx)
        rows = [
            {
                "s": s,
                "target": target_of(Kind(s.monitor.kind), s.monitor.settings),
                "uptime": {k: format_percent(v) for k, v in s.uptime.items()},
                "spark": svg.sparkline(s.latency, label=f"{s.monitor.name} latency, last 24 h"),
                "next": engine.next_check(s.monitor),
            }
            for s in found
        ]
        counts = {
            st: sum(1 for s in found if s.shown_status == st) for st in ("up", "down", "pending", "paused")
        }
        return render(request, "uptime/list.html", {"rows": rows, "counts": counts, "active_nav": "monitors"})

    @get("/monitors/{identifier:str}", opt=_page(Permission.READ))
    async def monitor_page(self, request: Request[Any, Any, Any], identifier: FromPath[str]) -> Response[Any]:
        return await self._monitor_page(request, service.parse_id(identifier))

    async def _monitor_page(
        self, request: Request[Any, Any, Any], monitor_id: int, *, check: Any = None, status: int = 200
    ) -> Response[Any]:
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        now = ctx.now()
        found = await ctx.db.aread(lambda c: views.detail(c, service.get(c, ws.id, monitor_id), now))
        monitor = found.summary.monitor
        base_url = ctx.settings.server.public_url()
        return render(
            request,
            "uptime/monitor.html",
            {
                "d": found,
                "m": monitor,
                "kind": Kind(monitor.kind),
                "target": target_of(Kind(monitor.kind), monitor.settings),
                "uptime": {k: format_percent(v) for k, v in found.summary.uptime.items()},
                "chart": _latency_chart(found.latency),
                "bars": svg.uptime_bars(found.bars, label=monitor.name),
                "next_check": engine_for(ctx).next_check(monitor),
                "check": check,
                "public_url": base_url,
                "interval_text": duration_text(monitor.interval_seconds) if monitor.interval_seconds else "",
                "schedule": settings_from_json(Kind(monitor.kind), monitor.settings)
                if monitor.kind == "heartbeat"
                else None,
                "active_nav": "monitors",
            },
            status=status,
        )

    # --- create and edit -------------------------------------------------------------------------

    def _form(
        self,
        request: Request[Any, Any, Any],
        kind: Kind,
        *,
        monitor: uq.MonitorRow | None = None,
        values: Mapping[str, str] | None = None,
        errors: Mapping[str, str] | None = None,
        check: Any = None,
        status: int = 200,
    ) -> Response[Any]:
        cfg = ctx_of(request).settings.uptime
        return render(
            request,
            "uptime/form.html",
            {
                "kind": kind,
                "kinds": list(Kind),
                "monitor": monitor,
                "values": values or {},
                "errors": errors or {},
                "check": check,
                "methods": validate.METHODS,
                "cfg": cfg,
                "active_nav": "monitors",
            },
            status=status,
        )

    @get("/monitors/new", opt=_page(Permission.CONFIGURE))
    async def new_monitor(
        self, request: Request[Any, Any, Any], kind: FromQuery[str] = "http"
    ) -> Response[Any]:
        return self._form(request, _kind(kind))

    @post("/monitors/new", opt=_page(Permission.CONFIGURE))
    async def create_monitor(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        form = await read_form(request)
        kind = _kind(form.get("kind", ""))
        if form.get("test"):
            return await self._test(request, kind, form)
        try:
            created = await ctx.db.awrite(
                lambda c: service.create(
                    c, ws.id, form_data(form, kind), ctx.settings.uptime, actor, ctx.now()
                )
            )
        except SignalCraftError as exc:
            return self._form(request, kind, values=form, errors=_errors(exc), status=exc.status)
        engine_for(ctx).poke()
        return Redirect(f"{self._base(request)}/{created.id}", status_code=303)

    async def _test(
        self,
        request: Request[Any, Any, Any],
        kind: Kind,
        form: dict[str, str],
        monitor: uq.MonitorRow | None = None,
    ) -> Response[Any]:
        """The form's "Test": run the check as filled in, store nothing, show the form again."""
        ctx = ctx_of(request)
        data = form_data(form, kind)
        try:
            if monitor is not None:
                data = service.merged(monitor, {k: v for k, v in data.items() if k != "kind"})
            if kind is Kind.HEARTBEAT:
                raise InvalidInput("a heartbeat is not checked: it waits for pings", field="kind")
            draft = validate.monitor(data, ctx.settings.uptime)
            stored = {} if monitor is None else (await ctx.db.aread(lambda c: uq.opened(c, monitor))).settings
            clear = kept(draft.settings, stored)
        except SignalCraftError as exc:
            return self._form(
                request, kind, monitor=monitor, values=form, errors=_errors(exc), status=exc.status
            )
        settings = settings_from_json(kind, clear)
        assert not isinstance(settings, HeartbeatSchedule)
        result = await engine_for(ctx).try_settings(settings, draft.timeout_seconds)
        return self._form(request, kind, monitor=monitor, values=form, check=result)

    @get("/monitors/{identifier:str}/edit", opt=_page(Permission.CONFIGURE))
    async def edit_monitor(self, request: Request[Any, Any, Any], identifier: FromPath[str]) -> Response[Any]:
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        monitor_id = service.parse_id(identifier)
        monitor = await ctx.db.aread(lambda c: service.get(c, ws.id, monitor_id))
        return self._form(request, Kind(monitor.kind), monitor=monitor, values=form_values(monitor))

    @post("/monitors/{identifier:str}/edit", opt=_page(Permission.CONFIGURE))
    async def update_monitor(
        self, request: Request[Any, Any, Any], identifier: FromPath[str]
    ) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        monitor_id = service.parse_id(identifier)
        monitor = await ctx.db.aread(lambda c: service.get(c, ws.id, monitor_id))
        kind, form = Kind(monitor.kind), await read_form(request)
        if form.get("test"):
            return await self._test(request, kind, form, monitor)
        changes = {k: v for k, v in form_data(form, kind).items() if k != "kind"}
        try:
            await ctx.db.awrite(
                lambda c: service.update(c, ws.id, monitor_id, changes, ctx.settings.uptime, actor, ctx.now())
            )
        except SignalCraftError as exc:
            return self._form(
                request, kind, monitor=monitor, values=form, errors=_errors(exc), status=exc.status
            )
        engine_for(ctx).poke()
        return Redirect(f"{self._base(request)}/{monitor_id}", status_code=303)

    # --- actions ---------------------------------------------------------------------------------

    @post("/monitors/{identifier:str}/run", opt=_page(Permission.CONFIGURE))
    async def run_now(self, request: Request[Any, Any, Any], identifier: FromPath[str]) -> Response[Any]:
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        monitor_id = service.parse_id(identifier)
        monitor = await ctx.db.aread(lambda c: service.get(c, ws.id, monitor_id))
        if monitor.kind == "heartbeat" or monitor.paused:
            exc = InvalidInput(
                "only an active probe can be checked now (heartbeats wait for pings)", field=""
            )
            return await self._monitor_page(request, monitor_id, status=400, check=exc)
        result = await engine_for(ctx).check_now(monitor)
        return await self._monitor_page(request, monitor_id, check=result)

    async def _action(self, request: Request[Any, Any, Any], identifier: str, action: str) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        monitor_id, now, win = service.parse_id(identifier), ctx.now(), window(ctx)

        def act(conn: Any) -> dict[int, Any]:
            if action == "delete":
                return service.delete(conn, ws.id, monitor_id, actor, now, win)
            return service.set_paused(conn, ws.id, monitor_id, action == "pause", actor, now, win)

        alerts.publish(ctx.extras, await ctx.db.awrite(act))
        engine_for(ctx).poke()
        target = self._base(request) + ("" if action == "delete" else f"/{monitor_id}")
        return Redirect(target, status_code=303)

    @post("/monitors/{identifier:str}/pause", opt=_page(Permission.CONFIGURE))
    async def pause(self, request: Request[Any, Any, Any], identifier: FromPath[str]) -> Response[Any]:
        return await self._action(request, identifier, "pause")

    @post("/monitors/{identifier:str}/resume", opt=_page(Permission.CONFIGURE))
    async def resume(self, request: Request[Any, Any, Any], identifier: FromPath[str]) -> Response[Any]:
        return await self._action(request, identifier, "resume")

    @post("/monitors/{identifier:str}/delete", opt=_page(Permission.CONFIGURE))
    async def delete_monitor(
        self, request: Request[Any, Any, Any], identifier: FromPath[str]
    ) -> Response[Any]:
        return await self._action(request, identifier, "delete")

    # --- the public status page's settings -------------------------------------------------------

    async def _status_settings(
        self,
        request: Request[Any, Any, Any],
        *,
        errors: Mapping[str, str] | None = None,
        values: Mapping[str, str] | None = None,
        status: int = 200,
    ) -> Response[Any]:
        ctx, ws = ctx_of(request), workspace_of(request).workspace

        def load(conn: Any) -> tuple[Any, ...]:
            return (
                uq.status_page(conn, ws.id),
                uq.list_monitors(conn, ws.id),
                {p.monitor_id: p.public_name for p in uq.page_monitors(conn, ws.id)},
                uq.notes(conn, ws.id),
            )

        page, monitors, shown, notes = await ctx.db.aread(load)
        return render(
            request,
            "uptime/status_settings.html",
            {
                "page": page,
                "monitors": monitors,
                "shown": shown,
                "notes": notes,
                "errors": errors or {},
                "values": values or {},
                "public_link": f"{ctx.settings.server.public_url()}/status/{ws.slug}",
                "active_nav": "status_pages",
            },
            status=status,
        )

    @get("/settings/status-page", opt=_page(Permission.CONFIGURE))
    async def status_settings(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._status_settings(request)

    @post("/settings/status-page", opt=_page(Permission.CONFIGURE))
    async def save_status_settings(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        raw = await request.form()
        form = {k: v for k, v in raw.items() if isinstance(v, str)}
        upload = raw.get("logo")
        logo = await upload.read() if isinstance(upload, UploadFile) else b""
        try:
            save = _status_saver(ctx, ws.id, form, logo, actor)
            await ctx.db.awrite(save)
        except SignalCraftError as exc:
            return await self._status_settings(
                request, errors={exc.field or "": exc.message}, values=form, status=exc.status
            )
        return Redirect(f"/w/{ws.slug}/settings/status-page", status_code=303)

    @post("/settings/status-page/notes", opt=_page(Permission.CONFIGURE))
    async def add_note(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        form = await read_form(request)
        now = ctx.now()
        try:
            kind = form.get("kind", "")
            if kind not in ("incident", "maintenance"):
                raise InvalidInput("incident or maintenance", field="note_kind")
            title = validate.text(form, "title", "note_title", max_len=200, required=True)
            body = validate.text(form, "body", "note_body", max_len=5000)
            starts = (
                status_page.parse_local_time(form["starts_at"], "starts_at") if form.get("starts_at") else now
            )
            ends = status_page.parse_local_time(form["ends_at"], "ends_at") if form.get("ends_at") else None
            if ends is not None and ends <= starts:
                raise InvalidInput("must be after the start", field="ends_at")

            def add(conn: Any) -> None:
                note_id = uq.add_note(conn, ws.id, kind, title, body, starts, ends, now)
                audit.record(
                    conn, actor, "status_page.note_add", now, workspace_id=ws.id, target=str(note_id)
                )

            await ctx.db.awrite(add)
        except SignalCraftError as exc:
            return await self._status_settings(
                request, errors={exc.field or "": exc.message}, values=form, status=exc.status
            )
        return Redirect(f"/w/{ws.slug}/settings/status-page", status_code=303)

    @post("/settings/status-page/notes/{identifier:str}/delete", opt=_page(Permission.CONFIGURE))
    async def delete_note(self, request: Request[Any, Any, Any], identifier: FromPath[str]) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        note_id = int(identifier) if identifier.isdigit() and len(identifier) < 18 else 0
        now = ctx.now()

        def remove(conn: Any) -> None:
            if uq.delete_note(conn, ws.id, note_id):
                audit.record(
                    conn, actor, "status_page.note_delete", now, workspace_id=ws.id, target=str(note_id)
                )

        await ctx.db.awrite(remove)
        return Redirect(f"/w/{ws.slug}/settings/status-page", status_code=303)


def _status_saver(
    ctx: AppContext, workspace_id: int, form: dict[str, str], logo: bytes, actor: audit.Actor
) -> Any:
    """Validate the settings form (before the write) and return the write that stores it."""
    title = validate.text(form, "title", "title", max_len=100)
    enabled = validate.boolean(form, "enabled", "enabled", False)
    logo_kind = status_page.logo_type(logo) if logo else ""
    now = ctx.now()

    def save(conn: Any) -> None:
        chosen = status_page.chosen_monitors(form, uq.list_monitors(conn, workspace_id))
        page = uq.status_page(conn, workspace_id)
        before = {"enabled": page.enabled, "title": page.title, "logo": page.logo_type or None,
                  "monitors": [{"id": m.monitor_id, "public_name": m.public_name}
                               for m in uq.page_monitors(conn, workspace_id)]}
        uq.save_status_page(conn, workspace_id, enabled, title, now)
        uq.set_page_monitors(conn, workspace_id, chosen)
        if logo:
            uq.save_logo(conn, workspace_id, logo, logo_kind)
        elif form.get("remove_logo"):
            uq.save_logo(conn, workspace_id, None, "")
        audit.record(
            conn,
            actor,
            "status_page.update",
            now,
            workspace_id=workspace_id,
            detail=audit.changes(before, {
                "enabled": enabled, "title": title,
                "logo": uq.status_page(conn, workspace_id).logo_type or None,
                "monitors": [{"id": i, "public_name": n} for i, n in chosen]}),
        )

    return save


HANDLERS = [UptimePages]
