"""Every page template renders with realistic context, escapes what users typed, and keeps
to the Content-Security-Policy (no inline script or style) and the CSRF rule (every POST
form carries ``_csrf``).

The environment mirrors signalcraft.web.templating (autoescape, StrictUndefined, trimmed
blocks) with the real ``datetime``/``reltime`` filters; the request globals are stubs built
here. ``CASES`` doubles as sample data for visual previews of the pages.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from signalcraft.web.templating import datetime_filter, reltime_filter

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
STATIC = REPO / "static"

HOSTILE = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
CSRF = "csrf-token-0123456789abcdef"
NOW = 1_717_000_000.0

MY_TEMPLATES = [
    "base.html",
    "auth/login.html",
    "auth/setup.html",
    "auth/reset.html",
    "auth/link_invalid.html",
    "account/password.html",
    "errors/error.html",
    "workspace/home.html",
    "settings/api_keys.html",
    "settings/members.html",
    "settings/audit.html",
]

PERMISSIONS = {
    "viewer": {"read"},
    "responder": {"read", "respond"},
    "admin": {"read", "respond", "configure", "manage_members"},
    "owner": {"read", "respond", "configure", "manage_members", "own"},
}


# ------------------------------------------------------------------ environment and globals


def make_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(WEB)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["datetime"] = datetime_filter
    env.filters["reltime"] = reltime_filter
    env.globals["version"] = "0.1.0"
    env.globals["static_url"] = lambda path: f"/static/{path}?v=0.1.0"
    return env


def ns(**kwargs: Any) -> SimpleNamespace:
    return SimpleNamespace(**kwargs)


WORKSPACE = ns(slug="ops", name=f"Ops {HOSTILE}")
OTHER_WORKSPACE = ns(slug="payments", name="Payments")


def nav_for(slug: str) -> list[SimpleNamespace]:
    items = [
        ("home", "Overview", "", "g o"),
        ("alerts", "Alerts", "alerts", "g a"),
        ("integrations", "Integrations", "integrations", "g i"),
        ("routing", "Routing", "routing", "g r"),
        ("schedules", "On-call", "schedules", "g s"),
        ("uptime", "Uptime", "uptime", "g u"),
        ("members", "Settings", "settings/members", "g ,"),
    ]
    return [ns(key=k, label=label, href=f"/w/{slug}/{path}", shortcut=sc) for k, label, path, sc in items]


def signed_in(
    role: str = "admin", *, active_nav: str = "", workspace: Any = WORKSPACE, nav: bool = True
) -> dict[str, Any]:
    allowed = PERMISSIONS[role]
    return {
        "csrf_token": CSRF,
        "current_user": ns(id=1, email=f"ana{HOSTILE}@example.com", name=f"Ana {HOSTILE}"),
        "workspace": workspace,
        "role": role if workspace else None,
        "memberships": [
            ns(workspace=WORKSPACE, role=ns(value=role)),
            ns(workspace=OTHER_WORKSPACE, role=ns(value="viewer")),
        ],
        "can": lambda permission: permission in allowed,
        "request_path": "/w/ops/",
        "nav_items": nav_for(workspace.slug) if (workspace and nav) else [],
        "active_nav": active_nav,
        "password_min_length": 10,
    }


def signed_out() -> dict[str, Any]:
    return {
        "csrf_token": CSRF,
        "current_user": None,
        "workspace": None,
        "role": None,
        "memberships": [],
        "can": lambda permission: False,
        "request_path": "/login",
        "nav_items": [],
        "active_nav": "",
        "password_min_length": 10,
    }


def api_key(
    id: int,
    name: str,
    role: str,
    *,
    created: float,
    expires: float | None = None,
    used: float | None = None,
    revoked: float | None = None,
) -> SimpleNamespace:
    return ns(
        id=id,
        name=name,
        prefix=f"Ab3dE{id:05d}",
        role=ns(value=role),
        created_at=created,
        expires_at=expires,
        last_used_at=used,
        revoked_at=revoked,
    )


def member(id: int, email: str, name: str, role: str, disabled: bool = False) -> SimpleNamespace:
    return ns(user=ns(id=id, email=email, name=name, disabled=disabled), role=role)


KEYS = [
    api_key(1, f"CI deploy markers {HOSTILE}", "responder", created=NOW - 86400 * 40, used=NOW - 300),
    api_key(2, "Terraform", "admin", created=NOW - 86400 * 3, expires=NOW + 86400 * 87),
    api_key(
        3, "Old Grafana", "viewer", created=NOW - 86400 * 200, used=NOW - 86400 * 90, revoked=NOW - 86400 * 30
    ),
]

MEMBERS = [
    member(1, "ana@example.com", f"Ana {HOSTILE}", "owner"),
    member(2, f"bo{HOSTILE}@example.com", "Bo Lindqvist", "admin"),
    member(3, "chen@example.com", "", "responder"),
    member(4, "dee@example.com", "Dee Okafor", "viewer", disabled=True),
]

AUDIT = [
    ns(
        id=105,
        at=NOW - 40,
        actor="ana@example.com",
        action="apikey.create",
        target="sck_Ab3dE00002",
        ip="192.0.2.10",
        detail={"name": "Terraform", "role": "admin"},
    ),
    ns(
        id=104,
        at=NOW - 3600,
        actor="ana@example.com",
        action="member.role",
        target="2",
        ip="192.0.2.10",
        detail={"from": "responder", "to": "admin"},
    ),
    ns(
        id=103,
        at=NOW - 7200,
        actor=f"bo{HOSTILE}",
        action="login.success",
        target=HOSTILE,
        ip="2001:db8::1",
        detail={"note": HOSTILE},
    ),
    ns(id=102, at=NOW - 86400 * 2, actor="cli", action="workspace.create", target="ops", ip="", detail={}),
]


@dataclass
class Case:
    template: str
    context: dict[str, Any]
    hostile: bool = True  # the page shows text a user typed, so HOSTILE must appear escaped
    expect: list[str] = field(default_factory=list)


def _case_login() -> dict[str, Any]:
    return {
        **signed_out(),
        "error": "Wrong email or password",
        "notice": None,
        "email": f"x{HOSTILE}@example.com",
        "next": f"/w/ops/alerts?q={HOSTILE}",
    }


CASES: dict[str, Case] = {
    "login": Case(
        "auth/login.html",
        _case_login(),
        expect=[
            'action="/login"',
            'name="email"',
            'name="password"',
            'name="next"',
            "Wrong email or password",
        ],
    ),
    "login-notice": Case(
        "auth/login.html",
        {
            **signed_out(),
            "error": None,
            "notice": "Your password was changed. Sign in again.",
            "email": "",
            "next": "",
        },
        hostile=False,
        expect=["Your password was changed. Sign in again."],
    ),
    "setup": Case(
        "auth/setup.html",
        {
            **signed_out(),
            "action_url": "/setup/tok-123",
            "errors": {
                "": "Something went wrong, try again.",
                "password_confirm": "the passwords differ",
                "workspace_slug": "use 1-40 lowercase letters, digits and inner hyphens",
            },
            "values": {
                "name": f"Ana {HOSTILE}",
                "email": "ana@example.com",
                "workspace_name": "Ops",
                "workspace_slug": "Ops!",
                "password": "must-not-appear",
            },
        },
        expect=[
            'action="/setup/tok-123"',
            "This link works once.",
            "the passwords differ",
            'name="password_confirm"',
            'name="workspace_slug"',
            'name="workspace_name"',
        ],
    ),
    "reset": Case(
        "auth/reset.html",
        {
            **signed_out(),
            "action_url": "/reset/tok-456",
            "email": f"bo{HOSTILE}@example.com",
            "errors": {"password": "must be at least 10 characters"},
        },
        expect=[
            'action="/reset/tok-456"',
            'name="password"',
            'name="password_confirm"',
            "must be at least 10 characters",
        ],
    ),
    "link-invalid": Case(
        "auth/link_invalid.html",
        {**signed_out(), "title": "Link expired"},
        hostile=False,
        expect=["This link has expired or was already used. Ask an administrator for a new one."],
    ),
    "password": Case(
        "account/password.html",
        {**signed_in(workspace=None), "errors": {"current_password": "wrong password"}, "done": False},
        expect=[
            'action="/account/password"',
            'name="current_password"',
            'name="new_password"',
            'name="new_password_confirm"',
            "wrong password",
        ],
    ),
    "password-done": Case(
        "account/password.html",
        {**signed_in(workspace=None), "errors": {}, "done": True},
        expect=["Your password was changed."],
    ),
    "error-404": Case(
        "errors/error.html",
        {**signed_out(), "status": 404, "title": "Not found", "message": f"no alert {HOSTILE}"},
        expect=['href="/"', "404"],
    ),
    "error-403-signed-in": Case(
        "errors/error.html",
        {
            **signed_in("viewer"),
            "status": 403,
            "title": "Not allowed",
            "message": "your role may not do this",
        },
        expect=['href="/"', "403"],
    ),
    "home": Case(
        "workspace/home.html",
        {
            **signed_in("responder", active_nav="home"),
            "stats": ns(open_alerts=3),
            "links": [
                ns(label="Alerts", href="/w/ops/alerts", description=f"What fired, newest first {HOSTILE}"),
                ns(label="Integrations", href="/w/ops/integrations", description="Where alerts come from."),
                ns(label="Members", href="/w/ops/settings/members", description="Who can sign in."),
            ],
        },
        expect=['href="/w/ops/alerts"', "Open alerts"],
    ),
    "home-quiet": Case(
        "workspace/home.html",
        {**signed_in("viewer", active_nav="home"), "stats": ns(open_alerts=0), "links": []},
        expect=["All quiet"],
    ),
    "api-keys": Case(
        "settings/api_keys.html",
        {
            **signed_in("admin", active_nav="members"),
            "keys": KEYS,
            "new_key": "sck_Ab3dE00002_" + "x" * 43,
            "errors": {"name": f"bad {HOSTILE}"},
            "values": {"name": HOSTILE, "role": "responder", "expires_in_days": "90"},
            "roles": ["admin", "responder", "viewer"],
        },
        expect=[
            'action="/w/ops/settings/api-keys"',
            'action="/w/ops/settings/api-keys/1/revoke"',
            'data-copy-target="#new-api-key"',
            "will not be shown again",
            'name="expires_in_days"',
        ],
    ),
    "api-keys-viewer": Case(
        "settings/api_keys.html",
        {
            **signed_in("viewer", active_nav="members"),
            "keys": KEYS,
            "new_key": None,
            "errors": {},
            "values": {},
            "roles": ["admin", "responder", "viewer"],
        },
    ),
    "api-keys-empty": Case(
        "settings/api_keys.html",
        {
            **signed_in("admin", active_nav="members"),
            "keys": [],
            "new_key": None,
            "errors": {},
            "values": {},
            "roles": ["admin", "responder", "viewer"],
        },
        expect=["No API keys yet"],
    ),
    "members": Case(
        "settings/members.html",
        {
            **signed_in("owner", active_nav="members"),
            "members": MEMBERS,
            "roles": ["owner", "admin", "responder", "viewer"],
            "errors": {"email": "not an email address"},
            "values": {"email": HOSTILE, "name": "", "role": "viewer"},
            "reset_link": "https://signalcraft.example.com/reset/AbCdEf123456",
        },
        expect=[
            'action="/w/ops/settings/members"',
            'action="/w/ops/settings/members/2/role"',
            'action="/w/ops/settings/members/2/reset-link"',
            'action="/w/ops/settings/members/2/remove"',
            'data-copy-target="#reset-link"',
            "not an email address",
        ],
    ),
    "members-viewer": Case(
        "settings/members.html",
        {
            **signed_in("viewer", active_nav="members"),
            "members": MEMBERS,
            "roles": [],
            "errors": {},
            "values": {},
            "reset_link": None,
        },
    ),
    "audit": Case(
        "settings/audit.html",
        {
            **signed_in("admin", active_nav="members"),
            "entries": AUDIT,
            "filter": {"action": "member.", "actor": "", "target": "", "from": "", "to": ""},
            "filter_query": "action=member.",
            "filter_action": "member.",
            "next_before": 102,
        },
        expect=[
            'href="/w/ops/settings/audit.jsonl?action=member."',
            "?before=102&amp;action=member.",
            'value="member."',
        ],
    ),
    "audit-filtered-empty": Case(
        "settings/audit.html",
        {
            **signed_in("admin", active_nav="members"),
            "entries": [],
            "filter": {"action": HOSTILE, "actor": HOSTILE, "target": HOSTILE, "from": "", "to": ""},
            "filter_query": urlencode({"action": HOSTILE, "actor": HOSTILE, "target": HOSTILE}),
            "filter_action": HOSTILE,
            "next_before": None,
        },
    ),
}


def render(case: Case) -> str:
    return make_env().get_template(case.template).render(case.context)


# ------------------------------------------------------------------ a tiny HTML reader


class Page(HTMLParser):
    """Collects forms (with their inputs), and every start tag, from rendered HTML."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, Any]] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self._form: dict[str, Any] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag == "form":
            self._form = {"attrs": a, "inputs": []}
            self.forms.append(self._form)
        elif tag in ("input", "select", "textarea", "button") and self._form is not None:
            self._form["inputs"].append((tag, a))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]

    def post_forms(self) -> list[dict[str, Any]]:
        return [f for f in self.forms if f["attrs"].get("method", "get").lower() == "post"]

    def form(self, action: str) -> dict[str, Any]:
        found = [f for f in self.forms if f["attrs"].get("action") == action]
        assert found, f"no form with action {action!r}"
        return found[0]


