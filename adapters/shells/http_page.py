"""The web client's files on the HTTP port: the built page, its assets, its routes.

``web/`` is built by Vite into a directory (``web/dist``) holding
``index.html`` and ``assets/`` whose file names carry a hash of their
content. So assets may be cached for a year, while ``index.html`` (which
names the current assets) must be revalidated on every load. The page routes
itself in the browser (``/room/<code>``, ``/timeline/<code>``): any GET path
that is neither the API's nor a file of the build is answered with
``index.html``. A server whose page was not built says so in a small HTML
page rather than a blank one.

Only regular files inside the build directory are ever served: a path is
resolved (``..``, symlinks) before it is compared with the directory.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

PAGE_ROUTE = r"/{tail:(?!api(?:/|$)|healthz$|openapi\.json$).*}"
"""Every GET path but the API's (``/api/...``, ``/healthz``, ``/openapi.json``)."""
ASSETS = "assets/"
ASSET_CACHE = "public, max-age=31536000, immutable"
"""Vite names assets after their content: a changed asset is a new URL."""
PAGE_CACHE = "no-cache"
"""Revalidate (ETag) on every load, so a new build is picked up at once."""
NOT_BUILT = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>voicemode: the web client was not built</title>
</head>
<body>
<h1>The web client was not built</h1>
<p>This voicemode server has no built page to show.
Run <code>make setup</code> (or <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>)
and reload.</p>
<p>The WebSocket and the HTTP API (<a href="/openapi.json">/openapi.json</a>) work without it.</p>
</body>
</html>
"""


@dataclass(frozen=True)
class WebPage:
    """Serves one build directory (``dist``) at the root of the HTTP port."""

    dist: Path

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """``GET /{path}``: a file of the build, else the page (client-side routes)."""
        tail = request.match_info["tail"]
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(None, self.find, tail)
        if found is not None:
            cache = ASSET_CACHE if tail.startswith(ASSETS) else PAGE_CACHE
            return file_response(found, cache)
        if tail.startswith(ASSETS):
            raise web.HTTPNotFound
        index = await loop.run_in_executor(None, self.find, "index.html")
        if index is None:
            return web.Response(
                status=503,
                text=NOT_BUILT,
                content_type="text/html",
                headers={"Cache-Control": "no-store"},
            )
        return file_response(index, PAGE_CACHE)

    def find(self, tail: str) -> Path | None:
        """The regular file ``tail`` names inside the build, or None (blocking).

        ``..``, absolute paths and symlinks leading out of the build are
        resolved first and then refused, so nothing outside it can be named.
        """
        if "\x00" in tail or "\\" in tail:
            return None
        root = self.dist.resolve()
        candidate = (root / tail).resolve()
        if not candidate.is_relative_to(root) or not candidate.is_file():
            return None
        return candidate


def file_response(path: Path, cache: str) -> web.FileResponse:
    """A file with its caching rule; never sniffed as another type."""
    return web.FileResponse(
        path, headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
    )
