"""A readable API reference rendered on the server from the app's own OpenAPI schema
(no third-party viewer: it would need inline scripts and a CDN)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from signalcraft.web.responses import render

METHODS = ("get", "post", "put", "patch", "delete")


@get("/api/docs", opt={"public": True, "html": True}, include_in_schema=False)
async def api_docs(request: Request[Any, Any, Any]) -> Response[Any]:
    schema = request.app.openapi_schema.to_schema()
    operations: list[dict[str, Any]] = []
    for path, item in sorted(schema.get("paths", {}).items()):
        for method in METHODS:
            op = item.get(method)
            if op:
                operations.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                                   "description": op.get("description", ""),
                                   "parameters": op.get("parameters", []),
                                   "tags": op.get("tags", [])})
    return render(request, "api/docs.html", {"operations": operations, "title": schema["info"]["title"],
                                             "version": schema["info"]["version"]})


HANDLERS = [api_docs]
