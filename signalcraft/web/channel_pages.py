"""Notification channel pages (HTML): list, create per kind, edit, delete, repair, send a test.

The pages go through the same checks as the JSON API (signalcraft/web/api_channels.py): the
transport checks the configuration at save time (a refused address, a template that does not
render, a bad email) and the error is shown next to its field. Secrets are write-only: after
saving they show as ``********`` and a blank secret field on edit keeps the stored value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apsw
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from signalcraft.auth.rbac import Permission
from signalcraft.db.queries import channels as cq
from signalcraft.db.queries import notifications as nq
from signalcraft.db.queries import routing as rq
from signalcraft.errors import InvalidInput, SignalCraftError
from signalcraft.events import bus_of
from signalcraft.notify import outbox
from signalcraft.notify.base import MASK, Transport, masked
from signalcraft.notify.deliver import SendOutcome
from signalcraft.notify.email import SECURITY
from signalcraft.notify.message import sample_message
from signalcraft.notify.registry import TRANSPORTS, transport_for
from signalcraft.notify.tasks import notifier_of
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.api_channels import (
    NotificationOut,
    check_name,
    checked_config,
    delivery_log,
    merged_config,
    stored_config,
)
from signalcraft.web.api_channels import _audit as audit_channel
from signalcraft.web.context import ctx_of
from signalcraft.web.forms import read_form
from signalcraft.web.responses import render


def _page(permission: Permission) -> dict[str, Any]:
    return {"permission": permission, "scope": "workspace", "html": True}


# --- the form of each kind (pure) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One input of a channel form; its form name is ``config.<key>``, as the error fields are."""

    key: str
    label: str
    input: str = "text"  # text, url, number, select, lines (one value per line), textarea
    required: bool = False
    hint: str = ""
    placeholder: str = ""
    options: tuple[str, ...] = ()
    default: str = ""
    advanced: bool = False

    @property
    def name(self) -> str:
        return f"config.{self.key}"


TEMPLATE_FIELD = FieldSpec(
    "template", "Custom message", "textarea", hint="Optional Jinja text replacing the default message body.",
    advanced=True,
)
_WEBHOOK_URL = FieldSpec("webhook_url", "Webhook URL", "url", required=True)

FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "slack": (
        FieldSpec("webhook_url", "Incoming webhook URL", "url",
                  hint="Or leave empty and use a bot token below (messages are then updated in place).",
                  placeholder="https://hooks.slack.com/services/…"),
        FieldSpec("bot_token", "Bot token", hint="Starts with xoxb-.", placeholder="xoxb-…", advanced=True),
        FieldSpec("channel", "Channel ID", hint="With a bot token: the channel to post to, e.g. C0123456.",
                  advanced=True),
        TEMPLATE_FIELD,
    ),
    "teams": (_WEBHOOK_URL, TEMPLATE_FIELD),
    "discord": (_WEBHOOK_URL, TEMPLATE_FIELD),
    "email": (
        FieldSpec("to", "Recipients", "lines", required=True, hint="One address per line."),
        FieldSpec("from_address", "From address", required=True, placeholder="alerts@example.com"),
        FieldSpec("host", "SMTP server", required=True, placeholder="smtp.example.com"),
        FieldSpec("security", "Security", "select", options=tuple(SECURITY), default="starttls"),
        FieldSpec("port", "Port", "number", hint="Empty: the usual port of the security mode."),
        FieldSpec("username", "Username"),
        FieldSpec("password", "Password"),
        TEMPLATE_FIELD,
    ),
    "webhook": (
        FieldSpec("url", "URL", "url", required=True, placeholder="https://example.com/hooks/signalcraft"),
        FieldSpec("secret", "Signing secret", required=True,
                  hint="At least 16 characters; the receiver checks the signature with it."),
        TEMPLATE_FIELD,
    ),
    "ntfy": (
        FieldSpec("server", "Server", "url", placeholder="https://ntfy.sh", hint="Empty: https://ntfy.sh."),
        FieldSpec("topic", "Topic", required=True),
        FieldSpec("token", "Access token", hint="For a protected topic."),
        TEMPLATE_FIELD,
    ),
    "apprise": (
        FieldSpec("urls", "Apprise URLs", "lines", required=True, hint="One per line, e.g. tgram://bot/chat."),
        TEMPLATE_FIELD,
    ),
}


def fields_of(transport: Transport) -> tuple[FieldSpec, ...]:
    return FIELDS.get(transport.kind, (TEMPLATE_FIELD,))


def config_from_form(transport: Transport, form: dict[str, str], *, editing: bool) -> dict[str, Any]:
    """The configuration a form describes. Editing, a blank secret is MASK (keep the stored one)."""
    config: dict[str, Any] = {}
    for spec in fields_of(transport):
        raw = form.get(spec.name, "")[:8000]
        if spec.key in transport.secret_fields and editing and not raw.strip():
            config[spec.key] = MASK
        elif spec.input == "lines":
            config[spec.key] = [line.strip() for line in raw.splitlines() if line.strip()]
        elif spec.input == "number":
            try:
                config[spec.key] = int(raw) if raw.strip() else None
            except ValueError:
                raise InvalidInput("enter a whole number", field=spec.name) from None
        else:
            config[spec.key] = raw.strip()
    return config


