"""Text-to-speech engines: one small interface, streamed PCM, a fallback registry."""

from adapters.registry import NO_ENGINE
from adapters.tts.base import (
    SpeechSynthesizer,
    Synthesis,
    SynthesisError,
    SynthesisTimeoutError,
    UnknownVoiceError,
    UnsupportedLanguageError,
    Voice,
)
from adapters.tts.espeak import EspeakSynthesizer
from adapters.tts.registry import SynthesizerRegistry

__all__ = [
    "NO_ENGINE",
    "EspeakSynthesizer",
    "SpeechSynthesizer",
    "Synthesis",
    "SynthesisError",
    "SynthesisTimeoutError",
    "SynthesizerRegistry",
    "UnknownVoiceError",
    "UnsupportedLanguageError",
    "Voice",
]
