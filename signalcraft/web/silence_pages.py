"""Suppression pages (HTML): silences (also pre-filled from an alert group), maintenance windows
and inhibit rules.

Every change goes through :mod:`signalcraft.routing.service`, which validates, stores and
audits, exactly as the JSON API does. Windows and inhibit rules are saved as whole lists there,
so adding one sends the saved ones back (with their ids) plus the new one, and deleting one
sends the rest. Times in forms are UTC (``datetime-local`` inputs carry no zone).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import apsw
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from signalcraft.auth.rbac import Permission
from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries import integrations as iq
from signalcraft.db.queries import routing as rq
from signalcraft.errors import InvalidInput, NotFound, SignalCraftError
from signalcraft.routing import service
from signalcraft.routing.matchers import Matcher, MatcherError, all_match
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.context import ctx_of
from signalcraft.web.responses import render
from signalcraft.web.routing_forms import WEEKDAYS, FormData, errors_of, id_list, lines, read_form_data, words
from signalcraft.web.routing_pages import TIMEZONES, page

SILENCE_TABS = ("active", "pending", "expired")
SILENCE_FIELDS = ("matchers", "starts_at", "duration", "ends_at", "comment", "group_id")
DURATIONS = ("30m", "1h", "2h", "4h", "8h", "1d", "3d", "7d")
_DURATION = re.compile(r"^(\d{1,6})\s*([mhd]?)$")
_UNIT_SECONDS = {"": 60, "m": 60, "h": 3600, "d": 86400}


def parse_utc(raw: str, name: str) -> float | None:
    """A ``datetime-local`` value read as UTC; blank is None."""
    if not raw:
        return None
    try:
        return dt.datetime.fromisoformat(raw).replace(tzinfo=dt.UTC).timestamp()
    except ValueError:
        raise InvalidInput("must be a date and time like 2030-01-31T14:00 (UTC)", field=name) from None


def utc_input(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M")


def parse_duration(raw: str) -> float:
    """``90m``, ``2h``, ``1d`` (a bare number is minutes) in seconds."""
    found = _DURATION.match(raw.strip().lower())
    if not found or int(found.group(1)) == 0:
        raise InvalidInput("must be a duration like 30m, 2h or 1d", field="duration")
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2)]


def silence_state(s: rq.SilenceRow, now: float) -> str:
    return "expired" if s.ends_at <= now else "active" if s.starts_at <= now else "pending"


def label_matchers(labels: dict[str, str]) -> list[str]:
    """Exact matchers for an alert's labels (those no matcher can name are left out)."""
    found = []
    for name, value in sorted(labels.items()):
        try:
            found.append(str(Matcher.make(name, "=", str(value))))
        except MatcherError:
            continue
    return found


def count_matching(texts: list[str], firing: list[dict[str, str]]) -> int:
    """How many of these open alerts' label sets the matchers select; raises InvalidInput."""
    if not texts:
        raise InvalidInput("give at least one matcher", field="matchers")
    try:
        matchers = [Matcher.parse(t) for t in texts]
    except MatcherError as exc:
        raise InvalidInput(str(exc), field="matchers") from None
    return sum(1 for labels in firing if all_match(matchers, labels))


@dataclass(frozen=True)
class WindowView:
    id: int
    name: str
    schedule: str
    scope: list[str]
    active: bool


def describe_window(w: rq.WindowRow, integrations: dict[int, str], now: float) -> WindowView:
    if w.weekly is not None:
        days = ", ".join(WEEKDAYS[d] for d in sorted(w.weekly["weekdays"]))
        schedule = (f"Every {days} at {w.weekly['start']} for {w.weekly['duration_minutes']} min"
                    f" ({w.weekly.get('timezone', 'UTC')})")
    else:
        fmt = "%Y-%m-%d %H:%M"
        starts = dt.datetime.fromtimestamp(w.starts_at or 0, dt.UTC).strftime(fmt)
        ends = dt.datetime.fromtimestamp(w.ends_at or 0, dt.UTC).strftime(fmt)
        schedule = f"{starts} to {ends} UTC"
    scope = [f"integration {integrations.get(i, f'#{i}')}" for i in w.integrations] + list(w.matchers)
    return WindowView(w.id, w.name, schedule, scope or ["every alert"],
                      service.window_model(w).in_effect(now))


