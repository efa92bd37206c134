"""Hosted translation engines with their real clients, against local vendor fakes.

The OpenAI-compatible engine runs the official ``openai`` SDK and the Google
engine its HTTP client, both against servers from ``tests.support.vendor_fakes`` that
speak the vendors' documented wire formats. Also checked here: the fakes'
audio endpoints, prepared for the hosted STT and TTS adapters, against the
same clients.
"""

from __future__ import annotations

import base64
import io
import logging
import struct
import time
import wave
from collections.abc import Iterator

import httpx2
import openai
import pytest

from adapters.engines.hosted import OPENAI_BASE_URL, XAI_BASE_URL
from adapters.engines.registry import NO_ENGINE
from adapters.engines.translation.base import (
    TranslationError,
    TranslationTimeoutError,
    UnsupportedPairError,
)
from adapters.engines.translation.google import GoogleTranslator
from adapters.engines.translation.openai_compatible import OpenAICompatibleTranslator
from adapters.engines.translation.registry import TranslationRegistry
from tests.support.vendor_fakes import (
    OPENAI_PCM_RATE,
    FakeGoogle,
    FakeOpenAI,
    Hang,
    RawReply,
    Scripted,
    VendorError,
    closed_port_url,
    marked_upper,
)

OPENAI_KEY = "sk-proj-TESTKEY-openai-0123456789abcdef"
GOOGLE_KEY = "AIzaTESTKEY-google-0123456789abcdef"


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(OPENAI_KEY, models={"gpt-test", "whisper-test", "tts-test"}) as fake:
        yield fake


@pytest.fixture
def fake_google() -> Iterator[FakeGoogle]:
    with FakeGoogle(GOOGLE_KEY) as fake:
        yield fake


@pytest.fixture
def openai_engine(fake_openai: FakeOpenAI) -> Iterator[OpenAICompatibleTranslator]:
    engine = OpenAICompatibleTranslator(
        api_key=OPENAI_KEY, model="gpt-test", base_url=fake_openai.base_url, timeout_s=2.0
    )
    yield engine
    engine.close()


@pytest.fixture
def google_engine(fake_google: FakeGoogle) -> Iterator[GoogleTranslator]:
    engine = GoogleTranslator(api_key=GOOGLE_KEY, base_url=fake_google.base_url, timeout_s=2.0)
    yield engine
    engine.close()


def failure(engine: OpenAICompatibleTranslator | GoogleTranslator) -> TranslationError:
    """The error one translation raises."""
    with pytest.raises(TranslationError) as caught:
        engine.translate("Good morning", "en", "es")
    return caught.value


# ----------------------------------------------------------------- OpenAI-compatible


def test_openai_translates_through_chat_completions(
    fake_openai: FakeOpenAI, openai_engine: OpenAICompatibleTranslator
) -> None:
    fake_openai.chat_replies["Good morning"] = "  Buenos días\n"

    assert openai_engine.translate("Good morning", "en", "es") == "Buenos días"

    [request] = fake_openai.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    body = request.json()
    assert body["model"] == "gpt-test"
    system, user = body["messages"]
    assert system["role"] == "system"
    assert "'en'" in system["content"] and "'es'" in system["content"]
    assert user == {"role": "user", "content": "Good morning"}
    assert request.headers["x-stainless-retry-count"] == "0"
    assert fake_openai.key_locations(OPENAI_KEY) == {"header:authorization"}


