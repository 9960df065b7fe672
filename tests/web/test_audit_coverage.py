"""Every state-changing route leaves an audit entry: a real walk over the app's routes.

The walk starts on an empty instance (the first-run setup link is the first write), then
calls each POST/PUT/PATCH/DELETE route once with a valid request (CASES, in order: creates
before the edits and deletes that need them) and checks that the call succeeded and that a
new audit entry with the expected action, the actor, the address and (for edits) the
changed fields appeared. Routes that legitimately write no audit entry are in NOT_AUDITED
with the reason. A state-changing route on neither list fails the test by name: a new route
must decide.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from litestar.testing import TestClient

from signalcraft.auth import invitations, service
from signalcraft.auth.rbac import Role
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import audit
from signalcraft.db.queries import replays as rq
from signalcraft.oncall import overrides as ov
from signalcraft.oncall import store
from signalcraft.replay.ids import new_public_key
from signalcraft.routing import service as routing
from signalcraft.runtime import Parts, announce_setup
from signalcraft.web import api_escalation as escalation
from tests.helpers import PASSWORD, FakeClock, hidden_csrf, member
from tests.notify.test_channels import Receiver, notifying, receiving
from tests.web.test_alert_actions import am_payload
from tests.web.test_route_access import SAFE, all_routes

WS = "/api/v1/workspaces/alpha"
PAGE = "/w/alpha"
OWNER = "owner@example.com"
NEW_PASSWORD = "a brand new passphrase"
WEBHOOK_SECRET = "webhook-signing-secret-0123456789"

# Routes that write no audit entry, and why.
_INGEST = (
    "ingest: authenticated by the integration's credential; the raw payload and ingest log are its record"
)
_TIMELINE = "alert work (acknowledge, resolve, snooze, assign, notes): recorded on the alert group's timeline"
_PING = "heartbeat ping: the monitor's ping log is its record"
_TEST_SEND = "sends a test message to one's own contact method now; stores and changes nothing"
NOT_AUDITED: dict[tuple[str, str], str] = {
    ("POST", "/ingest/{token:str}"): _INGEST,
    ("POST", "/ingest/{token:str}/api/v2/alerts"): _INGEST,
    ("POST", "/api/v2/alerts"): _INGEST,
    ("POST", "/v2/enqueue"): _INGEST,
    ("POST", "/v2/change/enqueue"): _INGEST,
    ("POST", "/v2/alerts"): _INGEST,
    ("POST", "/v2/alerts/{identifier:str}/{action:str}"): _INGEST,
    ("POST", "/api/{project_id:int}/envelope"): _INGEST,
    ("POST", "/api/{project_id:int}/store"): _INGEST,
    ("POST", "/v2/heartbeats/{name:str}/ping"): _PING,
    ("PUT", "/v2/heartbeats/{name:str}/ping"): _PING,
    ("POST", "/api/push/{key:str}"): _PING,
    **{
        (m, p): _PING
        for m in ("POST", "PUT", "PATCH", "DELETE")
        for p in ("/ping/{key:str}", "/ping/{key:str}/{action:str}")
    },
    (
        "POST",
        "/replay/{key:str}/sessions/{session_id:str}/chunks",
    ): "session replay chunk from a browser: recorded data, not a change of configuration",
    (
        "POST",
        "/api/v1/workspaces/{slug:str}/integrations/preview",
    ): "read-only: maps a sample, stores nothing",
    ("POST", "/w/{slug:str}/integrations/preview"): "read-only: maps a sample, stores nothing",
    ("POST", "/api/v1/workspaces/{slug:str}/routing/test"): "read-only: replays rules over recent alerts",
    (
        "POST",
        "/w/{slug:str}/routing/test",
    ): "read-only: replays rules (or an unsaved draft) over recent alerts",
    ("POST", "/api/v1/workspaces/{slug:str}/me/contact-methods/{method_id:int}/test"): _TEST_SEND,
    ("POST", "/w/{slug:str}/me/contact-methods/{method_id:int}/test"): _TEST_SEND,
    (
        "POST",
        "/api/v1/workspaces/{slug:str}/monitors/{identifier:str}/run",
    ): "runs a check now: its result is a probe sample like any scheduled run",
    (
        "POST",
        "/w/{slug:str}/monitors/{identifier:str}/run",
    ): "runs a check now: its result is a probe sample like any scheduled run",
    ("POST", "/api/v1/workspaces/{slug:str}/alert-groups/{group_id:int}/acknowledge"): _TIMELINE,
    ("POST", "/api/v1/workspaces/{slug:str}/alert-groups/{group_id:int}/resolve"): _TIMELINE,
    ("POST", "/api/v1/workspaces/{slug:str}/alert-groups/{group_id:int}/snooze"): _TIMELINE,
    ("POST", "/api/v1/workspaces/{slug:str}/alert-groups/{group_id:int}/unsnooze"): _TIMELINE,
    ("POST", "/api/v1/workspaces/{slug:str}/alert-groups/{group_id:int}/assign"): _TIMELINE,
    ("POST", "/api/v1/workspaces/{slug:str}/alert-groups/{group_id:int}/notes"): _TIMELINE,
    ("POST", "/api/v1/workspaces/{slug:str}/alert-groups/bulk"): _TIMELINE,
    ("POST", "/w/{slug:str}/alerts/{group_id:int}/{action:str}"): _TIMELINE,
    ("POST", "/w/{slug:str}/alerts/{group_id:int}/notes"): _TIMELINE,
    ("POST", "/w/{slug:str}/inbox/bulk"): _TIMELINE,
    (
        "POST",
        "/sso/{slug:str}/acs",
    ): "audited (login.success / login.failure with the reason); needs a signed assertion from the "
    "test IdP, so tests/saml/test_acs.py asserts its audit entries",
}


@dataclass(frozen=True)
class Case:
    """One valid call of a route and the audit entry it must leave."""

    method: str
    template: str
    path: str  # formatted with the walk's ids
    action: str  # the expected action (exact, or a prefix ending in ".")
    json: Any = None
    form: dict[str, str] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    edit: bool = False  # an edit: the entry names the changed fields (before/after)
    anon: bool = False  # a public form: its page sets the anonymous CSRF token
    actor: str = OWNER


def _api(method: str, tail: str, action: str, json: Any = None, **kw: Any) -> Case:
    return Case(
        method, f"/api/v1/workspaces/{{slug:str}}{tail[0]}", f"{WS}{tail[1]}", action, json=json, **kw
    )


def _page(tail: tuple[str, str], action: str, form: dict[str, str] | None = None, **kw: Any) -> Case:
    return Case("POST", f"/w/{{slug:str}}{tail[0]}", f"{PAGE}{tail[1]}", action, form=form or {}, **kw)


ROLE_MAP = {"role": "responder"}
LAYER = {"unit": "weeks", "count": 1, "start": "2027-01-04T09:00", "participants": ["{owner}"]}
LAYER_FORM = {
    "timezone": "UTC",
    "layer_count": "1",
    "layer0_rotation": "weekly",
    "layer0_start_date": "2027-01-04",
    "layer0_handoff": "09:00",
    "layer0_participants": OWNER,
}
CASES: list[Case] = [
    # accounts (the session after setup)
    Case("POST", "/login", "/login", "login.success", form={"email": OWNER, "password": PASSWORD}, anon=True),
    Case(
        "POST",
        "/api/v1/workspaces",
        "/api/v1/workspaces",
        "workspace.create",
        json={"slug": "beta", "name": "Beta"},
    ),
    _api(
        "POST",
        ("/members", "/members"),
        "member.",
        {"email": "dave@example.com", "name": "Dave", "role": "viewer"},
    ),
    _api("PATCH", ("/members/{user_id:int}", "/members/{bob}"), "member.", {"role": "responder"}, edit=True),
    _api("DELETE", ("/members/{user_id:int}", "/members/{dave}"), "member."),
    _page(
        ("/settings/members", "/settings/members"),
        "member.",
        {"email": "erin@example.com", "name": "Erin", "role": "viewer"},
    ),
    _page(
        ("/settings/members/{user_id:int}/role", "/settings/members/{carol}/role"),
        "member.",
        ROLE_MAP,
        edit=True,
    ),
    _page(
        ("/settings/members/{user_id:int}/reset-link", "/settings/members/{carol}/reset-link"),
        "user.reset_link",
    ),
    _page(("/settings/members/{user_id:int}/remove", "/settings/members/{erin}/remove"), "member."),
    _api("POST", ("/api-keys", "/api-keys"), "apikey.create", {"name": "ci", "role": "viewer"}),
    _api("DELETE", ("/api-keys/{key_id:int}", "/api-keys/{key1}"), "apikey.revoke"),
    _page(
        ("/settings/api-keys", "/settings/api-keys"),
        "apikey.create",
        {"name": "deploys", "role": "responder", "expires_in_days": "30"},
    ),
    _page(("/settings/api-keys/{key_id:int}/revoke", "/settings/api-keys/{key2}/revoke"), "apikey.revoke"),
    # integrations
    _api(
        "POST",
        ("/integrations", "/integrations"),
        "integration.create",
        {"type": "alertmanager", "name": "gen2"},
    ),
    _api(
        "PATCH",
        ("/integrations/{integration_id:int}", "/integrations/{integration}"),
        "integration.update",
        {"name": "renamed"},
        edit=True,
    ),
    _api(
        "POST",
        ("/integrations/{integration_id:int}/rotate", "/integrations/{integration}/rotate"),
        "integration.rotate",
    ),
    _page(
        ("/integrations/new", "/integrations/new"),
        "integration.create",
        {"name": "page", "type": "alertmanager"},
    ),
    _page(
        ("/integrations/{integration_id:int}/edit", "/integrations/{integration}/edit"),
        "integration.update",
        {"name": "edited"},
        edit=True,
    ),
    _page(
        ("/integrations/{integration_id:int}/rotate", "/integrations/{integration}/rotate"),
        "integration.rotate",
    ),
    # channels
    _api(
        "POST",
        ("/channels", "/channels"),
        "channel.create",
        {"kind": "webhook", "name": "hook", "config": {"url": "{hook}", "secret": WEBHOOK_SECRET}},
    ),
    _api(
        "PATCH",
        ("/channels/{channel_id:int}", "/channels/{channel}"),
        "channel.update",
        {"name": "ops"},
        edit=True,
    ),
    _api("POST", ("/channels/{channel_id:int}/repair", "/channels/{channel}/repair"), "channel."),
    _api("POST", ("/channels/{channel_id:int}/test", "/channels/{channel}/test"), "channel.test"),
    _page(
        ("/channels", "/channels"),
        "channel.create",
        {"kind": "webhook", "name": "page-hook", "config.url": "{hook}", "config.secret": WEBHOOK_SECRET},
    ),
    _page(
        ("/channels/{channel_id:int}", "/channels/{channel}"),
        "channel.update",
        {"name": "ops-page", "config.url": "{hook}", "config.secret": ""},
        edit=True,
    ),
    _page(("/channels/{channel_id:int}/test", "/channels/{channel}/test"), "channel.test"),
    _page(("/channels/{channel_id:int}/repair", "/channels/{channel}/repair"), "channel."),
    _page(("/channels/{channel_id:int}/delete", "/channels/{channel2}/delete"), "channel.delete"),
    # invitations and the workspace settings page
    _page(
        ("/settings/invitations", "/settings/invitations"),
        "invitation.create",
        {"email": "frank@example.com", "role": "viewer"},
    ),
    _page(
        ("/settings/invitations/{invitation_id:int}/revoke", "/settings/invitations/1/revoke"),
        "invitation.revoke",
    ),
    _page(
        ("/settings/workspace", "/settings/workspace"), "workspace.rename", {"name": "Alpha Team"}, edit=True
    ),
    Case(
        "POST",
        "/w/{slug:str}/settings/workspace/delete",
        "/w/beta/settings/workspace/delete",
        "workspace.delete",
        form={"confirm_name": "Beta"},
    ),
    # routing and suppression pages (before the API's whole-list saves below replace their rows)
    _page(("/routing/order", "/routing/order"), "routing.rules_save", {"order": "{rule2},{rule}"}, edit=True),
    _page(
        ("/routing/rules/{rule_id:int}/move", "/routing/rules/{rule}/move"),
        "routing.rules_save",
        {"direction": "up"},
        edit=True,
    ),
    _page(
        ("/routing/rules/{rule_id:int}/toggle", "/routing/rules/{rule}/toggle"),
        "routing.rules_save",
        edit=True,
    ),
    _page(
        ("/routing/rules/{rule_id:int}", "/routing/rules/{rule}"),
        "routing.rules_save",
        {"name": "disk rule", "enabled": "on", "matchers": "alertname=DiskFull", "set_severity": "critical"},
        edit=True,
    ),
    _page(
        ("/routing/rules/{rule_id:int}/delete", "/routing/rules/{rule2}/delete"),
        "routing.rules_save",
        edit=True,
    ),
    _page(
        ("/routing/rules", "/routing/rules"),
        "routing.rules_save",
        {"name": "page rule", "enabled": "on", "matchers": "team=db", "drop": "on"},
        edit=True,
    ),
    _page(("/routing/default", "/routing/default"), "routing.default_save", {"drop": "on"}, edit=True),
    _page(
        ("/silences", "/silences"),
        "silence.create",
        {"matchers": "alertname=DiskFull", "duration": "2h", "comment": "from the page"},
    ),
    _page(
        ("/silences/{silence_id:int}", "/silences/{silence}"),
        "silence.update",
        {"matchers": "team=db", "duration": "3h", "comment": "longer"},
        edit=True,
    ),
    _page(("/silences/{silence_id:int}/expire", "/silences/{silence2}/expire"), "silence.expire", edit=True),
    _page(
        ("/maintenance", "/maintenance"),
        "maintenance.save",
        {"name": "upgrade", "kind": "once", "starts_at": "2027-02-01T00:00", "ends_at": "2027-02-01T02:00"},
        edit=True,
    ),
    _page(
        ("/maintenance/{window_id:int}", "/maintenance/{window}"),
        "maintenance.save",
        {"name": "nightly", "kind": "weekly", "weekly_weekdays": "5", "weekly_start": "03:00",
         "weekly_duration_minutes": "90", "weekly_timezone": "UTC"},
        edit=True,
    ),
    _page(
        ("/maintenance/{window_id:int}/delete", "/maintenance/{window}/delete"), "maintenance.save", edit=True
    ),
    _page(
        ("/inhibition", "/inhibition"),
        "inhibit.save",
        {
            "name": "node down mutes disk",
            "source_matchers": "alertname=NodeDown",
            "target_matchers": "alertname=DiskFull",
            "equal": "host",
        },
        edit=True,
    ),
    _page(
        ("/inhibition/{inhibit_id:int}", "/inhibition/{inhibit}"),
        "inhibit.save",
        {"name": "crit", "source_matchers": "severity=critical", "target_matchers": "severity=~info|warning"},
        edit=True,
    ),
    _page(("/inhibition/{inhibit_id:int}/delete", "/inhibition/{inhibit}/delete"), "inhibit.save", edit=True),
    # routing and silences
    _api(
        "PUT",
        ("/routing/rules", "/routing/rules"),
        "routing.",
        {"rules": [{"name": "all", "conditions": {}, "actions": {"drop": True}}]},
        edit=True,
    ),
    _api("PUT", ("/routing/default", "/routing/default"), "routing.", {"actions": {"drop": True}}, edit=True),
    _api(
        "PUT",
        ("/inhibit-rules", "/inhibit-rules"),
        "",
        {
            "inhibit_rules": [
                {
                    "name": "crit mutes warn",
                    "source_matchers": ["severity=critical"],
                    "target_matchers": ["severity=warning"],
                    "equal": ["host"],
                }
            ]
        },
        edit=True,
    ),
    _api("PUT", ("/maintenance-windows", "/maintenance-windows"), "", {"windows": []}),
    _api(
        "POST",
        ("/silences", "/silences"),
        "silence.create",
        {"matchers": ["alertname=DiskFull"], "duration_minutes": 30, "comment": "on it"},
    ),
    _api(
        "PUT",
        ("/silences/{silence_id:int}", "/silences/{silence}"),
        "silence.update",
        {"matchers": ["team=db"], "duration_minutes": 240, "comment": "from the API"},
        edit=True,
    ),
    _api("POST", ("/silences/expire", "/silences/expire"), "silence.expire", {"id": "{silence}"}, edit=True),
    _api(
        "POST",
        ("/alert-groups/{group_id:int}/silence", "/alert-groups/{group}/silence"),
        "silence.create",
        {"duration_minutes": 60, "comment": "noisy"},
    ),
    # saved views (shared by the workspace)
    _api("POST", ("/views", "/views"), "view.create", {"name": "Mine", "query": "assignee=me"}),
    _api("PATCH", ("/views/{name:str}", "/views/Mine"), "view.update", {"name": "Ours"}, edit=True),
    _api("DELETE", ("/views/{name:str}", "/views/Ours"), "view.delete"),
    _page(("/inbox/views", "/inbox/views"), "view.create", {"name": "Crit", "query": "severity=critical"}),
    _page(("/inbox/views/{name:str}/delete", "/inbox/views/Crit/delete"), "view.delete"),
    # on-call schedules, overrides, swaps and feeds
    _api("POST", ("/schedules", "/schedules"), "schedule.create", {"name": "API", "layers": [LAYER]}),
    _api(
        "PUT",
        ("/schedules/{schedule_id:int}", "/schedules/{schedule}"),
        "schedule.update",
        {"name": "Primary", "timezone": "Europe/Berlin", "layers": [LAYER]},
        edit=True,
    ),
    _api(
        "POST",
        ("/schedules/{schedule_id:int}/overrides", "/schedules/{schedule}/overrides"),
        "schedule.override.create",
        {"user_id": "{bob}", "start": "2027-02-01T09:00+00:00", "end": "2027-02-02T09:00+00:00"},
    ),
    _api(
        "POST",
        ("/schedules/{schedule_id:int}/swap", "/schedules/{schedule}/swap"),
        "schedule.swap",
        {"to_user_id": "{bob}", "start": "2027-02-10T09:00+00:00", "end": "2027-02-11T09:00+00:00"},
    ),
    _api(
        "DELETE",
        (
            "/schedules/{schedule_id:int}/overrides/{override_id:int}",
            "/schedules/{schedule}/overrides/{override}",
        ),
        "schedule.override.delete",
    ),
    _api(
        "POST",
        ("/schedules/{schedule_id:int}/ical-feed", "/schedules/{schedule}/ical-feed"),
        "schedule.feed.rotate",
        edit=True,
    ),
    _api("POST", ("/me/ical-feed", "/me/ical-feed"), "schedule.feed.rotate", edit=True),
    _api("DELETE", ("/schedules/{schedule_id:int}", "/schedules/{schedule2}"), "schedule.delete"),
    _page(("/schedules", "/schedules"), "schedule.create", {**LAYER_FORM, "name": "Page"}),
    _page(
        ("/schedules/{schedule_id:int}/edit", "/schedules/{schedule}/edit"),
        "schedule.update",
        {**LAYER_FORM, "name": "Primary (page)"},
        edit=True,
    ),
    _page(
        ("/schedules/{schedule_id:int}/overrides", "/schedules/{schedule}/overrides"),
        "schedule.override.create",
        {"kind": "override", "user_id": "{bob}", "start": "2027-02-20T09:00", "end": "2027-02-21T09:00"},
    ),
    _page(
        (
            "/schedules/{schedule_id:int}/overrides/{override_id:int}/delete",
            "/schedules/{schedule}/overrides/{override2}/delete",
        ),
        "schedule.override.delete",
    ),
    _page(
        ("/schedules/{schedule_id:int}/feed", "/schedules/{schedule}/feed"), "schedule.feed.rotate", edit=True
    ),
    _page(("/schedules/my-feed", "/schedules/my-feed"), "schedule.feed.rotate", edit=True),
    _page(("/schedules/{schedule_id:int}/delete", "/schedules/{schedule3}/delete"), "schedule.delete"),
    # escalation policies, one's own contact methods and notification rules
    _api(
        "POST",
        ("/escalation-policies", "/escalation-policies"),
        "escalation_policy.create",
        {
            "name": "API",
            "steps": [{"targets": [{"kind": "schedule", "id": "{schedule}"}], "wait_minutes": 10}],
        },
    ),
    _api(
        "PUT",
        ("/escalation-policies/{policy_id:int}", "/escalation-policies/{policy}"),
        "escalation_policy.update",
        {"name": "Renamed", "steps": [{"targets": [{"kind": "user", "id": "{owner}"}]}], "repeat": 2},
        edit=True,
    ),
    _api(
        "DELETE",
        ("/escalation-policies/{policy_id:int}", "/escalation-policies/{policy2}"),
        "escalation_policy.delete",
    ),
    _page(
        ("/escalation", "/escalation"),
        "escalation_policy.create",
        {"name": "Page", "step0_targets": "schedule:{schedule}", "step0_wait": "5", "repeat": "1"},
    ),
    _page(
        ("/escalation/{policy_id:int}", "/escalation/{policy}"),
        "escalation_policy.update",
        {"name": "Renamed on the page", "step0_targets": "user:{owner}", "step0_wait": "0"},
        edit=True,
    ),
    _page(
        ("/escalation/{policy_id:int}/order", "/escalation/{policy}/order"),
        "escalation_policy.update",
        {"name": "Renamed on the page", "step0_targets": "user:{owner}", "step0_wait": "0",
         "step1_targets": "schedule:{schedule}", "step1_wait": "5", "order": "1,0"},
        edit=True,
    ),
    _page(("/escalation/{policy_id:int}/delete", "/escalation/{policy3}/delete"), "escalation_policy.delete"),
    _api(
        "POST",
        ("/me/contact-methods", "/me/contact-methods"),
        "contact_method.create",
        {"kind": "webhook", "name": "pager", "config": {"url": "{hook}", "secret": WEBHOOK_SECRET}},
    ),
    _api(
        "PUT",
        ("/me/notification-rules", "/me/notification-rules"),
        "notification_rules.update",
        {"rules": [{"urgency": "high", "contact_method_id": "{method}", "delay_minutes": 5}]},
        edit=True,
    ),
    _api(
        "DELETE",
        ("/me/contact-methods/{method_id:int}", "/me/contact-methods/{method2}"),
        "contact_method.delete",
    ),
    _page(
        ("/me/contact-methods", "/me/contact-methods"),
        "contact_method.create",
        {
            "kind": "webhook",
            "name": "page pager",
            "target": f'{{"url": "{{hook}}", "secret": "{WEBHOOK_SECRET}"}}',
        },
    ),
    _page(
        ("/me/notification-rules", "/me/notification-rules"),
        "notification_rules.update",
        {"normal0_method": "{method}", "normal0_delay": "0"},
        edit=True,
    ),
    _page(
        ("/me/contact-methods/{method_id:int}/delete", "/me/contact-methods/{method3}/delete"),
        "contact_method.delete",
    ),
    # uptime and the status page
    _api(
        "POST",
        ("/monitors", "/monitors"),
        "monitor.create",
        {"kind": "heartbeat", "name": "Cron", "settings": {"cron": "@daily"}},
    ),
    _api(
        "PATCH",
        ("/monitors/{identifier:str}", "/monitors/{monitor}"),
        "monitor.",
        {"name": "Nightly"},
        edit=True,
    ),
    _page(
        ("/monitors/new", "/monitors/new"),
        "monitor.create",
        {
            "kind": "heartbeat",
            "name": "Backup",
            "schedule": "period",
            "period_seconds": "3600",
            "grace_seconds": "300",
        },
    ),
    _page(
        ("/monitors/{identifier:str}/edit", "/monitors/{monitor}/edit"),
        "monitor.",
        {
            "kind": "heartbeat",
            "name": "Nightly job",
            "schedule": "period",
            "period_seconds": "86400",
            "grace_seconds": "600",
        },
        edit=True,
    ),
    _page(("/monitors/{identifier:str}/pause", "/monitors/{monitor}/pause"), "monitor."),
    _page(("/monitors/{identifier:str}/resume", "/monitors/{monitor}/resume"), "monitor."),
    _page(
        ("/settings/status-page", "/settings/status-page"),
        "status_page.update",
        {"title": "Status", "enabled": "on"},
        edit=True,
    ),
    _page(
        ("/settings/status-page/notes", "/settings/status-page/notes"),
        "status_page.note_add",
        {"kind": "incident", "title": "Slow checkout", "body": "Looking into it"},
    ),
    _page(
        ("/settings/status-page/notes/{identifier:str}/delete", "/settings/status-page/notes/1/delete"),
        "status_page.note_delete",
    ),
    _page(("/monitors/{identifier:str}/delete", "/monitors/{monitor}/delete"), "monitor.delete"),
    _api("DELETE", ("/monitors/{identifier:str}", "/monitors/{monitor2}"), "monitor.delete"),
    # session replay
    _page(
        ("/settings/replays", "/settings/replays"),
        "replay.settings",
        {"allowed_origins": "https://shop.example.com", "sample_rate": "50"},
        edit=True,
    ),
    _page(("/settings/replays/rotate-key", "/settings/replays/rotate-key"), "replay.rotate_key"),
    _page(("/replays/{identifier:str}/delete", "/replays/{replay}/delete"), "replay.delete"),
    # SSO settings
    _page(
        ("/settings/sso", "/settings/sso"),
        "sso.update",
        {"email_attribute": "mail", "default_role": "viewer"},
        edit=True,
    ),
    # deletes last: the edits above need these
    _page(
        ("/integrations/{integration_id:int}/revoke", "/integrations/{integration}/revoke"),
        "integration.revoke",
    ),
    _api("DELETE", ("/integrations/{integration_id:int}", "/integrations/{integration2}"), "integration."),
    _api("DELETE", ("/channels/{channel_id:int}", "/channels/{channel}"), "channel.delete"),
    # one's own account, then signing out
    Case("POST", "/logout", "/logout", "logout"),
    # signed out: a new user accepts an invitation link (and is signed in by it)
    Case(
        "POST",
        "/invite/{token:str}",
        "/invite/{invite}",
        "invitation.accept",
        form={"name": "Grace", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
        anon=True,
        actor="grace@example.com",
    ),
    Case("POST", "/login", "/login", "login.success", form={"email": OWNER, "password": PASSWORD}, anon=True),
    Case(
        "POST",
        "/account/password",
        "/account/password",
        "user.password_change",
        form={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD,
        },
    ),
    Case(
        "POST",
        "/reset/{token:str}",
        "/reset/{reset}",
        "user.password_reset",
        form={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
        actor="reset-link",
        anon=True,
    ),
]


@dataclass
class Walk:
    client: TestClient  # type: ignore[type-arg]
    parts: Parts
    ids: dict[str, Any] = field(default_factory=dict)
    csrf: str = ""

    def entries(self) -> list[audit.AuditEntry]:
        return self.parts.ctx.db.read(lambda c: audit.entries(c, None, limit=100_000))

    def fill(self, text: str) -> str:
        """``{name}`` in a form value: the walk's id (or URL) of that name."""
        for name, value in self.ids.items():
            text = text.replace(f"{{{name}}}", str(value))
        return text

    def refresh_csrf(self) -> None:
        page = self.client.get(f"{PAGE}/settings/members")
        self.csrf = hidden_csrf(page.text) if page.status_code == 200 else ""

    def call(self, case: Case) -> Any:
        for name in ("dave", "erin"):  # members the walk itself adds
            found = self.parts.ctx.db.read(lambda c, n=name: q.user_by_email(c, f"{n}@example.com"))
            self.ids[name] = found.id if found else 0
        if "{reset}" in case.path:  # a fresh link: issuing one voids the earlier ones
            auth, carol, now = self.parts.ctx.settings.auth, self.ids["carol"], self.parts.ctx.now()
            self.ids["reset"] = self.parts.ctx.db.write(
                lambda c: service.issue_reset_link(c, auth, carol, audit.CLI, now)
            )
        if "{invite}" in case.path:  # an invitation link, as an admin hands it out
            ws, now = self.parts.ctx.db.read(lambda c: q.workspace_by_slug(c, "alpha")), self.parts.ctx.now()
            self.ids["invite"] = self.parts.ctx.db.write(
                lambda c: invitations.invite(c, ws, "grace@example.com", Role.VIEWER, audit.CLI, None, now)
            ).token
        path = case.path.format(**self.ids)
        headers = {"X-CSRF-Token": self.csrf}
        if case.json is not None or case.method in ("DELETE", "PATCH", "PUT") or path.startswith("/api/"):
            text = orjson.dumps(case.json).decode()
            for name, value in self.ids.items():  # "{name}" in the body: the walk's id (or URL)
                text = text.replace(f'"{{{name}}}"', orjson.dumps(value).decode())
            body = orjson.loads(text)
            return self.client.request(case.method, path, json=body, headers=headers, follow_redirects=False)
        if not case.anon:
            form = {k: self.fill(v) for k, v in (case.form or {}).items()} | {"_csrf": self.csrf}
            return self.client.request(case.method, path, data=form, files=case.files, follow_redirects=False)
        session = self.client.cookies.get("sc_session")  # a public form, as a visitor
        self.client.cookies.delete("sc_session")
        form = {**(case.form or {}), "_csrf": hidden_csrf(self.client.get(path).text)}
        response = self.client.request(case.method, path, data=form, follow_redirects=False)
        if session and not self.client.cookies.get("sc_session"):
            self.client.cookies.set("sc_session", session)
        return response