def window_doc(w: rq.WindowRow) -> dict[str, Any]:
    """A saved window as ``save_windows`` takes it back."""
    doc: dict[str, Any] = {"id": w.id, "name": w.name, "integrations": w.integrations, "matchers": w.matchers}
    if w.weekly is not None:
        return {**doc, "weekly": w.weekly}
    return {**doc, "starts_at": w.starts_at, "ends_at": w.ends_at}


def window_form(form: FormData) -> dict[str, Any]:
    return {
        "name": form.get("name", 200), "kind": form.get("kind", 10) or "once",
        "integrations": form.getall("integrations"), "matchers": form.get("matchers"),
        "starts_at": form.get("starts_at", 20), "ends_at": form.get("ends_at", 20),
        "weekly_weekdays": form.getall("weekly_weekdays"), "weekly_start": form.get("weekly_start", 10),
        "weekly_duration_minutes": form.get("weekly_duration_minutes", 10),
        "weekly_timezone": form.get("weekly_timezone", 100) or "UTC",
    }


def new_window_doc(v: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": v["name"], "integrations": id_list(v["integrations"], "integrations"),
                           "matchers": lines(v["matchers"])}
    if v["kind"] == "weekly":
        minutes = v["weekly_duration_minutes"]
        if not minutes.isdigit():
            raise InvalidInput("must be a whole number of minutes", field="weekly_duration_minutes")
        return {**doc, "weekly": {"weekdays": id_list(v["weekly_weekdays"], "weekly_weekdays"),
                                  "start": v["weekly_start"], "duration_minutes": int(minutes),
                                  "timezone": v["weekly_timezone"]}}
    for name in ("starts_at", "ends_at"):
        if not v[name]:
            raise InvalidInput("is required for a one-off window", field=name)
    return {**doc, "starts_at": parse_utc(v["starts_at"], "starts_at"),
            "ends_at": parse_utc(v["ends_at"], "ends_at")}


def inhibit_doc(r: rq.InhibitRow) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "source_matchers": r.source_matchers,
            "target_matchers": r.target_matchers, "equal": r.equal}


