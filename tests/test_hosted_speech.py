"""Hosted speech engines with their real clients, against local vendor fakes.

The OpenAI-compatible recognizer and synthesizer run the official ``openai``
SDK, the Google recognizer its HTTP client, against servers from
``tests.support.vendor_fakes`` that speak the vendors' documented wire formats. The
fallback tests put them in front of the real embedded engines (faster-whisper
hearing espeak-ng speech, espeak-ng speaking).
"""

from __future__ import annotations

import base64
import io
import logging
import time
import wave
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pytest

from adapters.hosted import OPENAI_BASE_URL, XAI_BASE_URL
from adapters.stt import (
    RecognitionError,
    RecognitionTimeoutError,
    RecognizerRegistry,
    UnsupportedLanguageError,
)
from adapters.stt.google import GoogleRecognizer
from adapters.stt.openai_compatible import OpenAICompatibleRecognizer
from adapters.stt.whisper import FasterWhisperRecognizer
from adapters.tts import (
    SynthesisError,
    SynthesisTimeoutError,
    SynthesizerRegistry,
    UnknownVoiceError,
)
from adapters.tts import UnsupportedLanguageError as UnsupportedSpeechLanguageError
from adapters.tts.espeak import EspeakSynthesizer
from adapters.tts.openai_compatible import OPENAI_VOICES, OpenAICompatibleSynthesizer
from tests.support.speech import linear16, silence, to_float, word_error_rate
from tests.support.vendor_fakes import (
    OPENAI_PCM_RATE,
    FakeGoogle,
    FakeOpenAI,
    Hang,
    RawReply,
    Scripted,
    Trickle,
    VendorError,
    closed_port_url,
    tone_pcm,
)

OPENAI_KEY = "sk-proj-TESTKEY-openai-speech-0123456789"
GOOGLE_KEY = "AIzaTESTKEY-google-speech-0123456789"
SENTENCE = "Please send me the report before the meeting on Friday."
WER_LIMIT = 0.25  # as in test_speech_engines: tiny.en hearing espeak-ng


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """A spoken sentence as the engines get it: 16 kHz float32."""
    return to_float(silence(0.2) + linear16(SENTENCE) + silence(0.1))


@pytest.fixture(scope="module")
def whisper() -> Iterator[FasterWhisperRecognizer]:
    engine = FasterWhisperRecognizer()
    yield engine
    engine.close()


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(OPENAI_KEY, models={"whisper-test", "tts-test"}) as fake:
        yield fake


@pytest.fixture
def fake_google() -> Iterator[FakeGoogle]:
    with FakeGoogle(GOOGLE_KEY) as fake:
        yield fake


@pytest.fixture
def openai_stt(fake_openai: FakeOpenAI) -> Iterator[OpenAICompatibleRecognizer]:
    engine = OpenAICompatibleRecognizer(
        api_key=OPENAI_KEY, model="whisper-test", base_url=fake_openai.base_url, timeout_s=2.0
    )
    yield engine
    engine.close()


@pytest.fixture
def google_stt(fake_google: FakeGoogle) -> Iterator[GoogleRecognizer]:
    engine = GoogleRecognizer(api_key=GOOGLE_KEY, base_url=fake_google.base_url, timeout_s=2.0)
    yield engine
    engine.close()


@pytest.fixture
def openai_tts(fake_openai: FakeOpenAI) -> Iterator[OpenAICompatibleSynthesizer]:
    engine = OpenAICompatibleSynthesizer(
        api_key=OPENAI_KEY, model="tts-test", base_url=fake_openai.base_url, timeout_s=2.0
    )
    yield engine
    engine.close()


def int16(audio: np.ndarray) -> np.ndarray:
    """The float32 engine input as the 16-bit samples it came from."""
    return np.round(audio * 32768).astype(np.int32)


def rms(pcm: bytes) -> float:
    return float(np.sqrt(np.mean(to_float(pcm) ** 2)))


def recognition_failure(
    engine: OpenAICompatibleRecognizer | GoogleRecognizer, audio: np.ndarray
) -> RecognitionError:
    with pytest.raises(RecognitionError) as caught:
        engine.transcribe(audio, "en")
    return caught.value


def synthesis_failure(engine: OpenAICompatibleSynthesizer) -> SynthesisError:
    """The error advancing a synthesis raises."""
    with pytest.raises(SynthesisError) as caught:
        b"".join(engine.synthesize("Good morning", "en"))
    return caught.value


