"""The hosted speech engine tests' fixtures: vendor fakes, engines pointed at them, speech.

A pytest plugin: each ``test_hosted_speech_*`` module names it in ``pytest_plugins``,
so the fixtures are written once and found by name.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from adapters.engines.stt.google import GoogleRecognizer
from adapters.engines.stt.openai_compatible import OpenAICompatibleRecognizer
from adapters.engines.tts.openai_compatible import OpenAICompatibleSynthesizer
from tests.support.hosted_speech import GOOGLE_KEY, OPENAI_KEY, SENTENCE
from tests.support.speech import linear16, silence, to_float
from tests.support.vendor_fakes import FakeGoogle, FakeOpenAI

#: The settings every hosted engine prefix may have (``<PREFIX>_<VARIABLE>``).
SPEECH_VARIABLES = (
    "API_KEY",
    "BASE_URL",
    "STT_MODEL",
    "STT_TIMEOUT_S",
    "TTS_MODEL",
    "TTS_VOICES",
    "TTS_VOICE",
    "TTS_TIMEOUT_S",
    "SPEECH_URL",
)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """A spoken sentence as the engines get it: 16 kHz float32."""
    return to_float(silence(0.2) + linear16(SENTENCE) + silence(0.1))


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """The OpenAI API on loopback, knowing one STT and one TTS model."""
    with FakeOpenAI(OPENAI_KEY, models={"whisper-test", "tts-test"}) as fake:
        yield fake


@pytest.fixture
def fake_google() -> Iterator[FakeGoogle]:
    """Google Cloud Speech-to-Text on loopback."""
    with FakeGoogle(GOOGLE_KEY) as fake:
        yield fake


@pytest.fixture
def openai_stt(fake_openai: FakeOpenAI) -> Iterator[OpenAICompatibleRecognizer]:
    """The OpenAI-compatible recognizer, pointed at the fake."""
    engine = OpenAICompatibleRecognizer(
        api_key=OPENAI_KEY, model="whisper-test", base_url=fake_openai.base_url, timeout_s=2.0
    )
    yield engine
    engine.close()


@pytest.fixture
def google_stt(fake_google: FakeGoogle) -> Iterator[GoogleRecognizer]:
    """The Google recognizer, pointed at the fake."""
    engine = GoogleRecognizer(api_key=GOOGLE_KEY, base_url=fake_google.base_url, timeout_s=2.0)
    yield engine
    engine.close()


@pytest.fixture
def openai_tts(fake_openai: FakeOpenAI) -> Iterator[OpenAICompatibleSynthesizer]:
    """The OpenAI-compatible synthesizer, pointed at the fake."""
    engine = OpenAICompatibleSynthesizer(
        api_key=OPENAI_KEY, model="tts-test", base_url=fake_openai.base_url, timeout_s=2.0
    )
    yield engine
    engine.close()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No hosted speech setting from the environment the tests run in."""
    for prefix in ("VOICEMODE_OPENAI", "VOICEMODE_GROK", "VOICEMODE_LOCAL", "VOICEMODE_GOOGLE"):
        for variable in SPEECH_VARIABLES:
            monkeypatch.delenv(f"{prefix}_{variable}", raising=False)
    return monkeypatch
