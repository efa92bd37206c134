"""Hosted speech engines in the registries, in front of the embedded ones.

The fallback tests put the hosted engines (against their vendor fakes) before
the real embedded engines (faster-whisper hearing espeak-ng speech, espeak-ng
speaking); across the whole chain, API keys never leak into logs, errors or reprs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import pytest

from adapters.engines.stt import RecognizerRegistry
from adapters.engines.stt.google import GoogleRecognizer
from adapters.engines.stt.openai_compatible import OpenAICompatibleRecognizer
from adapters.engines.stt.whisper import FasterWhisperRecognizer
from adapters.engines.tts import SynthesizerRegistry
from adapters.engines.tts.espeak import EspeakSynthesizer
from adapters.engines.tts.openai_compatible import OpenAICompatibleSynthesizer
from tests.support.hosted_speech import (
    GOOGLE_KEY,
    OPENAI_KEY,
    SENTENCE,
    WER_LIMIT,
    rms,
    synthesis_failure,
)
from tests.support.speech import word_error_rate
from tests.support.vendor_fakes import FakeGoogle, FakeOpenAI, Hang, Scripted, VendorError, tone_pcm

pytest_plugins = ("tests.support.hosted_speech_fixtures",)  # the fixtures, shared by name


@pytest.fixture(scope="module")
def whisper() -> Iterator[FasterWhisperRecognizer]:
    engine = FasterWhisperRecognizer()
    yield engine
    engine.close()


def test_stt_registry_falls_back_from_hosted_engines_to_faster_whisper(
    fake_openai: FakeOpenAI,
    fake_google: FakeGoogle,
    openai_stt: OpenAICompatibleRecognizer,
    whisper: FasterWhisperRecognizer,
    speech: np.ndarray,
) -> None:
    google = GoogleRecognizer(api_key="AIza-wrong-key", base_url=fake_google.base_url)
    fake_openai.script(VendorError(503))
    registry = RecognizerRegistry([google, openai_stt, whisper], timeout_s=5.0)
    try:
        result = registry.transcribe(speech, "en")
    finally:
        google.close()

    assert result.engine == "faster-whisper"
    assert result.fallbacks == ("google:engine_auth_failed", "openai:engine_unavailable")
    assert result.error_code is None
    assert word_error_rate(SENTENCE, result.text) <= WER_LIMIT


def test_stt_registry_time_limit_moves_on_from_a_hanging_hosted_engine(
    fake_openai: FakeOpenAI,
    openai_stt: OpenAICompatibleRecognizer,
    whisper: FasterWhisperRecognizer,
    speech: np.ndarray,
) -> None:
    fake_openai.script(Hang())
    registry = RecognizerRegistry([openai_stt, whisper], timeout_s=0.5)

    result = registry.transcribe(speech, "en")

    assert result.engine == "faster-whisper"
    assert result.fallbacks == ("openai:recognition_timeout",)
    assert result.decode_ms < 2000
    assert word_error_rate(SENTENCE, result.text) <= WER_LIMIT


def test_stt_registry_uses_a_preferred_hosted_engine(
    fake_google: FakeGoogle,
    google_stt: GoogleRecognizer,
    whisper: FasterWhisperRecognizer,
    speech: np.ndarray,
) -> None:
    fake_google.recognize = lambda audio, config: [("Google heard it", 0.9)]
    registry = RecognizerRegistry([whisper, google_stt])

    result = registry.transcribe(speech, "en", preference=["google"])

    assert (result.text, result.engine, result.fallbacks) == ("Google heard it", "google", ())
    # A language only the hosted engine knows goes to it without a failure on the way.
    spanish = registry.transcribe(speech, "es")
    assert (spanish.engine, spanish.fallbacks) == ("google", ())


@pytest.mark.parametrize(
    ("reply", "code"),
    [(VendorError(500), "engine_unavailable"), (Hang(), "synthesis_timeout")],
)
def test_tts_registry_falls_back_from_openai_to_espeak(
    fake_openai: FakeOpenAI,
    openai_tts: OpenAICompatibleSynthesizer,
    reply: Scripted,
    code: str,
) -> None:
    fake_openai.script(reply)
    registry = SynthesizerRegistry([openai_tts, EspeakSynthesizer()], timeout_s=0.5)

    synthesis = registry.synthesize("Good morning everyone.", "en")
    pcm = b"".join(synthesis.chunks)

    assert (synthesis.engine, synthesis.sample_rate) == ("espeak-ng", 22050)
    assert synthesis.fallbacks == (f"openai:{code}",)
    assert synthesis.first_chunk_ms < 1500
    assert rms(pcm) > 0.02


def test_tts_registry_voice_picks_the_engine(
    fake_openai: FakeOpenAI, openai_tts: OpenAICompatibleSynthesizer
) -> None:
    registry = SynthesizerRegistry([openai_tts, EspeakSynthesizer()])

    hosted = registry.synthesize("Good morning.", "en", voice="nova")
    assert (hosted.engine, hosted.voice, hosted.sample_rate) == ("openai", "nova", 24000)
    assert b"".join(hosted.chunks) == tone_pcm("Good morning.")

    embedded = registry.synthesize("Good morning.", "en", voice="en-us")
    assert (embedded.engine, embedded.fallbacks) == ("espeak-ng", ("openai:unknown_voice",))
    assert rms(b"".join(embedded.chunks)) > 0.02
    assert len(fake_openai.requests) == 1


def test_api_keys_never_reach_logs_errors_or_reprs(
    fake_openai: FakeOpenAI,
    fake_google: FakeGoogle,
    openai_stt: OpenAICompatibleRecognizer,
    google_stt: GoogleRecognizer,
    openai_tts: OpenAICompatibleSynthesizer,
    speech: np.ndarray,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    recognizers = RecognizerRegistry([openai_stt, google_stt])
    fake_openai.script(VendorError(401), VendorError(500, f"echo {OPENAI_KEY}"))
    fake_google.script(VendorError(429), VendorError(500, f"echo key={GOOGLE_KEY}"))

    transcripts = [recognizers.transcribe(speech, "en") for _ in range(3)]
    synthesizers = SynthesizerRegistry([openai_tts])
    fake_openai.script(VendorError(401), VendorError(503, f"Bearer {OPENAI_KEY}"))
    syntheses = [synthesizers.synthesize("Good morning.", "en") for _ in range(2)]
    fake_openai.script(VendorError(500, f"echo {OPENAI_KEY}"))
    error = synthesis_failure(openai_tts)

    assert [t.fallbacks for t in transcripts] == [
        ("openai:engine_auth_failed", "google:engine_rate_limited"),
        ("openai:engine_unavailable", "google:engine_unavailable"),
        (),
    ]
    assert [s.fallbacks for s in syntheses] == [
        ("openai:engine_auth_failed",),
        ("openai:engine_unavailable",),
    ]
    assert error.code == "engine_unavailable" and str(error) == "openai: 500: echo ***"
    assert caplog.records, "the clients' debug logging was captured"
    assert "echo ***" in caplog.text and "key=***" in caplog.text
    for key in (OPENAI_KEY, GOOGLE_KEY):
        assert key not in caplog.text
        assert all(key not in record.getMessage() for record in caplog.records)
        for engine in (openai_stt, google_stt, openai_tts):
            assert key not in repr(engine)
