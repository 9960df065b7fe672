"""Integration pages (HTML): list, create, details, edit, rotate, revoke, recent payloads.

The credential is shown once, on the page that answers the create or rotate POST, with the
snippets of :mod:`signalcraft.snippets`; afterwards only its first characters are shown.
Service rules (names, settings, mappings) are :mod:`signalcraft.integrations`'; this module
reads forms into its arguments and maps its errors onto the form's fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import apsw
import orjson
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from signalcraft import integrations as svc
from signalcraft import snippets
from signalcraft.auth.rbac import Permission
from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries import integrations as iq
from signalcraft.errors import InvalidInput, NotFound, SignalCraftError
from signalcraft.ingest import generic
from signalcraft.ingest.jsonload import load_json
from signalcraft.ingest.model import PayloadError
from signalcraft.ingest.registry import SOURCES
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.context import ctx_of
from signalcraft.web.forms import read_form, text
from signalcraft.web.ingest.common import gate_of
from signalcraft.web.responses import render

LOG_LIMIT = 25  # "last payloads received" rows; their raw payloads are viewable here
SHOWN_BYTES = 256 * 1024  # a raw payload page shows at most this much
MAPPING_PATHS = ("title", "severity", "dedup_key", "status", "description", "labels", "alerts")
MAPPING_LISTS = ("resolved_values", "acknowledged_values")
_SPLIT = re.compile(r"[\s,]+")


def _page(permission: Permission) -> dict[str, Any]:
    return {"permission": permission, "scope": "workspace", "html": True}


# --- forms -> service arguments -------------------------------------------------------------

def form_field(service_field: str | None) -> str:
    """The form field a service error names: ``settings.mapping.title`` -> ``mapping.title``."""
    name = (service_field or "").removeprefix("settings").lstrip(".")
    if service_field in ("name", "type"):
        return service_field
    return "mapping.title" if name == "mapping" else name


def _words(value: str) -> list[str]:
    return [w for w in _SPLIT.split(value.strip()) if w]


def mapping_from_form(form: dict[str, str]) -> dict[str, Any]:
    """A generic webhook's mapping from ``mapping.<field>`` inputs; InvalidInput names the input."""
    raw: dict[str, Any] = {}
    for name in MAPPING_PATHS:
        value = text(form, f"mapping.{name}", max_len=300)
        if not value:
            continue
        try:
            generic.parse_path(value)
        except ValueError as exc:
            raise InvalidInput(str(exc), field=f"mapping.{name}") from None
        raw[name] = value
    if "title" not in raw:
        raise InvalidInput("is required: the path of the alert's title in the payload", field="mapping.title")
    for name in MAPPING_LISTS:
        if values := _words(form.get(f"mapping.{name}", "")[:1000]):
            raw[name] = values
    try:
        svc.mapping_from_settings(raw)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field=form_field(exc.field)) from None
    return raw


def settings_from_form(type_: str, form: dict[str, str], current: dict[str, Any] | None = None
                       ) -> dict[str, Any]:
    """The settings a form describes for ``type_``; a blank client secret keeps the current one."""
    current = current or {}
    settings: dict[str, Any] = {}
    if group_by := _words(form.get("group_by", "")[:2000]):
        settings["group_by"] = group_by
    if current.get("fingerprint_fields"):  # set through the API; the form does not show it
        settings["fingerprint_fields"] = current["fingerprint_fields"]
    if type_ == "webhook":
        settings["mapping"] = mapping_from_form(form)
    if type_ == "sentry":
        secret = text(form, "client_secret", max_len=500)
        if secret or current.get("client_secret"):
            settings["client_secret"] = secret or current["client_secret"]
    try:
        return svc.check_settings(type_, settings)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field=form_field(exc.field)) from None


def form_echo(form: dict[str, str]) -> dict[str, str]:
    """What a refused form shows again: everything but the CSRF token and the secret."""
    return {k: v[:100_000] if k == "sample" else v[:2000] for k, v in form.items()
            if k not in ("_csrf", "client_secret")}


def form_values(settings: dict[str, Any]) -> dict[str, str]:
    """Saved settings as form inputs (the client secret is never sent back to the browser)."""
    values = {"group_by": ", ".join(settings.get("group_by", []))}
    for name, value in settings.get("mapping", {}).items():
        values[f"mapping.{name}"] = ", ".join(value) if isinstance(value, list) else str(value or "")
    return values


# --- views ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TypeChoice:
    key: str
    name: str


TYPES = [TypeChoice(key, spec.display_name) for key, spec in SOURCES.items() if key in svc.USER_TYPES]


@dataclass(frozen=True, slots=True)
class Preview:
    alerts: list[dict[str, Any]]
    error: str = ""
    field: str = ""  # a form field ("mapping.title", "sample") or a path in the sample

    @property
    def in_mapping(self) -> bool:
        return self.field.startswith("mapping.")


