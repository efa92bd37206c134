"""A ``voicemode agent`` process for the tests: a real LiveKit agent worker.

It registers with the test's LiveKit server and reaches the test's
``voicemode serve`` over the agent channel with the instance's agent secret,
exactly as a worker on another machine would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.livekit_server import LiveKitServer
from tests.support.service import ROOT, ServedInstance, stop_process

REGISTERED = "registered worker"
"""What livekit-agents logs (at INFO) once the worker can take jobs."""


@dataclass
class AgentWorker:
    """One ``voicemode agent`` serving ``served``'s rooms on ``livekit``."""

    served: ServedInstance
    livekit: LiveKitServer
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    cpus: str | None = None
    """Pin the worker to these cores (``taskset -c``), standing for a machine of its own."""
    args: tuple[str, ...] = ()
    """More flags for ``agent`` (e.g. ``--worker-id``)."""
    load_threshold: str = "inf"
    """The only worker on a busy test machine must take every room."""

    def start(self, timeout_s: float = 90) -> None:
        """Start the worker and wait until it registered with LiveKit."""
        env = {
            **os.environ,
            "LIVEKIT_URL": self.livekit.url,
            "LIVEKIT_API_KEY": self.livekit.api_key,
            "LIVEKIT_API_SECRET": self.livekit.api_secret,
            "VOICEMODE_AGENT_SECRET": self.served.agent_secret,
            "VOICEMODE_LOG_LEVEL": "INFO",
        }
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            pinned = ["taskset", "-c", self.cpus] if self.cpus is not None else []
            self.process = subprocess.Popen(
                [
                    *pinned,
                    sys.executable,
                    str(ROOT / "runtime.py"),
                    "agent",
                    "--control",
                    self.served.agent_url,
                    "--load-threshold",
                    self.load_threshold,
                    *self.args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"voicemode agent exited:\n{self.output()}")
            if REGISTERED in self.output()[offset:]:
                return
            time.sleep(0.1)
        raise RuntimeError(f"voicemode agent did not register in {timeout_s} s:\n{self.output()}")

    @property
    def worker_id(self) -> str:
        """The id the worker gives ``serve`` (``voicemode agent``'s default: host and pid)."""
        assert self.process is not None
        return f"agent-{socket.gethostname()}-{self.process.pid}"

    def kill(self) -> None:
        """SIGKILL: the worker vanishes without leaving its rooms."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if draining takes too long."""
        stop_process(self.process)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
