"""Every channel kind and its transport: a plain dict of real imports (PyInstaller sees them)."""

from __future__ import annotations

from signalcraft.errors import InvalidInput
from signalcraft.notify import apprise_channel, discord, email, ntfy, slack, teams, webhook
from signalcraft.notify.base import Transport

TRANSPORTS: dict[str, Transport] = {
    "slack": slack.TRANSPORT,
    "teams": teams.TRANSPORT,
    "discord": discord.TRANSPORT,
    "email": email.TRANSPORT,
    "webhook": webhook.TRANSPORT,
    "ntfy": ntfy.TRANSPORT,
    "apprise": apprise_channel.TRANSPORT,
}


def transport_for(kind: str) -> Transport:
    found = TRANSPORTS.get(kind)
    if found is None:
        raise InvalidInput(f"choose one of: {', '.join(TRANSPORTS)}", field="kind")
    return found
