"""A real LiveKit server (v1.13.5, ``.tools/bin/livekit-server``) for the tests.

It runs the project's ``livekit.yaml`` with only what must differ for a test
changed: free loopback ports, a fresh key pair, and the webhook URL pointing
at the port the test serves voicemode's HTTP API on
(:attr:`LiveKitServer.webhook_port`, reserved before the server starts so the
URL is known). Media goes through one UDP port (``rtc.udp_port``) instead of
the file's port range, so parallel runs on one machine cannot collide.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no types; livekit-agents depends on it

from tests.support.service import ROOT, free_port

BINARY = ROOT / ".tools" / "bin" / "livekit-server"
CONFIG = ROOT / "livekit.yaml"
WEBHOOK_PATH = "/api/voice/livekit/webhook"


def free_udp_port() -> int:
    """A UDP port nobody is bound to right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("0.0.0.0", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveKitServer:
    """One ``livekit-server`` process on loopback with its own keys."""

    workdir: Path
    api_key: str = "testkey"
    api_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    port: int = field(default_factory=free_port)
    tcp_port: int = field(default_factory=free_port)
    udp_port: int = field(default_factory=free_udp_port)
    webhook_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Where clients and the server API connect."""
        return f"ws://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "livekit.log"

    def config(self) -> dict[str, Any]:
        """``livekit.yaml`` with this instance's ports, key and webhook URL."""
        config: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
        config["port"] = self.port
        config["bind_addresses"] = ["127.0.0.1"]
        rtc = config["rtc"]
        rtc.pop("port_range_start", None)
        rtc.pop("port_range_end", None)
        rtc.update(tcp_port=self.tcp_port, udp_port=self.udp_port, node_ip="127.0.0.1")
        config["webhook"] = {
            "api_key": self.api_key,
            "urls": [f"http://127.0.0.1:{self.webhook_port}{WEBHOOK_PATH}"],
        }
        config["logging"] = {"level": "debug", "pion_level": "error"}
        return config

    def start(self) -> None:
        """Start the server and wait until it answers; fail the test run clearly if it cannot."""
        if not os.access(BINARY, os.X_OK):
            pytest.fail(
                f"{BINARY} is missing: run scripts/install-livekit.sh to build LiveKit v1.13.5",
                pytrace=False,
            )
        config_path = self.workdir / "livekit.yaml"
        config_path.write_text(yaml.safe_dump(self.config()))
        # Every LIVEKIT_* variable overrides the config file (LIVEKIT_CONFIG
        # replaces it), so the server gets none but the keys.
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("LIVEKIT_") and name not in {"NODE_IP", "UDP_PORT"}
        }
        env["LIVEKIT_KEYS"] = f"{self.api_key}: {self.api_secret}"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(BINARY), "--config", str(config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"livekit-server exited:\n{self.log_path.read_text()}", pytrace=False)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"livekit-server not ready in 30 s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        """Stop the server: SIGTERM, a second one (LiveKit's "force") if it drains, then SIGKILL.

        A test server has nobody to drain for; waiting out LiveKit's graceful
        shutdown would only add seconds to every test module.
        """
        if self.process is None or self.process.poll() is not None:
            return
        for patience in (0.5, 5.0):
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=patience)
                return
            except subprocess.TimeoutExpired:
                continue
        self.process.kill()
        self.process.wait()

    def output(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


@pytest.fixture(scope="module")
def livekit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKitServer]:
    """A LiveKit server for the module; its webhooks go to ``webhook_port``."""
    server = LiveKitServer(tmp_path_factory.mktemp("livekit"))
    server.start()
    yield server
    server.stop()
