"""JSON API v1: notification channels (create, list, edit, delete, repair, send a test) and
the delivery log of an alert group.

A channel's configuration is checked when it is saved (a URL resolving to a refused
address, a template that does not render, an unknown kind: 400 naming the field). Secrets
(webhook URLs, tokens, passwords) are stored apart and shown as ``********``; sending that
mask back in a PATCH keeps the stored value.
"""

from __future__ import annotations

from typing import Annotated, Any

import apsw
import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromPath, JSONBody
from litestar.types import ControllerRouterHandler

from signalcraft.auth.rbac import Permission
from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries import audit
from signalcraft.db.queries import channels as cq
from signalcraft.db.queries import notifications as nq
from signalcraft.errors import InvalidInput, NotFound
from signalcraft.events import bus_of
from signalcraft.notify import outbox
from signalcraft.notify.base import MASK, Transport, masked, split_secrets
from signalcraft.notify.message import sample_message
from signalcraft.notify.registry import TRANSPORTS, transport_for
from signalcraft.notify.tasks import notifier_of
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.context import AppContext, ctx_of


def _ws(permission: Permission) -> dict[str, Any]:
    return {"permission": permission, "scope": "workspace"}


class ChannelOut(msgspec.Struct):
    id: int
    kind: str
    name: str
    config: dict[str, Any]
    created_at: float
    updated_at: float
    broken_at: float | None
    broken_reason: str | None
    broken_alert_group_id: int | None


class ChannelIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Annotated[str, msgspec.Meta(max_length=40)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    config: dict[str, Any] = {}


class ChannelPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None
    config: dict[str, Any] | None = None


class TestOutcomeOut(msgspec.Struct):
    ok: bool
    status_code: int | None
    error: str
    permanent: bool
    duration_ms: int


class AttemptOut(msgspec.Struct):
    at: float
    outcome: str
    status_code: int | None
    error: str
    duration_ms: int | None


class NotificationOut(msgspec.Struct):
    id: int
    channel_id: int
    channel_name: str
    channel_kind: str
    event_kind: str
    status: str
    attempts: int
    idempotency_key: str
    created_at: float
    next_attempt_at: float | None
    delivered_at: float | None
    last_error: str | None
    log: list[AttemptOut]


def channel_out(channel: cq.Channel) -> ChannelOut:
    return ChannelOut(
        channel.id,
        channel.kind,
        channel.name,
        masked(channel.config, channel.secret_config),
        channel.created_at,
        channel.updated_at,
        channel.broken_at,
        channel.broken_reason,
        channel.broken_group_id,
    )


def check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidInput("give the channel a name of 1 to 100 characters", field="name")
    return name


async def checked_config(
    ctx: AppContext, transport: Transport, config: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(public, secret) parts of a configuration the transport accepts; empty values dropped."""
    clean = await transport.check_config(config, notifier_of(ctx).deps)
    return split_secrets(transport, {k: v for k, v in clean.items() if v not in ("", None, [])})


async def stored_config(ctx: AppContext, channel: cq.Channel) -> dict[str, Any]:
    """The channel's whole configuration, secrets opened: an edit is checked as a whole."""
    return await ctx.db.aread(lambda c: cq.full_config(c, channel))


def merged_config(stored: dict[str, Any], patch_config: dict[str, Any]) -> dict[str, Any]:
    """The stored configuration (from :func:`stored_config`) with the patch applied: MASK keeps
    a secret, null removes a key."""
    merged = dict(stored)
    for key, value in patch_config.items():
        if value is None:
            merged.pop(key, None)
        elif value != MASK:
            merged[key] = value
    return merged


def _fields(channel: cq.Channel | None) -> dict[str, Any]:
    """A channel as flat audit fields; secret values (masked by audit.changes) under their key."""
    if channel is None:
        return {}
    return {"kind": channel.kind, "name": channel.name,
            **{f"config.{k}": v for k, v in channel.config.items()},
            **{f"config.{k}": v for k, v in channel.secret_config.items()}}


def _audit(conn: apsw.Connection, actor: audit.Actor, action: str, channel: cq.Channel, now: float,
           *, before: cq.Channel | None = None, after: cq.Channel | None = None) -> None:
    """``before``/``after``: the channel before and after the change (creation: no before)."""
    secret = {f"config.{k}" for k in (*channel.secret_config, *(before.secret_config if before else ()))}
    audit.record(conn, actor, action, now, workspace_id=channel.workspace_id, target=str(channel.id),
                 detail=audit.changes(_fields(before), _fields(after), secret_keys=secret))


class ChannelApi(Controller):
    path = "/api/v1/workspaces/{slug:str}"
    tags = ["notification channels"]

    @get("/channels", opt=_ws(Permission.READ))
    async def list_channels(self, request: Request[Any, Any, Any]) -> list[ChannelOut]:
        ws = workspace_of(request).workspace
        return [channel_out(c) for c in await ctx_of(request).db.aread(lambda c: cq.list_for(c, ws.id))]

    @post("/channels", opt=_ws(Permission.CONFIGURE))
    async def create_channel(self, request: Request[Any, Any, Any], data: JSONBody[ChannelIn]) -> ChannelOut:
        """Create a channel of kind slack, teams, discord, email, webhook, ntfy or apprise
        (docs/notifications.md)."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        transport, name = transport_for(data.kind), check_name(data.name)
        public, secret = await checked_config(ctx, transport, data.config)

        def create(conn: apsw.Connection) -> cq.Channel:
            channel = cq.create(conn, ws.id, transport.kind, name, public, secret, ctx.now())
            _audit(conn, actor, "channel.create", channel, ctx.now(), after=channel)
            return channel

        return channel_out(await ctx.db.awrite(create))

    @get("/channels/{channel_id:int}", opt=_ws(Permission.READ))
    async def get_channel(self, request: Request[Any, Any, Any], channel_id: FromPath[int]) -> ChannelOut:
        ws = workspace_of(request).workspace
        return channel_out(await ctx_of(request).db.aread(lambda c: cq.get(c, ws.id, channel_id)))

    @patch("/channels/{channel_id:int}", opt=_ws(Permission.CONFIGURE))
    async def update_channel(
        self, request: Request[Any, Any, Any], channel_id: FromPath[int], data: JSONBody[ChannelPatch]
    ) -> ChannelOut:
        """Rename or reconfigure. A new configuration also repairs a broken channel."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        current = await ctx.db.aread(lambda c: cq.get(c, ws.id, channel_id))
        transport = TRANSPORTS[current.kind]
        name = check_name(data.name) if data.name is not None else current.name
        config = (current.config, current.secret_config)
        if data.config is not None:
            stored = await stored_config(ctx, current)
            config = await checked_config(ctx, transport, merged_config(stored, data.config))

        def update(conn: apsw.Connection) -> tuple[cq.Channel, int | None]:
            resolved = None
            if data.config is not None and current.broken_at is not None:
                resolved = outbox.repair_channel(conn, current, actor.label, ctx.now())
            channel = cq.update(conn, current, name, config[0], config[1], ctx.now())
            _audit(conn, actor, "channel.update", channel, ctx.now(), before=current, after=channel)
            return channel, resolved

        channel, resolved = await ctx.db.awrite(update)
        if resolved is not None:
            bus_of(ctx.extras).publish(ws.id, [resolved])
        return channel_out(channel)

    @delete("/channels/{channel_id:int}", opt=_ws(Permission.CONFIGURE), status_code=204)
    async def delete_channel(self, request: Request[Any, Any, Any], channel_id: FromPath[int]) -> None:
        """Delete: nothing more is sent to it; its delivery log stays on the alert groups."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor

        def remove(conn: apsw.Connection) -> None:
            channel = cq.get(conn, ws.id, channel_id)
            cq.soft_delete(conn, channel, ctx.now())
            _audit(conn, actor, "channel.delete", channel, ctx.now(), before=channel)

        await ctx.db.awrite(remove)

    @post("/channels/{channel_id:int}/repair", opt=_ws(Permission.CONFIGURE), status_code=200)
    async def repair_channel(self, request: Request[Any, Any, Any], channel_id: FromPath[int]) -> ChannelOut:
        """Clear the broken mark (e.g. after re-inviting the Slack bot) and resolve the alert it raised."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor

        def repair(conn: apsw.Connection) -> tuple[cq.Channel, int | None]:
            channel = cq.get(conn, ws.id, channel_id)
            resolved = outbox.repair_channel(conn, channel, actor.label, ctx.now())
            _audit(conn, actor, "channel.repair", channel, ctx.now())
            return cq.get(conn, ws.id, channel_id), resolved

        channel, resolved = await ctx.db.awrite(repair)
        if resolved is not None:
            bus_of(ctx.extras).publish(ws.id, [resolved])
        return channel_out(channel)

    @post("/channels/{channel_id:int}/test", opt=_ws(Permission.CONFIGURE), status_code=200)
    async def test_channel(
        self, request: Request[Any, Any, Any], channel_id: FromPath[int]
    ) -> TestOutcomeOut:
        """Send a test message now and say what the destination answered (nothing is queued or retried)."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        channel = await ctx.db.aread(lambda c: cq.get(c, ws.id, channel_id))
        notifier = notifier_of(ctx)
        message = sample_message(ws.slug, ws.name, notifier.public_url, ctx.now())
        outcome = await notifier.arun(notifier.attempt(channel, message))
        await ctx.db.awrite(lambda c: _audit(c, actor, "channel.test", channel, ctx.now()))
        return TestOutcomeOut(
            outcome.ok, outcome.status_code, outcome.error, outcome.permanent, outcome.duration_ms
        )

    @get("/alert-groups/{group_id:int}/notifications", opt=_ws(Permission.READ))
    async def group_notifications(
        self, request: Request[Any, Any, Any], group_id: FromPath[int]
    ) -> list[NotificationOut]:
        """Every notification sent (or being sent) for the group, each with its attempts."""
        ws = workspace_of(request).workspace
        return await ctx_of(request).db.aread(lambda c: delivery_log(c, ws.id, group_id))


def delivery_log(conn: apsw.Connection, workspace_id: int, group_id: int) -> list[NotificationOut]:
    if aq.get_group(conn, workspace_id, group_id) is None:
        raise NotFound("no such alert group", field="group_id")
    found = nq.for_group(conn, workspace_id, group_id)
    attempts: dict[int, list[AttemptOut]] = {n.id: [] for n in found}
    for a in nq.attempts_of(conn, list(attempts)):
        attempts[a.notification_id].append(AttemptOut(a.at, a.outcome, a.status_code, a.error, a.duration_ms))
    channels = {cid: cq.by_id(conn, cid) for cid in {n.channel_id for n in found}}
    out = []
    for n in found:
        channel = channels[n.channel_id]
        out.append(
            NotificationOut(
                n.id,
                n.channel_id,
                channel.name if channel else "",
                channel.kind if channel else "",
                n.event_kind,
                n.status,
                n.attempts,
                n.idempotency_key,
                n.created_at,
                n.next_attempt_at if n.status == "pending" else None,
                n.delivered_at,
                n.last_error,
                attempts[n.id],
            )
        )
    return out


HANDLERS: list[ControllerRouterHandler] = [ChannelApi]