def preview(form: dict[str, str]) -> Preview:
    """The generic webhook mapping of the form applied to its ``sample``; nothing is stored."""
    try:
        mapping = svc.mapping_from_settings(mapping_from_form(form))
    except InvalidInput as exc:
        return Preview([], exc.message, exc.field or "")
    sample = form.get("sample", "").strip()
    if not sample:
        return Preview([], "paste a sample payload to preview", "sample")
    try:
        return Preview(generic.preview(load_json(sample.encode()[:1_048_576]), mapping))
    except PayloadError as exc:
        return Preview([], exc.message, exc.field or "")


def pretty_payload(body: bytes, token_hint: str) -> tuple[str, bool]:
    """(text, truncated): JSON indented, a Sentry envelope one indented document per line.

    Anything that looks like this integration's credential (32 hex characters starting with
    its hint, as in a Sentry envelope's DSN or ``public_key``) is cut out: viewers may read
    payloads but not the credential.
    """
    truncated = len(body) > SHOWN_BYTES
    body = body[:SHOWN_BYTES]
    try:
        shown = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONDecodeError:
        lines = body.decode("utf-8", errors="replace").split("\n")
        try:
            docs = [orjson.dumps(orjson.loads(ln), option=orjson.OPT_INDENT_2).decode() for ln in lines if ln]
            shown = "\n\n".join(docs)
        except orjson.JSONDecodeError:
            shown = "\n".join(lines)
    if re.fullmatch(r"[0-9a-f]{6}", token_hint):
        shown = re.sub(rf"(?<![0-9a-f]){token_hint}[0-9a-f]{{26}}(?![0-9a-f])", "[credential]", shown)
    return shown, truncated


# --- the pages --------------------------------------------------------------------------------

