"""Text-to-speech engines: one small interface, streamed PCM, a fallback registry.

The package exports the interface and the registry's type only; engines are
imported where they are built (:func:`adapters.engines.tts.engines.build`).
"""

from adapters.engines.registry import NO_ENGINE
from adapters.engines.tts.base import (
    SpeechSynthesizer,
    Synthesis,
    SynthesisError,
    SynthesisTimeoutError,
    UnknownVoiceError,
    UnsupportedLanguageError,
    Voice,
)
from adapters.engines.tts.registry import SynthesizerRegistry

__all__ = [
    "NO_ENGINE",
    "SpeechSynthesizer",
    "Synthesis",
    "SynthesisError",
    "SynthesisTimeoutError",
    "SynthesizerRegistry",
    "UnknownVoiceError",
    "UnsupportedLanguageError",
    "Voice",
]
