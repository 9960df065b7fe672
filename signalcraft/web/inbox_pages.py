"""The inbox (alert groups with filters, search, saved views, bulk actions, live updates) and
the alert group page (timeline, occurrences, labels, links, payload, stack trace, actions).

Forms post to ``/w/{slug}/inbox/...`` and ``/w/{slug}/alerts/{id}/...`` and answer 303 back
(htmx follows the redirect and swaps the part of the page it asked for, see
static/js/inbox.js); a refused input re-renders the page with the message next to its field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import apsw
import orjson
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from signalcraft import alert_actions as actions
from signalcraft.auth.rbac import Permission, Role, allows
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import alert_work as aw
from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries import integrations as iq
from signalcraft.errors import NotFound, SignalCraftError
from signalcraft.events import bus_of
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.api_actions import perform
from signalcraft.web.api_alerts import parse_cursor
from signalcraft.web.channel_pages import group_delivery_log
from signalcraft.web.context import ctx_of
from signalcraft.web.forms import read_form, safe_next
from signalcraft.web.responses import render

PAGE_SIZE = 50
RAW_SHOWN_BYTES = 200_000
LINKS_SHOWN = 20


def _page(permission: Permission) -> dict[str, Any]:
    return {"permission": permission, "scope": "workspace", "html": True}


# --- view helpers (pure) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkView:
    url: str
    text: str
    clickable: bool  # only http(s): a javascript: or data: URL from a payload stays plain text


def is_web_url(url: str) -> bool:
    """http(s) with a host, nothing a browser would strip or reinterpret (spaces, controls)."""
    if not url.isprintable() or any(c.isspace() for c in url):
        return False
    parts = urlsplit(url)
    return (
        parts.scheme.lower() in ("http", "https")
        and bool(parts.netloc)
        and url.lower().startswith(("http://", "https://"))
    )


def link_view(url: str, text: str = "") -> LinkView:
    return LinkView(url, text or url, is_web_url(url))


def common_labels(alerts: list[aq.AlertRow]) -> dict[str, str]:
    """The labels every alert of the group shares (the rest tell occurrences apart)."""
    if not alerts:
        return {}
    shared = dict(alerts[0].labels)
    for alert in alerts[1:]:
        shared = {k: v for k, v in shared.items() if alert.labels.get(k) == v}
    return dict(sorted(shared.items()))


def links_of(alerts: list[aq.AlertRow]) -> list[LinkView]:
    seen: dict[str, LinkView] = {}
    for alert in alerts:
        for link in alert.links:
            url = str(link.get("url", ""))
            if url and url not in seen:
                seen[url] = link_view(url, str(link.get("text", "")))
    return list(seen.values())[:LINKS_SHOWN]


def pretty_payload(body: bytes) -> tuple[str, bool]:
    """(text, truncated): indented JSON when it parses, else the text as received."""
    try:
        text = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", errors="replace")
    return text[:RAW_SHOWN_BYTES], len(text) > RAW_SHOWN_BYTES


def annotations_of(alert: aq.AlertRow | None) -> list[tuple[str, LinkView]]:
    """The latest alert's annotations, minus those already shown as its title or description."""
    if alert is None:
        return []
    shown = {alert.title, alert.description}
    return [(k, link_view(v)) for k, v in sorted(alert.annotations.items()) if v not in shown]


@dataclass(frozen=True, slots=True)
class TimelineItem:
    kind: str
    at: float
    actor: str
    detail: dict[str, Any]
    alert_title: str = ""
    note: aw.NoteRow | None = None


def timeline(
    events: list[aq.EventRow], alerts: list[aq.AlertRow], notes: list[aw.NoteRow]
) -> list[TimelineItem]:
    titles = {a.id: a.title for a in alerts}
    by_id = {n.id: n for n in notes}
    return [
        TimelineItem(
            e.kind,
            e.at,
            e.actor,
            e.detail,
            titles.get(e.alert_id or 0, ""),
            by_id.get(int(e.detail.get("note_id", 0))) if e.kind == "note" else None,
        )
        for e in events
    ]


# --- loading ------------------------------------------------------------------------------


def responders(conn: apsw.Connection, workspace_id: int) -> list[q.User]:
    """Members who may be assigned (those who may respond)."""
    return [
        u
        for u, role in q.list_users(conn, workspace_id)
        if role and not u.disabled and allows(Role(role), Permission.RESPOND)
    ]


@dataclass
class InboxData:
    rows: list[aw.InboxRow] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    views: list[aw.ViewRow] = field(default_factory=list)
    members: list[q.User] = field(default_factory=list)
    integrations: list[iq.Integration] = field(default_factory=list)