class IntegrationPages(Controller):
    path = "/w/{slug:str}/integrations"
    include_in_schema = False

    @get("/", opt=_page(Permission.READ))
    async def list_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ws = workspace_of(request).workspace
        found = await ctx_of(request).db.aread(lambda c: iq.list_for(c, ws.id))
        return render(request, "integrations/list.html", {
            "integrations": found, "type_names": {k: s.display_name for k, s in SOURCES.items()},
            "active_nav": "integrations"})

    def _new_page(self, request: Request[Any, Any, Any], values: dict[str, str],
                  errors: dict[str, str] | None = None, status: int = 200) -> Response[Any]:
        return render(request, "integrations/new.html", {
            "types": TYPES, "values": values, "errors": errors or {}, "active_nav": "integrations"},
            status=status)

    @get("/new", opt=_page(Permission.CONFIGURE))
    async def new_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        chosen = request.query_params.get("type", "")
        return self._new_page(request, {"type": chosen if chosen in SOURCES else ""})

    @post("/new", opt=_page(Permission.CONFIGURE))
    async def create(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        form = await read_form(request)
        values = form_echo(form)
        errors: dict[str, str] = {}
        settings: dict[str, Any] = {}
        name = ""
        try:
            name = text(form, "name", max_len=100, required=True)
        except InvalidInput as exc:
            errors["name"] = exc.message
        type_ = form.get("type", "")
        if type_ not in SOURCES:
            errors["type"] = "choose the tool that will send alerts"
        else:
            try:
                settings = settings_from_form(type_, form)
            except InvalidInput as exc:
                errors[exc.field or ""] = exc.message
        if errors:
            return self._new_page(request, values, errors, status=400)
        try:
            created = await ctx.db.awrite(lambda c: svc.create(
                c, access.workspace.id, type_, name, settings, identity.actor, ctx.now()))
        except SignalCraftError as exc:
            return self._new_page(request, values, {form_field(exc.field): exc.message}, status=exc.status)
        return self._credential_page(request, created, rotated=False)

    def _credential_page(self, request: Request[Any, Any, Any], created: svc.Created, *, rotated: bool
                         ) -> Response[Any]:
        target = snippets.target_for(created.integration, created.token,
                                     ctx_of(request).settings.server.public_url())
        return render(request, "integrations/credential.html", {
            "integration": created.integration, "type_name": SOURCES[created.integration.type].display_name,
            "target": target, "snippets": snippets.snippets_for(target), "rotated": rotated,
            "active_nav": "integrations"}, headers={"Cache-Control": "no-store"})

    @post("/preview", opt=_page(Permission.CONFIGURE), status_code=200)
    async def preview_mapping(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """htmx: the mapping applied to the sample; errors are shown in place, so always 200."""
        result = preview(await read_form(request))
        return render(request, "integrations/_preview.html", {"preview": result})

    async def _detail_page(self, request: Request[Any, Any, Any], integration_id: int, *,
                           values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                           status: int = 200) -> Response[Any]:
        ctx, ws = ctx_of(request), workspace_of(request).workspace

        def load(conn: apsw.Connection) -> tuple[iq.Integration, list[aq.IngestLogRow]]:
            return iq.get(conn, ws.id, integration_id), aq.ingest_log_of(conn, integration_id, LOG_LIMIT)

        integration, log = await ctx.db.aread(load)
        hint = f"{integration.token_hint}\u2026"  # the URL and credential with the secret cut short
        masked = svc.credential_for(integration, hint, ctx.settings.server.public_url())
        return render(request, "integrations/detail.html", {
            "integration": integration, "type_name": SOURCES[integration.type].display_name,
            "masked": masked, "credential_label": snippets.CREDENTIAL_LABELS[masked.credential_name],
            "url_label": snippets.url_label(integration.type),
            "settings": svc.public_settings(integration.settings), "log": log,
            "values": values if values is not None else {"name": integration.name,
                                                         **form_values(integration.settings)},
            "errors": errors or {}, "saved": request.query_params.get("saved") == "1",
            "active_nav": "integrations"}, status=status)

    @get("/{integration_id:int}", opt=_page(Permission.READ))
    async def detail(self, request: Request[Any, Any, Any], integration_id: FromPath[int]) -> Response[Any]:
        return await self._detail_page(request, integration_id)

    @post("/{integration_id:int}/edit", opt=_page(Permission.CONFIGURE))
    async def edit(self, request: Request[Any, Any, Any], integration_id: FromPath[int]) -> Response[Any]:
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        form = await read_form(request)
        values = form_echo(form)
        current = await ctx.db.aread(lambda c: iq.get(c, access.workspace.id, integration_id))
        try:
            name = text(form, "name", max_len=100, required=True)
            settings = settings_from_form(current.type, form, current.settings)
            await ctx.db.awrite(lambda c: svc.update(c, access.workspace.id, integration_id, name, settings,
                                                     identity.actor, ctx.now()))
        except InvalidInput as exc:
            return await self._detail_page(request, integration_id, values=values,
                                           errors={form_field(exc.field): exc.message}, status=exc.status)
        gate_of(ctx).forget()
        return Redirect(f"/w/{access.workspace.slug}/integrations/{integration_id}?saved=1", status_code=303)

    @post("/{integration_id:int}/rotate", opt=_page(Permission.CONFIGURE))
    async def rotate(self, request: Request[Any, Any, Any], integration_id: FromPath[int]) -> Response[Any]:
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        try:
            created = await ctx.db.awrite(lambda c: svc.rotate(c, access.workspace.id, integration_id,
                                                               identity.actor, ctx.now()))
        except InvalidInput as exc:
            return await self._detail_page(request, integration_id, errors={"": exc.message},
                                           status=exc.status)
        gate_of(ctx).forget()
        return self._credential_page(request, created, rotated=True)

    @post("/{integration_id:int}/revoke", opt=_page(Permission.CONFIGURE))
    async def revoke(self, request: Request[Any, Any, Any], integration_id: FromPath[int]) -> Response[Any]:
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        await ctx.db.awrite(lambda c: svc.revoke(c, access.workspace.id, integration_id, identity.actor,
                                                 ctx.now()))
        gate_of(ctx).forget()
        return Redirect(f"/w/{access.workspace.slug}/integrations/{integration_id}", status_code=303)

    @get("/{integration_id:int}/payloads/{raw_id:int}", opt=_page(Permission.READ))
    async def payload(self, request: Request[Any, Any, Any], integration_id: FromPath[int],
                      raw_id: FromPath[int]) -> Response[Any]:
        """A raw payload listed in this integration's recent log, pretty-printed."""
        ws = workspace_of(request).workspace

        def load(conn: apsw.Connection) -> tuple[iq.Integration, aq.IngestLogRow, bytes]:
            integration = iq.get(conn, ws.id, integration_id)
            log = aq.ingest_log_of(conn, integration_id, LOG_LIMIT)
            entry = next((r for r in log if r.raw_id == raw_id), None)
            body = aq.raw_payload(conn, ws.id, raw_id) if entry else None
            if entry is None or body is None:
                raise NotFound("no such payload for this integration (or past its retention)", field="raw_id")
            return integration, entry, body

        integration, entry, body = await ctx_of(request).db.aread(load)
        shown, truncated = pretty_payload(body, integration.token_hint)
        return render(request, "integrations/payload.html", {
            "integration": integration, "entry": entry, "raw_id": raw_id, "payload": shown, "size": len(body),
            "truncated": truncated, "active_nav": "integrations"})


HANDLERS: list[ControllerRouterHandler] = [IntegrationPages]