def field_names(form: dict[str, Any]) -> set[str]:
    return {a["name"] for _, a in form["inputs"] if a.get("name")}


# ------------------------------------------------------------------ every page


@pytest.mark.parametrize("name", sorted(CASES))
def test_page_renders_with_expected_content(name: str) -> None:
    case = CASES[name]
    html = render(case)
    for snippet in case.expect:
        assert snippet in html, f"{name}: missing {snippet!r}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_user_text_is_escaped(name: str) -> None:
    html = render(CASES[name])
    assert "<script>alert(1)" not in html
    if CASES[name].hostile:
        assert ESCAPED in html, f"{name}: hostile sample text not shown (escaped)"


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_post_form_carries_the_csrf_token(name: str) -> None:
    page = Page(render(CASES[name]))
    for form in page.post_forms():
        hidden = [a for t, a in form["inputs"] if t == "input" and a.get("name") == "_csrf"]
        assert hidden, f"{name}: POST form {form['attrs'].get('action')} lacks _csrf"
        assert hidden[0].get("type") == "hidden" and hidden[0].get("value") == CSRF


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendered_page_keeps_to_the_csp(name: str) -> None:
    page = Page(render(CASES[name]))
    for script in page.find("script"):
        assert script.get("src", "").startswith("/static/"), script
        assert "defer" in script
    for tag, attrs in page.tags:
        assert tag != "style"
        assert "style" not in attrs, tag
        assert not [k for k in attrs if k.startswith("on")], (tag, attrs)
        assert not any(v.strip().lower().startswith("javascript:") for v in attrs.values()), (tag, attrs)


