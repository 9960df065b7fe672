"""The composition root: build the Litestar app from an AppContext. Wiring only."""

from __future__ import annotations

from litestar import Litestar, Router
from litestar.config.app import ExperimentalFeatures  # noqa: F401  (kept importable for PyInstaller)
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from signalcraft import __version__
from signalcraft.paths import static_dir
from signalcraft.web import (
    api_accounts,
    api_actions,
    api_alerts,
    api_channels,
    api_docs,
    api_escalation,
    api_routing,
    api_schedules,
    auth_pages,
    channel_pages,
    dashboard_pages,
    escalation_pages,
    inbox_pages,
    integration_pages,
    invitation_pages,
    live,
    ops,
    ping_routes,
    replay_api,
    replay_pages,
    routing_pages,
    schedule_pages,
    silence_pages,
    sso_pages,
    suppression_pages,
    uptime_api,
    uptime_pages,
    workspace_pages,
)
from signalcraft.web.access import access_guard
from signalcraft.web.context import AppContext
from signalcraft.web.ingest import routes as ingest_routes
from signalcraft.web.ingest.fast import ingest_fast_path
from signalcraft.web.observe import observe
from signalcraft.web.responses import error_response
from signalcraft.web.settings_pages import WorkspacePages


def create_app(ctx: AppContext) -> Litestar:
    openapi = OpenAPIConfig(
        title="SignalCraft API",
        version=__version__,
        description=(
            "Alert management, on-call and uptime. Authenticate with `Authorization: Bearer <API key>`."
        ),
        path="/api",
        render_plugins=[JsonRenderPlugin(path="/openapi.json")],
        openapi_router=Router(path="/api", route_handlers=[], opt={"public": True}, include_in_schema=False),
        components=Components(security_schemes={"apiKey": SecurityScheme(type="http", scheme="bearer")}),
        security=[{"apiKey": []}],
    )
    static = create_static_files_router(
        path="/static",
        directories=[static_dir()],
        opt={"public": True},
        include_in_schema=False,
        send_as_attachment=False,
    )
    handlers: list[ControllerRouterHandler] = [
        *ops.HANDLERS,
        *auth_pages.HANDLERS,
        WorkspacePages,
        *api_accounts.HANDLERS,
        *api_alerts.HANDLERS,
        *api_channels.HANDLERS,
        *channel_pages.HANDLERS,
        *invitation_pages.HANDLERS,
        *workspace_pages.HANDLERS,
        *api_actions.HANDLERS,
        *api_routing.HANDLERS,
        *api_escalation.HANDLERS,
        *escalation_pages.HANDLERS,
        *api_schedules.HANDLERS,
        *schedule_pages.HANDLERS,
        *inbox_pages.HANDLERS,
        *integration_pages.HANDLERS,
        *dashboard_pages.HANDLERS,
        *live.HANDLERS,
        *ingest_routes.HANDLERS,
        *api_docs.HANDLERS,
        *replay_api.HANDLERS,
        *replay_pages.HANDLERS,
        *routing_pages.HANDLERS,
        *silence_pages.HANDLERS,
        *suppression_pages.HANDLERS,
        *sso_pages.HANDLERS,
        *uptime_api.HANDLERS,
        *uptime_pages.HANDLERS,
        *ping_routes.HANDLERS,
        static,
    ]
    app = Litestar(
        route_handlers=handlers,
        guards=[access_guard],
        exception_handlers={Exception: error_response},
        openapi_config=openapi,
        request_max_body_size=ctx.settings.server.max_body_bytes,
        logging_config=None,
        debug=False,
    )
    app.state.ctx = ctx
    # The API v2 alerts routes answer without the framework when all goes well (see ingest/fast.py).
    handler = ingest_fast_path(app.asgi_handler)
    app.asgi_handler = observe(handler, ctx.metrics, ctx.settings.server.trusted_proxies)
    return app
