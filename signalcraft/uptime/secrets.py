"""What people see of an HTTP monitor's secrets, and how an edit keeps them.

Header values and the request body are stored sealed (signalcraft.db.queries.uptime). The API,
the form and the audit log show each as :data:`MASK`; sending the mask back (a header line
``Authorization: ********``, a body of ``********``) keeps the stored value, anything else
replaces it, and a header left out is removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from signalcraft.errors import InvalidInput
from signalcraft.notify.base import MASK


def masked(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` with every header value and a non-empty body replaced by :data:`MASK`."""
    out = dict(settings)
    if "headers" in out:
        out["headers"] = dict.fromkeys(out["headers"] or {}, MASK)
    if out.get("body"):
        out["body"] = MASK
    return out


def kept(settings: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """Validated ``settings`` with each :data:`MASK` replaced by the stored value it stands for
    (the header of the same name in any case, keeping the stored spelling; the body). A mask
    with nothing stored behind it is an InvalidInput naming the field."""
    out = dict(settings)
    if "headers" in out:
        before = {name.lower(): (name, value) for name, value in (stored.get("headers") or {}).items()}
        headers = {}
        for name, value in out["headers"].items():
            if value == MASK:
                if name.lower() not in before:
                    raise InvalidInput(
                        f"{name} has no stored value to keep: type the value itself", field="settings.headers"
                    )
                name, value = before[name.lower()]  # the stored spelling: the seal is bound to it
            headers[name] = value
        out["headers"] = headers
    if out.get("body") == MASK:
        if not stored.get("body"):
            raise InvalidInput("there is no stored body to keep: type the body itself", field="settings.body")
        out["body"] = stored["body"]
    return out