def template_source(template: str) -> str:
    """The template without its {# comments #}, which may talk about what they forbid."""
    return re.sub(r"\{#.*?#\}", "", (WEB / template).read_text(), flags=re.S)


@pytest.mark.parametrize("template", MY_TEMPLATES)
def test_template_source_keeps_to_the_csp(template: str) -> None:
    source = template_source(template)
    assert not re.search(r"\son[a-z]+\s*=", source, re.I), "inline event handler"
    assert not re.search(r"\sstyle\s*=", source, re.I), "style attribute"
    assert "<style" not in source.lower()
    assert "javascript:" not in source.lower()
    for tag in re.findall(r"<script\b[^>]*>", source, re.I):
        assert "src=" in tag, f"inline script {tag}"


@pytest.mark.parametrize("template", MY_TEMPLATES)
def test_template_source_post_forms_have_csrf_input(template: str) -> None:
    source = template_source(template)
    forms = re.findall(r"<form\b[^>]*>.*?</form>", source, re.I | re.S)
    for form in forms:
        if re.search(r'method="post"', form, re.I):
            assert '<input type="hidden" name="_csrf" value="{{ csrf_token }}">' in form, form[:120]


# ------------------------------------------------------------------ the layout


def test_signed_in_layout_has_meta_assets_menus_and_help() -> None:
    html = render(CASES["home"])
    page = Page(html)
    assert page.find("meta", name="csrf-token", content=CSRF)
    assert page.find("meta", name="viewport")
    config = page.find("meta", name="htmx-config")
    assert config and config[0]["content"] == (
        '{"includeIndicatorStyles": false, "allowEval": false, "allowScriptTags": false}'
    )
    assert page.find("link", rel="stylesheet", href="/static/app.css?v=0.1.0")
    sources = [s["src"] for s in page.find("script")]
    assert sources == [
        "/static/vendor/htmx/htmx.min.js?v=0.1.0",
        "/static/vendor/htmx/ext/sse.js?v=0.1.0",
        "/static/app.js?v=0.1.0",
    ]
    assert page.find("dialog", id="shortcut-help")
    assert page.find("a", href="#main")
    assert page.find("main", id="main")
    assert [a for t, a in page.tags if t == "button" and "data-theme-toggle" in a]
    assert page.find("a", href="/w/ops/") and page.find("a", href="/w/payments/")
    assert page.find("a", href="/account/password")
    logout = page.form("/logout")
    assert logout["attrs"]["method"] == "post" and "_csrf" in field_names(logout)