def load_inbox(
    conn: apsw.Connection, workspace_id: int, f: aw.InboxFilter | None, before: tuple[float, int] | None
) -> InboxData:
    rows = aw.list_inbox(conn, workspace_id, f, before=before, limit=PAGE_SIZE + 1) if f else []
    return InboxData(
        rows,
        aw.open_counts(conn, workspace_id),
        aw.list_views(conn, workspace_id),
        responders(conn, workspace_id),
        iq.list_for(conn, workspace_id),
    )


@dataclass
class GroupData:
    row: aw.InboxRow
    integration: iq.Integration | None
    alerts: list[aq.AlertRow]
    events: list[aq.EventRow]
    notes: list[aw.NoteRow]
    members: list[q.User]
    raw_id: int | None
    raw: bytes | None


def load_group(conn: apsw.Connection, workspace_id: int, group_id: int) -> GroupData:
    row = aw.inbox_row(conn, workspace_id, group_id)
    if row is None:
        raise NotFound("no such alert group", field="group_id")
    alerts = aq.alerts_of_group(conn, workspace_id, group_id, limit=200)
    integration = iq.by_id(conn, row.group.integration_id) if row.group.integration_id else None
    raw_id = next((a.raw_id for a in alerts if a.raw_id), None)
    return GroupData(
        row,
        integration,
        alerts,
        aw.latest_events(conn, group_id),
        aw.notes_of_group(conn, workspace_id, group_id),
        responders(conn, workspace_id),
        raw_id,
        aq.raw_payload(conn, workspace_id, raw_id) if raw_id else None,
    )


def group_context(data: GroupData) -> dict[str, Any]:
    alerts = data.alerts
    latest = alerts[0] if alerts else None
    traced = next((a for a in alerts if a.stacktrace), None)
    raw_text, raw_truncated = pretty_payload(data.raw) if data.raw is not None else ("", False)
    return {
        "row": data.row,
        "g": data.row.group,
        "integration": data.integration,
        "alerts": alerts[:100],
        "latest": latest,
        "labels": common_labels(alerts),
        "links": links_of(alerts),
        "annotations": annotations_of(latest),
        "trace": traced.stacktrace if traced else None,
        "timeline": timeline(data.events, alerts, data.notes),
        "members": data.members,
        "raw_text": raw_text,
        "raw_truncated": raw_truncated,
        "raw_id": data.raw_id if data.raw is not None else None,
        "morning": actions.tomorrow_morning,
    }


# --- pages --------------------------------------------------------------------------------


def _first_values(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if isinstance(v, str)}