# ----------------------------------------------------------------- OpenAI-compatible STT


def test_openai_stt_uploads_the_utterance_as_16_khz_wav(
    fake_openai: FakeOpenAI, openai_stt: OpenAICompatibleRecognizer, speech: np.ndarray
) -> None:
    uploads: list[tuple[bytes, str]] = []

    def transcribe(audio: bytes, filename: str) -> str:
        uploads.append((audio, filename))
        return f"  {SENTENCE}\n"

    fake_openai.transcribe = transcribe

    assert openai_stt.transcribe(speech, "en") == SENTENCE

    [(wav, filename)] = uploads
    assert filename.endswith(".wav")
    with wave.open(io.BytesIO(wav)) as reader:
        assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (
            16000,
            1,
            2,
        )
        assert reader.getnframes() == len(speech)  # the utterance's duration, exactly
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    assert np.abs(samples.astype(np.int32) - int16(speech)).max() <= 1
    [request] = fake_openai.requests
    assert (request.method, request.path) == ("POST", "/v1/audio/transcriptions")
    for field, value in {
        "model": "whisper-test",
        "language": "en",
        "response_format": "json",
    }.items():
        assert f'name="{field}"\r\n\r\n{value}\r\n'.encode() in request.body
    assert request.headers["x-stainless-retry-count"] == "0"
    assert fake_openai.key_locations(OPENAI_KEY) == {"header:authorization"}


def test_openai_stt_languages_and_empty_audio(
    fake_openai: FakeOpenAI, openai_stt: OpenAICompatibleRecognizer
) -> None:
    assert openai_stt.supports("es") and openai_stt.supports("ja")
    assert not openai_stt.supports("ii")
    with pytest.raises(UnsupportedLanguageError):
        openai_stt.transcribe(np.ones(1600, dtype=np.float32), "ii")
    assert openai_stt.transcribe(np.zeros(0, dtype=np.float32), "en") == ""
    assert fake_openai.requests == []


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (VendorError(401), "engine_auth_failed"),
        (VendorError(403), "engine_auth_failed"),
        (VendorError(429, retry_after=7), "engine_rate_limited"),
        (VendorError(500), "engine_unavailable"),
        (VendorError(503), "engine_unavailable"),
        (VendorError(400), "recognition_failed"),
        (RawReply(b"{not json"), "recognition_failed"),
        (RawReply(b'{"task": "transcribe"}'), "recognition_failed"),
        (RawReply(b"<html>oops</html>", content_type="text/html"), "recognition_failed"),
        (RawReply(b"<html>bad gateway</html>", 502, "text/html"), "engine_unavailable"),
    ],
)
def test_openai_stt_errors_map_to_codes_without_retries(
    fake_openai: FakeOpenAI,
    openai_stt: OpenAICompatibleRecognizer,
    speech: np.ndarray,
    reply: Scripted,
    code: str,
) -> None:
    fake_openai.script(reply)

    error = recognition_failure(openai_stt, speech)

    assert error.code == code
    assert len(fake_openai.requests) == 1
    if code == "engine_rate_limited":
        assert "retry after 7 s" in str(error)


def test_openai_stt_unknown_model_is_a_recognition_failure(
    fake_openai: FakeOpenAI, speech: np.ndarray
) -> None:
    engine = OpenAICompatibleRecognizer(
        api_key=OPENAI_KEY, model="whisper-missing", base_url=fake_openai.base_url
    )
    try:
        error = recognition_failure(engine, speech)
    finally:
        engine.close()
    assert error.code == "recognition_failed"
    assert "whisper-missing" in str(error)


def test_openai_stt_wrong_key_is_refused_without_quoting_it(
    fake_openai: FakeOpenAI, speech: np.ndarray
) -> None:
    wrong_key = "sk-proj-WRONGKEY-9876543210zyxw"
    engine = OpenAICompatibleRecognizer(
        api_key=wrong_key, model="whisper-test", base_url=fake_openai.base_url
    )
    try:
        error = recognition_failure(engine, speech)
    finally:
        engine.close()
    assert error.code == "engine_auth_failed"
    # The vendor's 401 text echoes the key's ends; none of it is passed on.
    assert wrong_key not in str(error) and "zyxw" not in str(error)
    assert error.__cause__ is None and error.__suppress_context__


