"""Speech-to-text engines: one small interface, streaming by re-decoding, a fallback registry."""

from adapters.registry import NO_ENGINE
from adapters.stt.base import (
    RecognitionError,
    RecognitionTimeoutError,
    SpeechRecognizer,
    Transcript,
    UnsupportedLanguageError,
)
from adapters.stt.registry import RecognizerRegistry
from adapters.stt.stream import MAX_UTTERANCE_SAMPLES, UtteranceStream
from adapters.stt.whisper import MODEL_ENV, FasterWhisperRecognizer, default_model_path

__all__ = [
    "MAX_UTTERANCE_SAMPLES",
    "MODEL_ENV",
    "NO_ENGINE",
    "FasterWhisperRecognizer",
    "RecognitionError",
    "RecognitionTimeoutError",
    "RecognizerRegistry",
    "SpeechRecognizer",
    "Transcript",
    "UnsupportedLanguageError",
    "UtteranceStream",
    "default_model_path",
]
