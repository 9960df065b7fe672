"""Routing pages (HTML): the ordered rule list (drag, or move up/down without JavaScript), the
rule editor, the default route, and "test against recent alerts".

Rules are saved the way the API saves them: the whole ordered list goes through
:func:`signalcraft.routing.service.save_rules`, which validates, stores and audits; the test
runs :func:`signalcraft.routing.apply.test_rules`, as ``POST /api/v1/.../routing/test`` does.
Forms become rule documents in :mod:`signalcraft.web.routing_forms`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import available_timezones

import apsw
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from signalcraft.auth.rbac import Permission
from signalcraft.db.queries import channels as cq
from signalcraft.db.queries import escalation as eq
from signalcraft.db.queries import integrations as iq
from signalcraft.db.queries import routing as rq
from signalcraft.errors import InvalidInput, NotFound
from signalcraft.routing import apply, service
from signalcraft.routing.rules import SEVERITIES
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.context import ctx_of
from signalcraft.web.responses import render
from signalcraft.web.routing_forms import (
    WEEKDAYS,
    Names,
    RuleView,
    actions_doc,
    actions_form,
    actions_values,
    blank_rule,
    check_policy,
    describe_actions,
    errors_of,
    form_field,
    parse_order,
    read_form_data,
    reordered,
    rule_doc,
    rule_form,
    rule_values,
    rule_views,
    saved_docs,
)

DEFAULT_TEST_N = 50
TIMEZONES = sorted(available_timezones() - {"localtime"})


def page(permission: Permission) -> dict[str, Any]:
    return {"permission": permission, "scope": "workspace", "html": True}


def names_of(conn: apsw.Connection, workspace_id: int) -> Names:
    return Names({i.id: i.name for i in iq.list_for(conn, workspace_id)},
                 {c.id: c.name for c in cq.list_for(conn, workspace_id)},
                 {p.id: p.name for p in eq.policies_of(conn, workspace_id)})


def policy_ids(conn: apsw.Connection, workspace_id: int) -> set[int]:
    return {p.id for p in eq.policies_of(conn, workspace_id)}


@dataclass
class RuleTestRow:
    alert_id: int
    group_id: int
    title: str
    severity: str
    matched: list[str]
    default_route: bool
    channels: list[str]
    policies: list[int]
    severity_after: str
    dropped: bool
    suppressed: str  # how the alert was suppressed when it arrived ("" = it was not)


@dataclass
class RuleTestReport:
    n: int
    rows: list[RuleTestRow] = field(default_factory=list)
    error: str = ""


def run_test(conn: apsw.Connection, workspace_id: int, docs: list[dict[str, Any]], n: int) -> RuleTestReport:
    """``apply.test_rules`` (the API's "test") on the last ``n`` alerts, with names for people."""
    results = apply.test_rules(conn, workspace_id, docs, n)
    names = names_of(conn, workspace_id)
    suppressed: dict[int, str] = {}
    for group_id in {r["group_id"] for r in results}:
        for d in rq.decisions_of_group(conn, workspace_id, group_id):
            if d.alert_id is not None and d.suppressed_reason:
                suppressed.setdefault(d.alert_id, d.suppressed_reason)
    rows = [
        RuleTestRow(
            r["alert_id"], r["group_id"], r["title"], r["severity"], [m["name"] for m in r["matched"]],
            r["default_route"], [names.channels.get(c, f"#{c}") for c in r["notify"]],
            r["escalation_policies"], r["severity_after"], r["dropped"], suppressed.get(r["alert_id"], ""),
        )
        for r in results
    ]
    return RuleTestReport(n, rows)


def test_n(raw: str) -> int:
    try:
        n = int(raw or DEFAULT_TEST_N)
    except ValueError:
        raise InvalidInput("enter a whole number", field="n") from None
    if not 1 <= n <= apply.MAX_TEST_ALERTS:
        raise InvalidInput(f"between 1 and {apply.MAX_TEST_ALERTS}", field="n")
    return n


def test_error(exc: InvalidInput | ValueError) -> str:
    if not isinstance(exc, InvalidInput):
        return "the rule id must be a number"
    name = form_field(exc.field)
    return f"{name.replace('_', ' ')}: {exc.message}" if name else exc.message


# --- pages ----------------------------------------------------------------------------------


def _base(request: Request[Any, Any, Any]) -> str:
    return f"/w/{workspace_of(request).workspace.slug}"


class RoutingPages(Controller):
    path = "/w/{slug:str}"
    include_in_schema = False

    async def _list(self, request: Request[Any, Any, Any], *, errors: dict[str, str] | None = None,
                    report: RuleTestReport | None = None, status: int = 200) -> Response[Any]:
        ws = workspace_of(request).workspace

        def load(conn: apsw.Connection) -> tuple[list[RuleView], list[str]]:
            names = names_of(conn, ws.id)
            return (rule_views(rq.rules_of(conn, ws.id), names),
                    describe_actions(rq.default_route(conn, ws.id), names))

        rules, default = await ctx_of(request).db.aread(load)
        return render(request, "routing/rules.html", {
            "rules": rules, "default_actions": default, "errors": errors or {},
            "report": report, "n": report.n if report else DEFAULT_TEST_N, "max_n": apply.MAX_TEST_ALERTS,
            "active_nav": "routing"}, status=status)

    async def _editor(self, request: Request[Any, Any, Any], rule_id: int | None, values: dict[str, Any], *,
                      errors: dict[str, str] | None = None, status: int = 200) -> Response[Any]:
        ws = workspace_of(request).workspace

        def load(conn: apsw.Connection) -> tuple[list[iq.Integration], list[cq.Channel], list[eq.PolicyRow]]:
            return iq.list_for(conn, ws.id), cq.list_for(conn, ws.id), eq.policies_of(conn, ws.id)

        integrations, channels, policies = await ctx_of(request).db.aread(load)
        return render(request, "routing/rule_form.html", {
            "rule_id": rule_id, "values": values, "errors": errors or {}, "integrations": integrations,
            "channels": channels, "policies": policies, "severities": SEVERITIES, "weekdays": WEEKDAYS,
            "timezones": TIMEZONES, "n": DEFAULT_TEST_N, "max_n": apply.MAX_TEST_ALERTS,
            "active_nav": "routing"}, status=status)

    async def _save(
        self, request: Request[Any, Any, Any], change: Callable[[list[rq.RuleRow]], list[dict[str, Any]]]
    ) -> None:
        """Apply ``change(saved rows) -> new docs`` and save the whole list in one transaction."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()
        await ctx.db.awrite(lambda c: service.save_rules(c, ws.id, change(rq.rules_of(c, ws.id)), actor, now))

    @get("/routing", opt=page(Permission.READ))
    async def rules_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._list(request)

    @get("/routing/rules/new", opt=page(Permission.CONFIGURE))
    async def new_rule(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._editor(request, None, blank_rule())

    @get("/routing/rules/{rule_id:int}", opt=page(Permission.CONFIGURE))
    async def edit_rule(self, request: Request[Any, Any, Any], rule_id: FromPath[int]) -> Response[Any]:
        ws = workspace_of(request).workspace
        rows = await ctx_of(request).db.aread(lambda c: rq.rules_of(c, ws.id))
        row = next((r for r in rows if r.id == rule_id), None)
        if row is None:
            raise NotFound("no such rule", field="rule_id")
        return await self._editor(request, rule_id, rule_values(row))

    @post("/routing/rules", opt=page(Permission.CONFIGURE))
    async def create_rule(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._submit_rule(request, None)

    @post("/routing/rules/{rule_id:int}", opt=page(Permission.CONFIGURE))
    async def update_rule(self, request: Request[Any, Any, Any], rule_id: FromPath[int]) -> Response[Any]:
        return await self._submit_rule(request, rule_id)

    async def _submit_rule(self, request: Request[Any, Any, Any], rule_id: int | None) -> Response[Any]:
        ws = workspace_of(request).workspace
        values = rule_form(await read_form_data(request))
        position: list[int] = []

        def change(doc: dict[str, Any], rows: list[rq.RuleRow]) -> list[dict[str, Any]]:
            docs = saved_docs(rows)
            if rule_id is None:
                position.append(len(docs))
                return [*docs, doc]
            index = next((i for i, d in enumerate(docs) if d["id"] == rule_id), None)
            if index is None:
                raise NotFound("no such rule (deleted meanwhile?)", field="rule_id")
            position.append(index)
            docs[index] = {**doc, "id": rule_id}
            return docs

        try:
            doc = rule_doc(values)
            check_policy(doc, await ctx_of(request).db.aread(lambda c: policy_ids(c, ws.id)))
            await self._save(request, lambda rows: change(doc, rows))
        except InvalidInput as exc:
            index = position[0] if position else None
            return await self._editor(request, rule_id, values, errors=errors_of(exc, index), status=400)
        return Redirect(f"{_base(request)}/routing", status_code=303)

    @post("/routing/rules/{rule_id:int}/delete", opt=page(Permission.CONFIGURE))
    async def delete_rule(self, request: Request[Any, Any, Any], rule_id: FromPath[int]) -> Response[Any]:
        def change(rows: list[rq.RuleRow]) -> list[dict[str, Any]]:
            if all(r.id != rule_id for r in rows):
                raise NotFound("no such rule", field="rule_id")
            return [d for d in saved_docs(rows) if d["id"] != rule_id]

        await self._save(request, change)
        return Redirect(f"{_base(request)}/routing", status_code=303)

    @post("/routing/rules/{rule_id:int}/toggle", opt=page(Permission.CONFIGURE))
    async def toggle_rule(self, request: Request[Any, Any, Any], rule_id: FromPath[int]) -> Response[Any]:
        def change(rows: list[rq.RuleRow]) -> list[dict[str, Any]]:
            if all(r.id != rule_id for r in rows):
                raise NotFound("no such rule", field="rule_id")
            return [{**d, "enabled": not d["enabled"]} if d["id"] == rule_id else d for d in saved_docs(rows)]

        await self._save(request, change)
        return Redirect(f"{_base(request)}/routing", status_code=303)

    @post("/routing/rules/{rule_id:int}/move", opt=page(Permission.CONFIGURE))
    async def move_rule(self, request: Request[Any, Any, Any], rule_id: FromPath[int]) -> Response[Any]:
        step = {"up": -1, "down": 1}.get((await read_form_data(request)).get("direction"))
        if step is None:
            raise InvalidInput("must be up or down", field="direction")

        def change(rows: list[rq.RuleRow]) -> list[dict[str, Any]]:
            order = [r.id for r in rows]
            if rule_id not in order:
                raise NotFound("no such rule", field="rule_id")
            i = order.index(rule_id)
            j = min(max(i + step, 0), len(order) - 1)
            order[i], order[j] = order[j], order[i]
            return reordered(rows, order)

        await self._save(request, change)
        return Redirect(f"{_base(request)}/routing", status_code=303)

    @post("/routing/order", opt=page(Permission.CONFIGURE))
    async def reorder(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """The whole order at once (what dragging a row sends)."""
        try:
            order = parse_order((await read_form_data(request)).get("order"))
            await self._save(request, lambda rows: reordered(rows, order))
        except InvalidInput as exc:
            return await self._list(request, errors=errors_of(exc), status=400)
        return Redirect(f"{_base(request)}/routing", status_code=303)

    @post("/routing/test", opt=page(Permission.READ), status_code=200)
    async def test(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """The saved rules, or the editor's unsaved draft in its place, against the last N alerts.
        Stores nothing. Answers the results table to htmx, the whole list page otherwise."""
        ws = workspace_of(request).workspace
        form = await read_form_data(request)
        report = RuleTestReport(DEFAULT_TEST_N)
        try:
            report.n = test_n(form.get("n", 10))
            draft = rule_doc(rule_form(form)) if form.flag("draft") else None
            draft_id = int(form.get("rule_id", 20) or 0)

            def run(conn: apsw.Connection) -> RuleTestReport:
                docs = saved_docs(rq.rules_of(conn, ws.id))
                if draft is not None:
                    index = next((i for i, d in enumerate(docs) if d["id"] == draft_id), len(docs))
                    docs[index:index + 1] = [{**draft, "id": draft_id} if draft_id else draft]
                return run_test(conn, ws.id, docs, report.n)

            report = await ctx_of(request).db.aread(run)
        except (InvalidInput, ValueError) as exc:
            report.error = test_error(exc)
            on_n = isinstance(exc, InvalidInput) and exc.field == "n"
            errors = {"n": report.error.removeprefix("n: ")} if on_n else {"": report.error}
        status = 400 if report.error else 200
        if request.headers.get("hx-request"):
            return render(request, "routing/_test_results.html", {"report": report}, status=status)
        if form.flag("draft"):
            return render(request, "routing/test_page.html", {"report": report, "active_nav": "routing"},
                          status=status)
        if report.error:
            return await self._list(request, errors=errors, status=status)
        return await self._list(request, report=report)

    # --- default route ---------------------------------------------------------------------

    async def _default(self, request: Request[Any, Any, Any], values: dict[str, Any] | None = None, *,
                       errors: dict[str, str] | None = None, status: int = 200) -> Response[Any]:
        ws = workspace_of(request).workspace
        current, channels, policies = await ctx_of(request).db.aread(
            lambda c: (rq.default_route(c, ws.id), cq.list_for(c, ws.id), eq.policies_of(c, ws.id)))
        return render(request, "routing/default.html", {
            "values": values or actions_values(current), "errors": errors or {}, "channels": channels,
            "policies": policies,
            "severities": SEVERITIES, "active_nav": "routing"}, status=status)

    @get("/routing/default", opt=page(Permission.CONFIGURE))
    async def default_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._default(request)

    @post("/routing/default", opt=page(Permission.CONFIGURE))
    async def save_default(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        values = actions_form(await read_form_data(request))
        values["continue"] = False  # nothing comes after the default route
        now = ctx.now()
        try:
            doc = actions_doc(values)
            check_policy(doc, await ctx.db.aread(lambda c: policy_ids(c, ws.id)))
            await ctx.db.awrite(lambda c: service.save_default(c, ws.id, doc, actor, now))
        except InvalidInput as exc:
            return await self._default(request, values, errors=errors_of(exc), status=400)
        return Redirect(f"{_base(request)}/routing", status_code=303)


HANDLERS: list[ControllerRouterHandler] = [RoutingPages]
