"""The replay line of each timed event says what each number measures (no server)."""

from __future__ import annotations

from typing import Any

from events.timeline import EVENT_TYPES, event_types, summarize


def transcript(**changes: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "speaker_id": "alice",
        "text": "The house is big.",
        "source_language": "en",
        "targets": ["es"],
        "engine": "faster-whisper",
        "duration_ms": 2848,
        "decode_ms": 310,
        "fallbacks": [],
    }
    return {**state, **changes}


def test_a_spoken_transcript_names_its_audio_length_and_decode_time() -> None:
    who, line = summarize("TranscriptRecognized", transcript())
    assert who == "alice"
    assert line == (
        '"The house is big." [en -> es] via faster-whisper, audio 2.8 s, decoded in 310 ms'
    )
    assert "2848 ms" not in line


def test_a_typed_transcript_has_no_audio_numbers() -> None:
    _, line = summarize("TranscriptRecognized", transcript(engine="client", duration_ms=0))
    assert line == '"The house is big." [en -> es] via client'


def test_fallbacks_and_errors_follow_the_timing() -> None:
    _, line = summarize("TranscriptRecognized", transcript(fallbacks=["openai:engine_unavailable"]))
    assert line.endswith("decoded in 310 ms after openai:engine_unavailable")


def test_a_translation_says_how_long_the_engine_took() -> None:
    _, line = summarize(
        "TranslationProduced",
        {
            "speaker_id": "alice",
            "source_language": "en",
            "target_language": "es",
            "translated_text": "La casa es grande.",
            "engine": "apertium",
            "latency_ms": 12,
            "fallbacks": [],
            "error_code": None,
        },
    )
    assert line == 'en -> es "La casa es grande." via apertium in 12 ms'


def test_type_names_are_matched_in_any_case() -> None:
    assert event_types(["transcriptrecognized", "TranslationProduced"]) == {
        "TranscriptRecognized",
        "TranslationProduced",
    }
    assert len(EVENT_TYPES) == len(set(EVENT_TYPES)) >= 14