def form_values(transport: Transport, channel: cq.Channel) -> dict[str, str]:
    """The edit form's initial values: public settings as stored; secrets are never sent back."""
    values = {"name": channel.name}
    for spec in fields_of(transport):
        value = channel.config.get(spec.key)
        if spec.key in transport.secret_fields or value is None:
            continue
        values[spec.name] = "\n".join(value) if isinstance(value, list) else str(value)
    return values


def error_field(field: str | None) -> str:
    """The form input an error belongs to: ``config.to[1]`` is the recipients box."""
    return (field or "").split("[", 1)[0]


def summary(channel: cq.Channel) -> list[tuple[str, str]]:
    """What the list and the read-only view show: (label, value), secrets masked."""
    transport = TRANSPORTS.get(channel.kind)
    shown = masked(channel.config, channel.secret_config)
    specs = fields_of(transport) if transport else ()
    out = []
    for spec in specs:
        value = shown.get(spec.key)
        if value in (None, "", []):
            continue
        out.append((spec.label, ", ".join(map(str, value)) if isinstance(value, list) else str(value)))
    return out


@dataclass(frozen=True, slots=True)
class ChannelRow:
    channel: cq.Channel
    label: str
    summary: list[tuple[str, str]]
    last: nq.NotificationRow | None


# --- the delivery log of an alert group (shown on its page) --------------------------------


@dataclass(frozen=True, slots=True)
class DecisionView:
    """One routing decision in words: which rules matched, what was notified, what held it back."""

    at: float
    event_kind: str
    rules: list[str]
    used_default: bool
    channels: list[str]
    suppressed_reason: str | None
    dropped: bool
    note: str


@dataclass(frozen=True, slots=True)
class DeliveryLog:
    decisions: list[DecisionView]
    notifications: list[NotificationOut]


def group_delivery_log(conn: apsw.Connection, workspace_id: int, group_id: int) -> DeliveryLog:
    """Routing decisions and notifications (each with its attempts) of one alert group."""
    rule_names = {r.id: r.name for r in rq.rules_of(conn, workspace_id)}
    decisions = rq.decisions_of_group(conn, workspace_id, group_id)
    channel_names: dict[int, str] = {}
    for cid in {c for d in decisions for c in d.notified_channels}:
        found = cq.by_id(conn, cid)
        channel_names[cid] = found.name if found else f"#{cid}"
    return DeliveryLog(
        [DecisionView(d.at, d.event_kind, [rule_names.get(r, f"#{r}") for r in d.matched_rules],
                      d.used_default,
                      [channel_names[c] for c in d.notified_channels], d.suppressed_reason, d.dropped, d.note)
         for d in decisions],
        delivery_log(conn, workspace_id, group_id),
    )


# --- pages ----------------------------------------------------------------------------------


