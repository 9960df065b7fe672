"""Slack: an incoming webhook (Block Kit), or a bot token with ``chat.postMessage`` so the
message can be updated (``chat.update``) when the alert is acknowledged or resolved.

Slack answers a bad webhook with 404/403/410 and a bot call with HTTP 200 and
``{"ok": false, "error": ...}``; both are classified here
(https://api.slack.com/messaging/webhooks#handling_errors, https://api.slack.com/web#responses).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from signalcraft.errors import InvalidInput
from signalcraft.notify.base import (
    DeliveryResult,
    NotifyDeps,
    Transport,
    TransportError,
    check_template,
    field_name,
    only_keys,
    post,
    post_json,
    text_field,
    url_field,
)
from signalcraft.notify.message import AlertMessage

DEFAULT_API_URL = "https://slack.com/api"
# Bot API errors a retry will not fix: the token or the channel is wrong or gone.
PERMANENT_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "restricted_action",
        "invalid_blocks",
        "invalid_arguments",
        "msg_too_long",
        "team_access_not_granted",
        "ekm_access_denied",
    }
)


class Slack(Transport):
    kind = "slack"
    label = "Slack"
    secret_fields = frozenset({"webhook_url", "bot_token"})
    updates_messages = True

    async def check_config(self, config: Mapping[str, Any], deps: NotifyDeps) -> dict[str, Any]:
        only_keys(config, {"webhook_url", "bot_token", "channel", "api_url", "template"})
        template = check_template(config, deps)
        if config.get("bot_token"):
            token = text_field(config, "bot_token", max_length=200)
            if not token.startswith("xoxb-"):
                raise InvalidInput("a bot token starts with xoxb-", field=field_name("bot_token"))
            return {
                "bot_token": token,
                "channel": text_field(config, "channel", max_length=80),
                "api_url": (await url_field(config, "api_url", deps, default=DEFAULT_API_URL)).rstrip("/"),
                "template": template,
            }
        if not config.get("webhook_url"):
            raise InvalidInput(
                "give an incoming webhook URL, or a bot token and a channel", field=field_name("webhook_url")
            )
        return {"webhook_url": await url_field(config, "webhook_url", deps), "template": template}

    async def send(
        self, message: AlertMessage, config: Mapping[str, Any], deps: NotifyDeps
    ) -> DeliveryResult:
        payload = deps.renderer.json("slack", message, config.get("template", ""))
        if not config.get("bot_token"):
            return await post_json(deps, config["webhook_url"], payload)
        answer = await self._call(deps, config, "chat.postMessage", {**payload, "channel": config["channel"]})
        return DeliveryResult(f"{answer['channel']}:{answer['ts']}", 200)

    async def update(
        self, message: AlertMessage, config: Mapping[str, Any], deps: NotifyDeps, provider_ref: str
    ) -> DeliveryResult:
        if not config.get("bot_token"):
            raise TransportError("webhook messages cannot be updated")
        channel, _, ts = provider_ref.partition(":")
        payload = deps.renderer.json("slack", message, config.get("template", ""))
        try:
            await self._call(deps, config, "chat.update", {**payload, "channel": channel, "ts": ts})
        except TransportError as exc:
            if exc.message.endswith(("message_not_found", "cant_update_message", "edit_window_closed")):
                return await self.send(message, config, deps)  # gone or too old: post a new one
            raise
        return DeliveryResult(provider_ref, 200)

    async def _call(
        self, deps: NotifyDeps, config: Mapping[str, Any], method: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        result = await post(
            deps,
            f"{config.get('api_url') or DEFAULT_API_URL}/{method}",
            content=orjson.dumps(payload),
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Authorization": f"Bearer {config['bot_token']}",
            },
        )
        try:
            answer: dict[str, Any] = orjson.loads(result.body)
        except orjson.JSONDecodeError:
            raise TransportError(f"{method}: the answer is not JSON", status_code=result.status) from None
        if answer.get("ok") is True:
            return answer
        error = str(answer.get("error", "unknown_error"))
        raise TransportError(
            f"{method}: {error}", permanent=error in PERMANENT_ERRORS, status_code=result.status
        )


TRANSPORT = Slack()
