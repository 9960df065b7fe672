"""HTML pages: escalation policies (list, create, edit, delete) and "My notifications" (your
contact methods with "send test", and your rules per urgency). Saving uses the same checks as
the JSON API (:mod:`signalcraft.web.api_escalation`); errors are shown next to the field."""

from __future__ import annotations

from typing import Any

import apsw
import orjson
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.params import FromPath
from litestar.response import Redirect

from signalcraft.auth.rbac import Permission
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import channels as cq
from signalcraft.db.queries import escalation as eq
from signalcraft.db.queries import schedules as sq
from signalcraft.errors import InvalidInput, SignalCraftError
from signalcraft.oncall import escalation as esc
from signalcraft.web import api_escalation as svc
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.context import ctx_of
from signalcraft.web.forms import bare_message
from signalcraft.web.responses import render

BLANK_STEPS = 1  # empty step rows offered below the policy's steps
RULE_ROWS = 3  # rule rows per urgency


def _page(permission: Permission) -> dict[str, Any]:
    return {"permission": permission, "scope": "workspace", "html": True}


def target_options(conn: apsw.Connection, workspace_id: int, policy_id: int | None) -> list[tuple[str, str]]:
    """(value "kind:id", label) for every possible target."""
    options = [
        (f"user:{u.id}", f"Person: {u.name or u.email}")
        for u, role in q.list_users(conn, workspace_id)
        if role
    ]
    for s in sq.schedules_of(conn, workspace_id):
        options += [
            (f"schedule:{s.id}", f"On call now: {s.name}"),
            (f"schedule_next:{s.id}", f"Next on call: {s.name}"),
        ]
    options += [(f"channel:{c.id}", f"Channel: {c.name}") for c in cq.list_for(conn, workspace_id)]
    options += [
        (f"policy:{p.id}", f"Hand over to: {p.name}")
        for p in eq.policies_of(conn, workspace_id)
        if p.id != policy_id
    ]
    return options


def doc_from_form(form: FormMultiDict, order: list[int] | None = None) -> dict[str, Any]:
    """The API's policy document from the form: rows with no target and no wait are left out.
    With ``order`` (form row numbers, see :func:`steps_in_order`) the steps are put in that order."""
    rows: list[tuple[int, dict[str, Any]]] = []
    for i in step_rows(form):
        chosen = [v for v in form.getall(f"step{i}_targets", []) if isinstance(v, str)]
        wait = str(form.get(f"step{i}_wait") or "").strip()
        targets = []
        for value in chosen:
            kind, _, raw = value.partition(":")
            targets.append({"kind": kind, "id": int(raw) if raw.isdigit() else -1})
        if not wait.lstrip("-").isdigit():
            raise InvalidInput(
                f"steps[{len(rows)}].wait_minutes: whole minutes", field=f"steps[{len(rows)}].wait_minutes"
            )
        rows.append((i, {"targets": targets, "wait_minutes": int(wait)}))
    repeat = str(form.get("repeat") or "0").strip()
    if not repeat.isdigit():
        raise InvalidInput("repeat: a whole number", field="repeat")
    steps = steps_in_order(rows, order) if order is not None else [step for _, step in rows]
    return {"name": str(form.get("name") or ""), "steps": steps, "repeat": int(repeat)}


def step_rows(form: FormMultiDict) -> list[int]:
    """The numbers of the form's step rows that hold something (a target or a wait)."""
    return [
        i
        for i in range(esc.MAX_STEPS + BLANK_STEPS)
        if form.getall(f"step{i}_targets", []) or str(form.get(f"step{i}_wait") or "").strip()
    ]


def steps_in_order(rows: list[tuple[int, dict[str, Any]]], order: list[int]) -> list[dict[str, Any]]:
    """The steps of ``rows`` (form row number, step) in ``order``: form row numbers, each at most
    once, naming every row that holds a step (rows left empty may be named too; they are dropped)."""
    by_row = dict(rows)
    if len(set(order)) != len(order) or not set(by_row) <= set(order):
        raise InvalidInput("steps: the new order must name each step once; reload the page", field="steps")
    return [by_row[i] for i in order if i in by_row]


