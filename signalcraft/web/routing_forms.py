"""Routing forms: HTML form fields <-> the routing API's documents, and the one-line
descriptions the list pages show. Pure functions; the pages in :mod:`routing_pages` and
:mod:`silence_pages` do the I/O.

Service errors name a path in the API's document (``rules[2].conditions.window.timezone``);
:func:`form_field` maps it onto the form field it came from (``window_timezone``), so the
message is shown next to that field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from litestar import Request

from signalcraft.db.queries import routing as rq
from signalcraft.errors import InvalidInput, SignalCraftError

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]{0,199}$")
_WORDS = re.compile(r"[\s,]+")
_ITEM = re.compile(r"^\w+\[(\d+)\]\.?")
_INDEX = re.compile(r"\[\d+\]")

# --- forms ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormData:
    """A submitted form: single values and, for multi-selects and checkboxes, every value."""

    lists: dict[str, list[str]]

    def get(self, name: str, max_len: int = 4000) -> str:
        values = self.lists.get(name) or [""]
        return values[-1].strip()[:max_len]

    def getall(self, name: str) -> list[str]:
        return [v.strip() for v in self.lists.get(name, []) if v.strip()]

    def flag(self, name: str) -> bool:
        return self.get(name) in ("1", "on", "true")


async def read_form_data(request: Request[Any, Any, Any]) -> FormData:
    form = await request.form()
    lists: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            lists.setdefault(key, []).append(value)
    return FormData(lists)


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def words(text: str) -> list[str]:
    return [w for w in _WORDS.split(text.strip()) if w]


def id_list(values: list[str], name: str) -> list[int]:
    try:
        return [int(v) for v in values]
    except ValueError:
        raise InvalidInput("choose from the list", field=name) from None


def label_pairs(text: str, name: str) -> dict[str, str]:
    """``key=value`` per line."""
    found = {}
    for line in lines(text):
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{line!r} is not key=value", field=name)
        found[key.strip()] = value.strip()
    return found


def form_field(path: str | None, index: int | None = None) -> str | None:
    """The form field a service error names, or None when it is about another list item:
    ``rules[2].conditions.window.timezone`` -> ``window_timezone`` (when ``index`` is 2)."""
    if not path:
        return ""
    found = _ITEM.match(path)
    if found:
        if index is not None and int(found.group(1)) != index:
            return None
        path = path[found.end():]
    path = _INDEX.sub("", path).removeprefix("conditions.").removeprefix("actions.")
    if path in ("labels_exist", "conditions", "actions", "id", ""):
        return "matchers" if path == "labels_exist" else ""
    return path.replace(".", "_")


def errors_of(exc: SignalCraftError, index: int | None = None) -> dict[str, str]:
    name = form_field(exc.field, index)
    return {"": exc.message} if name is None else {name: exc.message}


# --- rule documents <-> editor values -----------------------------------------------------------


def blank_rule() -> dict[str, Any]:
    return {
        "name": "", "enabled": True, "integrations": [], "sources": "", "severities": [], "matchers": "",
        "title_contains": "", "window_start": "", "window_end": "", "window_timezone": "UTC",
        "window_weekdays": [str(d) for d in range(7)], **blank_actions(),
    }


def blank_actions() -> dict[str, Any]:
    return {"notify": [], "escalation_policy": "", "set_severity": "", "add_labels": "", "drop": False,
            "continue": False}


def actions_values(doc: dict[str, Any]) -> dict[str, Any]:
    policy = doc.get("escalation_policy")
    return {
        "notify": [str(c) for c in doc.get("notify", [])],
        "escalation_policy": "" if policy is None else str(policy),
        "set_severity": doc.get("set_severity") or "",
        "add_labels": "\n".join(f"{k}={v}" for k, v in doc.get("add_labels", {}).items()),
        "drop": bool(doc.get("drop")),
        "continue": bool(doc.get("continue")),
    }


def rule_values(row: rq.RuleRow) -> dict[str, Any]:
    c = row.doc.get("conditions", {})
    window = c.get("window") or {}
    return {
        "name": row.name, "enabled": row.enabled,
        "integrations": [str(i) for i in c.get("integrations", [])],
        "sources": ", ".join(c.get("sources", [])),
        "severities": list(c.get("severities", [])),
        "matchers": "\n".join([*c.get("matchers", []), *c.get("labels_exist", [])]),
        "title_contains": c.get("title_contains", ""),
        "window_start": window.get("start", ""), "window_end": window.get("end", ""),
        "window_weekdays": [str(d) for d in window.get("weekdays", range(7))],
        "window_timezone": window.get("timezone", "UTC"),
        **actions_values(row.doc.get("actions", {})),
    }


def actions_form(form: FormData) -> dict[str, Any]:
    return {
        "notify": form.getall("notify"), "escalation_policy": form.get("escalation_policy", 20),
        "set_severity": form.get("set_severity", 20), "add_labels": form.get("add_labels"),
        "drop": form.flag("drop"), "continue": form.flag("continue"),
    }


def rule_form(form: FormData) -> dict[str, Any]:
    return {
        "name": form.get("name", 200), "enabled": form.flag("enabled"),
        "integrations": form.getall("integrations"), "sources": form.get("sources", 2000),
        "severities": form.getall("severities"), "matchers": form.get("matchers"),
        "title_contains": form.get("title_contains", 400), "window_start": form.get("window_start", 10),
        "window_end": form.get("window_end", 10), "window_weekdays": form.getall("window_weekdays"),
        "window_timezone": form.get("window_timezone", 100), **actions_form(form),
    }


def check_policy(doc: dict[str, Any], policies: set[int]) -> None:
    """The escalation policy must be one of the workspace's (the service takes any id)."""
    policy = doc.get("actions", doc).get("escalation_policy")
    if policy is not None and policy not in policies:
        raise InvalidInput(f"no escalation policy {policy} in this workspace", field="escalation_policy")


