"""The text-to-speech engines by name: what ``VOICEMODE_TTS_ENGINES`` may list.

``espeak-ng`` is embedded; any other name is an OpenAI-compatible endpoint
configured by ``VOICEMODE_<NAME>_*`` variables. Each engine's module is
imported only when it is named.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.engines.registry_startup import start_registry
from adapters.engines.tts.base import SpeechSynthesizer
from adapters.engines.tts.registry import SynthesizerRegistry

#: The variable that lists the engines, named in start-up errors.
VARIABLE = "VOICEMODE_TTS_ENGINES"


def build(names: Sequence[str]) -> SynthesizerRegistry:
    """Create the speech synthesizers named, in order of preference, and their registry.

    Raises:
        StartupError: no engine is named, or one cannot start.

    """
    return start_registry(VARIABLE, names, synthesizer, SynthesizerRegistry)


def synthesizer(name: str) -> SpeechSynthesizer:
    """Create the speech synthesizer called ``name``."""
    if name == "espeak-ng":
        from adapters.engines.tts.espeak import EspeakSynthesizer  # noqa: PLC0415

        return EspeakSynthesizer()
    from adapters.engines.tts.openai_compatible import OpenAICompatibleSynthesizer  # noqa: PLC0415

    return OpenAICompatibleSynthesizer.from_env(f"VOICEMODE_{name.upper()}", name=name)
