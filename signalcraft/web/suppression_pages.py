"""Maintenance window and inhibit rule pages (HTML): list, create, edit, delete.

Every change goes through :mod:`signalcraft.routing.service`, which validates, stores and
audits, exactly as the JSON API does. Windows and inhibit rules are saved as whole lists there,
so adding one sends the saved ones back (with their ids) plus the new one, editing one sends
the list with that item replaced, and deleting one sends the rest. An error about the item
being created or edited is shown next to its field. Times in forms are UTC (``datetime-local``
inputs carry no zone).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import apsw
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from signalcraft.auth.rbac import Permission
from signalcraft.db.queries import audit
from signalcraft.db.queries import integrations as iq
from signalcraft.db.queries import routing as rq
from signalcraft.errors import InvalidInput, NotFound
from signalcraft.routing import service
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.context import ctx_of
from signalcraft.web.responses import render
from signalcraft.web.routing_forms import WEEKDAYS, FormData, errors_of, id_list, lines, read_form_data, words
from signalcraft.web.routing_pages import TIMEZONES, page
from signalcraft.web.silence_pages import parse_utc, utc_input

_ITEM_PATH = re.compile(r"^\w+\[\d+\]")
INHIBIT_FIELDS = ("name", "source_matchers", "target_matchers", "equal")
Docs = list[dict[str, Any]]


@dataclass(frozen=True)
class WindowView:
    id: int
    name: str
    schedule: str
    scope: list[str]
    active: bool


def describe_window(w: rq.WindowRow, integrations: dict[int, str], now: float) -> WindowView:
    if w.weekly is not None:
        days = ", ".join(WEEKDAYS[d] for d in sorted(w.weekly["weekdays"]))
        schedule = (f"Every {days} at {w.weekly['start']} for {w.weekly['duration_minutes']} min"
                    f" ({w.weekly.get('timezone', 'UTC')})")
    else:
        fmt = "%Y-%m-%d %H:%M"
        starts = dt.datetime.fromtimestamp(w.starts_at or 0, dt.UTC).strftime(fmt)
        ends = dt.datetime.fromtimestamp(w.ends_at or 0, dt.UTC).strftime(fmt)
        schedule = f"{starts} to {ends} UTC"
    scope = [f"integration {integrations.get(i, f'#{i}')}" for i in w.integrations] + list(w.matchers)
    return WindowView(w.id, w.name, schedule, scope or ["every alert"],
                      service.window_model(w).in_effect(now))


def window_doc(w: rq.WindowRow) -> dict[str, Any]:
    """A saved window as ``save_windows`` takes it back."""
    doc: dict[str, Any] = {"id": w.id, "name": w.name, "integrations": w.integrations, "matchers": w.matchers}
    if w.weekly is not None:
        return {**doc, "weekly": w.weekly}
    return {**doc, "starts_at": w.starts_at, "ends_at": w.ends_at}


def blank_window(now: float) -> dict[str, Any]:
    return {"name": "", "kind": "once", "integrations": [], "matchers": "", "starts_at": utc_input(now),
            "ends_at": utc_input(now + 7200), "weekly_weekdays": ["5", "6"], "weekly_start": "02:00",
            "weekly_duration_minutes": "120", "weekly_timezone": "UTC"}


def window_values(w: rq.WindowRow, now: float) -> dict[str, Any]:
    """A saved window as its form's values (the other kind's fields keep their defaults)."""
    values = {**blank_window(now), "name": w.name, "integrations": [str(i) for i in w.integrations],
              "matchers": "\n".join(w.matchers)}
    if w.weekly is not None:
        return {**values, "kind": "weekly", "weekly_weekdays": [str(d) for d in w.weekly["weekdays"]],
                "weekly_start": w.weekly["start"], "weekly_duration_minutes": str(w.weekly["duration_minutes"]),
                "weekly_timezone": w.weekly.get("timezone", "UTC")}
    return {**values, "starts_at": utc_input(w.starts_at or now), "ends_at": utc_input(w.ends_at or now)}


def window_form(form: FormData) -> dict[str, Any]:
    return {
        "name": form.get("name", 200), "kind": form.get("kind", 10) or "once",
        "integrations": form.getall("integrations"), "matchers": form.get("matchers"),
        "starts_at": form.get("starts_at", 20), "ends_at": form.get("ends_at", 20),
        "weekly_weekdays": form.getall("weekly_weekdays"), "weekly_start": form.get("weekly_start", 10),
        "weekly_duration_minutes": form.get("weekly_duration_minutes", 10),
        "weekly_timezone": form.get("weekly_timezone", 100) or "UTC",
    }


def new_window_doc(v: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": v["name"], "integrations": id_list(v["integrations"], "integrations"),
                           "matchers": lines(v["matchers"])}
    if v["kind"] == "weekly":
        minutes = v["weekly_duration_minutes"]
        if not minutes.isdigit():
            raise InvalidInput("must be a whole number of minutes", field="weekly_duration_minutes")
        return {**doc, "weekly": {"weekdays": id_list(v["weekly_weekdays"], "weekly_weekdays"),
                                  "start": v["weekly_start"], "duration_minutes": int(minutes),
                                  "timezone": v["weekly_timezone"]}}
    for name in ("starts_at", "ends_at"):
        if not v[name]:
            raise InvalidInput("is required for a one-off window", field=name)
    return {**doc, "starts_at": parse_utc(v["starts_at"], "starts_at"),
            "ends_at": parse_utc(v["ends_at"], "ends_at")}


def inhibit_doc(r: rq.InhibitRow) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "source_matchers": r.source_matchers,
            "target_matchers": r.target_matchers, "equal": r.equal}


def inhibit_values(r: rq.InhibitRow) -> dict[str, str]:
    return {"name": r.name, "source_matchers": "\n".join(r.source_matchers),
            "target_matchers": "\n".join(r.target_matchers), "equal": ", ".join(r.equal)}


def new_inhibit_doc(v: dict[str, str]) -> dict[str, Any]:
    return {"name": v["name"], "source_matchers": lines(v["source_matchers"]),
            "target_matchers": lines(v["target_matchers"]), "equal": words(v["equal"])}


def changed_list(saved: Docs, item_id: int | None, doc: dict[str, Any], what: str) -> tuple[Docs, int]:
    """The whole list to save with ``doc`` added (``item_id`` None) or put in place of the saved
    item ``item_id``, and the index the item has in it (errors at that index are its own)."""
    if item_id is None:
        return [*saved, doc], len(saved)
    index = next((i for i, d in enumerate(saved) if d["id"] == item_id), None)
    if index is None:
        raise NotFound(f"no such {what}", field="id")
    return [*saved[:index], {**doc, "id": item_id}, *saved[index + 1:]], index


def on_item(index: int, save: Callable[[], object]) -> None:
    """Run a whole-list save; an error about the item at ``index`` is raised again naming its form
    field, one about another saved item (or the list) naming none, so it shows above the form."""
    try:
        save()
    except InvalidInput as exc:
        if not _ITEM_PATH.match(exc.field or ""):
            raise InvalidInput(exc.message) from None
        ((name, message),) = errors_of(exc, index).items()
        raise InvalidInput(message, field=name or None) from None


@dataclass(frozen=True)
class ItemList:
    """One of the whole lists these pages edit an item of: where its page is, what an item is
    called, the saved items as the save takes them back, and the service's save."""

    page: str
    what: str
    docs_of: Callable[[apsw.Connection, int], Docs]
    save: Callable[[apsw.Connection, int, Docs, audit.Actor, float], object]