def actions_doc(values: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if values["notify"]:
        doc["notify"] = id_list(values["notify"], "notify")
    if values["escalation_policy"]:
        doc["escalation_policy"] = id_list([values["escalation_policy"]], "escalation_policy")[0]
    if values["set_severity"]:
        doc["set_severity"] = values["set_severity"]
    if labels := label_pairs(values["add_labels"], "add_labels"):
        doc["add_labels"] = labels
    for flag in ("drop", "continue"):
        if values.get(flag):
            doc[flag] = True
    return doc


def rule_doc(values: dict[str, Any]) -> dict[str, Any]:
    """The API's rule document for editor values; bare label names are "label exists"."""
    conditions: dict[str, Any] = {}
    if values["integrations"]:
        conditions["integrations"] = id_list(values["integrations"], "integrations")
    if sources := words(values["sources"]):
        conditions["sources"] = sources
    if values["severities"]:
        conditions["severities"] = values["severities"]
    texts = lines(values["matchers"])
    if matchers := [t for t in texts if not _LABEL_NAME.match(t)]:
        conditions["matchers"] = matchers
    if exists := [t for t in texts if _LABEL_NAME.match(t)]:
        conditions["labels_exist"] = exists
    if values["title_contains"]:
        conditions["title_contains"] = values["title_contains"]
    if values["window_start"] or values["window_end"]:
        conditions["window"] = {
            "weekdays": id_list(values["window_weekdays"], "window_weekdays"),
            "start": values["window_start"], "end": values["window_end"],
            "timezone": values["window_timezone"] or "UTC",
        }
    return {"name": values["name"], "enabled": values["enabled"], "conditions": conditions,
            "actions": actions_doc(values)}


def saved_docs(rows: list[rq.RuleRow]) -> list[dict[str, Any]]:
    """The saved list as ``save_rules`` takes it back (each keeps its id)."""
    return [{**{k: v for k, v in r.doc.items() if k != "enabled"}, "id": r.id, "enabled": r.enabled}
            for r in rows]


def reordered(rows: list[rq.RuleRow], order: list[int]) -> list[dict[str, Any]]:
    """The saved rules in ``order``, which must name each of them exactly once."""
    if sorted(order) != sorted(r.id for r in rows):
        raise InvalidInput("the order must list each of this workspace's rules exactly once; reload the page",
                           field="order")
    by_id = {d["id"]: d for d in saved_docs(rows)}
    return [by_id[i] for i in order]


def parse_order(raw: str) -> list[int]:
    try:
        return [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        raise InvalidInput("must be rule ids separated by commas", field="order") from None


# --- what the pages show -----------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    integrations: dict[int, str]
    channels: dict[int, str]
    policies: dict[int, str]


@dataclass(frozen=True)
class RuleView:
    id: int
    name: str
    enabled: bool
    conditions: list[str]
    actions: list[str]


def describe_actions(doc: dict[str, Any], names: Names) -> list[str]:
    found = [f"notify {names.channels.get(c, f'channel #{c}')}" for c in doc.get("notify", [])]
    if doc.get("escalation_policy") is not None:
        policy = doc["escalation_policy"]
        found.append(f"escalate with {names.policies.get(policy, f'policy #{policy}')}")
    if doc.get("set_severity"):
        found.append(f"set severity {doc['set_severity']}")
    found += [f"add label {k}={v}" for k, v in doc.get("add_labels", {}).items()]
    if doc.get("drop"):
        found.append("drop (page nobody)")
    if doc.get("continue"):
        found.append("continue to the next rule")
    return found


def describe_conditions(doc: dict[str, Any], names: Names) -> list[str]:
    found = []
    if doc.get("integrations"):
        named = (names.integrations.get(i, f"#{i}") for i in doc["integrations"])
        found.append("integration " + " or ".join(named))
    if doc.get("sources"):
        found.append("source " + " or ".join(doc["sources"]))
    if doc.get("severities"):
        found.append("severity " + " or ".join(doc["severities"]))
    found += list(doc.get("matchers", []))
    found += [f"{name} exists" for name in doc.get("labels_exist", [])]
    if doc.get("title_contains"):
        found.append(f"title contains “{doc['title_contains']}”")
    if window := doc.get("window"):
        days = ", ".join(WEEKDAYS[d] for d in window.get("weekdays", range(7)))
        found.append(f"{days} {window.get('start')} to {window.get('end')} {window.get('timezone', 'UTC')}")
    return found


def rule_views(rows: list[rq.RuleRow], names: Names) -> list[RuleView]:
    return [RuleView(r.id, r.name, r.enabled, describe_conditions(r.doc.get("conditions", {}), names),
                     describe_actions(r.doc.get("actions", {}), names)) for r in rows]
