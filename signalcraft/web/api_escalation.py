"""JSON API v1: escalation policies (CONFIGURE to change), the escalations of an alert group,
and each person's own contact methods and notification rules in the workspace (``/me/...``:
signed-in people who may respond to alerts, i.e. who can be paged; not API keys).

A policy is checked when it is saved: its shape, each target (a member, a schedule, a channel
of this workspace, another policy), and hand-over loops; a 400 names the field, e.g.
``steps[1].targets[0].id``. Changes are audited with before/after. The functions below the
controller are shared with the HTML pages.
"""

from __future__ import annotations

from typing import Annotated, Any

import apsw
import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.params import FromPath, JSONBody
from litestar.types import ControllerRouterHandler

from signalcraft.auth.rbac import Permission, allows
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries import audit
from signalcraft.db.queries import channels as cq
from signalcraft.db.queries import escalation as eq
from signalcraft.errors import Conflict, Forbidden, InvalidInput, NotFound
from signalcraft.notify.base import masked
from signalcraft.notify.message import sample_message
from signalcraft.notify.registry import TRANSPORTS, transport_for
from signalcraft.notify.tasks import notifier_of
from signalcraft.oncall import engine, store
from signalcraft.oncall import escalation as esc
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.api_channels import TestOutcomeOut, check_name, checked_config
from signalcraft.web.context import AppContext, ctx_of

URGENCIES = ("normal", "high")
MAX_RULES = 20


def _ws(permission: Permission) -> dict[str, Any]:
    return {"permission": permission, "scope": "workspace"}


class PolicyOut(msgspec.Struct):
    id: int
    name: str
    steps: list[dict[str, Any]]
    repeat: int
    updated_at: float


class NoticeOut(msgspec.Struct):
    user_id: int | None
    channel_id: int
    due_at: float
    status: str
    notification_id: int | None


class RunOut(msgspec.Struct):
    id: int
    policy_id: int | None
    policy_name: str
    status: str
    step: int
    round: int
    next_at: float | None
    steps_fired: int
    stop_reason: str | None
    started_at: float
    ended_at: float | None
    notices: list[NoticeOut]


class MethodIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Annotated[str, msgspec.Meta(max_length=40)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    config: dict[str, Any] = {}


class MethodOut(msgspec.Struct):
    id: int
    kind: str
    name: str
    config: dict[str, Any]
    broken_reason: str | None


class RuleIn(msgspec.Struct, forbid_unknown_fields=True):
    urgency: str
    contact_method_id: int
    delay_minutes: int = 0


class RulesIn(msgspec.Struct, forbid_unknown_fields=True):
    rules: list[RuleIn]


class RuleOut(msgspec.Struct):
    urgency: str
    contact_method_id: int
    delay_minutes: int


def policy_out(row: eq.PolicyRow) -> PolicyOut:
    return PolicyOut(
        row.id, row.name, list(row.doc.get("steps", [])), int(row.doc.get("repeat", 0)), row.updated_at
    )


def method_out(channel: cq.Channel) -> MethodOut:
    return MethodOut(
        channel.id,
        channel.kind,
        channel.name,
        masked(channel.config, channel.secret_config),
        channel.broken_reason,
    )


class EscalationApi(Controller):
    path = "/api/v1/workspaces/{slug:str}"
    tags = ["escalation"]

    @get("/escalation-policies", opt=_ws(Permission.READ))
    async def list_policies(self, request: Request[Any, Any, Any]) -> list[PolicyOut]:
        ws = workspace_of(request).workspace
        return [policy_out(p) for p in await ctx_of(request).db.aread(lambda c: eq.policies_of(c, ws.id))]

    @post("/escalation-policies", opt=_ws(Permission.CONFIGURE))
    async def create_policy(
        self, request: Request[Any, Any, Any], data: JSONBody[dict[str, Any]]
    ) -> PolicyOut:
        """Body: ``{"name": ..., "steps": [{"targets": [{"kind": "schedule", "id": 2}], "wait_minutes": 15}],
        "repeat": 1}``; target kinds: user, schedule, schedule_next, channel, policy."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        return policy_out(await ctx.db.awrite(lambda c: save_policy(c, ws.id, None, data, actor, ctx.now())))

    @get("/escalation-policies/{policy_id:int}", opt=_ws(Permission.READ))
    async def get_policy(self, request: Request[Any, Any, Any], policy_id: FromPath[int]) -> PolicyOut:
        ws = workspace_of(request).workspace
        return policy_out(await ctx_of(request).db.aread(lambda c: existing(c, ws.id, policy_id)))

    @put("/escalation-policies/{policy_id:int}", opt=_ws(Permission.CONFIGURE))
    async def update_policy(
        self, request: Request[Any, Any, Any], policy_id: FromPath[int], data: JSONBody[dict[str, Any]]
    ) -> PolicyOut:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        return policy_out(
            await ctx.db.awrite(lambda c: save_policy(c, ws.id, policy_id, data, actor, ctx.now()))
        )

    @delete("/escalation-policies/{policy_id:int}", opt=_ws(Permission.CONFIGURE), status_code=204)
    async def delete_policy(self, request: Request[Any, Any, Any], policy_id: FromPath[int]) -> None:
        """Delete; its running escalations stop. A policy another one hands over to cannot be deleted."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        await ctx.db.awrite(lambda c: remove_policy(c, ws.id, policy_id, actor, ctx.now()))

    @get("/alert-groups/{group_id:int}/escalations", opt=_ws(Permission.READ))
    async def group_escalations(
        self, request: Request[Any, Any, Any], group_id: FromPath[int]
    ) -> list[RunOut]:
        """Every escalation run of the group, oldest first, with what each step sent."""
        ws = workspace_of(request).workspace
        return await ctx_of(request).db.aread(lambda c: runs_out(c, ws.id, group_id))

    # --- the caller's own contact methods and rules -----------------------------------------

    @get("/me/contact-methods", opt=_ws(Permission.READ))
    async def my_methods(self, request: Request[Any, Any, Any]) -> list[MethodOut]:
        ws, user_id = workspace_of(request).workspace, me(request)
        return [
            method_out(m) for m in await ctx_of(request).db.aread(lambda c: cq.list_for(c, ws.id, user_id))
        ]

    @post("/me/contact-methods", opt=_ws(Permission.RESPOND))
    async def add_method(self, request: Request[Any, Any, Any], data: JSONBody[MethodIn]) -> MethodOut:
        """A way to reach you: ``email`` (``{"to": address}``, default your account address; sent
        through the workspace's email channel), or ntfy, webhook, slack, teams, discord, apprise
        with the same configuration as a channel of that kind."""
        ctx, ws, user_id = ctx_of(request), workspace_of(request).workspace, me(request)
        actor = identity_of(request).actor
        public, secret = await method_config(ctx, ws.id, user_id, data.kind, data.config)
        name = check_name(data.name)
        return method_out(
            await ctx.db.awrite(
                lambda c: add_contact_method(
                    c, ws.id, user_id, data.kind, name, public, secret, actor, ctx.now()
                )
            )
        )

    @delete("/me/contact-methods/{method_id:int}", opt=_ws(Permission.RESPOND), status_code=204)
    async def remove_method(self, request: Request[Any, Any, Any], method_id: FromPath[int]) -> None:
        ctx, ws, user_id = ctx_of(request), workspace_of(request).workspace, me(request)
        actor = identity_of(request).actor
        await ctx.db.awrite(lambda c: remove_contact_method(c, ws.id, user_id, method_id, actor, ctx.now()))

    @post("/me/contact-methods/{method_id:int}/test", opt=_ws(Permission.RESPOND), status_code=200)
    async def test_method(self, request: Request[Any, Any, Any], method_id: FromPath[int]) -> TestOutcomeOut:
        """Send a test message now and say what the destination answered."""
        ctx, ws, user_id = ctx_of(request), workspace_of(request).workspace, me(request)
        return await send_test(ctx, ws, user_id, method_id)

    @get("/me/notification-rules", opt=_ws(Permission.READ))
    async def my_rules(self, request: Request[Any, Any, Any]) -> list[RuleOut]:
        ws, user_id = workspace_of(request).workspace, me(request)
        found = await ctx_of(request).db.aread(lambda c: eq.rules_of(c, ws.id, user_id))
        return [RuleOut(r.urgency, r.channel_id, r.delay_minutes) for r in found]

    @put("/me/notification-rules", opt=_ws(Permission.RESPOND))
    async def put_rules(self, request: Request[Any, Any, Any], data: JSONBody[RulesIn]) -> list[RuleOut]:
        """Replace your rules: per urgency (normal, high) a contact method and a delay in minutes
        after the step that pages you. Without rules for an urgency, every contact method is used at once."""
        ctx, ws, user_id = ctx_of(request), workspace_of(request).workspace, me(request)
        actor = identity_of(request).actor
        triples = [(r.urgency, r.contact_method_id, r.delay_minutes) for r in data.rules]
        await ctx.db.awrite(lambda c: save_rules(c, ws.id, user_id, triples, actor, ctx.now()))
        return [RuleOut(*t) for t in triples]


def me(request: Request[Any, Any, Any]) -> int:
    user = identity_of(request).user
    if user is None:
        raise Forbidden("contact methods and notification rules belong to a person, not an API key")
    return user.id


# --- policies ----------------------------------------------------------------------------------


def existing(conn: apsw.Connection, workspace_id: int, policy_id: int) -> eq.PolicyRow:
    found = eq.policy(conn, workspace_id, policy_id)
    if found is None:
        raise NotFound("no such escalation policy", field="policy_id")
    return found


def _int(value: Any, field: str, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"{field}: {what}", field=field)
    return value


def policy_from(doc: Any, policy_id: int) -> tuple[esc.Policy, dict[str, Any]]:
    """The pure model and the normalized document of a policy as a client sends it."""
    if not isinstance(doc, dict):
        raise InvalidInput("send a JSON object", field="body")
    unknown = sorted(set(doc) - {"name", "steps", "repeat"})
    if unknown:
        raise InvalidInput(f"{unknown[0]}: unknown field; use name, steps, repeat", field=unknown[0])
    name = doc.get("name")
    if not isinstance(name, str) or len(name.strip()) > 100:
        raise InvalidInput("name: give the policy a name of at most 100 characters", field="name")
    raw_steps = doc.get("steps")
    if not isinstance(raw_steps, list):
        raise InvalidInput("steps: a list of steps", field="steps")
    steps, stored = [], []
    for i, raw in enumerate(raw_steps):
        path = f"steps[{i}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("targets"), list):
            raise InvalidInput(f"{path}.targets: a list of targets", field=f"{path}.targets")
        targets = []
        for j, t in enumerate(raw["targets"]):
            tpath = f"{path}.targets[{j}]"
            if not isinstance(t, dict) or not isinstance(t.get("kind"), str):
                raise InvalidInput(
                    f"{tpath}.kind: one of {', '.join(esc.TARGET_KINDS)}", field=f"{tpath}.kind"
                )
            targets.append(esc.Target(t["kind"], _int(t.get("id"), f"{tpath}.id", "an id")))
        wait = _int(raw.get("wait_minutes", 0), f"{path}.wait_minutes", "whole minutes")
        steps.append(esc.Step(tuple(targets), wait))
        stored.append({"targets": [{"kind": t.kind, "id": t.id} for t in targets], "wait_minutes": wait})
    repeat = _int(doc.get("repeat", 0), "repeat", "a whole number")
    policy = esc.Policy(policy_id, name.strip(), tuple(steps), repeat)
    return policy, {"steps": stored, "repeat": repeat}


def check_targets(
    conn: apsw.Connection, workspace_id: int, policy: esc.Policy, others: dict[int, esc.Policy]
) -> None:
    for i, step in enumerate(policy.steps):
        for j, target in enumerate(step.targets):
            field = f"steps[{i}].targets[{j}].id"
            role = q.role_in(conn, target.id, workspace_id) if target.kind == "user" else None
            if target.kind == "user" and (role is None or not allows(role, Permission.RESPOND)):
                message = f"user {target.id} is not a member of this workspace who may respond to alerts"
                raise InvalidInput(f"{field}: {message}", field=field)
            if target.kind in ("schedule", "schedule_next") and not store.schedule_exists(
                conn, workspace_id, target.id
            ):
                raise InvalidInput(f"{field}: no schedule {target.id} in this workspace", field=field)
            if target.kind == "channel":
                try:
                    cq.get(conn, workspace_id, target.id)
                except NotFound:
                    raise InvalidInput(
                        f"{field}: no channel {target.id} in this workspace", field=field
                    ) from None
            if target.kind == "policy" and target.id not in others and target.id != policy.id:
                raise InvalidInput(
                    f"{field}: no escalation policy {target.id} in this workspace", field=field
                )


def validated_policy(
    conn: apsw.Connection, workspace_id: int, policy_id: int | None, doc: Any
) -> tuple[str, dict[str, Any]]:
    policy, stored = policy_from(doc, policy_id or 0)
    others = {p.id: engine.policy_model(p) for p in eq.policies_of(conn, workspace_id) if p.id != policy_id}
    try:
        esc.check_policy(policy, others)
    except esc.PolicyError as exc:
        raise InvalidInput(f"{exc.field}: {exc.message}", field=exc.field) from None
    check_targets(conn, workspace_id, policy, others)
    if eq.policy_name_taken(conn, workspace_id, policy.name, policy_id):
        raise Conflict(f"name: a policy named {policy.name!r} exists", field="name")
    return policy.name, stored


def _summary(row: eq.PolicyRow) -> dict[str, Any]:
    return {"name": row.name, **row.doc}


def save_policy(
    conn: apsw.Connection, workspace_id: int, policy_id: int | None, doc: Any, actor: audit.Actor, now: float
) -> eq.PolicyRow:
    """Create (``policy_id`` None) or replace a policy, validated; audited with before/after."""
    before = existing(conn, workspace_id, policy_id) if policy_id is not None else None
    name, stored = validated_policy(conn, workspace_id, policy_id, doc)
    if policy_id is None:
        policy_id = eq.insert_policy(conn, workspace_id, name, stored, now)
    else:
        eq.update_policy(conn, workspace_id, policy_id, name, stored, now)
    after = existing(conn, workspace_id, policy_id)
    audit.record(
        conn,
        actor,
        "escalation_policy.create" if before is None else "escalation_policy.update",
        now,
        workspace_id=workspace_id,
        target=f"escalation_policy:{policy_id}",
        detail=audit.changes(_summary(before) if before else {}, _summary(after)),
    )
    return after


def remove_policy(
    conn: apsw.Connection, workspace_id: int, policy_id: int, actor: audit.Actor, now: float
) -> None:
    before = existing(conn, workspace_id, policy_id)
    for other in eq.policies_of(conn, workspace_id):
        if other.id != policy_id and any(
            t.kind == "policy" and t.id == policy_id
            for s in engine.policy_model(other).steps
            for t in s.targets
        ):
            raise Conflict(
                f"policy: {other.name!r} hands over to this policy; change it first", field="policy"
            )
    engine.stop_for_policy(conn, workspace_id, policy_id, "the policy was deleted", now)
    eq.delete_policy(conn, workspace_id, policy_id)
    audit.record(
        conn,
        actor,
        "escalation_policy.delete",
        now,
        workspace_id=workspace_id,
        target=f"escalation_policy:{policy_id}",
        detail=audit.changes(_summary(before), {}),
    )


def runs_out(conn: apsw.Connection, workspace_id: int, group_id: int) -> list[RunOut]:
    if aq.get_group(conn, workspace_id, group_id) is None:
        raise NotFound("no such alert group", field="group_id")
    found = eq.runs_of_group(conn, workspace_id, group_id)
    notices: dict[int, list[NoticeOut]] = {r.id: [] for r in found}
    for n in eq.notices_of_runs(conn, list(notices)):
        notices[n.run_id].append(NoticeOut(n.user_id, n.channel_id, n.due_at, n.status, n.notification_id))
    return [
        RunOut(
            r.id,
            r.policy_id,
            r.policy_name,
            r.status,
            r.step,
            r.round,
            r.next_at,
            r.steps_fired,
            r.stop_reason,
            r.started_at,
            r.ended_at,
            notices[r.id],
        )
        for r in found
    ]


# --- contact methods and rules -----------------------------------------------------------------


async def method_config(
    ctx: AppContext, workspace_id: int, user_id: int, kind: str, config: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(public, secret) configuration of a contact method, checked like a channel's."""
    if kind == "email":
        unknown = sorted(set(config) - {"to"})
        if unknown:
            raise InvalidInput(
                f"config.{unknown[0]}: an email contact method takes only 'to'", field=f"config.{unknown[0]}"
            )

        def relay(conn: apsw.Connection) -> tuple[dict[str, Any], dict[str, Any]] | None:
            user = q.user_by_id(conn, user_id)
            assert user is not None
            return engine.relay_email_config(conn, workspace_id, str(config.get("to") or user.email))

        found = await ctx.db.aread(relay)
        if found is None:
            raise InvalidInput(
                "kind: this workspace has no working email channel to send through", field="kind"
            )
        return await checked_config(ctx, TRANSPORTS["email"], {**found[0], **found[1]})
    if kind not in TRANSPORTS:
        raise InvalidInput(f"kind: one of {', '.join(sorted(TRANSPORTS))}", field="kind")
    return await checked_config(ctx, transport_for(kind), config)


def add_contact_method(
    conn: apsw.Connection,
    workspace_id: int,
    user_id: int,
    kind: str,
    name: str,
    public: dict[str, Any],
    secret: dict[str, Any],
    actor: audit.Actor,
    now: float,
) -> cq.Channel:
    channel = cq.create(conn, workspace_id, kind, name, public, secret, now, owner_user_id=user_id)
    after = {"kind": kind, "name": name, "config": masked(public, secret)}
    audit.record(
        conn, actor, "contact_method.create", now, workspace_id=workspace_id,
        target=f"channel:{channel.id}", detail=audit.changes({}, after),
    )  # fmt: skip
    return channel


def remove_contact_method(
    conn: apsw.Connection, workspace_id: int, user_id: int, method_id: int, actor: audit.Actor, now: float
) -> None:
    channel = cq.get(conn, workspace_id, method_id, user_id)
    cq.soft_delete(conn, channel, now)
    eq.delete_rules_of_channel(conn, channel.id)
    before = {"kind": channel.kind, "name": channel.name}
    audit.record(
        conn, actor, "contact_method.delete", now, workspace_id=workspace_id,
        target=f"channel:{channel.id}", detail=audit.changes(before, {}),
    )  # fmt: skip


def save_rules(
    conn: apsw.Connection,
    workspace_id: int,
    user_id: int,
    rules: list[tuple[str, int, int]],
    actor: audit.Actor,
    now: float,
) -> None:
    if len(rules) > MAX_RULES:
        raise InvalidInput(f"rules: at most {MAX_RULES}", field="rules")
    mine = {m.id for m in cq.list_for(conn, workspace_id, user_id)}
    for i, (urgency, channel_id, delay) in enumerate(rules):
        if urgency not in URGENCIES:
            raise InvalidInput(f"rules[{i}].urgency: normal or high", field=f"rules[{i}].urgency")
        if channel_id not in mine:
            field = f"rules[{i}].contact_method_id"
            raise InvalidInput(f"{field}: not one of your contact methods", field=field)
        if not 0 <= delay <= esc.MAX_WAIT_MINUTES:
            field = f"rules[{i}].delay_minutes"
            raise InvalidInput(f"{field}: between 0 and {esc.MAX_WAIT_MINUTES}", field=field)
    before = [
        list(r)
        for r in (
            (r.urgency, r.channel_id, r.delay_minutes) for r in eq.rules_of(conn, workspace_id, user_id)
        )
    ]
    eq.replace_rules(conn, workspace_id, user_id, rules, now)
    audit.record(
        conn, actor, "notification_rules.update", now, workspace_id=workspace_id, target=f"user:{user_id}",
        detail=audit.changes({"rules": before}, {"rules": [list(r) for r in rules]}),
    )  # fmt: skip


async def send_test(ctx: AppContext, ws: q.Workspace, user_id: int, method_id: int) -> TestOutcomeOut:
    channel = await ctx.db.aread(lambda c: cq.get(c, ws.id, method_id, user_id))
    notifier = notifier_of(ctx)
    message = sample_message(ws.slug, ws.name, notifier.public_url, ctx.now())
    outcome = await notifier.arun(notifier.attempt(channel, message))
    return TestOutcomeOut(
        outcome.ok, outcome.status_code, outcome.error, outcome.permanent, outcome.duration_ms
    )


HANDLERS: list[ControllerRouterHandler] = [EscalationApi]