class InboxPages(Controller):
    path = "/w/{slug:str}"
    include_in_schema = False

    async def _inbox(
        self,
        request: Request[Any, Any, Any],
        params: dict[str, str],
        *,
        errors: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response[Any]:
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        errors = dict(errors or {})
        me = identity_of(request).user
        query, cursor, f, before = actions.InboxQuery(), params.get("cursor", ""), None, None
        try:
            query = actions.parse_inbox_query(params)
            before = parse_cursor(cursor)
            f = query.to_filter(me.id if me else None)
        except SignalCraftError as exc:
            errors[exc.field or ""], status = exc.message, exc.status
        data = await ctx.db.aread(lambda c: load_inbox(c, ws.id, f, before))
        page = data.rows[:PAGE_SIZE]
        base = f"/w/{ws.slug}"
        page_query = query.query_string(cursor=cursor or None)
        return render(
            request,
            "inbox/inbox.html",
            {
                "query": query,
                "values": params,
                "errors": errors,
                "rows": page,
                "data": data,
                "integration_names": {i.id: i.name for i in data.integrations},
                "sources": sorted({i.type for i in data.integrations} | ({query.source} - {""})),
                "next_cursor": f"{page[-1].group.last_seen_at!r}_{page[-1].group.id}"
                if len(data.rows) > PAGE_SIZE
                else None,
                "on_first_page": not cursor,
                "base": base,
                "page_url": f"{base}/inbox" + (f"?{page_query}" if page_query else ""),
                "active_nav": "inbox",
            },
            status=status,
        )

    @get("/inbox", opt=_page(Permission.READ))
    async def inbox(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._inbox(request, _first_values(request))

    def _back(self, request: Request[Any, Any, Any], form: dict[str, str], default: str) -> str:
        """Where a form returns to: its ``next`` when it is a page of this workspace."""
        target = safe_next(form.get("next"))
        return target if target.startswith(f"/w/{workspace_of(request).workspace.slug}/") else default

    async def _back_to_inbox(
        self, request: Request[Any, Any, Any], form: dict[str, str], exc: SignalCraftError
    ) -> Response[Any]:
        target = self._back(request, form, f"/w/{workspace_of(request).workspace.slug}/inbox")
        params = dict(parse_qsl(urlsplit(target).query))
        return await self._inbox(request, params, errors={exc.field or "": exc.message}, status=exc.status)

    @post("/inbox/bulk", opt=_page(Permission.RESPOND))
    async def bulk(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """The inbox's bulk bar: one action on the ticked groups."""
        raw = await request.form()
        form = {k: v for k, v in raw.items() if isinstance(v, str)}
        try:
            ids = [actions.parse_id(str(i), "ids", "not an alert group id") for i in raw.getall("ids", [])]
            change = change_from_form(form.get("action", ""), form, ctx_of(request).now())
            await perform(request, ids, change)
        except NotFound:
            raise
        except SignalCraftError as exc:
            return await self._back_to_inbox(request, form, exc)
        return Redirect(
            self._back(request, form, f"/w/{workspace_of(request).workspace.slug}/inbox"), status_code=303
        )

    @post("/inbox/views", opt=_page(Permission.RESPOND))
    async def save_view(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Save the inbox's current filters (the ``query`` field) under a name."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        form = await read_form(request)
        now = ctx.now()
        try:
            view = await ctx.db.awrite(
                lambda c: actions.save_view(c, ws.id, form.get("name", ""), form.get("query", ""), actor, now)
            )
        except SignalCraftError as exc:
            params = dict(parse_qsl(form.get("query", "")[:2000]))
            return await self._inbox(
                request, params, errors={f"view_{exc.field}": exc.message}, status=exc.status
            )
        return Redirect(f"/w/{ws.slug}/inbox?{view.query}", status_code=303)

    @post("/inbox/views/{name:str}/delete", opt=_page(Permission.RESPOND))
    async def delete_view(self, request: Request[Any, Any, Any], name: FromPath[str]) -> Response[Any]:
        ws, actor, now = workspace_of(request).workspace, identity_of(request).actor, ctx_of(request).now()
        await ctx_of(request).db.awrite(lambda c: actions.delete_view(c, ws.id, name, actor, now))
        return Redirect(f"/w/{ws.slug}/inbox", status_code=303)

    # --- the alert group page -------------------------------------------------------------

    async def _group(
        self,
        request: Request[Any, Any, Any],
        group_id: int,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response[Any]:
        ws = workspace_of(request).workspace
        data = await ctx_of(request).db.aread(lambda c: load_group(c, ws.id, group_id))
        context = group_context(data)
        context["delivery"] = await ctx_of(request).db.aread(lambda c: group_delivery_log(c, ws.id, group_id))
        context.update(
            {
                "errors": errors or {},
                "values": values or {},
                "base": f"/w/{ws.slug}",
                "now": ctx_of(request).now(),
                "active_nav": "inbox",
            }
        )
        return render(request, "alerts/group.html", context, status=status)

    @get("/alerts/{group_id:int}", opt=_page(Permission.READ))
    async def group_page(self, request: Request[Any, Any, Any], group_id: FromPath[int]) -> Response[Any]:
        return await self._group(request, group_id)

    @post("/alerts/{group_id:int}/{action:str}", opt=_page(Permission.RESPOND))
    async def act(
        self, request: Request[Any, Any, Any], group_id: FromPath[int], action: FromPath[str]
    ) -> Response[Any]:
        """The group page's buttons: acknowledge, resolve, snooze, unsnooze, assign."""
        if action not in actions.ACTIONS:
            raise NotFound("no such action", field="action")
        form = await read_form(request)
        try:
            await perform(request, group_id, change_from_form(action, form, ctx_of(request).now()))
        except NotFound:
            raise
        except SignalCraftError as exc:
            return await self._group(
                request, group_id, errors={exc.field or "": exc.message}, values=form, status=exc.status
            )
        default = f"/w/{workspace_of(request).workspace.slug}/alerts/{group_id}"
        return Redirect(self._back(request, form, default), status_code=303)

    @post("/alerts/{group_id:int}/notes", opt=_page(Permission.RESPOND))
    async def add_note(self, request: Request[Any, Any, Any], group_id: FromPath[int]) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        form = await read_form(request)
        now = ctx.now()
        try:
            await ctx.db.awrite(
                lambda c: actions.add_note(c, ws.id, group_id, form.get("body", ""), actor, now)
            )
        except NotFound:
            raise
        except SignalCraftError as exc:
            return await self._group(
                request, group_id, errors={exc.field or "": exc.message}, values=form, status=exc.status
            )
        bus_of(ctx.extras).publish(ws.id, [group_id])
        return Redirect(f"/w/{ws.slug}/alerts/{group_id}#timeline", status_code=303)


def change_from_form(action: str, form: dict[str, str], now: float) -> actions.Change:
    """An action with its argument, from the fields the pages post."""
    if action == "snooze":
        return actions.Change(
            "snooze", until=actions.snooze_until(form.get("duration", ""), now, form.get("until", ""))
        )
    if action == "assign":
        raw = form.get("assignee", "").strip()
        return actions.Change(
            "assign", assignee_id=actions.parse_id(raw, "assignee", "choose a member") if raw else None
        )
    return actions.Change(action)


HANDLERS: list[ControllerRouterHandler] = [InboxPages]