def parse_order(raw: object) -> list[int]:
    parts = [p.strip() for p in str(raw or "").split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        raise InvalidInput("steps: the new order must be step numbers separated by commas", field="steps")
    return [int(p) for p in parts]


def moves(count: int) -> list[tuple[str, str]]:
    """For each of ``count`` saved steps, the order its "move up" and "move down" buttons send
    ("" where it cannot move): the form's rows, that step swapped with its neighbour."""
    rows = list(range(count + BLANK_STEPS))

    def swapped(i: int, j: int) -> str:
        if not 0 <= j < count:
            return ""
        found = rows.copy()
        found[i], found[j] = found[j], found[i]
        return ",".join(map(str, found))

    return [(swapped(i, i - 1), swapped(i, i + 1)) for i in range(count)]


class EscalationPages(Controller):
    path = "/w/{slug:str}"
    include_in_schema = False

    @get("/escalation", opt=_page(Permission.READ))
    async def policies(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ws = workspace_of(request).workspace

        def load(conn: apsw.Connection) -> list[tuple[eq.PolicyRow, str]]:
            labels = dict(target_options(conn, ws.id, None))
            return [(p, _summary(p, labels)) for p in eq.policies_of(conn, ws.id)]

        found = await ctx_of(request).db.aread(load)
        return render(request, "escalation/policies.html", {"policies": found, "active_nav": "escalation"})

    async def _form(
        self, request: Request[Any, Any, Any], policy_id: int | None, doc: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None, status: int = 200,
    ) -> Response[Any]:  # fmt: skip
        ws = workspace_of(request).workspace

        def load(conn: apsw.Connection) -> tuple[dict[str, Any], list[tuple[str, str]]]:
            found = svc.existing(conn, ws.id, policy_id) if policy_id is not None else None
            current = doc or (
                {"name": found.name, **found.doc} if found else {"name": "", "steps": [], "repeat": 0}
            )
            return current, target_options(conn, ws.id, policy_id)

        current, options = await ctx_of(request).db.aread(load)
        saved = list(current.get("steps", []))
        steps = saved + [{"targets": [], "wait_minutes": ""}] * BLANK_STEPS
        chosen = [{f"{t['kind']}:{t['id']}" for t in s["targets"]} for s in steps]
        moved, way = request.query_params.get("moved", ""), request.query_params.get("way", "")
        context = {"policy_id": policy_id, "doc": current, "steps": steps, "chosen": chosen,
                   "options": options, "errors": errors or {}, "active_nav": "escalation",
                   "moves": moves(len(saved)) if policy_id is not None and not errors else [],
                   "moved": int(moved) - 1 if moved.isdigit() else None,
                   "moved_way": way if way in ("up", "down") else "up"}  # fmt: skip
        return render(request, "escalation/policy_form.html", context, status=status)

    @get("/escalation/new", opt=_page(Permission.CONFIGURE))
    async def new_policy(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._form(request, None)

    @get("/escalation/{policy_id:int}", opt=_page(Permission.READ))
    async def edit_policy(self, request: Request[Any, Any, Any], policy_id: FromPath[int]) -> Response[Any]:
        return await self._form(request, policy_id)

    @post("/escalation", opt=_page(Permission.CONFIGURE))
    async def create_policy(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._save(request, None)

    @post("/escalation/{policy_id:int}", opt=_page(Permission.CONFIGURE))
    async def update_policy(self, request: Request[Any, Any, Any], policy_id: FromPath[int]) -> Response[Any]:
        return await self._save(request, policy_id)

    @post("/escalation/{policy_id:int}/order", opt=_page(Permission.CONFIGURE))
    async def reorder_steps(self, request: Request[Any, Any, Any], policy_id: FromPath[int]) -> Response[Any]:
        """Save the policy as the form shows it, its steps in the posted ``order`` (what dragging a
        step or its move up/down button sends); back to the form, the moved step in focus."""
        return await self._save(request, policy_id, reorder=True)

    async def _save(
        self, request: Request[Any, Any, Any], policy_id: int | None, reorder: bool = False
    ) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        form = await request.form()
        doc: dict[str, Any] | None = None
        try:
            order = parse_order(form.get("order")) if reorder else None
            doc = doc_from_form(form, order)
            saved = doc
            await ctx.db.awrite(lambda c: svc.save_policy(c, ws.id, policy_id, saved, actor, ctx.now()))
        except SignalCraftError as exc:
            return await self._form(request, policy_id, doc, {exc.field or "": bare_message(exc)}, exc.status)
        if order is not None:
            moved = _moved_to(order, step_rows(form), request.query_params.get("moved", ""))
            way = "down" if request.query_params.get("way") == "down" else "up"
            # No #fragment: a page opened at one does not run autofocus, and the focus must follow the step.
            return Redirect(f"/w/{ws.slug}/escalation/{policy_id}?moved={moved + 1}&way={way}", status_code=303)
        return Redirect(f"/w/{ws.slug}/escalation", status_code=303)

    @post("/escalation/{policy_id:int}/delete", opt=_page(Permission.CONFIGURE))
    async def delete_policy(self, request: Request[Any, Any, Any], policy_id: FromPath[int]) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        try:
            await ctx.db.awrite(lambda c: svc.remove_policy(c, ws.id, policy_id, actor, ctx.now()))
        except SignalCraftError as exc:
            return await self._form(request, policy_id, None, {"delete": exc.message}, exc.status)
        return Redirect(f"/w/{ws.slug}/escalation", status_code=303)

    # --- my notifications ------------------------------------------------------------------

    async def _mine(
        self, request: Request[Any, Any, Any], errors: dict[str, str] | None = None,
        flash: str = "", status: int = 200,
    ) -> Response[Any]:  # fmt: skip
        ws, user_id = workspace_of(request).workspace, svc.me(request)

        def load(conn: apsw.Connection) -> tuple[list[cq.Channel], list[eq.RuleRow]]:
            return cq.list_for(conn, ws.id, user_id), eq.rules_of(conn, ws.id, user_id)

        methods, rules = await ctx_of(request).db.aread(load)
        rows = {u: [r for r in rules if r.urgency == u] for u in svc.URGENCIES}
        context = {"methods": methods, "rules": rows, "rule_rows": RULE_ROWS, "errors": errors or {},
                   "flash": flash, "active_nav": "my_notifications"}  # fmt: skip
        return render(request, "escalation/my_notifications.html", context, status=status)

    @get("/me/notifications", opt=_page(Permission.RESPOND))
    async def my_notifications(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._mine(request)

    @post("/me/contact-methods", opt=_page(Permission.RESPOND))
    async def add_method(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ctx, ws, user_id, actor = (
            ctx_of(request),
            workspace_of(request).workspace,
            svc.me(request),
            identity_of(request).actor,
        )
        form = await request.form()
        try:
            kind, name = str(form.get("kind") or ""), svc.check_name(str(form.get("name") or ""))
            config = _config(kind, str(form.get("target") or "").strip())
            public, secret = await svc.method_config(ctx, ws.id, user_id, kind, config)
            await ctx.db.awrite(
                lambda c: svc.add_contact_method(
                    c, ws.id, user_id, kind, name, public, secret, actor, ctx.now()
                )
            )
        except SignalCraftError as exc:
            field = "target" if (exc.field or "").startswith("config") else exc.field or ""
            return await self._mine(request, {field: exc.message}, status=exc.status)
        return Redirect(f"/w/{ws.slug}/me/notifications", status_code=303)

    @post("/me/contact-methods/{method_id:int}/delete", opt=_page(Permission.RESPOND))
    async def remove_method(self, request: Request[Any, Any, Any], method_id: FromPath[int]) -> Response[Any]:
        ctx, ws, user_id, actor = (
            ctx_of(request),
            workspace_of(request).workspace,
            svc.me(request),
            identity_of(request).actor,
        )
        await ctx.db.awrite(
            lambda c: svc.remove_contact_method(c, ws.id, user_id, method_id, actor, ctx.now())
        )
        return Redirect(f"/w/{ws.slug}/me/notifications", status_code=303)

    @post("/me/contact-methods/{method_id:int}/test", opt=_page(Permission.RESPOND))
    async def test_method(self, request: Request[Any, Any, Any], method_id: FromPath[int]) -> Response[Any]:
        ctx, ws, user_id = ctx_of(request), workspace_of(request).workspace, svc.me(request)
        outcome = await svc.send_test(ctx, ws, user_id, method_id)
        if outcome.ok:
            return await self._mine(request, flash="Test sent.")
        return await self._mine(request, {f"method{method_id}": outcome.error or "not delivered"}, status=502)

    @post("/me/notification-rules", opt=_page(Permission.RESPOND))
    async def save_rules(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ctx, ws, user_id, actor = (
            ctx_of(request),
            workspace_of(request).workspace,
            svc.me(request),
            identity_of(request).actor,
        )
        form = await request.form()
        rules: list[tuple[str, int, int]] = []
        try:
            for urgency in svc.URGENCIES:
                for i in range(RULE_ROWS):
                    method, delay = (
                        str(form.get(f"{urgency}{i}_method") or ""),
                        str(form.get(f"{urgency}{i}_delay") or "0").strip(),
                    )
                    if not method:
                        continue
                    if not delay.isdigit() or not method.isdigit():
                        raise InvalidInput("whole minutes", field=f"{urgency}{i}_delay")
                    rules.append((urgency, int(method), int(delay)))
            await ctx.db.awrite(lambda c: svc.save_rules(c, ws.id, user_id, rules, actor, ctx.now()))
        except SignalCraftError as exc:
            return await self._mine(request, {exc.field or "": exc.message}, status=exc.status)
        return await self._mine(request, flash="Rules saved.")


def _moved_to(order: list[int], rows: list[int], moved_row: str) -> int:
    """Where the step from form row ``moved_row`` now is among the steps (0 when unknown)."""
    kept = [i for i in order if i in rows]
    return kept.index(int(moved_row)) if moved_row.isdigit() and int(moved_row) in kept else 0


def _config(kind: str, target: str) -> dict[str, Any]:
    """The one-field form's value as a method configuration: an address, a topic or a URL."""
    if kind == "email":
        return {"to": target} if target else {}
    if kind == "ntfy":
        return {"topic": target}
    if target.startswith("{"):
        try:
            found = orjson.loads(target)
        except orjson.JSONDecodeError:
            raise InvalidInput("not valid JSON", field="target") from None
        return found if isinstance(found, dict) else {}
    return {"url": target}


def _summary(policy: eq.PolicyRow, labels: dict[str, str]) -> str:
    steps = policy.doc.get("steps", [])
    parts = [
        ", ".join(labels.get(f"{t['kind']}:{t['id']}", f"{t['kind']} {t['id']}") for t in s["targets"])
        + (f", wait {s['wait_minutes']} min" if s.get("wait_minutes") else "")
        for s in steps
    ]
    return " → ".join(parts)


HANDLERS = [EscalationPages]