WINDOWS = ItemList("maintenance", "maintenance window",
                   lambda c, ws_id: [window_doc(w) for w in rq.windows_of(c, ws_id)], service.save_windows)
INHIBIT_RULES = ItemList("inhibition", "inhibit rule",
                         lambda c, ws_id: [inhibit_doc(r) for r in rq.inhibit_rules_of(c, ws_id)],
                         service.save_inhibit_rules)


class SuppressionPages(Controller):
    path = "/w/{slug:str}"
    include_in_schema = False

    async def _submit(self, request: Request[Any, Any, Any], items: ItemList, item_id: int | None,
                      doc_of: Callable[[], dict[str, Any]],
                      form_page: Callable[[dict[str, str]], Awaitable[Response[Any]]]) -> Response[Any]:
        """Add (``item_id`` None) or replace an item; on bad input, ``form_page`` with the errors."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()

        def save(conn: apsw.Connection) -> None:
            docs, index = changed_list(items.docs_of(conn, ws.id), item_id, doc, items.what)
            on_item(index, lambda: items.save(conn, ws.id, docs, actor, now))

        try:
            doc = doc_of()
            await ctx.db.awrite(save)
        except InvalidInput as exc:
            return await form_page(errors_of(exc))
        return Redirect(f"/w/{ws.slug}/{items.page}", status_code=303)

    async def _delete(self, request: Request[Any, Any, Any], items: ItemList, item_id: int) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()

        def delete(conn: apsw.Connection) -> None:
            saved = items.docs_of(conn, ws.id)
            if all(d["id"] != item_id for d in saved):
                raise NotFound(f"no such {items.what}", field="id")
            items.save(conn, ws.id, [d for d in saved if d["id"] != item_id], actor, now)

        await ctx.db.awrite(delete)
        return Redirect(f"/w/{ws.slug}/{items.page}", status_code=303)

    # --- maintenance windows ----------------------------------------------------------------

    async def _windows(self, request: Request[Any, Any, Any], values: dict[str, Any] | None = None, *,
                       errors: dict[str, str] | None = None, status: int = 200) -> Response[Any]:
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        now = ctx.now()

        def load(conn: apsw.Connection) -> tuple[list[WindowView], list[iq.Integration]]:
            integrations = iq.list_for(conn, ws.id)
            names = {i.id: i.name for i in integrations}
            return [describe_window(w, names, now) for w in rq.windows_of(conn, ws.id)], integrations

        windows, integrations = await ctx.db.aread(load)
        return render(request, "routing/maintenance.html", {
            "windows": windows, "integrations": integrations, "values": values or blank_window(now),
            "errors": errors or {}, "weekdays": WEEKDAYS, "timezones": TIMEZONES, "active_nav": "silences"},
            status=status)

    async def _window_editor(self, request: Request[Any, Any, Any], window_id: int,
                             values: dict[str, Any] | None = None, *, errors: dict[str, str] | None = None,
                             status: int = 200) -> Response[Any]:
        ctx, ws = ctx_of(request), workspace_of(request).workspace

        def load(conn: apsw.Connection) -> tuple[rq.WindowRow | None, list[iq.Integration]]:
            found = next((w for w in rq.windows_of(conn, ws.id) if w.id == window_id), None)
            return found, iq.list_for(conn, ws.id)

        window, integrations = await ctx.db.aread(load)
        if window is None:
            raise NotFound("no such maintenance window", field="window_id")
        values = values or window_values(window, ctx.now())
        return render(request, "routing/window_edit.html", {
            "window": window, "integrations": integrations, "values": values, "errors": errors or {},
            "weekdays": WEEKDAYS, "timezones": TIMEZONES, "active_nav": "silences"}, status=status)

    @get("/maintenance", opt=page(Permission.READ))
    async def windows(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._windows(request)

    @post("/maintenance", opt=page(Permission.CONFIGURE))
    async def create_window(self, request: Request[Any, Any, Any]) -> Response[Any]:
        values = window_form(await read_form_data(request))
        return await self._submit(request, WINDOWS, None, lambda: new_window_doc(values),
                                  lambda errors: self._windows(request, values, errors=errors, status=400))

    @get("/maintenance/{window_id:int}", opt=page(Permission.CONFIGURE))
    async def edit_window(self, request: Request[Any, Any, Any], window_id: FromPath[int]) -> Response[Any]:
        return await self._window_editor(request, window_id)

    @post("/maintenance/{window_id:int}", opt=page(Permission.CONFIGURE))
    async def update_window(self, request: Request[Any, Any, Any], window_id: FromPath[int]) -> Response[Any]:
        values = window_form(await read_form_data(request))
        return await self._submit(
            request, WINDOWS, window_id, lambda: new_window_doc(values),
            lambda errors: self._window_editor(request, window_id, values, errors=errors, status=400))

    @post("/maintenance/{window_id:int}/delete", opt=page(Permission.CONFIGURE))
    async def delete_window(self, request: Request[Any, Any, Any], window_id: FromPath[int]) -> Response[Any]:
        return await self._delete(request, WINDOWS, window_id)

    # --- inhibit rules ----------------------------------------------------------------------

    async def _inhibition(self, request: Request[Any, Any, Any], values: dict[str, str] | None = None, *,
                          errors: dict[str, str] | None = None, status: int = 200) -> Response[Any]:
        ws = workspace_of(request).workspace
        found = await ctx_of(request).db.aread(lambda c: rq.inhibit_rules_of(c, ws.id))
        return render(request, "routing/inhibition.html", {
            "rules": found, "values": values or dict.fromkeys(INHIBIT_FIELDS, ""), "errors": errors or {},
            "active_nav": "silences"}, status=status)

    async def _inhibit_editor(self, request: Request[Any, Any, Any], inhibit_id: int,
                              values: dict[str, str] | None = None, *, errors: dict[str, str] | None = None,
                              status: int = 200) -> Response[Any]:
        ws = workspace_of(request).workspace
        rules = await ctx_of(request).db.aread(lambda c: rq.inhibit_rules_of(c, ws.id))
        rule = next((r for r in rules if r.id == inhibit_id), None)
        if rule is None:
            raise NotFound("no such inhibit rule", field="inhibit_id")
        return render(request, "routing/inhibit_edit.html", {
            "rule": rule, "values": values or inhibit_values(rule), "errors": errors or {},
            "active_nav": "silences"}, status=status)

    @get("/inhibition", opt=page(Permission.READ))
    async def inhibition(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._inhibition(request)

    @post("/inhibition", opt=page(Permission.CONFIGURE))
    async def create_inhibit_rule(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await read_form_data(request)
        values = {k: form.get(k) for k in INHIBIT_FIELDS}
        return await self._submit(request, INHIBIT_RULES, None, lambda: new_inhibit_doc(values),
                                  lambda errors: self._inhibition(request, values, errors=errors, status=400))

    @get("/inhibition/{inhibit_id:int}", opt=page(Permission.CONFIGURE))
    async def edit_inhibit_rule(
        self, request: Request[Any, Any, Any], inhibit_id: FromPath[int]
    ) -> Response[Any]:
        return await self._inhibit_editor(request, inhibit_id)

    @post("/inhibition/{inhibit_id:int}", opt=page(Permission.CONFIGURE))
    async def update_inhibit_rule(
        self, request: Request[Any, Any, Any], inhibit_id: FromPath[int]
    ) -> Response[Any]:
        form = await read_form_data(request)
        values = {k: form.get(k) for k in INHIBIT_FIELDS}
        return await self._submit(
            request, INHIBIT_RULES, inhibit_id, lambda: new_inhibit_doc(values),
            lambda errors: self._inhibit_editor(request, inhibit_id, values, errors=errors, status=400))

    @post("/inhibition/{inhibit_id:int}/delete", opt=page(Permission.CONFIGURE))
    async def delete_inhibit_rule(
        self, request: Request[Any, Any, Any], inhibit_id: FromPath[int]
    ) -> Response[Any]:
        return await self._delete(request, INHIBIT_RULES, inhibit_id)


HANDLERS: list[ControllerRouterHandler] = [SuppressionPages]
