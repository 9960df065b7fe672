"""JSON API v1: integrations (create, rotate, revoke, settings, ingest log, mapping preview)
and alert groups (list with filters, search and cursor; detail with alerts and timeline)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import orjson
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from signalcraft import integrations as svc
from signalcraft.auth.rbac import Permission
from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries import integrations as iq
from signalcraft.errors import InvalidInput, NotFound
from signalcraft.ingest import generic
from signalcraft.ingest.model import PayloadError, Severity
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.context import ctx_of
from signalcraft.web.ingest.common import gate_of

GROUP_STATUSES = ("triggered", "acknowledged", "resolved", "snoozed")


def _ws(permission: Permission) -> dict[str, Any]:
    return {"permission": permission, "scope": "workspace"}


class IntegrationOut(msgspec.Struct):
    id: int
    type: str
    name: str
    token_hint: str
    settings: dict[str, Any]
    created_at: float
    rotated_at: float | None
    revoked_at: float | None
    last_received_at: float | None


class IntegrationCreated(msgspec.Struct):
    integration: IntegrationOut
    ingest_url: str
    credential: dict[str, str]


class IntegrationIn(msgspec.Struct, forbid_unknown_fields=True):
    type: Annotated[str, msgspec.Meta(max_length=40)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    settings: dict[str, Any] = {}


class IntegrationPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None
    settings: dict[str, Any] | None = None


class IngestLogOut(msgspec.Struct):
    request_id: str
    received_at: float
    accepted: bool
    message: str
    alerts: int
    action: str


class PreviewIn(msgspec.Struct, forbid_unknown_fields=True):
    mapping: dict[str, Any]
    sample: Any


class GroupOut(msgspec.Struct):
    id: int
    integration_id: int | None
    status: str
    severity: str
    title: str
    source: str
    service: str
    alert_count: int
    firing_count: int
    event_count: int
    first_seen_at: float
    last_seen_at: float
    acknowledged_at: float | None
    acknowledged_by: str | None
    resolved_at: float | None
    resolved_by: str | None
    group_labels: dict[str, str]


class GroupPage(msgspec.Struct):
    groups: list[GroupOut]
    next_cursor: str | None


class AlertOut(msgspec.Struct):
    id: int
    fingerprint: str
    status: str
    severity: str
    title: str
    description: str
    source: str
    service: str
    labels: dict[str, str]
    annotations: dict[str, str]
    links: list[dict[str, str]]
    stacktrace: dict[str, Any] | None
    occurred_at: float | None
    first_seen_at: float
    last_seen_at: float
    resolved_at: float | None
    event_count: int
    raw_id: int | None


class EventOut(msgspec.Struct):
    id: int
    alert_id: int | None
    kind: str
    at: float
    actor: str
    detail: dict[str, Any]


class GroupDetail(msgspec.Struct):
    group: GroupOut
    alerts: list[AlertOut]
    timeline: list[EventOut]


def integration_out(row: iq.Integration) -> IntegrationOut:
    return IntegrationOut(row.id, row.type, row.name, row.token_hint, svc.public_settings(row.settings),
                          row.created_at, row.rotated_at, row.revoked_at, row.last_received_at)


def _severity(value: int) -> str:
    return Severity(value).label


def group_out(g: aq.GroupRow) -> GroupOut:
    return GroupOut(g.id, g.integration_id, g.status, _severity(g.severity), g.title, g.source, g.service,
                    g.alert_count, g.firing_count, g.event_count, g.first_seen_at, g.last_seen_at,
                    g.acknowledged_at, g.acknowledged_by, g.resolved_at, g.resolved_by, g.group_labels)


def alert_out(a: aq.AlertRow) -> AlertOut:
    return AlertOut(a.id, a.fingerprint, a.status, _severity(a.severity), a.title, a.description, a.source,
                    a.service, a.labels, a.annotations, a.links, a.stacktrace, a.occurred_at, a.first_seen_at,
                    a.last_seen_at, a.resolved_at, a.event_count, a.raw_id)


def parse_cursor(cursor: str) -> tuple[float, int] | None:
    if not cursor:
        return None
    seen, _, ident = cursor.partition("_")
    try:
        return float(seen), int(ident)
    except ValueError:
        raise InvalidInput("not a cursor from a previous page", field="cursor") from None


def parse_statuses(text: str) -> tuple[str, ...]:
    statuses = tuple(s for s in text.split(",") if s)
    for status in statuses:
        if status not in GROUP_STATUSES:
            raise InvalidInput(f"choose from {', '.join(GROUP_STATUSES)}", field="status")
    return statuses


class IntegrationApi(Controller):
    path = "/api/v1/workspaces/{slug:str}/integrations"
    tags = ["integrations"]

    @get("/", opt=_ws(Permission.READ))
    async def list_integrations(self, request: Request[Any, Any, Any]) -> list[IntegrationOut]:
        ws = workspace_of(request).workspace
        return [integration_out(i) for i in await ctx_of(request).db.aread(lambda c: iq.list_for(c, ws.id))]

    @post("/", opt=_ws(Permission.CONFIGURE))
    async def create_integration(self, request: Request[Any, Any, Any], data: JSONBody[IntegrationIn]
                                 ) -> IntegrationCreated:
        """Create an integration. The credential is in this response only."""
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        created = await ctx.db.awrite(lambda c: svc.create(c, access.workspace.id, data.type, data.name,
                                                           data.settings, identity.actor, ctx.now()))
        cred = svc.credential_for(created.integration, created.token, ctx.settings.server.public_url())
        return IntegrationCreated(integration_out(created.integration), cred.ingest_url, cred.as_dict())

    @get("/{integration_id:int}", opt=_ws(Permission.READ))
    async def get_integration(self, request: Request[Any, Any, Any], integration_id: FromPath[int]
                              ) -> IntegrationOut:
        ws = workspace_of(request).workspace
        return integration_out(await ctx_of(request).db.aread(lambda c: iq.get(c, ws.id, integration_id)))

    @patch("/{integration_id:int}", opt=_ws(Permission.CONFIGURE))
    async def update_integration(self, request: Request[Any, Any, Any], integration_id: FromPath[int],
                                 data: JSONBody[IntegrationPatch]) -> IntegrationOut:
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        row = await ctx.db.awrite(lambda c: svc.update(c, access.workspace.id, integration_id, data.name,
                                                       data.settings, identity.actor, ctx.now()))
        gate_of(ctx).forget()
        return integration_out(row)

    @post("/{integration_id:int}/rotate", opt=_ws(Permission.CONFIGURE))
    async def rotate_integration(self, request: Request[Any, Any, Any], integration_id: FromPath[int]
                                 ) -> IntegrationCreated:
        """A new credential; the old one stops working at once."""
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        created = await ctx.db.awrite(lambda c: svc.rotate(c, access.workspace.id, integration_id, identity.actor,
                                                           ctx.now()))
        gate_of(ctx).forget()
        cred = svc.credential_for(created.integration, created.token, ctx.settings.server.public_url())
        return IntegrationCreated(integration_out(created.integration), cred.ingest_url, cred.as_dict())

    @delete("/{integration_id:int}", opt=_ws(Permission.CONFIGURE), status_code=204)
    async def revoke_integration(self, request: Request[Any, Any, Any], integration_id: FromPath[int]) -> None:
        """Revoke: its credential stops working; its alerts stay."""
        ctx, access, identity = ctx_of(request), workspace_of(request), identity_of(request)
        await ctx.db.awrite(lambda c: svc.revoke(c, access.workspace.id, integration_id, identity.actor, ctx.now()))
        gate_of(ctx).forget()

    @get("/{integration_id:int}/ingest-log", opt=_ws(Permission.READ))
    async def ingest_log(self, request: Request[Any, Any, Any], integration_id: FromPath[int]
                         ) -> list[IngestLogOut]:
        """The last requests received and what became of each."""
        ws = workspace_of(request).workspace

        def load(conn: Any) -> list[aq.IngestLogRow]:
            iq.get(conn, ws.id, integration_id)
            return aq.ingest_log_of(conn, integration_id)

        found = await ctx_of(request).db.aread(load)
        return [IngestLogOut(r.request_id, r.received_at, r.accepted, r.message, r.alerts, r.action) for r in found]

    @post("/preview", opt=_ws(Permission.READ), status_code=200)
    async def preview_mapping(self, request: Request[Any, Any, Any], data: JSONBody[PreviewIn]
                              ) -> list[dict[str, Any]]:
        """A generic webhook mapping applied to a sample payload, without storing anything."""
        mapping = svc.mapping_from_settings(data.mapping)
        try:
            return generic.preview(data.sample, mapping)
        except PayloadError as exc:
            raise InvalidInput(exc.message, field=f"sample.{exc.field}" if exc.field else "sample") from None


class AlertApi(Controller):
    path = "/api/v1/workspaces/{slug:str}"
    tags = ["alerts"]

    @get("/alert-groups", opt=_ws(Permission.READ))
    async def list_groups(self, request: Request[Any, Any, Any], status: FromQuery[str] = "",
                          q: Annotated[str, QueryParameter(max_length=200)] = "",
                          integration: FromQuery[int | None] = None, cursor: FromQuery[str] = "",
                          limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50) -> GroupPage:
        """Groups by latest activity. ``status`` is a comma-separated list; ``q`` searches titles,
        descriptions and labels of the group's alerts; ``cursor`` comes from ``next_cursor``."""
        ws = workspace_of(request).workspace
        statuses, before = parse_statuses(status), parse_cursor(cursor)
        found = await ctx_of(request).db.aread(lambda c: aq.list_groups(
            c, ws.id, statuses=statuses, integration_id=integration, before=before, limit=limit + 1, search=q))
        page = found[:limit]
        next_cursor = f"{page[-1].last_seen_at!r}_{page[-1].id}" if len(found) > limit else None
        return GroupPage([group_out(g) for g in page], next_cursor)

    @get("/alert-groups/{group_id:int}", opt=_ws(Permission.READ))
    async def get_group(self, request: Request[Any, Any, Any], group_id: FromPath[int]) -> GroupDetail:
        ws = workspace_of(request).workspace

        def load(conn: Any) -> tuple[aq.GroupRow, list[aq.AlertRow], list[aq.EventRow]]:
            group = aq.get_group(conn, ws.id, group_id)
            if group is None:
                raise NotFound("no such alert group", field="group_id")
            return group, aq.alerts_of_group(conn, ws.id, group_id), aq.events_of_group(conn, group_id)

        group, alerts, events = await ctx_of(request).db.aread(load)
        return GroupDetail(group_out(group), [alert_out(a) for a in alerts],
                           [EventOut(e.id, e.alert_id, e.kind, e.at, e.actor, e.detail) for e in events])

    @get("/raw-payloads/{raw_id:int}", opt=_ws(Permission.READ))
    async def raw_payload(self, request: Request[Any, Any, Any], raw_id: FromPath[int]) -> Response[bytes]:
        """The request body exactly as received (decompressed), kept for ``ingest.raw_retention_days``."""
        ws = workspace_of(request).workspace
        body = await ctx_of(request).db.aread(lambda c: aq.raw_payload(c, ws.id, raw_id))
        if body is None:
            raise NotFound("no such payload (or past its retention)", field="raw_id")
        try:
            orjson.loads(body)
            media = "application/json"
        except orjson.JSONDecodeError:
            media = "text/plain; charset=utf-8"
        return Response(body, media_type=media, headers={"Content-Disposition": "inline"})


HANDLERS: list[ControllerRouterHandler] = [IntegrationApi, AlertApi]
