"""The API's documentation page (Swagger UI at ``/docs``), served offline.

Every asset comes from the application itself: Swagger UI from the pinned ``fastapi-offline``
package's static files, the start-up script from ``equicover/api/static``. No
content delivery network runs JavaScript on the application's origin, the pages work without the
internet, and no inline script is needed (see :mod:`equicover.http.security_headers`). ReDoc is
not offered: it fetches its maker's logo from the maker's site, which the policy refuses.
"""

from __future__ import annotations

import html
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

ASSETS_PATH = "/docs-assets"
_VENDOR = Path(str(files("fastapi_offline") / "static"))
_OWN = Path(__file__).resolve().parent / "static"
ASSETS: dict[str, tuple[Path, str]] = {
    "swagger-ui-bundle.js": (_VENDOR / "swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "swagger-ui.css": (_VENDOR / "swagger-ui.css", "text/css; charset=utf-8"),
    "swagger-init.js": (_OWN / "swagger-init.js", "text/javascript; charset=utf-8"),
}


def docs_router(*, title: str, openapi_url: str) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    quoted_title, quoted_url = html.escape(title), html.escape(openapi_url)

    @router.get("/docs")
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{quoted_title} - API</title>"
            f'<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css"></head><body>'
            f'<div id="swagger-ui" data-openapi-url="{quoted_url}"></div>'
            f'<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>'
            f'<script src="{ASSETS_PATH}/swagger-init.js"></script>'
            "</body></html>"
        )

    @router.get(ASSETS_PATH + "/{name}")
    def asset(name: str) -> FileResponse:
        found = ASSETS.get(name)
        if found is None:
            raise HTTPException(status_code=404, detail="no such asset")
        path, media_type = found
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})

    return router
