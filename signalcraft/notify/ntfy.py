"""ntfy: push to phones through ntfy.sh or a self-hosted ntfy server, no vendor cloud needed.

The message is the request body; title, priority, tags and the click-through link are
headers (https://docs.ntfy.sh/publish/). Header values must be latin-1, so a non-ASCII
title is sent as an RFC 2047 encoded word, which ntfy decodes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.header import Header
from typing import Any

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

DEFAULT_SERVER = "https://ntfy.sh"
TOPIC = re.compile(r"^[-_A-Za-z0-9]{1,64}$")


def header_value(text: str) -> str:
    """ASCII as is; else RFC 2047 encoded words, kept on one line (a header value has no newline)."""
    return text if text.isascii() else Header(text, "utf-8").encode(linesep=" ")


class Ntfy(Transport):
    kind = "ntfy"
    label = "ntfy"
    secret_fields = frozenset({"token"})

    async def check_config(self, config: Mapping[str, Any], deps: NotifyDeps) -> dict[str, Any]:
        only_keys(config, {"server", "topic", "token", "template"})
        topic = text_field(config, "topic", max_length=64)
        if not TOPIC.match(topic):
            raise InvalidInput("letters, digits, - and _ only (at most 64)", field=field_name("topic"))
        return {
            "server": (await url_field(config, "server", deps, default=DEFAULT_SERVER)).rstrip("/"),
            "topic": topic,
            "token": text_field(config, "token", required=False, max_length=200),
            "template": check_template(config, deps),
        }

    async def send(
        self, message: AlertMessage, config: Mapping[str, Any], deps: NotifyDeps
    ) -> DeliveryResult:
        push = deps.renderer.json("ntfy", message, config.get("template", ""))
        headers = {
            "Title": header_value(push["title"]),
            "Priority": str(push["priority"]),
            "Tags": ",".join(push["tags"]),
            "Click": push["click"],
            "Content-Type": "text/plain; charset=utf-8",
        }
        if config.get("token"):
            headers["Authorization"] = f"Bearer {config['token']}"
        url = f"{config.get('server') or DEFAULT_SERVER}/{config['topic']}"
        result = await post(deps, url, content=push["message"].encode(), headers=headers)
        return DeliveryResult(status_code=result.status)


TRANSPORT = Ntfy()
