"""The voice activity detector the speech pipeline runs: Silero, loaded at start-up.

There is one detector for every source (each source gets its own scorer
from it), so this kind has no registry and no variable: the detector either
loads or the server does not start with speech.
"""

from __future__ import annotations

from adapters.engines.vad.base import VoiceActivityDetector
from adapters.startup import StartupError


def build() -> VoiceActivityDetector:
    """Load the Silero detector (ONNX Runtime is imported here, not with the interface).

    Raises:
        StartupError: the model does not load.

    """
    try:
        from adapters.engines.vad.silero import SileroDetector  # noqa: PLC0415

        return SileroDetector()
    except Exception as error:
        raise StartupError(
            f"the voice activity detector cannot load: {error}",
            "Reinstall voicemode, or run without speech (VOICEMODE_SPEECH=off).",
        ) from error
