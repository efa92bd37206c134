"""The OpenAI-compatible speech engines (OpenAI, xAI Grok, self-hosted) with the ``openai`` SDK.

The recognizer and synthesizer run the official SDK against a local fake
(``tests.support.vendor_fakes.FakeOpenAI``) that speaks the documented wire format:
what is uploaded, how vendor errors map to stable codes, time limits, and the
settings read from the environment.
"""

from __future__ import annotations

import io
import time
import wave

import numpy as np
import pytest

from adapters.engines.hosted import OPENAI_BASE_URL, XAI_BASE_URL
from adapters.engines.stt import RecognitionTimeoutError, UnsupportedLanguageError
from adapters.engines.stt.openai_compatible import OpenAICompatibleRecognizer
from adapters.engines.tts import SynthesisError, SynthesisTimeoutError, UnknownVoiceError
from adapters.engines.tts import UnsupportedLanguageError as UnsupportedSpeechLanguageError
from adapters.engines.tts.openai_compatible import OPENAI_VOICES, OpenAICompatibleSynthesizer
from tests.support.hosted_speech import (
    OPENAI_KEY,
    SENTENCE,
    int16,
    recognition_failure,
    synthesis_failure,
)
from tests.support.vendor_fakes import (
    OPENAI_PCM_RATE,
    FakeOpenAI,
    Hang,
    RawReply,
    Scripted,
    Trickle,
    VendorError,
    closed_port_url,
    tone_pcm,
)

pytest_plugins = ("tests.support.hosted_speech_fixtures",)  # the fixtures, shared by name


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


def test_openai_engines_reject_empty_settings() -> None:
    with pytest.raises(ValueError, match="API key"):
        OpenAICompatibleRecognizer(api_key="", model="whisper-1")
    with pytest.raises(ValueError, match="model"):
        OpenAICompatibleRecognizer(api_key=OPENAI_KEY, model="")
    with pytest.raises(ValueError, match="API key"):
        OpenAICompatibleSynthesizer(api_key="", model="tts-1")