def test_nav_marks_the_active_item_and_declares_shortcuts() -> None:
    page = Page(render(CASES["home"]))
    active = page.find("a", href="/w/ops/", **{"aria-current": "page"})
    assert active and "is-active" in active[-1]["class"]
    alerts = page.find("a", href="/w/ops/alerts")
    assert alerts[0]["data-shortcut"] == "g a"
    assert alerts[0]["data-shortcut-label"] == "Go to Alerts"


def test_each_navigation_item_has_an_icon_of_its_own() -> None:
    from signalcraft.web import nav

    case = CASES["home"]
    html = make_env().get_template(case.template).render({**case.context, "nav_items": nav.nav_for("ops")})
    links = re.findall(r'<a class="nav-link[^"]*" href="([^"]+)".*?<svg[^>]*>(.*?)</svg>', html, re.S)
    assert len(links) == len(nav.nav_for("ops"))
    by_icon: dict[str, list[str]] = {}
    for href, svg in links:
        by_icon.setdefault(svg, []).append(href)
    shared = {svg: hrefs for svg, hrefs in by_icon.items() if len(hrefs) > 1}
    assert not shared, f"navigation items sharing an icon: {list(shared.values())}"


def test_title_names_page_workspace_and_product() -> None:
    html = render(CASES["home"])
    assert f"<title>Overview · Ops {ESCAPED} · SignalCraft</title>" in html


