"""Discord: a channel webhook, sent one embed (``web/notify/discord.json.j2``). A deleted
webhook answers 404 ("Unknown Webhook") and the channel is marked broken; a 429 carries
Retry-After, which the retry honours (https://discord.com/developers/docs/topics/rate-limits)."""

from __future__ import annotations

from signalcraft.notify.base import JsonWebhook


class Discord(JsonWebhook):
    kind = "discord"
    label = "Discord"


TRANSPORT = Discord()