def test_openai_default_reply_and_any_iso_pair(
    fake_openai: FakeOpenAI, openai_engine: OpenAICompatibleTranslator
) -> None:
    assert openai_engine.translate("kiitos", "fi", "ja") == marked_upper("kiitos")
    assert openai_engine.supports("fi", "ja")
    assert not openai_engine.supports("en", "en")
    assert not openai_engine.supports("en", "xx")
    with pytest.raises(UnsupportedPairError):
        openai_engine.translate("hello", "en", "xx")
    assert openai_engine.translate("  \n", "en", "es") == "  \n"
    assert len(fake_openai.requests) == 1


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (VendorError(401), "engine_auth_failed"),
        (VendorError(403), "engine_auth_failed"),
        (VendorError(429, retry_after=7), "engine_rate_limited"),
        (VendorError(500), "engine_unavailable"),
        (VendorError(503), "engine_unavailable"),
        (VendorError(400), "translation_failed"),
        (RawReply(b"{not json"), "translation_failed"),
        (RawReply(b'{"object": "chat.completion"}'), "translation_failed"),
        (RawReply(b'{"choices": []}'), "translation_failed"),
        (RawReply(b'{"choices": [{"message": {"content": null}}]}'), "translation_failed"),
        (RawReply(b"<html>oops</html>", content_type="text/html"), "translation_failed"),
    ],
)
def test_openai_errors_map_to_codes_without_retries(
    fake_openai: FakeOpenAI,
    openai_engine: OpenAICompatibleTranslator,
    reply: Scripted,
    code: str,
) -> None:
    fake_openai.script(reply)

    error = failure(openai_engine)

    assert error.code == code
    assert len(fake_openai.requests) == 1
    if code == "engine_rate_limited":
        assert "retry after 7 s" in str(error)


def test_openai_unknown_model_is_a_translation_failure(fake_openai: FakeOpenAI) -> None:
    engine = OpenAICompatibleTranslator(
        api_key=OPENAI_KEY, model="gpt-missing", base_url=fake_openai.base_url
    )
    try:
        error = failure(engine)
    finally:
        engine.close()
    assert error.code == "translation_failed"
    assert "gpt-missing" in str(error)


def test_openai_wrong_key_is_refused_without_quoting_it(fake_openai: FakeOpenAI) -> None:
    wrong_key = "sk-proj-WRONGKEY-9876543210zyxw"
    engine = OpenAICompatibleTranslator(
        api_key=wrong_key, model="gpt-test", base_url=fake_openai.base_url
    )
    try:
        error = failure(engine)
    finally:
        engine.close()
    assert error.code == "engine_auth_failed"
    # The vendor's 401 text echoes the key's ends; none of it is passed on.
    assert wrong_key not in str(error) and "zyxw" not in str(error)
    assert error.__cause__ is None and error.__suppress_context__  # tracebacks omit it


def test_openai_timeout_within_the_configured_time(fake_openai: FakeOpenAI) -> None:
    engine = OpenAICompatibleTranslator(
        api_key=OPENAI_KEY, model="gpt-test", base_url=fake_openai.base_url, timeout_s=0.5
    )
    fake_openai.script(Hang())
    started = time.monotonic()
    try:
        with pytest.raises(TranslationTimeoutError):
            engine.translate("Good morning", "en", "es")
    finally:
        engine.close()
    assert 0.4 <= time.monotonic() - started < 2.0


def test_openai_slow_answer_within_the_limit_is_used(
    fake_openai: FakeOpenAI, openai_engine: OpenAICompatibleTranslator
) -> None:
    fake_openai.script(Hang(0.3))

    assert openai_engine.translate("Good morning", "en", "es") == marked_upper("Good morning")


def test_openai_unreachable_server_is_unavailable() -> None:
    engine = OpenAICompatibleTranslator(
        api_key=OPENAI_KEY, model="gpt-test", base_url=closed_port_url(), timeout_s=2.0
    )
    try:
        error = failure(engine)
    finally:
        engine.close()
    assert error.code == "engine_unavailable"


def test_openai_masks_a_key_echoed_by_the_server(
    fake_openai: FakeOpenAI, openai_engine: OpenAICompatibleTranslator
) -> None:
    fake_openai.script(VendorError(500, f"upstream refused Bearer {OPENAI_KEY}"))

    error = failure(openai_engine)

    assert error.code == "engine_unavailable"
    assert OPENAI_KEY not in str(error) and "upstream refused Bearer ***" in str(error)
    assert OPENAI_KEY not in repr(error) and OPENAI_KEY not in repr(openai_engine)