def test_signed_out_layout_is_a_card_without_navigation_or_menus() -> None:
    html = render(CASES["login"])
    page = Page(html)
    assert 'class="auth-card"' in html
    assert not page.find("nav") and "/logout" not in html and "/account/password" not in html
    assert [a for t, a in page.tags if t == "button" and "data-theme-toggle" in a]
    assert page.find("dialog", id="shortcut-help")


def test_page_without_nav_items_drops_the_nav_column() -> None:
    html = render(CASES["password"])
    assert 'class="app no-nav"' in html and 'class="sidenav"' not in html


# ------------------------------------------------------------------ pages


def test_login_keeps_email_and_next_and_never_the_password() -> None:
    page = Page(render(CASES["login"]))
    form = page.form("/login")
    assert field_names(form) == {"_csrf", "next", "email", "password"}
    values = {a["name"]: a.get("value") for _, a in form["inputs"] if a.get("name")}
    assert values["email"] == f"x{HOSTILE}@example.com"
    assert values["next"] == f"/w/ops/alerts?q={HOSTILE}"
    assert values["password"] is None


def test_setup_shows_errors_under_their_fields_and_never_prefills_passwords() -> None:
    html = render(CASES["setup"])
    page = Page(html)
    form = page.form("/setup/tok-123")
    assert field_names(form) == {
        "_csrf",
        "name",
        "email",
        "password",
        "password_confirm",
        "workspace_name",
        "workspace_slug",
    }
    assert "must-not-appear" not in html
    assert 'id="setup-password_confirm-error"' in html
    assert re.search(r'name="password_confirm"[^>]*aria-invalid="true"', html)
    assert re.search(r'name="workspace_slug"[^>]*value="Ops!"', html)
    assert html.index("Something went wrong") < html.index("<form")