class ChannelPages(Controller):
    path = "/w/{slug:str}/channels"
    include_in_schema = False

    def _base(self, request: Request[Any, Any, Any]) -> str:
        return f"/w/{workspace_of(request).workspace.slug}/channels"

    @get("/", opt=_page(Permission.READ))
    async def list_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ws = workspace_of(request).workspace

        def load(conn: apsw.Connection) -> list[ChannelRow]:
            last = nq.last_per_channel(conn, ws.id)
            return [ChannelRow(c, TRANSPORTS[c.kind].label if c.kind in TRANSPORTS else c.kind, summary(c),
                               last.get(c.id)) for c in cq.list_for(conn, ws.id)]

        found = await ctx_of(request).db.aread(load)
        return render(request, "channels/list.html", {"channels": found, "active_nav": "channels"})

    async def _form(self, request: Request[Any, Any, Any], transport: Transport | None, *,
                    channel: cq.Channel | None = None, values: dict[str, str] | None = None,
                    errors: dict[str, str] | None = None, test: SendOutcome | None = None,
                    status: int = 200) -> Response[Any]:
        if channel is not None and values is None:
            values = form_values(TRANSPORTS[channel.kind], channel)
        shown = masked(channel.config, channel.secret_config) if channel else {}
        return render(request, "channels/form.html", {
            "transport": transport, "kinds": list(TRANSPORTS.values()), "channel": channel,
            "fields": fields_of(transport) if transport else (), "values": values or {},
            "errors": errors or {}, "summary": summary(channel) if channel else [], "test": test,
            "mask": MASK, "secret_set": {k for k, v in shown.items() if v == MASK},
            "saved": bool(request.query_params.get("saved")), "active_nav": "channels"}, status=status)

    @get("/new", opt=_page(Permission.CONFIGURE))
    async def new_page(self, request: Request[Any, Any, Any], kind: FromQuery[str] = "") -> Response[Any]:
        transport = TRANSPORTS.get(kind[:40])
        return await self._form(request, transport)

    @post("/", opt=_page(Permission.CONFIGURE))
    async def create(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        form = await read_form(request)
        transport = TRANSPORTS.get(form.get("kind", ""))
        values = {k: v[:8000] for k, v in form.items() if k != "_csrf"}
        try:
            transport = transport_for(form.get("kind", ""))
            name = check_name(form.get("name", "")[:100])
            config = config_from_form(transport, form, editing=False)
            public, secret = await checked_config(ctx, transport, config)

            def create(conn: apsw.Connection) -> cq.Channel:
                channel = cq.create(conn, ws.id, transport.kind, name, public, secret, ctx.now())
                audit_channel(conn, actor, "channel.create", channel, ctx.now(), after=channel)
                return channel

            channel = await ctx.db.awrite(create)
        except SignalCraftError as exc:
            return await self._form(request, transport, values=values,
                                    errors={error_field(exc.field): exc.message}, status=exc.status)
        return Redirect(f"{self._base(request)}/{channel.id}?saved=1", status_code=303)

    @get("/{channel_id:int}", opt=_page(Permission.READ))
    async def detail(self, request: Request[Any, Any, Any], channel_id: FromPath[int]) -> Response[Any]:
        ws = workspace_of(request).workspace
        channel = await ctx_of(request).db.aread(lambda c: cq.get(c, ws.id, channel_id))
        return await self._form(request, TRANSPORTS.get(channel.kind), channel=channel)

    @post("/{channel_id:int}", opt=_page(Permission.CONFIGURE))
    async def update(self, request: Request[Any, Any, Any], channel_id: FromPath[int]) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        current = await ctx.db.aread(lambda c: cq.get(c, ws.id, channel_id))
        transport = TRANSPORTS[current.kind]
        form = await read_form(request)
        values = {k: v[:8000] for k, v in form.items() if k != "_csrf"}
        try:
            name = check_name(form.get("name", "")[:100])
            edited = config_from_form(transport, form, editing=True)
            stored = await stored_config(ctx, current)  # secrets opened: the edit is checked whole
            config = await checked_config(ctx, transport, merged_config(stored, edited))

            def update(conn: apsw.Connection) -> int | None:
                resolved = None
                if current.broken_at is not None:  # a new configuration repairs, as in the API
                    resolved = outbox.repair_channel(conn, current, actor.label, ctx.now())
                channel = cq.update(conn, current, name, config[0], config[1], ctx.now())
                audit_channel(conn, actor, "channel.update", channel, ctx.now(),
                              before=current, after=channel)
                return resolved

            resolved = await ctx.db.awrite(update)
        except SignalCraftError as exc:
            return await self._form(request, transport, channel=current, values=values,
                                    errors={error_field(exc.field): exc.message}, status=exc.status)
        if resolved is not None:
            bus_of(ctx.extras).publish(ws.id, [resolved])
        return Redirect(f"{self._base(request)}/{channel_id}?saved=1", status_code=303)

    @post("/{channel_id:int}/delete", opt=_page(Permission.CONFIGURE))
    async def delete(self, request: Request[Any, Any, Any], channel_id: FromPath[int]) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor

        def remove(conn: apsw.Connection) -> None:
            channel = cq.get(conn, ws.id, channel_id)
            cq.soft_delete(conn, channel, ctx.now())
            audit_channel(conn, actor, "channel.delete", channel, ctx.now(), before=channel)

        await ctx.db.awrite(remove)
        return Redirect(self._base(request), status_code=303)

    @post("/{channel_id:int}/repair", opt=_page(Permission.CONFIGURE))
    async def repair(self, request: Request[Any, Any, Any], channel_id: FromPath[int]) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor

        def repair(conn: apsw.Connection) -> int | None:
            channel = cq.get(conn, ws.id, channel_id)
            resolved = outbox.repair_channel(conn, channel, actor.label, ctx.now())
            audit_channel(conn, actor, "channel.repair", channel, ctx.now())
            return resolved

        resolved = await ctx.db.awrite(repair)
        if resolved is not None:
            bus_of(ctx.extras).publish(ws.id, [resolved])
        return Redirect(f"{self._base(request)}/{channel_id}", status_code=303)

    @post("/{channel_id:int}/test", opt=_page(Permission.CONFIGURE))
    async def send_test(self, request: Request[Any, Any, Any], channel_id: FromPath[int]) -> Response[Any]:
        """Send a test message now; htmx gets the outcome as a fragment, a plain form the page."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        channel = await ctx.db.aread(lambda c: cq.get(c, ws.id, channel_id))
        notifier = notifier_of(ctx)
        message = sample_message(ws.slug, ws.name, notifier.public_url, ctx.now())
        outcome = await notifier.arun(notifier.attempt(channel, message))
        await ctx.db.awrite(lambda c: audit_channel(c, actor, "channel.test", channel, ctx.now()))
        if request.headers.get("hx-request"):
            return render(request, "channels/_test_result.html", {"test": outcome})
        return await self._form(request, TRANSPORTS.get(channel.kind), channel=channel, test=outcome)


HANDLERS: list[ControllerRouterHandler] = [ChannelPages]
