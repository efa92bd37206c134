"""Limits that keep one client from holding the HTTP port: header time and connections.

aiohttp's server reads a request's line and headers without any deadline of
its own: a client that sends them a byte per second is kept for as long as it
likes, and a few hundred such clients hold every file descriptor. Two limits
close that door:

- **Header time**: aiohttp's keep-alive timer runs from the moment a
  connection opens (and from each response) and closes it if no complete
  request has arrived by then, whatever bytes trickled in. Setting it to
  :data:`HEADER_TIMEOUT_S` makes it a deadline for the request line and
  headers (and an idle keep-alive limit of the same length).
- **Connections per client**: :class:`LimitedTCPSite` counts open connections
  per peer address and answers the one past the cap with 429
  ``too_many_connections`` before aiohttp sees it.

The body has its own deadline where it is read (:mod:`adapters.shells.http_api`).
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from dataclasses import dataclass
from typing import Any, cast

import orjson
from aiohttp import web

HEADER_TIMEOUT_S = 10.0
CONNECTIONS_PER_CLIENT = 32
CONNECTIONS_VARIABLE = "VOICEMODE_HTTP_CONNECTIONS_PER_CLIENT"


@dataclass(frozen=True)
class HttpLimits:
    """How long a request's headers may take, and how many connections one address may hold."""

    header_timeout_s: float = HEADER_TIMEOUT_S
    connections_per_client: int = CONNECTIONS_PER_CLIENT

    @classmethod
    def from_environment(cls) -> HttpLimits:
        """The defaults, with ``VOICEMODE_HTTP_CONNECTIONS_PER_CLIENT`` if set (at least 1)."""
        raw = os.environ.get(CONNECTIONS_VARIABLE, "").strip()
        if not raw:
            return cls()
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(f"{CONNECTIONS_VARIABLE} must be a whole number >= 1, not {raw!r}")
        return cls(connections_per_client=value)

    def runner_args(self) -> dict[str, Any]:
        """Keyword arguments for ``web.AppRunner`` that enforce the header deadline."""
        return {"keepalive_timeout": self.header_timeout_s, "lingering_time": 2.0}


def refusal(code: str, message: str, status: str) -> bytes:
    """A complete HTTP/1.1 error answer in the API's JSON shape, for a closing connection."""
    body = orjson.dumps({"error": {"code": code, "message": message}})
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class _AdmittedConnection(asyncio.Protocol):
    """aiohttp's request handler behind a door that counts connections per address.

    The handler is made only for an admitted connection; a refused one gets
    the 429 answer and is closed without aiohttp ever seeing it.
    """

    def __init__(self, site: LimitedTCPSite) -> None:
        self._site = site
        self._host: str | None = None
        self._handler: asyncio.Protocol | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are transports without subclassing asyncio's.
        transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if peer else ""
        if not self._site.admit(host):
            transport.write(self._site.refused)
            transport.close()
            return
        self._host = host
        server = self._site.server
        self._handler = server()
        self._handler.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._handler is not None:
            self._handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self._handler.eof_received() if self._handler is not None else None

    def pause_writing(self) -> None:
        if self._handler is not None:
            self._handler.pause_writing()

    def resume_writing(self) -> None:
        if self._handler is not None:
            self._handler.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._host is not None:
            self._site.release(self._host)
            self._host = None
        if self._handler is not None:
            self._handler.connection_lost(exc)


class LimitedTCPSite(web.BaseSite):
    """A TCP site like ``web.TCPSite`` that caps the connections of each client address."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, limits: HttpLimits) -> None:
        super().__init__(runner)
        self._host_name = host
        self._port = port
        self.limits = limits
        self.open: Counter[str] = Counter()
        self.refused = refusal(
            "too_many_connections",
            f"at most {limits.connections_per_client} connections per client",
            "429 Too Many Requests",
        )

    @property
    def name(self) -> str:
        """The site's URL, as aiohttp names sites."""
        return f"http://{self._host_name}:{self._port}"

    @property
    def server(self) -> web.Server:
        """The low-level aiohttp server, the factory of request handlers."""
        server = self._runner.server
        assert server is not None  # BaseSite refuses a runner that is not set up
        return server

    def admit(self, host: str) -> bool:
        """Count a new connection from ``host``, unless it already holds the maximum."""
        if self.open[host] >= self.limits.connections_per_client:
            return False
        self.open[host] += 1
        return True

    def release(self, host: str) -> None:
        """A connection from ``host`` closed."""
        self.open[host] -= 1
        if self.open[host] <= 0:
            del self.open[host]

    async def start(self) -> None:
        """Listen; every connection goes through the per-client door."""
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _AdmittedConnection(self), self._host_name, self._port, reuse_address=True
        )