def test_openai_sdk_environment_does_not_redirect_or_add_credentials(
    fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK's own OPENAI_* variables neither replace the engine's key nor leak elsewhere."""
    monkeypatch.setenv("OPENAI_API_KEY", "canary-env-api-key")
    monkeypatch.setenv("OPENAI_BASE_URL", closed_port_url())
    monkeypatch.setenv("OPENAI_ORG_ID", "canary-org")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "canary-project")
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "canary-admin-key")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "Authorization: Bearer canary-custom-auth")
    engine = OpenAICompatibleTranslator(
        api_key=OPENAI_KEY, model="gpt-test", base_url=fake_openai.base_url, name="grok"
    )
    try:
        assert engine.translate("Good morning", "en", "es") == marked_upper("Good morning")
    finally:
        engine.close()
    [request] = fake_openai.requests
    assert request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert not any("canary" in value for value in request.headers.values())
    assert b"canary" not in request.body


# ----------------------------------------------------------------- Google


def test_google_translates_plain_text(
    fake_google: FakeGoogle, google_engine: GoogleTranslator
) -> None:
    fake_google.translation_replies[("Tom & Jerry's <show>", "es")] = 'El "show" de Tom & Jerry'

    translated = google_engine.translate("Tom & Jerry's <show>", "en", "es")

    # Asked as plain text, so nothing comes back HTML-escaped.
    assert translated == 'El "show" de Tom & Jerry'
    [request] = fake_google.requests
    assert (request.method, request.path) == ("POST", "/language/translate/v2")
    assert request.json() == {
        "q": "Tom & Jerry's <show>",
        "source": "en",
        "target": "es",
        "format": "text",
    }
    # Only in the documented header: never in the URL, where request logs would keep it.
    assert fake_google.key_locations(GOOGLE_KEY) == {"header:x-goog-api-key"}


def test_google_pairs_and_blank_text(
    fake_google: FakeGoogle, google_engine: GoogleTranslator
) -> None:
    assert google_engine.supports("en", "zu")
    assert not google_engine.supports("de", "de")
    with pytest.raises(UnsupportedPairError):
        google_engine.translate("hello", "en", "klingon")
    assert google_engine.translate(" ", "en", "es") == " "
    assert fake_google.requests == []


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (VendorError(401), "engine_auth_failed"),
        (VendorError(403), "engine_auth_failed"),
        (VendorError(429, retry_after=30), "engine_rate_limited"),
        (VendorError(500), "engine_unavailable"),
        (VendorError(503), "engine_unavailable"),
        (VendorError(400, "Bad language pair: en|es"), "translation_failed"),
        (RawReply(b"{not json"), "translation_failed"),
        (RawReply(b'{"data": {"translations": []}}'), "translation_failed"),
        (RawReply(b"<html>proxy error</html>", 502, "text/html"), "engine_unavailable"),
    ],
)
def test_google_errors_map_to_codes(
    fake_google: FakeGoogle, google_engine: GoogleTranslator, reply: Scripted, code: str
) -> None:
    fake_google.script(reply)

    error = failure(google_engine)

    assert error.code == code
    assert len(fake_google.requests) == 1
    if code == "engine_rate_limited":
        assert "retry after 30 s" in str(error)


def test_google_invalid_key_is_an_auth_failure(fake_google: FakeGoogle) -> None:
    """Google answers a wrong key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID."""
    engine = GoogleTranslator(api_key="AIza-wrong-key", base_url=fake_google.base_url)
    try:
        error = failure(engine)
    finally:
        engine.close()
    assert error.code == "engine_auth_failed"
    assert "AIza-wrong-key" not in str(error)


def test_google_masks_a_key_echoed_by_the_server(
    fake_google: FakeGoogle, google_engine: GoogleTranslator
) -> None:
    fake_google.script(VendorError(500, f"backend saw key={GOOGLE_KEY}"))

    error = failure(google_engine)

    assert error.code == "engine_unavailable"
    assert GOOGLE_KEY not in str(error) and "key=***" in str(error)
    assert GOOGLE_KEY not in repr(google_engine)


def test_google_timeout_within_the_configured_time(fake_google: FakeGoogle) -> None:
    engine = GoogleTranslator(api_key=GOOGLE_KEY, base_url=fake_google.base_url, timeout_s=0.5)
    fake_google.script(Hang())
    started = time.monotonic()
    try:
        with pytest.raises(TranslationTimeoutError):
            engine.translate("Good morning", "en", "es")
    finally:
        engine.close()
    assert 0.4 <= time.monotonic() - started < 2.0


def test_google_unreachable_server_is_unavailable() -> None:
    engine = GoogleTranslator(api_key=GOOGLE_KEY, base_url=closed_port_url())
    try:
        error = failure(engine)
    finally:
        engine.close()
    assert error.code == "engine_unavailable"


# ----------------------------------------------------------------- registry


def test_registry_falls_back_from_a_failing_hosted_engine(
    fake_openai: FakeOpenAI,
    openai_engine: OpenAICompatibleTranslator,
    google_engine: GoogleTranslator,
) -> None:
    fake_openai.script(VendorError(503))
    registry = TranslationRegistry([openai_engine, google_engine], timeout_s=5.0)

    result = registry.translate("Good morning", "en", "es")

    assert (result.text, result.engine) == (marked_upper("Good morning"), "google")
    assert result.fallbacks == ("openai:engine_unavailable",)
    assert result.error_code is None


def test_registry_records_each_failure_by_engine_name(
    fake_openai: FakeOpenAI, fake_google: FakeGoogle
) -> None:
    grok = OpenAICompatibleTranslator(
        api_key=OPENAI_KEY, model="gpt-test", base_url=fake_openai.base_url, name="grok"
    )
    google = GoogleTranslator(api_key="AIza-wrong-key", base_url=fake_google.base_url)
    fake_openai.script(VendorError(429, retry_after=1))
    registry = TranslationRegistry([grok, google], timeout_s=5.0)
    try:
        result = registry.translate("Good morning", "en", "es")
    finally:
        registry.close()

    assert (result.text, result.engine) == ("Good morning", NO_ENGINE)
    assert result.fallbacks == ("grok:engine_rate_limited", "google:engine_auth_failed")
    assert result.error_code == "engine_auth_failed"


def test_registry_honours_preference_order(
    fake_openai: FakeOpenAI,
    fake_google: FakeGoogle,
    openai_engine: OpenAICompatibleTranslator,
    google_engine: GoogleTranslator,
) -> None:
    fake_openai.chat_replies["Good morning"] = "Buenos días (openai)"
    fake_google.translation_replies[("Good morning", "es")] = "Buenos días (google)"
    registry = TranslationRegistry([openai_engine, google_engine], timeout_s=5.0)

    preferred = registry.translate("Good morning", "en", "es", preference=["google"])
    assert (preferred.text, preferred.engine, preferred.fallbacks) == (
        "Buenos días (google)",
        "google",
        (),
    )
    assert fake_openai.requests == []

    default = registry.translate("Good morning", "en", "es")
    assert (default.text, default.engine) == ("Buenos días (openai)", "openai")
    assert len(fake_google.requests) == 1


def test_registry_time_limit_moves_on_from_a_hanging_engine(
    fake_openai: FakeOpenAI,
    openai_engine: OpenAICompatibleTranslator,
    google_engine: GoogleTranslator,
) -> None:
    fake_openai.script(Hang())
    registry = TranslationRegistry([openai_engine, google_engine], timeout_s=0.5)

    result = registry.translate("Good morning", "en", "es")

    assert result.engine == "google"
    assert result.fallbacks == ("openai:translation_timeout",)
    assert result.latency_ms < 1500


def test_api_keys_never_reach_logs_or_errors(
    fake_openai: FakeOpenAI,
    fake_google: FakeGoogle,
    openai_engine: OpenAICompatibleTranslator,
    google_engine: GoogleTranslator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    registry = TranslationRegistry([openai_engine, google_engine], timeout_s=5.0)
    fake_openai.script(VendorError(401), VendorError(500, f"echo {OPENAI_KEY}"))
    fake_google.script(VendorError(429), VendorError(500, f"echo {GOOGLE_KEY}"))

    results = [registry.translate("Good morning", "en", "es") for _ in range(3)]
    registry.translate("Good morning", "en", "es", preference=["google"])

    assert [r.fallbacks for r in results] == [
        ("openai:engine_auth_failed", "google:engine_rate_limited"),
        ("openai:engine_unavailable", "google:engine_unavailable"),
        (),
    ]
    assert caplog.records, "the clients' debug logging was captured"
    for key in (OPENAI_KEY, GOOGLE_KEY):
        assert key not in caplog.text
        assert all(key not in record.getMessage() for record in caplog.records)


# ----------------------------------------------------------------- configuration


def test_openai_from_env(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICEMODE_OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("VOICEMODE_OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("VOICEMODE_OPENAI_MODEL", "gpt-test")
    monkeypatch.setenv("VOICEMODE_OPENAI_TIMEOUT_S", "1.5")

    engine = OpenAICompatibleTranslator.from_env()
    try:
        assert (engine.name, engine.model, engine.timeout_s) == ("openai", "gpt-test", 1.5)
        assert engine.translate("Good morning", "en", "es") == marked_upper("Good morning")
    finally:
        engine.close()
    assert fake_openai.key_locations(OPENAI_KEY) == {"header:authorization"}


def test_openai_from_env_defaults_and_requirements(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("API_KEY", "BASE_URL", "MODEL", "TIMEOUT_S"):
        for prefix in ("VOICEMODE_OPENAI", "VOICEMODE_GROK", "VOICEMODE_LOCAL"):
            monkeypatch.delenv(f"{prefix}_{variable}", raising=False)
    with pytest.raises(ValueError, match="VOICEMODE_OPENAI_API_KEY is not set"):
        OpenAICompatibleTranslator.from_env()

    monkeypatch.setenv("VOICEMODE_OPENAI_API_KEY", OPENAI_KEY)
    openai_engine = OpenAICompatibleTranslator.from_env()
    assert (openai_engine.base_url, openai_engine.model) == (OPENAI_BASE_URL, "gpt-4o-mini")
    openai_engine.close()

    monkeypatch.setenv("VOICEMODE_GROK_API_KEY", "xai-TESTKEY")
    with pytest.raises(ValueError, match="VOICEMODE_GROK_MODEL is not set"):
        OpenAICompatibleTranslator.from_env("VOICEMODE_GROK")
    monkeypatch.setenv("VOICEMODE_GROK_MODEL", "grok-test")
    grok = OpenAICompatibleTranslator.from_env("VOICEMODE_GROK")
    assert (grok.name, grok.base_url, grok.model) == ("grok", XAI_BASE_URL, "grok-test")
    grok.close()

    # Other prefixes get no endpoint by default: a key goes nowhere it was not sent to.
    monkeypatch.setenv("VOICEMODE_LOCAL_API_KEY", "local-TESTKEY")
    monkeypatch.setenv("VOICEMODE_LOCAL_MODEL", "llama")
    with pytest.raises(ValueError, match="VOICEMODE_LOCAL_BASE_URL is not set"):
        OpenAICompatibleTranslator.from_env("VOICEMODE_LOCAL", name="llama")
    monkeypatch.setenv("VOICEMODE_LOCAL_BASE_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("VOICEMODE_LOCAL_TIMEOUT_S", "soon")
    with pytest.raises(ValueError, match="VOICEMODE_LOCAL_TIMEOUT_S") as caught:
        OpenAICompatibleTranslator.from_env("VOICEMODE_LOCAL", name="llama")
    assert "soon" not in str(caught.value)


def test_openai_rejects_empty_settings() -> None:
    with pytest.raises(ValueError, match="API key"):
        OpenAICompatibleTranslator(api_key="", model="gpt-test")
    with pytest.raises(ValueError, match="model"):
        OpenAICompatibleTranslator(api_key=OPENAI_KEY, model="")
    with pytest.raises(ValueError, match="API key"):
        GoogleTranslator(api_key="")


def test_google_from_env(fake_google: FakeGoogle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOICEMODE_GOOGLE_API_KEY", raising=False)
    with pytest.raises(ValueError, match="VOICEMODE_GOOGLE_API_KEY is not set"):
        GoogleTranslator.from_env()
    monkeypatch.setenv("VOICEMODE_GOOGLE_API_KEY", GOOGLE_KEY)
    monkeypatch.setenv("VOICEMODE_GOOGLE_TIMEOUT_S", "never")
    with pytest.raises(ValueError, match="VOICEMODE_GOOGLE_TIMEOUT_S"):
        GoogleTranslator.from_env()
    monkeypatch.setenv("VOICEMODE_GOOGLE_TIMEOUT_S", "1.5")
    monkeypatch.setenv("VOICEMODE_GOOGLE_TRANSLATE_URL", fake_google.base_url)

    engine = GoogleTranslator.from_env()
    try:
        assert (engine.name, engine.timeout_s) == ("google", 1.5)
        assert engine.translate("Good morning", "en", "de") == marked_upper("Good morning")
    finally:
        engine.close()
    assert fake_google.key_locations(GOOGLE_KEY) == {"header:x-goog-api-key"}


# ----------------------------------------------------------------- fakes for STT and TTS


def test_fake_openai_transcriptions_speak_the_sdk_format(fake_openai: FakeOpenAI) -> None:
    fake_openai.transcribe = lambda audio, name: f"{name}: {len(audio)} bytes"
    with openai.OpenAI(api_key=OPENAI_KEY, base_url=fake_openai.base_url, max_retries=0) as client:
        result = client.audio.transcriptions.create(
            file=("speech.wav", b"RIFF0000WAVE"), model="whisper-test"
        )
        text = client.audio.transcriptions.create(
            file=("speech.wav", b"RIFF"), model="whisper-test", response_format="text"
        )
        verbose = client.audio.transcriptions.create(
            file=("speech.wav", b"RIFF"),
            model="whisper-test",
            response_format="verbose_json",
            language="es",
        )
        with pytest.raises(openai.NotFoundError):
            client.audio.transcriptions.create(file=("a.wav", b"x"), model="whisper-missing")
    assert result.text == "speech.wav: 12 bytes"
    assert text == "speech.wav: 4 bytes"
    assert (verbose.text, verbose.language) == ("speech.wav: 4 bytes", "es")
    assert fake_openai.requests[0].headers["content-type"].startswith("multipart/form-data")


def test_fake_openai_speech_speaks_the_sdk_format(fake_openai: FakeOpenAI) -> None:
    with openai.OpenAI(api_key=OPENAI_KEY, base_url=fake_openai.base_url, max_retries=0) as client:
        pcm = client.audio.speech.create(
            model="tts-test", voice="alloy", input="Hello", response_format="pcm"
        ).content
        wav = client.audio.speech.create(
            model="tts-test", voice="alloy", input="Hello", response_format="wav"
        ).content
        with pytest.raises(openai.BadRequestError):
            client.audio.speech.create(model="tts-test", voice="alloy", input="Hello")
    assert len(pcm) == round(0.06 * 5 * OPENAI_PCM_RATE) * 2
    with wave.open(io.BytesIO(wav)) as reader:
        assert (reader.getframerate(), reader.getnchannels()) == (OPENAI_PCM_RATE, 1)
        assert reader.readframes(reader.getnframes()) == pcm


def test_fake_google_speech_recognize_speaks_the_documented_format(
    fake_google: FakeGoogle,
) -> None:
    pcm = struct.pack("<16000h", *([0] * 16000))
    fake_google.recognize = lambda audio, config: [(config["languageCode"], 0.75)] if audio else []

    def recognize(audio: bytes) -> httpx2.Response:
        return httpx2.post(
            f"{fake_google.base_url}/v1/speech:recognize",
            params={"key": GOOGLE_KEY},
            json={
                "config": {
                    "encoding": "LINEAR16",
                    "sampleRateHertz": 16000,
                    "languageCode": "es-ES",
                },
                "audio": {"content": base64.b64encode(audio).decode()},
            },
        )

    spoken = recognize(pcm).json()
    assert spoken["results"][0]["alternatives"] == [{"transcript": "es-ES", "confidence": 0.75}]
    assert spoken["results"][0]["resultEndTime"] == "1.000s"
    assert recognize(b"").json() == {"totalBilledTime": "0s"}
    assert fake_google.key_locations(GOOGLE_KEY) == {"query:key"}
    fake_google.script(VendorError(429, retry_after=5))
    limited = recognize(pcm)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "5"
    assert limited.json()["error"]["status"] == "RESOURCE_EXHAUSTED"


def test_fake_google_translate_escapes_html_by_default(fake_google: FakeGoogle) -> None:
    """Like Google, the fake's default ``format`` is ``html``: results come back escaped."""
    fake_google.translation_replies[("R&D", "fr")] = "R&D <ici>"
    response = httpx2.post(
        f"{fake_google.base_url}/language/translate/v2",
        headers={"X-Goog-Api-Key": GOOGLE_KEY},
        json={"q": ["R&D"], "target": "fr"},
    )
    assert response.json() == {
        "data": {
            "translations": [
                {"translatedText": "R&amp;D &lt;ici&gt;", "detectedSourceLanguage": "en"}
            ]
        }
    }
