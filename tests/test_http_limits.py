"""The HTTP port does not let one client hold it: slow headers, slow bodies, many connections."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from adapters.shells.http_api import ApiError, errors_as_json, read_body
from adapters.shells.http_limits import (
    CONNECTIONS_PER_CLIENT,
    HEADER_TIMEOUT_S,
    HttpLimits,
    LimitedTCPSite,
)
from tests.support.service import ServedInstance, free_port


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedInstance]:
    instance = ServedInstance(db=str(tmp_path_factory.mktemp("http") / "voicemode.db"))
    instance.start()
    yield instance
    instance.stop()


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.settimeout(5)
    return sock


def answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def health(port: int) -> bytes:
    with connect(port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        return answer(sock)


def json_body(response: bytes) -> dict[str, object]:
    body: dict[str, object] = orjson.loads(response.split(b"\r\n\r\n", 1)[1])
    return body


def test_headers_sent_a_byte_per_second_are_cut_off(http: ServedInstance) -> None:
    started = time.monotonic()
    closed_after = None
    with connect(http.http_port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        sock.settimeout(1)
        for byte in b"X-Slow: " + b"a" * 30:
            try:
                sock.sendall(bytes([byte]))
                if sock.recv(1) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                pass  # still open: a second has passed
            except OSError:
                closed_after = time.monotonic() - started
                break
            assert b'"status":"ok"' in health(http.http_port), "others are served meanwhile"
    assert closed_after is not None, "the slow client was never closed"
    assert HEADER_TIMEOUT_S - 1 <= closed_after <= HEADER_TIMEOUT_S + 3


def test_one_client_address_holds_at_most_32_connections(http: ServedInstance) -> None:
    assert CONNECTIONS_PER_CLIENT == 32
    held = [connect(http.http_port) for _ in range(CONNECTIONS_PER_CLIENT)]
    try:
        time.sleep(0.2)
        with connect(http.http_port) as extra:
            refused = answer(extra)
        assert refused.startswith(b"HTTP/1.1 429"), refused
        assert json_body(refused)["error"] == {
            "code": "too_many_connections",
            "message": "at most 32 connections per client",
        }

        first = held.pop(0)
        first.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        assert b'"status":"ok"' in answer(first), "the admitted connections keep working"
        first.close()
        time.sleep(0.2)
        assert b'"status":"ok"' in health(http.http_port), "a freed slot is usable again"
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    assert all(b'"status":"ok"' in health(http.http_port) for _ in range(3))


def test_the_cap_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICEMODE_HTTP_CONNECTIONS_PER_CLIENT", "4")
    assert HttpLimits.from_environment().connections_per_client == 4
    monkeypatch.setenv("VOICEMODE_HTTP_CONNECTIONS_PER_CLIENT", "none")
    with pytest.raises(ValueError, match="VOICEMODE_HTTP_CONNECTIONS_PER_CLIENT"):
        HttpLimits.from_environment()


def test_a_body_sent_a_byte_per_second_is_refused_with_408(tmp_path: Path) -> None:
    """``read_body`` behind the same site as ``serve``, with a 1 s body deadline."""

    async def echo(request: web.Request) -> web.Response:
        try:
            body = await read_body(request, 1024, timeout_s=1.0)
        except ApiError:
            raise
        return web.Response(body=body)

    async def scenario() -> None:
        app = web.Application(middlewares=[errors_as_json])
        app.router.add_post("/echo", echo)
        limits = HttpLimits()
        runner = web.AppRunner(app, **limits.runner_args())
        await runner.setup()
        port = free_port()
        await LimitedTCPSite(runner, "127.0.0.1", port, limits).start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\n")
            started = time.monotonic()
            for _ in range(4):
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.5)
            response = await asyncio.wait_for(reader.read(65536), 5)
            assert response.startswith(b"HTTP/1.1 408"), response
            assert json_body(response)["error"]["code"] == "body_timeout"  # type: ignore[index]
            assert time.monotonic() - started < 3
            writer.close()

            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
                b"Connection: close\r\n\r\nok"
            )
            assert (await reader.read()).endswith(b"\r\n\r\nok"), "a prompt body is read"
            writer.close()
        finally:
            await runner.cleanup()

    asyncio.run(scenario())
