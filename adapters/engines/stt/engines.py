"""The speech-to-text engines by name: what ``VOICEMODE_STT_ENGINES`` may list.

``faster-whisper`` is embedded (its model: ``VOICEMODE_STT_MODEL``);
``google`` is Google Cloud Speech-to-Text (``VOICEMODE_GOOGLE_*``); any other
name is an OpenAI-compatible endpoint configured by ``VOICEMODE_<NAME>_*``
variables. Each engine's module is imported only when it is named: the
embedded one loads CTranslate2.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from adapters.engines.cores import usable_cores
from adapters.engines.registry_startup import start_registry
from adapters.engines.stt.base import SpeechRecognizer
from adapters.engines.stt.registry import RecognizerRegistry

#: The variable that lists the engines, named in start-up errors.
VARIABLE = "VOICEMODE_STT_ENGINES"


def build(names: Sequence[str]) -> RecognizerRegistry:
    """Create the speech recognizers named, in order of preference, and their registry.

    Raises:
        StartupError: no engine is named, or one cannot start.

    """
    return start_registry(VARIABLE, names, recognizer, RecognizerRegistry)


def recognizer(name: str) -> SpeechRecognizer:
    """Create the speech recognizer called ``name``."""
    if name == "faster-whisper":
        return faster_whisper()
    if name == "google":
        from adapters.engines.stt.google import GoogleRecognizer  # noqa: PLC0415

        return GoogleRecognizer.from_env()
    from adapters.engines.stt.openai_compatible import OpenAICompatibleRecognizer  # noqa: PLC0415

    return OpenAICompatibleRecognizer.from_env(f"VOICEMODE_{name.upper()}", name=name)


def faster_whisper() -> SpeechRecognizer:
    """The embedded recognizer; a model that does not load is named by its variable."""
    from adapters.engines.stt.whisper import MODEL_ENV, FasterWhisperRecognizer  # noqa: PLC0415

    try:
        return FasterWhisperRecognizer(num_workers=usable_cores())
    except Exception as error:
        if MODEL_ENV not in os.environ:
            raise
        raise ValueError(f"{MODEL_ENV}={os.environ[MODEL_ENV]}: {error}") from error