class SilencePages(Controller):
    path = "/w/{slug:str}"
    include_in_schema = False

    # --- silences ---------------------------------------------------------------------------

    @get("/silences", opt=page(Permission.READ))
    async def silences(
        self, request: Request[Any, Any, Any], tab: FromQuery[str] = "active"
    ) -> Response[Any]:
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        now = ctx.now()
        tab = tab if tab in SILENCE_TABS else "active"
        found = await ctx.db.aread(lambda c: rq.silences_of(c, ws.id))
        counts = {t: sum(1 for s in found if silence_state(s, now) == t) for t in SILENCE_TABS}
        shown = [s for s in found if silence_state(s, now) == tab]
        return render(request, "routing/silences.html", {
            "silences": shown, "tab": tab, "tabs": SILENCE_TABS, "counts": counts, "active_nav": "silences"})

    async def _silence_form(self, request: Request[Any, Any, Any], values: dict[str, str], *,
                            group: aq.GroupRow | None = None, errors: dict[str, str] | None = None,
                            status: int = 200) -> Response[Any]:
        return render(request, "routing/silence_form.html", {
            "values": values, "group": group, "errors": errors or {}, "durations": DURATIONS,
            "active_nav": "silences"}, status=status)

    @get("/silences/new", opt=page(Permission.RESPOND))
    async def new_silence(
        self, request: Request[Any, Any, Any], group: FromQuery[int | None] = None
    ) -> Response[Any]:
        """The create form; ``?group=<id>`` fills the matchers from the group's newest alert."""
        ws = workspace_of(request).workspace
        values = {k: "" for k in SILENCE_FIELDS} | {"duration": "2h"}
        found = None
        if group is not None:
            def load(conn: apsw.Connection) -> tuple[aq.GroupRow | None, list[aq.AlertRow]]:
                return aq.get_group(conn, ws.id, group), aq.alerts_of_group(conn, ws.id, group, limit=1)

            found, alerts = await ctx_of(request).db.aread(load)
            if found is None:
                raise NotFound("no such alert group", field="group")
            values["matchers"] = "\n".join(label_matchers(alerts[0].labels if alerts else {}))
            values["group_id"] = str(found.id)
        return await self._silence_form(request, values, group=found)

    @get("/silences/preview", opt=page(Permission.READ))
    async def preview(self, request: Request[Any, Any, Any], matchers: FromQuery[str] = "") -> Response[Any]:
        """How many open alerts these matchers select (the form asks as you type)."""
        ws = workspace_of(request).workspace
        firing = await ctx_of(request).db.aread(lambda c: rq.firing_labels(c, ws.id, 0))
        try:
            count, error = count_matching(lines(matchers[:20000]), firing), ""
        except InvalidInput as exc:
            count, error = 0, exc.message
        return render(request, "routing/_silence_preview.html", {"count": count, "error": error})

    @post("/silences", opt=page(Permission.RESPOND))
    async def create_silence(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        form = await read_form_data(request)
        values = {k: form.get(k) for k in SILENCE_FIELDS}
        now = ctx.now()

        def create(conn: apsw.Connection) -> rq.SilenceRow:
            group_id = int(values["group_id"]) if values["group_id"].isdigit() else None
            if group_id is not None and aq.get_group(conn, ws.id, group_id) is None:
                raise InvalidInput("no such alert group", field="matchers")
            starts = parse_utc(values["starts_at"], "starts_at") or now
            ends = parse_utc(values["ends_at"], "ends_at") or starts + parse_duration(values["duration"])
            return service.create_silence(conn, ws.id, lines(values["matchers"]), starts, ends,
                                          values["comment"], actor, now, group_id=group_id)

        try:
            await ctx.db.awrite(create)
        except InvalidInput as exc:
            gid = int(values["group_id"]) if values["group_id"].isdigit() else 0
            group = await ctx.db.aread(lambda c: aq.get_group(c, ws.id, gid))
            errors = errors_of(exc)
            if "ends_at" in errors and not values["ends_at"]:
                errors = {"duration": errors["ends_at"]}  # the end came from the duration
            return await self._silence_form(request, values, group=group, errors=errors, status=400)
        tab = "pending" if (parse_utc(values["starts_at"], "starts_at") or now) > now else "active"
        return Redirect(f"/w/{ws.slug}/silences?tab={tab}", status_code=303)

    @post("/silences/{silence_id:int}/expire", opt=page(Permission.RESPOND))
    async def expire(self, request: Request[Any, Any, Any], silence_id: FromPath[int]) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()
        await ctx.db.awrite(lambda c: service.expire_silence(c, ws.id, silence_id, actor, now))
        return Redirect(f"/w/{ws.slug}/silences?tab=expired", status_code=303)

    # --- maintenance windows ----------------------------------------------------------------

    async def _windows(self, request: Request[Any, Any, Any], values: dict[str, Any] | None = None, *,
                       errors: dict[str, str] | None = None, status: int = 200) -> Response[Any]:
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        now = ctx.now()

        def load(conn: apsw.Connection) -> tuple[list[WindowView], list[iq.Integration]]:
            integrations = iq.list_for(conn, ws.id)
            names = {i.id: i.name for i in integrations}
            return [describe_window(w, names, now) for w in rq.windows_of(conn, ws.id)], integrations

        windows, integrations = await ctx.db.aread(load)
        blank = {"name": "", "kind": "once", "integrations": [], "matchers": "", "starts_at": utc_input(now),
                 "ends_at": utc_input(now + 7200), "weekly_weekdays": ["5", "6"], "weekly_start": "02:00",
                 "weekly_duration_minutes": "120", "weekly_timezone": "UTC"}
        return render(request, "routing/maintenance.html", {
            "windows": windows, "integrations": integrations, "values": values or blank,
            "errors": errors or {}, "weekdays": WEEKDAYS, "timezones": TIMEZONES, "active_nav": "silences"},
            status=status)

    @get("/maintenance", opt=page(Permission.READ))
    async def windows(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._windows(request)

    @post("/maintenance", opt=page(Permission.CONFIGURE))
    async def create_window(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        values = window_form(await read_form_data(request))
        now = ctx.now()

        def save(conn: apsw.Connection) -> None:
            saved = [window_doc(w) for w in rq.windows_of(conn, ws.id)]
            service.save_windows(conn, ws.id, [*saved, new_window_doc(values)], actor, now)

        try:
            await ctx.db.awrite(save)
        except InvalidInput as exc:
            return await self._windows(request, values, errors=self._new_item_errors(exc), status=400)
        return Redirect(f"/w/{ws.slug}/maintenance", status_code=303)

    @post("/maintenance/{window_id:int}/delete", opt=page(Permission.CONFIGURE))
    async def delete_window(self, request: Request[Any, Any, Any], window_id: FromPath[int]) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()

        def delete(conn: apsw.Connection) -> None:
            saved = rq.windows_of(conn, ws.id)
            if all(w.id != window_id for w in saved):
                raise NotFound("no such maintenance window", field="window_id")
            service.save_windows(conn, ws.id, [window_doc(w) for w in saved if w.id != window_id], actor, now)

        await ctx.db.awrite(delete)
        return Redirect(f"/w/{ws.slug}/maintenance", status_code=303)

    @staticmethod
    def _new_item_errors(exc: SignalCraftError) -> dict[str, str]:
        """Errors of a whole-list save, shown on the form of the item being added (the last)."""
        found = re.match(r"^\w+\[(\d+)\]", exc.field or "")
        return errors_of(exc) if found is None else errors_of(exc, int(found.group(1)))

    # --- inhibit rules ----------------------------------------------------------------------

    async def _inhibition(self, request: Request[Any, Any, Any], values: dict[str, str] | None = None, *,
                          errors: dict[str, str] | None = None, status: int = 200) -> Response[Any]:
        ws = workspace_of(request).workspace
        found = await ctx_of(request).db.aread(lambda c: rq.inhibit_rules_of(c, ws.id))
        blank = {"name": "", "source_matchers": "", "target_matchers": "", "equal": ""}
        return render(request, "routing/inhibition.html", {
            "rules": found, "values": values or blank, "errors": errors or {}, "active_nav": "silences"},
            status=status)

    @get("/inhibition", opt=page(Permission.READ))
    async def inhibition(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return await self._inhibition(request)

    @post("/inhibition", opt=page(Permission.CONFIGURE))
    async def create_inhibit_rule(self, request: Request[Any, Any, Any]) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        form = await read_form_data(request)
        values = {k: form.get(k) for k in ("name", "source_matchers", "target_matchers", "equal")}
        doc = {"name": values["name"], "source_matchers": lines(values["source_matchers"]),
               "target_matchers": lines(values["target_matchers"]), "equal": words(values["equal"])}
        now = ctx.now()

        def save(conn: apsw.Connection) -> None:
            saved = [inhibit_doc(r) for r in rq.inhibit_rules_of(conn, ws.id)]
            service.save_inhibit_rules(conn, ws.id, [*saved, doc], actor, now)

        try:
            await ctx.db.awrite(save)
        except InvalidInput as exc:
            return await self._inhibition(request, values, errors=self._new_item_errors(exc), status=400)
        return Redirect(f"/w/{ws.slug}/inhibition", status_code=303)

    @post("/inhibition/{inhibit_id:int}/delete", opt=page(Permission.CONFIGURE))
    async def delete_inhibit_rule(
        self, request: Request[Any, Any, Any], inhibit_id: FromPath[int]
    ) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()

        def delete(conn: apsw.Connection) -> None:
            saved = rq.inhibit_rules_of(conn, ws.id)
            if all(r.id != inhibit_id for r in saved):
                raise NotFound("no such inhibit rule", field="inhibit_id")
            service.save_inhibit_rules(conn, ws.id, [inhibit_doc(r) for r in saved if r.id != inhibit_id],
                                       actor, now)

        await ctx.db.awrite(delete)
        return Redirect(f"/w/{ws.slug}/inhibition", status_code=303)


HANDLERS: list[ControllerRouterHandler] = [SilencePages]