def test_api_key_controls_need_manage_members() -> None:
    admin = render(CASES["api-keys"])
    viewer = render(CASES["api-keys-viewer"])
    assert "/revoke" in admin and "/revoke" not in viewer
    assert 'action="/w/ops/settings/api-keys"' not in viewer
    # A revoked key cannot be revoked again.
    assert 'action="/w/ops/settings/api-keys/3/revoke"' not in admin


def test_revoke_asks_for_confirmation() -> None:
    page = Page(render(CASES["api-keys"]))
    form = page.form("/w/ops/settings/api-keys/1/revoke")
    assert form["attrs"]["data-confirm"].startswith("Revoke the API key")


def test_new_api_key_is_shown_with_a_copy_button() -> None:
    html = render(CASES["api-keys"])
    assert '<code id="new-api-key">sck_Ab3dE00002_' in html
    assert 'data-copy-target="#new-api-key"' in html
    assert 'id="new-api-key"' not in render(CASES["api-keys-viewer"])


def test_member_controls_need_manage_members() -> None:
    owner = render(CASES["members"])
    viewer = render(CASES["members-viewer"])
    for path in ("/role", "/reset-link", "/remove", 'action="/w/ops/settings/members"'):
        assert path in owner
        assert path not in viewer
    remove = Page(owner).form("/w/ops/settings/members/2/remove")
    assert "data-confirm" in remove["attrs"]


def test_member_role_select_shows_the_current_role() -> None:
    html = render(CASES["members"])
    form = re.search(r'action="/w/ops/settings/members/3/role".*?</form>', html, re.S)
    assert form and '<option value="responder" selected>' in form.group(0)


def test_audit_filter_is_a_get_form_focused_by_slash() -> None:
    page = Page(render(CASES["audit"]))
    form = page.form("/w/ops/settings/audit")
    assert form["attrs"]["method"] == "get"
    assert [a for t, a in form["inputs"] if a.get("name") == "action" and "data-search" in a]


def test_audit_times_are_relative_time_elements() -> None:
    html = render(CASES["audit"])
    assert '<time datetime="2024-05-29T16:26:00Z" data-relative' in html


def test_error_page_shows_status_title_and_message() -> None:
    html = render(CASES["error-404"])
    assert "Not found" in html and f"no alert {ESCAPED}" in html


# ------------------------------------------------------------------ static assets


def _declarations(block: str) -> dict[str, str]:
    return dict(re.findall(r"(--[\w-]+)\s*:\s*([^;]+);", block))


def test_both_dark_theme_blocks_declare_the_same_tokens() -> None:
    css = (STATIC / "app.css").read_text()
    explicit = re.search(r':root\[data-theme="dark"\]\s*\{(.*?)\}', css, re.S)
    system = re.search(r':root:not\(\[data-theme="light"\]\)\s*\{(.*?)\}', css, re.S)
    assert explicit and system
    assert _declarations(explicit.group(1)) == _declarations(system.group(1))


def test_htmx_indicator_styles_live_in_app_css() -> None:
    css = (STATIC / "app.css").read_text()
    assert ".htmx-indicator {" in css and ".htmx-request .htmx-indicator" in css


def test_app_js_has_no_eval_or_inline_markup_injection() -> None:
    js = (STATIC / "app.js").read_text()
    for banned in ("eval(", "new Function", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
        assert banned not in js, banned


def test_vendored_files_match_the_checksums_in_the_readme() -> None:
    readme = (STATIC / "vendor" / "README.md").read_text()
    rows = re.findall(r"`([\w./-]+)`\s*\|[^|\n]*\|[^|\n]*\|\s*`([0-9a-f]{64})`", readme)
    assert len(rows) >= 2
    for path, digest in rows:
        assert hashlib.sha256((STATIC / path).read_bytes()).hexdigest() == digest, path
