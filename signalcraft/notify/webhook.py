"""Generic webhook: a JSON body with a stable schema (``web/notify/webhook.json.j2``), signed.

Every request carries ``Idempotency-Key`` (the same on every attempt of one delivery) and
``X-SignalCraft-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` with the channel's
secret, so a receiver can check the origin, refuse old timestamps (replays) and drop duplicates.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import orjson

from signalcraft.errors import InvalidInput
from signalcraft.notify.base import (
    DeliveryResult,
    NotifyDeps,
    Transport,
    check_template,
    field_name,
    only_keys,
    post,
    text_field,
    url_field,
)
from signalcraft.notify.message import AlertMessage

MIN_SECRET = 16


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The value of ``X-SignalCraft-Signature`` for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class Webhook(Transport):
    kind = "webhook"
    label = "Webhook"
    secret_fields = frozenset({"secret"})

    async def check_config(self, config: Mapping[str, Any], deps: NotifyDeps) -> dict[str, Any]:
        only_keys(config, {"url", "secret", "template"})
        secret = text_field(config, "secret", max_length=200)
        if len(secret) < MIN_SECRET:
            raise InvalidInput(
                f"at least {MIN_SECRET} characters: receivers verify signatures with it",
                field=field_name("secret"),
            )
        return {
            "url": await url_field(config, "url", deps),
            "secret": secret,
            "template": check_template(config, deps),
        }

    async def send(
        self, message: AlertMessage, config: Mapping[str, Any], deps: NotifyDeps
    ) -> DeliveryResult:
        body = orjson.dumps(deps.renderer.json("webhook", message, config.get("template", "")))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.idempotency_key,
            "X-SignalCraft-Event": message.kind,
            "X-SignalCraft-Signature": signature(config["secret"], int(deps.clock()), body),
        }
        result = await post(deps, config["url"], content=body, headers=headers)
        return DeliveryResult(status_code=result.status)


TRANSPORT = Webhook()
