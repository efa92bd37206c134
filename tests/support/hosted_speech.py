"""What the hosted speech engine tests share: keys, a sentence, and how failures are read.

The fixtures (vendor fakes, engines pointed at them) are in
:mod:`tests.support.hosted_speech_fixtures`.
"""

from __future__ import annotations

import numpy as np
import pytest

from adapters.engines.stt.base import RecognitionError
from adapters.engines.stt.google import GoogleRecognizer
from adapters.engines.stt.openai_compatible import OpenAICompatibleRecognizer
from adapters.engines.tts.base import SynthesisError
from adapters.engines.tts.openai_compatible import OpenAICompatibleSynthesizer
from tests.support.speech import to_float

OPENAI_KEY = "sk-proj-TESTKEY-openai-speech-0123456789"
GOOGLE_KEY = "AIzaTESTKEY-google-speech-0123456789"
SENTENCE = "Please send me the report before the meeting on Friday."
WER_LIMIT = 0.25  # as in test_speech_engines: tiny.en hearing espeak-ng


def int16(audio: np.ndarray) -> np.ndarray:
    """The float32 engine input as the 16-bit samples it came from."""
    return np.round(audio * 32768).astype(np.int32)


def rms(pcm: bytes) -> float:
    """The loudness of 16-bit PCM (0 is silence), to tell speech was produced."""
    return float(np.sqrt(np.mean(to_float(pcm) ** 2)))


def recognition_failure(
    engine: OpenAICompatibleRecognizer | GoogleRecognizer, audio: np.ndarray
) -> RecognitionError:
    """The error transcribing ``audio`` in English raises."""
    with pytest.raises(RecognitionError) as caught:
        engine.transcribe(audio, "en")
    return caught.value


def synthesis_failure(engine: OpenAICompatibleSynthesizer) -> SynthesisError:
    """The error advancing a synthesis raises."""
    with pytest.raises(SynthesisError) as caught:
        b"".join(engine.synthesize("Good morning", "en"))
    return caught.value
