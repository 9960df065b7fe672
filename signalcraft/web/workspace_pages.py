"""The workspace settings page (HTML): its name, and deleting it (owner only, by typing its name).

The workspace has no other settings the product uses, so the page offers no others.
"""

from __future__ import annotations

from typing import Any

import apsw
from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from signalcraft.auth.rbac import Permission
from signalcraft.db.queries import audit
from signalcraft.db.queries import workspace_settings as wq
from signalcraft.errors import InvalidInput, SignalCraftError
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.context import ctx_of
from signalcraft.web.forms import read_form, text
from signalcraft.web.responses import render


def _page(permission: Permission) -> dict[str, Any]:
    return {"permission": permission, "scope": "workspace", "html": True}


def checked_name(form: dict[str, str]) -> str:
    name = text(form, "name", max_len=100, required=True)
    if not name.isprintable():
        raise InvalidInput("letters, digits, spaces and punctuation only", field="name")
    return name


class WorkspaceSettingsPages(Controller):
    path = "/w/{slug:str}/settings/workspace"
    include_in_schema = False

    async def _render(self, request: Request[Any, Any, Any], *, errors: dict[str, str] | None = None,
                    values: dict[str, str] | None = None, saved: bool = False,
                    status: int = 200) -> Response[Any]:
        return render(request, "settings/workspace.html", {
            "errors": errors or {}, "values": values or {},
            "saved": saved or bool(request.query_params.get("saved")),
            "active_nav": "settings"}, status=status)

    @get("/", opt=_page(Permission.READ))
    async def settings_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._render(request)

    @post("/", opt=_page(Permission.OWN))
    async def rename(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        form = await read_form(request)
        try:
            name = checked_name(form)

            def apply(conn: apsw.Connection) -> None:
                wq.rename_workspace(conn, ws.id, name)
                audit.record(conn, actor, "workspace.rename", ctx.now(), workspace_id=ws.id, target=ws.slug,
                             detail=audit.changes({"name": ws.name}, {"name": name}))

            await ctx.db.awrite(apply)
        except SignalCraftError as exc:
            return await self._render(request, errors={exc.field or "": exc.message},
                                    values={"name": form.get("name", "")[:200]}, status=exc.status)
        return Redirect(f"/w/{ws.slug}/settings/workspace?saved=1", status_code=303)

    @post("/delete", opt=_page(Permission.OWN))
    async def delete(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Delete the workspace and everything in it; the owner types its name to confirm."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        form = await read_form(request)
        if form.get("confirm_name", "").strip() != ws.name:
            return await self._render(
                request, errors={"confirm_name": f"type the workspace's name, {ws.name}, to confirm"},
                status=400)

        def apply(conn: apsw.Connection) -> None:
            wq.delete_workspace(conn, ws.id)
            # Recorded outside the workspace: its own audit entries go with it.
            audit.record(conn, actor, "workspace.delete", ctx.now(), target=ws.slug,
                         detail=audit.changes({"slug": ws.slug, "name": ws.name}, {}))

        await ctx.db.awrite(apply)
        return Redirect("/", status_code=303)


HANDLERS: list[ControllerRouterHandler] = [WorkspaceSettingsPages]
