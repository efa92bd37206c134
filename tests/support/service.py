"""Run the real ``voicemode serve`` in a subprocess and talk to it like a client."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from websockets.asyncio.client import ClientConnection, connect

from adapters.shells.auth import issue_token

ROOT = Path(__file__).resolve().parents[2]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process(process: subprocess.Popen[bytes] | None, patience_s: float = 20) -> None:
    """SIGTERM, and SIGKILL if the process has not ended within ``patience_s``."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=patience_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class ServedInstance:
    """A ``voicemode serve`` process on loopback with its own store."""

    db: str
    secret: str = field(default_factory=lambda: secrets.token_hex(32))
    agent_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    """More flags for ``serve`` (e.g. ``--dev``)."""
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def agent_url(self) -> str:
        """The agent channel."""
        return f"ws://127.0.0.1:{self.port}/agent"

    def start(self) -> None:
        # Text tests run without the speech engines (faster start); voice tests opt in.
        # livekit-agents writes LIVEKIT_* into os.environ when a worker runs
        # in the test process: a served instance gets LiveKit only if asked.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
        env = {
            **inherited,
            "VOICEMODE_SPEECH": "off",
            "VOICEMODE_SECRET": self.secret,
            "VOICEMODE_AGENT_SECRET": self.agent_secret,
            **self.env,
        }
        self.log_path = (
            Path(self.db + f".{time.monotonic_ns()}.log")
            if "://" not in self.db
            else Path(f"/tmp/voicemode-{self.port}.log")
        )
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "runtime.py"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--http-port",
                str(self.http_port),
                "--db",
                self.db,
                *self.args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited: {self.log_path.read_text()}")
            if all(_listening(port) for port in (self.port, self.http_port)):
                return
            time.sleep(0.05)
        raise RuntimeError("serve did not start listening within 60 s")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        stop_process(self.process)

    def token(self, user: str, name: str | None = None, lang: str = "en", ttl: int = 3600) -> str:
        return issue_token(self.secret, user, name or user.capitalize(), lang, ttl)

    def replay(self, *args: str) -> str:
        """``voicemode replay`` on this instance's store; its standard output."""
        result = subprocess.run(
            [sys.executable, str(ROOT / "runtime.py"), "replay", *args, "--db", self.db],
            capture_output=True,
            check=True,
            env={**os.environ, **self.env},
            cwd=ROOT,
        )
        return result.stdout.decode()

    def output(self) -> str:
        return self.log_path.read_text() if self.log_path else ""


class Client:
    """A WebSocket client that records every frame it receives."""

    def __init__(self, websocket: ClientConnection) -> None:
        self.ws = websocket
        self.frames: list[dict[str, Any]] = []
        self.audio: list[bytes] = []
        self._new = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self.closed: BaseException | None = None

    @classmethod
    async def connect(cls, url: str, token: str | None = None, **kwargs: Any) -> Client:
        full = f"{url}?token={token}" if token else url
        return cls(await connect(full, **kwargs))

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if isinstance(message, bytes):
                    self.audio.append(message)
                    self.frames.append({"event": "binary", "size": len(message)})
                else:
                    self.frames.append(orjson.loads(message))
                self._new.set()
        except Exception as error:
            self.closed = error
        finally:
            self._new.set()

    async def send(self, event: str, data: dict[str, Any] | None = None, ref: Any = None) -> None:
        frame: dict[str, Any] = {"event": event, "data": data or {}}
        if ref is not None:
            frame["ref"] = ref
        await self.ws.send(orjson.dumps(frame).decode())

    async def send_raw(self, payload: str | bytes) -> None:
        await self.ws.send(payload)

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0
    ) -> dict[str, Any]:
        """The first received frame (old or new) matching ``predicate``."""
        deadline = asyncio.get_running_loop().time() + timeout
        seen = 0
        while True:
            for frame in self.frames[seen:]:
                if predicate(frame):
                    return frame
            seen = len(self.frames)
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"no matching frame; got {self.frames[-5:]}")
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), remaining)
            except TimeoutError:
                continue

    async def expect(self, event: str, timeout: float = 10.0, **data: Any) -> dict[str, Any]:
        """Wait for a frame named ``event`` whose data contains ``data``."""
        return await self.wait_for(
            lambda f: (
                f.get("event") == event
                and all(f.get("data", {}).get(k) == v for k, v in data.items())
            ),
            timeout,
        )

    async def request(
        self, event: str, data: dict[str, Any] | None = None, ref: str = "r", timeout: float = 10.0
    ) -> dict[str, Any]:
        """Send a command with a ref and wait for the ack, reply or error echoing it."""
        marker = f"{ref}-{len(self.frames)}-{time.monotonic_ns()}"
        await self.send(event, data, marker)
        return await self.wait_for(lambda f: f.get("ref") == marker, timeout)

    async def wait_closed(self, timeout: float = 5.0) -> None:
        """Wait until the server closed the connection."""
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)

    def named(self, event: str) -> list[dict[str, Any]]:
        return [frame for frame in self.frames if frame.get("event") == event]

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


async def livekit_token(served: ServedInstance, room: str, user: str) -> str:
    """A LiveKit token for ``user`` in ``room``, from serve's HTTP API as a client gets one."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"http://127.0.0.1:{served.http_port}/api/voice/livekit/token",
            json={"roomName": room, "participantId": user},
            headers={"Authorization": f"Bearer {served.token(user)}"},
        ) as answer,
    ):
        assert answer.status == 200, await answer.text()
        body: dict[str, str] = await answer.json()
        return body["token"]


async def http_get(served: ServedInstance, path: str, user: str) -> tuple[int, bytes]:
    """``GET path`` on serve's HTTP API with ``user``'s bearer token: status and body."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"http://127.0.0.1:{served.http_port}{path}",
            headers={"Authorization": f"Bearer {served.token(user)}"},
        ) as answer,
    ):
        return answer.status, await answer.read()
