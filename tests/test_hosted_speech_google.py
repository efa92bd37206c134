"""The Google Cloud Speech-to-Text recognizer with its HTTP client.

It runs against a local fake (``tests.support.vendor_fakes.FakeGoogle``) that speaks
the documented REST format: what is sent, how vendor errors map to stable codes,
time limits, and the settings read from the environment.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from adapters.engines.stt import RecognitionTimeoutError, UnsupportedLanguageError
from adapters.engines.stt.google import GoogleRecognizer
from tests.support.hosted_speech import GOOGLE_KEY, SENTENCE, int16, recognition_failure
from tests.support.vendor_fakes import (
    FakeGoogle,
    Hang,
    RawReply,
    Scripted,
    VendorError,
    closed_port_url,
)

pytest_plugins = ("tests.support.hosted_speech_fixtures",)  # the fixtures, shared by name


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


def test_google_stt_rejects_an_empty_key() -> None:
    with pytest.raises(ValueError, match="API key"):
        GoogleRecognizer(api_key="")
