"""Microsoft Teams: a Workflows ("Post to a channel when a webhook request is received")
webhook URL, sent one Adaptive Card (``web/notify/teams.json.j2``). The retired Office 365
connector URLs answer 4xx, so such a channel is marked broken rather than retried."""

from __future__ import annotations

from signalcraft.notify.base import JsonWebhook


class Teams(JsonWebhook):
    kind = "teams"
    label = "Microsoft Teams"


TRANSPORT = Teams()
