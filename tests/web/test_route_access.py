"""Walks EVERY route the app registers and checks who may reach it.

- Each route is public (and on PUBLIC_ROUTES below, so a new public route is a deliberate
  change to this file) or declares a permission and scope.
- No session: 401 for API routes, a redirect to the sign-in page for HTML pages.
- A viewer cannot change anything; a key with the viewer role neither.
- A member (or API key) of workspace A cannot read or change anything in workspace B: 404.
- A session write without the CSRF token is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

from signalcraft.auth import service
from signalcraft.auth.rbac import Permission, Role
from signalcraft.db.queries import audit
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, Member, member

PUBLIC_ROUTES = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/setup/{token:str}"),
    ("POST", "/setup/{token:str}"),
    ("GET", "/reset/{token:str}"),
    ("POST", "/reset/{token:str}"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs"),
    # Litestar's OpenAPI router: the schema index and its 404 for unknown schema paths.
    ("GET", "/api"),
    ("GET", "/api/{path:str}"),
    ("GET", "/static/{file_path:path}"),
    # Ingest: each authenticates with its integration's credential, not a session.
    ("POST", "/ingest/{token:str}"),
    ("POST", "/ingest/{token:str}/api/v2/alerts"),
    ("POST", "/api/v2/alerts"),
    ("POST", "/v2/enqueue"),
    ("POST", "/v2/change/enqueue"),
    ("POST", "/v2/alerts"),
    ("POST", "/v2/alerts/{identifier:str}/{action:str}"),
    ("GET", "/v2/alerts/requests/{request_id:str}"),
    ("GET", "/v2/heartbeats/{name:str}/ping"),
    ("POST", "/v2/heartbeats/{name:str}/ping"),
    ("PUT", "/v2/heartbeats/{name:str}/ping"),
    ("POST", "/api/{project_id:int}/envelope"),
    ("POST", "/api/{project_id:int}/store"),
    # Session replay recorder: the workspace's public replay key plus its Origin allow-list.
    ("GET", "/replay/{key:str}/config"),
    ("POST", "/replay/{key:str}/sessions/{session_id:str}/chunks"),
    # SAML SSO: SP metadata, SP-initiated start and the assertion consumer (the signed,
    # audience-bound, single-use assertion is the credential; see docs/security.md).
    ("GET", "/sso/{slug:str}/metadata"),
    ("GET", "/sso/{slug:str}/login"),
    ("POST", "/sso/{slug:str}/acs"),
    # Uptime: heartbeat pings (the key in the URL is the credential, any method), Uptime Kuma
    # pushes, the opt-in public status page, and monitor badges (by unguessable public id).
    ("GET", "/ping/{key:str}"),
    ("POST", "/ping/{key:str}"),
    ("PUT", "/ping/{key:str}"),
    ("PATCH", "/ping/{key:str}"),
    ("DELETE", "/ping/{key:str}"),
    ("GET", "/ping/{key:str}/{action:str}"),
    ("POST", "/ping/{key:str}/{action:str}"),
    ("PUT", "/ping/{key:str}/{action:str}"),
    ("PATCH", "/ping/{key:str}/{action:str}"),
    ("DELETE", "/ping/{key:str}/{action:str}"),
    ("GET", "/api/push/{key:str}"),
    ("POST", "/api/push/{key:str}"),
    ("GET", "/status/{slug:str}"),
    ("GET", "/badge/{name:str}"),
    # Workspace invitations: the one-time link is the credential (stored hashed, expires, revocable).
    ("GET", "/invite/{token:str}"),
    ("POST", "/invite/{token:str}"),
    # On-call iCal feeds: the random token in the URL is the secret (rotatable, stored hashed).
    ("GET", "/ical/schedules/{token:str}"),
    ("GET", "/ical/users/{token:str}"),
}
# Routes any signed-in user may use to change their own account, whatever their role.
OWN_ACCOUNT_WRITES = {("POST", "/logout"), ("POST", "/account/password")}
SAFE = {"GET", "HEAD", "OPTIONS"}
# POSTs that store nothing (they take a body too large for a query string).
READ_ONLY_POSTS = {
    ("POST", "/api/v1/workspaces/{slug:str}/integrations/preview"),
    ("POST", "/api/v1/workspaces/{slug:str}/routing/test"),
    ("POST", "/w/{slug:str}/routing/test"),
}


@dataclass(frozen=True)
class RouteCase:
    method: str
    template: str
    opt: dict[str, object]

    @property
    def is_api(self) -> bool:
        return self.template.startswith("/api/")

    def url(self, slug: str) -> str:
        values = {
            "slug": slug,
            "token": "t" * 20,
            "user_id": "1",
            "key_id": "1",
            "file_path": "app.css",
            "integration_id": "1",
            "group_id": "1",
            "raw_id": "1",
            "identifier": "x",
            "action": "close",
            "request_id": "r",
            "name": "n",
            "project_id": "1",
            "channel_id": "1",
            "monitor_id": "1",
            "key": "k" * 20,
            "session_id": "s" * 20,
            "invitation_id": "1",
            "rule_id": "1",
            "silence_id": "1",
            "window_id": "1",
            "inhibit_id": "1",
            "schedule_id": "1",
            "override_id": "1",
            "policy_id": "1",
            "method_id": "1",
        }
        return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], self.template)

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def all_routes(app: Litestar) -> Iterator[RouteCase]:
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods):
                if method in ("HEAD", "OPTIONS"):
                    continue
                yield RouteCase(method, route.path, dict(handler.opt))


def call(
    client: TestClient,
    case: RouteCase,
    slug: str,
    *,
    headers: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
):  # type: ignore[no-untyped-def]
    kwargs: dict[str, object] = {"headers": headers or {}, "follow_redirects": False}
    if case.method not in SAFE:
        if case.is_api:
            kwargs["json"] = {}
        else:
            kwargs["data"] = data or {}
    return client.request(case.method, case.url(slug), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def world(parts: Parts, clock: FakeClock) -> dict[str, Member]:
    db, now = parts.ctx.db, clock()
    return {
        "owner_a": member(db, "owner-a@example.com", Role.OWNER, "alpha", now, admin=True),
        "viewer_a": member(db, "viewer-a@example.com", Role.VIEWER, "alpha", now),
        "owner_b": member(db, "owner-b@example.com", Role.OWNER, "beta", now),
    }


def api_key(parts: Parts, ws_id: int, role: Role, now: float) -> str:
    return parts.ctx.db.write(lambda c: service.create_api_key(c, ws_id, "k", role, audit.CLI, now, None)).key


def test_every_route_is_public_on_purpose_or_declares_a_permission(parts: Parts) -> None:
    public = set()
    for case in all_routes(parts.app):
        if case.opt.get("public"):
            public.add((case.method, case.template))
            continue
        assert isinstance(case.opt.get("permission"), Permission), f"{case} declares no permission"
        assert case.opt.get("scope") in ("workspace", "user", "caller", "instance"), (
            f"{case} declares no scope"
        )
        if case.opt["scope"] == "workspace":
            assert "{slug" in case.template, f"{case} is workspace-scoped but has no {{slug}}"
    assert public == PUBLIC_ROUTES


def test_without_a_session_every_private_route_refuses(client: TestClient, parts: Parts) -> None:
    checked = 0
    for case in all_routes(parts.app):
        if case.opt.get("public"):
            continue
        response = call(client, case, "alpha")
        if case.is_api or case.method not in SAFE:
            assert response.status_code == 401, f"{case}: {response.status_code}"
        else:
            assert response.status_code == 303, f"{case}: {response.status_code}"
            assert response.headers["location"].startswith("/login?next="), str(case)
        checked += 1
    assert checked > 20


def test_a_viewer_cannot_change_anything(client: TestClient, parts: Parts, world: dict[str, Member]) -> None:
    viewer = world["viewer_a"]
    client.cookies.set("sc_session", viewer.session_token)
    checked = 0
    for case in all_routes(parts.app):
        if (
            case.opt.get("public")
            or case.method in SAFE
            or (case.method, case.template) in OWN_ACCOUNT_WRITES
        ):
            continue
        if case.opt.get("permission") is Permission.READ:
            # a POST that only computes (the mapping preview): listed so the exception is visible
            assert (case.method, case.template) in READ_ONLY_POSTS, f"{case} is a write open to viewers"
            continue
        response = call(
            client, case, "alpha", headers={"X-CSRF-Token": viewer.csrf}, data={"_csrf": viewer.csrf}
        )
        assert response.status_code == 403, f"{case}: {response.status_code} {response.text[:200]}"
        checked += 1
    assert checked >= 10


def test_a_viewer_api_key_cannot_change_anything(
    client: TestClient, parts: Parts, world: dict[str, Member], clock: FakeClock
) -> None:
    key = api_key(parts, world["viewer_a"].workspace.id, Role.VIEWER, clock())
    for case in all_routes(parts.app):
        if not case.is_api or case.opt.get("public") or case.method in SAFE:
            continue
        if (case.method, case.template) in READ_ONLY_POSTS:
            continue
        response = call(client, case, "alpha", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 403, f"{case}: {response.status_code} {response.text[:200]}"


def test_a_member_of_one_workspace_cannot_reach_another(
    client: TestClient, parts: Parts, world: dict[str, Member]
) -> None:
    owner_a = world["owner_a"]
    client.cookies.set("sc_session", owner_a.session_token)
    checked = 0
    for case in all_routes(parts.app):
        if case.opt.get("scope") != "workspace":
            continue
        response = call(
            client, case, "beta", headers={"X-CSRF-Token": owner_a.csrf}, data={"_csrf": owner_a.csrf}
        )
        assert response.status_code == 404, f"{case}: {response.status_code}"
        assert "owner-b@example.com" not in response.text
        checked += 1
    assert checked >= 10


def test_an_api_key_of_one_workspace_cannot_reach_another(
    client: TestClient, parts: Parts, world: dict[str, Member], clock: FakeClock
) -> None:
    key = api_key(parts, world["owner_a"].workspace.id, Role.ADMIN, clock())
    for case in all_routes(parts.app):
        if case.opt.get("scope") != "workspace" or not case.is_api:
            continue
        response = call(client, case, "beta", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 404, f"{case}: {response.status_code}"


def test_api_keys_do_not_open_html_pages(
    client: TestClient, parts: Parts, world: dict[str, Member], clock: FakeClock
) -> None:
    key = api_key(parts, world["owner_a"].workspace.id, Role.ADMIN, clock())
    for case in all_routes(parts.app):
        if case.is_api or case.opt.get("public"):
            continue
        response = call(client, case, "alpha", headers={"Authorization": f"Bearer {key}"})
        if case.method in SAFE:
            assert response.status_code == 303, f"{case}: {response.status_code}"
            assert response.headers["location"].startswith("/login"), str(case)
        else:
            assert response.status_code == 401, f"{case}: {response.status_code}"


def test_session_writes_without_the_csrf_token_are_refused(
    client: TestClient, parts: Parts, world: dict[str, Member]
) -> None:
    owner = world["owner_a"]
    client.cookies.set("sc_session", owner.session_token)
    checked = 0
    for case in all_routes(parts.app):
        if case.opt.get("public") or case.method in SAFE:
            continue
        for attempt in ({}, {"X-CSRF-Token": "forged"}):
            response = call(
                client, case, "alpha", headers=attempt, data={"_csrf": "forged"} if attempt else {}
            )
            assert response.status_code == 403, f"{case} {attempt}: {response.status_code}"
            checked += 1
    assert checked >= 20
