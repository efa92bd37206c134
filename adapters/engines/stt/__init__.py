"""Speech-to-text engines: one small interface, streaming by re-decoding, a fallback registry.

The package exports the interface and the registry's type only; engines are
imported where they are built (:func:`adapters.engines.stt.engines.build`).
"""

from adapters.engines.registry import NO_ENGINE
from adapters.engines.stt.base import (
    RecognitionError,
    RecognitionTimeoutError,
    SpeechRecognizer,
    Transcript,
    UnsupportedLanguageError,
)
from adapters.engines.stt.registry import RecognizerRegistry

__all__ = [
    "NO_ENGINE",
    "RecognitionError",
    "RecognitionTimeoutError",
    "RecognizerRegistry",
    "SpeechRecognizer",
    "Transcript",
    "UnsupportedLanguageError",
]