def _setup(client: TestClient, parts: Parts) -> audit.AuditEntry:  # type: ignore[type-arg]
    url = announce_setup(parts)
    assert url is not None
    path = url.split("8080", 1)[1]
    csrf = hidden_csrf(client.get(path).text)
    done = client.post(
        path,
        data={
            "_csrf": csrf,
            "name": "Owner",
            "email": OWNER,
            "password": PASSWORD,
            "password_confirm": PASSWORD,
            "workspace_name": "Alpha",
            "workspace_slug": "alpha",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text[:300]
    return parts.ctx.db.read(lambda c: audit.entries(c, None, action_prefix="instance.setup"))[0]


def _ok(response: Any) -> Any:
    assert response.status_code < 400, response.text[:300]
    return response.json()


def _world(walk: Walk, clock: FakeClock) -> None:
    """Members, API keys, an integration with an alert group, a channel, monitors and a replay."""
    db, now, c = walk.parts.ctx.db, clock(), walk.client
    ws = db.read(lambda conn: q.workspace_by_slug(conn, "alpha"))
    assert ws is not None
    for name in ("bob", "carol"):
        walk.ids[name] = member(db, f"{name}@example.com", Role.VIEWER, "alpha", now).user.id
    for n in (1, 2, 3):
        walk.ids[f"key{n}"] = db.write(
            lambda conn: service.create_api_key(conn, ws.id, "k", Role.VIEWER, audit.CLI, now, None)
        ).row.id
    headers = {"X-CSRF-Token": walk.csrf}
    made = _ok(c.post(f"{WS}/integrations", json={"type": "alertmanager", "name": "gen"}, headers=headers))
    walk.ids["integration"] = made["integration"]["id"]
    _ok(c.post(made["ingest_url"].split("8080", 1)[1], json=am_payload("DiskFull")))
    walk.ids["group"] = walk.parts.ctx.db.read(
        lambda conn: conn.execute("SELECT max(id) FROM alert_groups").fetchone()[0]
    )
    walk.ids["integration2"] = c.post(
        f"{WS}/integrations", json={"type": "alertmanager", "name": "gen3"}, headers=headers
    ).json()["integration"]["id"]
    walk.ids["channel"] = _ok(
        c.post(
            f"{WS}/channels",
            json={
                "kind": "webhook",
                "name": "c",
                "config": {"url": walk.ids["hook"], "secret": WEBHOOK_SECRET},
            },
            headers=headers,
        )
    )["id"]
    walk.ids["channel2"] = _ok(
        c.post(
            f"{WS}/channels",
            json={
                "kind": "webhook",
                "name": "c2",
                "config": {"url": walk.ids["hook"], "secret": WEBHOOK_SECRET},
            },
            headers=headers,
        )
    )["id"]
    for name in ("monitor", "monitor2"):
        walk.ids[name] = _ok(
            c.post(
                f"{WS}/monitors",
                json={"kind": "heartbeat", "name": name, "settings": {"cron": "@daily"}},
                headers=headers,
            )
        )["id"]
    recorder = db.write(
        lambda conn: rq.save_recorder(conn, ws.id, new_public_key(), ("https://a.example",), None, now)
    )
    session = "0123456789abcdef0123456789abcdef"
    sent = c.post(
        f"/replay/{recorder.public_key}/sessions/{session}/chunks",
        content=orjson.dumps(
            {
                "seq": 0,
                "events": [{"type": 4, "timestamp": int(now * 1000), "data": {"href": "https://a.example/"}}],
            }
        ),
        headers={"Origin": "https://a.example", "Content-Type": "text/plain;charset=UTF-8"},
    )
    assert sent.status_code == 202, sent.text
    walk.ids["replay"] = session


def _configuration(walk: Walk, clock: FakeClock) -> None:
    """Schedules with overrides, escalation policies, contact methods, routing rules, silences,
    maintenance windows and inhibit rules for the edits and deletes to act on."""
    db, now, cli = walk.parts.ctx.db, clock(), audit.CLI
    ws = db.read(lambda conn: q.workspace_by_slug(conn, "alpha"))
    owner = db.read(lambda conn: q.user_by_email(conn, OWNER))
    assert ws is not None and owner is not None
    walk.ids["owner"] = owner.id
    layer = {**LAYER, "participants": [owner.id]}
    for name in ("schedule", "schedule2", "schedule3"):
        walk.ids[name] = db.write(
            lambda c, n=name: store.save_schedule(c, ws.id, None, n, "UTC", [layer], cli, now)
        ).id
    for name, day in (("override", 1), ("override2", 5)):
        start = dt.datetime(2027, 3, day, 9, tzinfo=dt.UTC).timestamp()
        wanted = ov.OverrideRequest(owner.id, start, start + 86400)
        walk.ids[name] = db.write(
            lambda c, r=wanted: ov.add_override(
                c, ws.id, walk.ids["schedule"], r, cli, may_configure=True, now=now
            )
        ).id
    steps = [{"targets": [{"kind": "user", "id": owner.id}], "wait_minutes": 5}]
    for name in ("policy", "policy2", "policy3"):
        walk.ids[name] = db.write(
            lambda c, n=name: escalation.save_policy(c, ws.id, None, {"name": n, "steps": steps}, cli, now)
        ).id
    config = {"url": walk.ids["hook"], "secret": WEBHOOK_SECRET}
    for name in ("method", "method2", "method3"):
        walk.ids[name] = _ok(
            walk.client.post(
                f"{WS}/me/contact-methods",
                json={"kind": "webhook", "name": name, "config": config},
                headers={"X-CSRF-Token": walk.csrf},
            )
        )["id"]
    rules = db.write(
        lambda c: routing.save_rules(
            c, ws.id, [{"name": n, "conditions": {}, "actions": {}} for n in ("r1", "r2")], cli, now
        )
    )
    walk.ids["rule"], walk.ids["rule2"] = (r.id for r in rules)
    for name in ("silence", "silence2"):
        walk.ids[name] = db.write(
            lambda c: routing.create_silence(c, ws.id, ["team=db"], now, now + 3600, "", cli, now)
        ).id
    window = {"name": "nightly", "weekly": {"weekdays": [6], "start": "02:00", "duration_minutes": 60}}
    walk.ids["window"] = db.write(lambda c: routing.save_windows(c, ws.id, [window], cli, now))[0].id
    inhibit = {"name": "crit", "source_matchers": ["severity=critical"], "target_matchers": ["severity=info"]}
    walk.ids["inhibit"] = db.write(lambda c: routing.save_inhibit_rules(c, ws.id, [inhibit], cli, now))[0].id


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiving()


@pytest.fixture
def walk(client: TestClient, parts: Parts, clock: FakeClock, receiver: Receiver) -> Iterator[Walk]:  # type: ignore[type-arg]
    notifier = notifying(parts)
    next(notifier)
    found = Walk(client, parts, {"hook": f"{receiver.url}/hook"})
    found.setup_entry = _setup(client, parts)  # type: ignore[attr-defined]
    found.refresh_csrf()
    _world(found, clock)
    _configuration(found, clock)
    yield found
    next(notifier, None)


def test_every_state_changing_route_is_walked_or_listed_with_a_reason(parts: Parts) -> None:
    walked = {(c.method, c.template) for c in CASES} | {("POST", "/setup/{token:str}")}
    unlisted = sorted(
        f"{case.method} {case.template}"
        for case in all_routes(parts.app)
        if case.method not in SAFE and (case.method, case.template) not in walked | NOT_AUDITED.keys()
    )
    assert not unlisted, (
        "state-changing routes neither walked (CASES: a valid call and the audit action it must leave) "
        "nor listed in NOT_AUDITED with a reason:\n  " + "\n  ".join(unlisted)
    )
    assert not walked & NOT_AUDITED.keys()


def test_setup_is_audited_without_the_password(walk: Walk) -> None:
    entry = walk.setup_entry  # type: ignore[attr-defined]
    assert (entry.action, entry.actor) == ("instance.setup", OWNER)
    assert entry.ip and PASSWORD not in orjson.dumps(entry.detail).decode()


def test_every_walked_route_leaves_an_audit_entry(walk: Walk, parts: Parts) -> None:
    registered = {(c.method, c.template) for c in all_routes(parts.app)}
    missing = []
    for case in CASES:
        assert (case.method, case.template) in registered, f"{case.method} {case.template}: no such route"
        seen = max((e.id for e in walk.entries()), default=0)  # by id: deleting a workspace drops its entries
        response = walk.call(case)
        if response.status_code >= 400:
            missing.append(f"{case.method} {case.path}: {response.status_code} {response.text[:200]}")
            continue
        if case.path in ("/login", "/account/password"):
            walk.refresh_csrf()
        new = [e for e in walk.entries() if e.id > seen]
        wanted = [
            e
            for e in new
            if e.action == case.action
            or ((case.action.endswith(".") or not case.action) and e.action.startswith(case.action))
        ]
        if not wanted:
            missing.append(
                f"{case.method} {case.template}: no {case.action!r} entry (new: {[e.action for e in new]})"
            )
            continue
        entry = wanted[0]
        assert entry.actor == case.actor and entry.ip, f"{case.template}: {entry}"
        if case.edit and not set(entry.detail) >= {"before", "after"}:
            missing.append(
                f"{case.method} {case.template}: {entry.action} without before/after: {entry.detail}"
            )
    assert not missing, (
        "routes that failed, or changed state without a complete audit entry:\n  " + "\n  ".join(missing)
    )
    secrets = (PASSWORD, NEW_PASSWORD, WEBHOOK_SECRET)
    for entry in walk.entries():
        text = orjson.dumps(entry.detail).decode() + entry.target
        assert not any(s in text for s in secrets), f"a secret in the audit log: {entry}"


def test_the_audit_page_and_export_filter_by_action_actor_target_and_day(
    client: TestClient, parts: Parts, clock: FakeClock
) -> None:
    db = parts.ctx.db
    owner = member(db, OWNER, Role.OWNER, "alpha", clock())
    ws_id = owner.workspace.id
    day = 86_400.0
    for at, actor, action, target in (
        (0, "a@example.com", "member.add", "x@example.com"),
        (day, "b@example.com", "member.remove", "y@example.com"),
        (2 * day, "a@example.com", "channel.create", "ops"),
    ):
        db.write(
            lambda c, at=at, actor=actor, action=action, target=target: audit.record(
                c,
                audit.Actor(actor, None, "192.0.2.1"),
                action,
                clock() + at,
                workspace_id=ws_id,
                target=target,
            )
        )
    client.cookies.set("sc_session", owner.session_token)

    def export(**query: str) -> list[str]:
        response = client.get(f"{PAGE}/settings/audit.jsonl", params=query)
        assert response.status_code == 200
        return [orjson.loads(line)["action"] for line in response.text.splitlines()]

    assert export(action="member.") == ["member.remove", "member.add"]
    assert export(actor="A@example.com") == ["channel.create", "member.add"]
    assert export(target="y@") == ["member.remove"]
    start = dt.datetime.fromtimestamp(clock() + day, tz=dt.UTC)
    assert export(**{"from": start.strftime("%Y-%m-%d"), "to": start.strftime("%Y-%m-%d")}) == [
        "member.remove"
    ]
    page = client.get(f"{PAGE}/settings/audit", params={"actor": "b@example.com"})
    assert page.status_code == 200 and "member.remove" in page.text and "channel.create" not in page.text
    assert "audit.jsonl?actor=b%40example.com" in page.text  # the export link keeps the filters
    assert client.get(f"{PAGE}/settings/audit", params={"from": "yesterday"}).status_code == 400
    viewer = member(db, "viewer@example.com", Role.VIEWER, "alpha", clock())
    client.cookies.set("sc_session", viewer.session_token)
    assert client.get(f"{PAGE}/settings/audit.jsonl").status_code == 403  # admins only