def test_openai_stt_timeout_within_the_configured_time(
    fake_openai: FakeOpenAI, speech: np.ndarray
) -> None:
    engine = OpenAICompatibleRecognizer(
        api_key=OPENAI_KEY, model="whisper-test", base_url=fake_openai.base_url, timeout_s=0.5
    )
    fake_openai.script(Hang())
    started = time.monotonic()
    try:
        with pytest.raises(RecognitionTimeoutError) as caught:
            engine.transcribe(speech, "en")
    finally:
        engine.close()
    assert 0.4 <= time.monotonic() - started < 2.0
    assert caught.value.code == "recognition_timeout"


def test_openai_stt_unreachable_server_is_unavailable(speech: np.ndarray) -> None:
    engine = OpenAICompatibleRecognizer(
        api_key=OPENAI_KEY, model="whisper-test", base_url=closed_port_url()
    )
    try:
        error = recognition_failure(engine, speech)
    finally:
        engine.close()
    assert error.code == "engine_unavailable"


def test_openai_stt_ignores_the_sdk_s_own_environment(
    fake_openai: FakeOpenAI, speech: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK's OPENAI_* variables neither replace the engine's key nor add credentials."""
    monkeypatch.setenv("OPENAI_API_KEY", "canary-env-api-key")
    monkeypatch.setenv("OPENAI_BASE_URL", closed_port_url())
    monkeypatch.setenv("OPENAI_ORG_ID", "canary-org")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "canary-project")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "Authorization: Bearer canary-custom-auth")
    engine = OpenAICompatibleRecognizer(
        api_key=OPENAI_KEY, model="whisper-test", base_url=fake_openai.base_url
    )
    try:
        assert engine.transcribe(speech, "en").startswith("fake transcript")
    finally:
        engine.close()
    [request] = fake_openai.requests
    assert request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert not any("canary" in value for value in request.headers.values())


# ----------------------------------------------------------------- Google STT


def test_google_stt_sends_linear16_with_a_bcp47_language(
    fake_google: FakeGoogle, google_stt: GoogleRecognizer, speech: np.ndarray
) -> None:
    heard: list[tuple[bytes, Mapping[str, Any]]] = []

    def recognize(audio: bytes, config: Mapping[str, Any]) -> list[tuple[str, float]]:
        heard.append((audio, config))
        return [(SENTENCE, 0.93), ("Please send me the reports", 0.41)]

    fake_google.recognize = recognize

    assert google_stt.transcribe(speech, "en") == SENTENCE

    [(pcm, config)] = heard
    assert config == {
        "encoding": "LINEAR16",
        "sampleRateHertz": 16000,
        "languageCode": "en-US",
        "enableAutomaticPunctuation": True,
    }
    samples = np.frombuffer(pcm, dtype="<i2")
    assert len(samples) == len(speech)  # 16 kHz: the utterance's duration, exactly
    assert np.abs(samples.astype(np.int32) - int16(speech)).max() <= 1
    [request] = fake_google.requests
    assert (request.method, request.path) == ("POST", "/v1/speech:recognize")
    assert base64.b64decode(request.json()["audio"]["content"]) == pcm
    # Only in the documented header: never in the URL, where request logs would keep it.
    assert fake_google.key_locations(GOOGLE_KEY) == {"header:x-goog-api-key"}


def test_google_stt_joins_results_and_reads_no_speech(
    fake_google: FakeGoogle, google_stt: GoogleRecognizer, speech: np.ndarray
) -> None:
    fake_google.script(
        RawReply(
            b'{"results": [{"alternatives": [{"transcript": "Please send me the report"}]},'
            b' {"alternatives": [{}]},'
            b' {"alternatives": [{"transcript": " before Friday."}, {"transcript": "x"}]}]}'
        ),
        RawReply(b'{"totalBilledTime": "3s"}'),
    )

    assert google_stt.transcribe(speech, "en") == "Please send me the report before Friday."
    assert google_stt.transcribe(speech, "en") == ""


def test_google_stt_languages_model_and_empty_audio(
    fake_google: FakeGoogle, speech: np.ndarray
) -> None:
    engine = GoogleRecognizer(
        api_key=GOOGLE_KEY, base_url=fake_google.base_url, model="latest_short"
    )
    try:
        assert engine.supports("es") and engine.supports("he") and not engine.supports("ii")
        with pytest.raises(UnsupportedLanguageError):
            engine.transcribe(speech, "ii")
        assert engine.transcribe(np.zeros(0, dtype=np.float32), "es") == ""
        assert fake_google.requests == []
        engine.transcribe(speech, "es")
    finally:
        engine.close()
    config = fake_google.requests[0].json()["config"]
    assert (config["languageCode"], config["model"]) == ("es-ES", "latest_short")


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (VendorError(401), "engine_auth_failed"),
        (VendorError(403), "engine_auth_failed"),
        (VendorError(429, retry_after=30), "engine_rate_limited"),
        (VendorError(500), "engine_unavailable"),
        (VendorError(503), "engine_unavailable"),
        (VendorError(400, "Invalid recognition 'config'"), "recognition_failed"),
        (RawReply(b"{not json"), "recognition_failed"),
        (RawReply(b'{"results": "none"}'), "recognition_failed"),
        (RawReply(b'{"results": [{"alternatives": [{"transcript": 7}]}]}'), "recognition_failed"),
        (RawReply(b"<html>proxy error</html>", 502, "text/html"), "engine_unavailable"),
    ],
)
def test_google_stt_errors_map_to_codes(
    fake_google: FakeGoogle,
    google_stt: GoogleRecognizer,
    speech: np.ndarray,
    reply: Scripted,
    code: str,
) -> None:
    fake_google.script(reply)

    error = recognition_failure(google_stt, speech)

    assert error.code == code
    assert len(fake_google.requests) == 1
    if code == "engine_rate_limited":
        assert "retry after 30 s" in str(error)


def test_google_stt_invalid_key_is_an_auth_failure(
    fake_google: FakeGoogle, speech: np.ndarray
) -> None:
    """Google answers a wrong key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID."""
    engine = GoogleRecognizer(api_key="AIza-wrong-key", base_url=fake_google.base_url)
    try:
        error = recognition_failure(engine, speech)
    finally:
        engine.close()
    assert error.code == "engine_auth_failed"
    assert "AIza-wrong-key" not in str(error)


def test_google_stt_timeout_within_the_configured_time(
    fake_google: FakeGoogle, speech: np.ndarray
) -> None:
    engine = GoogleRecognizer(api_key=GOOGLE_KEY, base_url=fake_google.base_url, timeout_s=0.5)
    fake_google.script(Hang())
    started = time.monotonic()
    try:
        with pytest.raises(RecognitionTimeoutError):
            engine.transcribe(speech, "en")
    finally:
        engine.close()
    assert 0.4 <= time.monotonic() - started < 2.0


def test_google_stt_unreachable_server_is_unavailable(speech: np.ndarray) -> None:
    engine = GoogleRecognizer(api_key=GOOGLE_KEY, base_url=closed_port_url())
    try:
        error = recognition_failure(engine, speech)
    finally:
        engine.close()
    assert error.code == "engine_unavailable"


# ----------------------------------------------------------------- OpenAI-compatible TTS


def test_openai_tts_streams_24_khz_pcm(
    fake_openai: FakeOpenAI, openai_tts: OpenAICompatibleSynthesizer
) -> None:
    text = "Good morning, everyone."
    chunks = list(openai_tts.synthesize(text, "en"))

    assert b"".join(chunks) == tone_pcm(text)
    assert openai_tts.sample_rate == OPENAI_PCM_RATE
    # 100 ms chunks of whole samples, the last one shorter.
    assert {len(chunk) for chunk in chunks[:-1]} == {4800}
    assert 0 < len(chunks[-1]) <= 4800 and len(chunks[-1]) % 2 == 0
    [request] = fake_openai.requests
    assert (request.method, request.path) == ("POST", "/v1/audio/speech")
    assert request.json() == {
        "model": "tts-test",
        "input": text,
        "voice": "alloy",
        "response_format": "pcm",
    }
    assert request.headers["x-stainless-retry-count"] == "0"
    assert fake_openai.key_locations(OPENAI_KEY) == {"header:authorization"}


def test_openai_tts_first_audio_arrives_before_the_whole_body(
    fake_openai: FakeOpenAI, openai_tts: OpenAICompatibleSynthesizer
) -> None:
    fake_openai.script(Trickle(pieces=10, interval_s=0.1))
    started = time.monotonic()

    chunks = openai_tts.synthesize("Good morning, everyone.", "en")
    first = next(chunks)
    first_s = time.monotonic() - started
    rest = b"".join(chunks)
    total_s = time.monotonic() - started

    assert first and first_s < 0.3
    assert total_s >= 0.8
    assert first + rest == tone_pcm("Good morning, everyone.")


def test_openai_tts_voices_and_selection(
    fake_openai: FakeOpenAI, openai_tts: OpenAICompatibleSynthesizer
) -> None:
    spanish = openai_tts.voices("es")
    assert [voice.id for voice in spanish] == list(OPENAI_VOICES)
    assert {(voice.language, voice.engine) for voice in spanish} == {("es", "openai")}
    assert {voice.language for voice in openai_tts.voices()} == {"mul"}
    assert openai_tts.voices("ii") == ()
    assert openai_tts.default_voice("fr") == "alloy"
    with pytest.raises(UnsupportedSpeechLanguageError):
        openai_tts.default_voice("ii")
    with pytest.raises(UnknownVoiceError):
        openai_tts.synthesize("Hola", "es", voice="es-419")
    with pytest.raises(UnsupportedSpeechLanguageError):
        openai_tts.synthesize("Hola", "ii", voice="nova")
    assert fake_openai.requests == []

    assert b"".join(openai_tts.synthesize("Hola", "es", voice="nova"))
    assert fake_openai.requests[0].json()["voice"] == "nova"


def test_openai_tts_custom_voices_and_text_limits(fake_openai: FakeOpenAI) -> None:
    engine = OpenAICompatibleSynthesizer(
        api_key=OPENAI_KEY,
        model="tts-test",
        voices=("ara", "rex"),
        voice="rex",
        base_url=fake_openai.base_url,
        name="grok",
    )
    try:
        assert [voice.id for voice in engine.voices("en")] == ["ara", "rex"]
        assert list(engine.synthesize("  \n", "en")) == []
        with pytest.raises(SynthesisError, match="4096"):
            engine.synthesize("a" * 4097, "en")
        assert fake_openai.requests == []
        assert b"".join(engine.synthesize("Hi", "en"))
    finally:
        engine.close()
    assert fake_openai.requests[0].json()["voice"] == "rex"
    with pytest.raises(ValueError, match="default voice"):
        OpenAICompatibleSynthesizer(api_key=OPENAI_KEY, model="m", voices=("ara",), voice="eve")
    with pytest.raises(ValueError, match="no voices"):
        OpenAICompatibleSynthesizer(api_key=OPENAI_KEY, model="m", voices=())


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (VendorError(401), "engine_auth_failed"),
        (VendorError(403), "engine_auth_failed"),
        (VendorError(429, retry_after=3), "engine_rate_limited"),
        (VendorError(500), "engine_unavailable"),
        (VendorError(503), "engine_unavailable"),
        (VendorError(400), "synthesis_failed"),
        (RawReply(b"\x00\x01\x02", content_type="audio/pcm"), "synthesis_failed"),
        (RawReply(b"", content_type="audio/pcm"), "synthesis_failed"),
    ],
)
def test_openai_tts_errors_map_to_codes_when_advancing(
    fake_openai: FakeOpenAI,
    openai_tts: OpenAICompatibleSynthesizer,
    reply: Scripted,
    code: str,
) -> None:
    fake_openai.script(reply)

    error = synthesis_failure(openai_tts)

    assert error.code == code
    assert len(fake_openai.requests) == 1
    if code == "engine_rate_limited":
        assert "retry after 3 s" in str(error)


def test_openai_tts_timeout_within_the_configured_time(fake_openai: FakeOpenAI) -> None:
    engine = OpenAICompatibleSynthesizer(
        api_key=OPENAI_KEY, model="tts-test", base_url=fake_openai.base_url, timeout_s=0.5
    )
    fake_openai.script(Hang())
    started = time.monotonic()
    try:
        with pytest.raises(SynthesisTimeoutError):
            next(engine.synthesize("Good morning", "en"))
    finally:
        engine.close()
    assert 0.4 <= time.monotonic() - started < 2.0


def test_openai_tts_stream_cut_off_midway_is_unavailable(
    fake_openai: FakeOpenAI, openai_tts: OpenAICompatibleSynthesizer
) -> None:
    fake_openai.script(Trickle(pieces=10, interval_s=0.2))
    chunks = openai_tts.synthesize("Good morning, everyone.", "en")
    assert next(chunks)

    fake_openai.stop()  # the vendor goes away mid-sentence

    with pytest.raises(SynthesisError) as caught:
        b"".join(chunks)
    assert caught.value.code == "engine_unavailable"


def test_openai_tts_unreachable_server_is_unavailable() -> None:
    engine = OpenAICompatibleSynthesizer(
        api_key=OPENAI_KEY, model="tts-test", base_url=closed_port_url()
    )
    try:
        error = synthesis_failure(engine)
    finally:
        engine.close()
    assert error.code == "engine_unavailable"


# ----------------------------------------------------------------- registries


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


# ----------------------------------------------------------------- configuration


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


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for prefix in ("VOICEMODE_OPENAI", "VOICEMODE_GROK", "VOICEMODE_LOCAL", "VOICEMODE_GOOGLE"):
        for variable in SPEECH_VARIABLES:
            monkeypatch.delenv(f"{prefix}_{variable}", raising=False)
    return monkeypatch


def test_openai_stt_from_env(
    fake_openai: FakeOpenAI, speech: np.ndarray, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("VOICEMODE_OPENAI_API_KEY", OPENAI_KEY)
    clean_env.setenv("VOICEMODE_OPENAI_BASE_URL", fake_openai.base_url)
    clean_env.setenv("VOICEMODE_OPENAI_STT_MODEL", "whisper-test")
    clean_env.setenv("VOICEMODE_OPENAI_STT_TIMEOUT_S", "1.5")

    engine = OpenAICompatibleRecognizer.from_env()
    try:
        assert (engine.name, engine.model, engine.timeout_s) == ("openai", "whisper-test", 1.5)
        assert engine.transcribe(speech, "en").startswith("fake transcript")
    finally:
        engine.close()
    assert fake_openai.key_locations(OPENAI_KEY) == {"header:authorization"}


def test_openai_stt_from_env_defaults_and_requirements(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="VOICEMODE_OPENAI_API_KEY is not set"):
        OpenAICompatibleRecognizer.from_env()
    clean_env.setenv("VOICEMODE_OPENAI_API_KEY", OPENAI_KEY)
    engine = OpenAICompatibleRecognizer.from_env()
    assert (engine.base_url, engine.model, engine.timeout_s) == (OPENAI_BASE_URL, "whisper-1", 4.0)
    engine.close()

    clean_env.setenv("VOICEMODE_GROK_API_KEY", "xai-TESTKEY")
    with pytest.raises(ValueError, match="VOICEMODE_GROK_STT_MODEL is not set"):
        OpenAICompatibleRecognizer.from_env("VOICEMODE_GROK")
    clean_env.setenv("VOICEMODE_GROK_STT_MODEL", "grok-stt")
    grok = OpenAICompatibleRecognizer.from_env("VOICEMODE_GROK")
    assert (grok.name, grok.base_url, grok.model) == ("grok", XAI_BASE_URL, "grok-stt")
    grok.close()

    # Other prefixes get no endpoint by default: a key goes nowhere it was not sent to.
    clean_env.setenv("VOICEMODE_LOCAL_API_KEY", "local-TESTKEY")
    clean_env.setenv("VOICEMODE_LOCAL_STT_MODEL", "large-v3")
    with pytest.raises(ValueError, match="VOICEMODE_LOCAL_BASE_URL is not set"):
        OpenAICompatibleRecognizer.from_env("VOICEMODE_LOCAL", name="whisper-server")
    clean_env.setenv("VOICEMODE_LOCAL_BASE_URL", "http://127.0.0.1:8000/v1")
    clean_env.setenv("VOICEMODE_LOCAL_STT_TIMEOUT_S", "soon")
    with pytest.raises(ValueError, match="VOICEMODE_LOCAL_STT_TIMEOUT_S") as caught:
        OpenAICompatibleRecognizer.from_env("VOICEMODE_LOCAL", name="whisper-server")
    assert "soon" not in str(caught.value)


def test_openai_tts_from_env(fake_openai: FakeOpenAI, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("VOICEMODE_OPENAI_API_KEY", OPENAI_KEY)
    engine = OpenAICompatibleSynthesizer.from_env()
    assert (engine.base_url, engine.model, engine.timeout_s) == (
        OPENAI_BASE_URL,
        "gpt-4o-mini-tts",
        4.0,
    )
    assert [v.id for v in engine.voices()] == list(OPENAI_VOICES)
    assert engine.default_voice("en") == "alloy"
    engine.close()

    clean_env.setenv("VOICEMODE_OPENAI_BASE_URL", fake_openai.base_url)
    clean_env.setenv("VOICEMODE_OPENAI_TTS_MODEL", "tts-test")
    clean_env.setenv("VOICEMODE_OPENAI_TTS_VOICE", "nova")
    clean_env.setenv("VOICEMODE_OPENAI_TTS_TIMEOUT_S", "1.5")
    engine = OpenAICompatibleSynthesizer.from_env()
    try:
        assert (engine.model, engine.timeout_s, engine.default_voice("en")) == (
            "tts-test",
            1.5,
            "nova",
        )
        assert b"".join(engine.synthesize("Hello", "en")) == tone_pcm("Hello")
    finally:
        engine.close()
    assert fake_openai.requests[0].json()["voice"] == "nova"

    clean_env.setenv("VOICEMODE_GROK_API_KEY", "xai-TESTKEY")
    with pytest.raises(ValueError, match="VOICEMODE_GROK_TTS_VOICES is not set"):
        OpenAICompatibleSynthesizer.from_env("VOICEMODE_GROK")
    clean_env.setenv("VOICEMODE_GROK_TTS_VOICES", " ara, rex ,")
    with pytest.raises(ValueError, match="VOICEMODE_GROK_TTS_MODEL is not set"):
        OpenAICompatibleSynthesizer.from_env("VOICEMODE_GROK")
    clean_env.setenv("VOICEMODE_GROK_TTS_MODEL", "grok-tts")
    grok = OpenAICompatibleSynthesizer.from_env("VOICEMODE_GROK")
    assert (grok.name, grok.base_url, grok.default_voice("en")) == ("grok", XAI_BASE_URL, "ara")
    assert [v.id for v in grok.voices("en")] == ["ara", "rex"]
    grok.close()
    clean_env.setenv("VOICEMODE_GROK_TTS_VOICE", "alloy")
    with pytest.raises(ValueError, match="default voice"):
        OpenAICompatibleSynthesizer.from_env("VOICEMODE_GROK")


def test_google_stt_from_env(
    fake_google: FakeGoogle, speech: np.ndarray, clean_env: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="VOICEMODE_GOOGLE_API_KEY is not set"):
        GoogleRecognizer.from_env()
    clean_env.setenv("VOICEMODE_GOOGLE_API_KEY", GOOGLE_KEY)
    clean_env.setenv("VOICEMODE_GOOGLE_STT_TIMEOUT_S", "never")
    with pytest.raises(ValueError, match="VOICEMODE_GOOGLE_STT_TIMEOUT_S"):
        GoogleRecognizer.from_env()
    clean_env.setenv("VOICEMODE_GOOGLE_STT_TIMEOUT_S", "1.5")
    clean_env.setenv("VOICEMODE_GOOGLE_SPEECH_URL", fake_google.base_url)
    clean_env.setenv("VOICEMODE_GOOGLE_STT_MODEL", "latest_short")

    engine = GoogleRecognizer.from_env()
    try:
        assert (engine.name, engine.model, engine.timeout_s) == ("google", "latest_short", 1.5)
        assert engine.transcribe(speech, "en").startswith("fake transcript")
    finally:
        engine.close()
    assert fake_google.requests[0].json()["config"]["model"] == "latest_short"
    assert fake_google.key_locations(GOOGLE_KEY) == {"header:x-goog-api-key"}


def test_hosted_speech_engines_reject_empty_settings() -> None:
    with pytest.raises(ValueError, match="API key"):
        OpenAICompatibleRecognizer(api_key="", model="whisper-1")
    with pytest.raises(ValueError, match="model"):
        OpenAICompatibleRecognizer(api_key=OPENAI_KEY, model="")
    with pytest.raises(ValueError, match="API key"):
        OpenAICompatibleSynthesizer(api_key="", model="tts-1")
    with pytest.raises(ValueError, match="API key"):
        GoogleRecognizer(api_key="")
