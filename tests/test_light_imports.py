"""Interfaces are cheap to import: no engine, codec or SDK comes with them.

A package's ``__init__`` exports its interface (base types, errors, the
registry's type); engines are imported where they are built (each kind's
``engines.build``). Each module here is imported in a fresh interpreter, and
the test names any heavy module that came with it, so a slow import is found
by its cause, not by a newcomer waiting for ``replay`` to start.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.service import ROOT

ENGINES = (
    "ctranslate2",  # faster-whisper's runtime
    "faster_whisper",
    "tokenizers",
    "av",  # PyAV: Opus decoding and resampling
    "onnxruntime",  # Silero VAD
    "webrtcvad",
    "livekit.rtc",
    "livekit.agents",
    "openai",  # hosted engines' clients
    "anthropic",
    "httpx2",
    "llama_cpp",  # the embedded language model
    "aiohttp",
)
"""What only engines, decoders, the LiveKit agent and the HTTP API may load (each ≥0.1 s)."""

AUDIO = ("numpy",)
"""What only modules that carry audio (PCM is a numpy array) may load."""

LIGHT = {
    # Text and messages: no audio either.
    "runtime": ENGINES + AUDIO,
    "adapters.engines.registry": ENGINES + AUDIO,
    "adapters.engines.registry_startup": ENGINES + AUDIO,
    "adapters.settings": ENGINES + AUDIO,
    "adapters.engines.translation": ENGINES + AUDIO,
    "adapters.engines.translation.base": ENGINES + AUDIO,
    "adapters.engines.translation.registry": ENGINES + AUDIO,
    "adapters.engines.translation.engines": ENGINES + AUDIO,
    "adapters.engines.tts": ENGINES + AUDIO,
    "adapters.engines.tts.base": ENGINES + AUDIO,
    "adapters.engines.tts.registry": ENGINES + AUDIO,
    "adapters.engines.tts.engines": ENGINES + AUDIO,
    "adapters.engines.llm": ENGINES + AUDIO,
    "adapters.engines.llm.base": ENGINES + AUDIO,
    "adapters.engines.llm.registry": ENGINES + AUDIO,
    "adapters.engines.llm.engines": ENGINES + AUDIO,
    "adapters.shells.livekit_agent": ENGINES + AUDIO,
    "actors.agent_messages": ENGINES + AUDIO,
    # Audio interfaces and the frame parsers.
    "adapters.engines.audio": ENGINES,
    "adapters.engines.audio.formats": ENGINES,
    "adapters.shells.protocol": ENGINES,
    "adapters.shells.livekit_agent.wire": ENGINES,
    "adapters.engines.stt": ENGINES,
    "adapters.engines.stt.base": ENGINES,
    "adapters.engines.stt.registry": ENGINES,
    "adapters.engines.stt.stream": ENGINES,
    "adapters.engines.stt.engines": ENGINES,
    "adapters.engines.vad": ENGINES,
    "adapters.engines.vad.base": ENGINES,
    "adapters.engines.vad.segmenter": ENGINES,
    "adapters.engines.vad.engines": ENGINES,
}


def loaded_after_import(module: str, candidates: tuple[str, ...]) -> list[str]:
    """Which of ``candidates`` a fresh interpreter has loaded after importing ``module``."""
    probe = (
        "import sys; import importlib; "
        f"importlib.import_module({module!r}); "
        f"print(','.join(m for m in {candidates!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [name for name in result.stdout.strip().split(",") if name]


@pytest.mark.parametrize("module", sorted(LIGHT))
def test_an_interface_loads_no_engine(module: str) -> None:
    heavy = loaded_after_import(module, LIGHT[module])
    assert not heavy, (
        f"importing {module} loads {', '.join(heavy)}: import engines where they are built "
        "(a kind's engines.build), not in an interface or a package __init__"
    )
