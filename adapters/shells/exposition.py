"""``GET /metrics``: a Prometheus registry in the text exposition format, rendered off the loop.

Both ``serve`` and the agent worker serve their registry this way; the text
is prometheus-client's own (``generate_latest``), never written by hand.
Rendering runs in a worker thread: a scrape reads the store's position and
walks every room, which must not hold up the loop's connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

METRICS_PATH = "/metrics"
LATENCY_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
"""From a commit's milliseconds to a slow decode's seconds."""


def exposition_handler(
    registry: CollectorRegistry,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The aiohttp handler that answers a scrape with ``registry``'s metrics."""

    async def metrics(_: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        body = await loop.run_in_executor(None, generate_latest, registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return metrics
