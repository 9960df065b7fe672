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
from typing import Any

import apsw
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect
from litestar.types import ControllerRouterHandler

from signalcraft.auth.rbac import Permission
from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries import routing as rq
from signalcraft.errors import InvalidInput, NotFound
from signalcraft.routing import service
from signalcraft.routing.matchers import Matcher, MatcherError, all_match
from signalcraft.web.access import identity_of, workspace_of
from signalcraft.web.context import ctx_of
from signalcraft.web.responses import render
from signalcraft.web.routing_forms import errors_of, lines, read_form_data
from signalcraft.web.routing_pages import page

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


def silence_values(s: rq.SilenceRow) -> dict[str, str]:
    """A saved silence as its edit form's values (the end is given, so no duration)."""
    return {"matchers": "\n".join(s.matchers), "starts_at": utc_input(s.starts_at), "duration": "",
            "ends_at": utc_input(s.ends_at), "comment": s.comment, "group_id": str(s.group_id or "")}


def silence_errors(exc: InvalidInput, values: dict[str, str]) -> dict[str, str]:
    """The service's error as the silence form shows it, next to the field it came from."""
    if (exc.field or "").startswith("matchers"):  # "matchers[2]": one line of the matchers field
        return {"matchers": exc.message}
    errors = errors_of(exc)
    if "ends_at" in errors and not values["ends_at"]:
        return {"duration": errors["ends_at"]}  # the end came from the duration
    if "silence_id" in errors:
        return {"": errors["silence_id"]}
    return errors


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
                            group: aq.GroupRow | None = None, silence: rq.SilenceRow | None = None,
                            errors: dict[str, str] | None = None, status: int = 200) -> Response[Any]:
        state = silence_state(silence, ctx_of(request).now()) if silence else None
        return render(request, "routing/silence_form.html", {
            "values": values, "group": group, "silence": silence, "state": state, "errors": errors or {},
            "durations": DURATIONS, "active_nav": "silences"}, status=status)

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
            saved = await ctx.db.awrite(create)
        except InvalidInput as exc:
            gid = int(values["group_id"]) if values["group_id"].isdigit() else 0
            group = await ctx.db.aread(lambda c: aq.get_group(c, ws.id, gid))
            return await self._silence_form(request, values, group=group, errors=silence_errors(exc, values),
                                            status=400)
        return Redirect(f"/w/{ws.slug}/silences?tab={silence_state(saved, now)}", status_code=303)

    @get("/silences/{silence_id:int}/edit", opt=page(Permission.RESPOND))
    async def edit_silence(self, request: Request[Any, Any, Any], silence_id: FromPath[int]) -> Response[Any]:
        ctx, ws = ctx_of(request), workspace_of(request).workspace
        found = await ctx.db.aread(lambda c: rq.silence(c, ws.id, silence_id))
        if found is None:
            raise NotFound("no such silence", field="silence_id")
        errors = {"": "This silence has ended; create a new one."} if found.ends_at <= ctx.now() else {}
        return await self._silence_form(request, silence_values(found), silence=found, errors=errors)

    @post("/silences/{silence_id:int}", opt=page(Permission.RESPOND))
    async def update_silence(self, request: Request[Any, Any, Any], silence_id: FromPath[int]) -> Response[Any]:
        """Save an edited silence; the start and end shown in the form, sent back unchanged, keep
        their exact saved values (the form shows minutes only)."""
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        form = await read_form_data(request)
        values = {k: form.get(k) for k in SILENCE_FIELDS}
        now = ctx.now()
        before = await ctx.db.aread(lambda c: rq.silence(c, ws.id, silence_id))
        if before is None:
            raise NotFound("no such silence", field="silence_id")

        def update(conn: apsw.Connection) -> rq.SilenceRow:
            starts = (before.starts_at if values["starts_at"] in ("", utc_input(before.starts_at))
                      else parse_utc(values["starts_at"], "starts_at") or now)
            ends = (before.ends_at if values["ends_at"] == utc_input(before.ends_at) and starts == before.starts_at
                    else parse_utc(values["ends_at"], "ends_at") or starts + parse_duration(values["duration"]))
            return service.update_silence(conn, ws.id, silence_id, lines(values["matchers"]), starts, ends,
                                          values["comment"], actor, now)

        try:
            saved = await ctx.db.awrite(update)
        except InvalidInput as exc:
            return await self._silence_form(request, values, silence=before, errors=silence_errors(exc, values),
                                            status=400)
        return Redirect(f"/w/{ws.slug}/silences?tab={silence_state(saved, now)}", status_code=303)

    @post("/silences/{silence_id:int}/expire", opt=page(Permission.RESPOND))
    async def expire(self, request: Request[Any, Any, Any], silence_id: FromPath[int]) -> Response[Any]:
        ctx, ws, actor = ctx_of(request), workspace_of(request).workspace, identity_of(request).actor
        now = ctx.now()
        await ctx.db.awrite(lambda c: service.expire_silence(c, ws.id, silence_id, actor, now))
        return Redirect(f"/w/{ws.slug}/silences?tab=expired", status_code=303)


HANDLERS: list[ControllerRouterHandler] = [SilencePages]
