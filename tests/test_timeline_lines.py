"""The replay line of each timed event says what each number measures (no server)."""

from __future__ import annotations

from typing import Any

from events.timeline import _SUMMARIES, EVENT_TYPES, event_types, summarize


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


def test_every_event_type_has_its_own_line() -> None:
    """All but SpeechEnded, whose line is only who stopped speaking."""
    assert set(EVENT_TYPES) - set(_SUMMARIES) == {"SpeechEnded"}


def answered(**changes: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "user_id": "alice",
        "question": "What is the capital of France?",
        "answer": "Paris is the capital of France.",
        "language": "en",
        "engine": "anthropic",
        "model": "claude-test",
        "first_token_ms": 310,
        "total_ms": 1200,
        "tokens_in": 42,
        "tokens_out": 9,
        "fallbacks": [],
        "error_code": None,
        "interrupted_at": None,
    }
    return {**state, **changes}


def test_an_answer_says_what_was_asked_what_was_answered_and_how_fast() -> None:
    who, line = summarize("AssistantResponded", answered())
    assert who == "alice"
    assert line == (
        '"What is the capital of France?" -> "Paris is the capital of France." [en] '
        "via anthropic claude-test: first token 310 ms, total 1200 ms, tokens 42 in / 9 out"
    )


def test_an_interrupted_answer_shows_what_was_delivered_and_where_it_stopped() -> None:
    _, line = summarize(
        "AssistantResponded",
        answered(interrupted_at=5, fallbacks=["openai:engine_unavailable"]),
    )
    assert '-> "Paris" [en]' in line
    assert line.endswith(", interrupted at character 5 of 31 after openai:engine_unavailable")


def test_a_failed_answer_names_its_error() -> None:
    _, line = summarize(
        "AssistantResponded", answered(answer="", engine="none", error_code="assistant_unavailable")
    )
    assert '-> "" [en]' in line
    assert line.endswith("[assistant_unavailable]")


def test_commands_clears_and_the_assistant_mode_explain_themselves() -> None:
    command = {
        "user_id": "bob",
        "intent": "set_language",
        "entities": {"language": "es"},
        "confidence": 0.912,
        "source": "spoken",
        "text": "switch to Spanish",
    }
    assert summarize("CommandRecognized", command) == (
        "bob",
        'command set_language language=es (spoken, confidence 0.91) "switch to Spanish"',
    )
    assert summarize("ContextCleared", {"user_id": "bob", "source": "data"}) == (
        "bob",
        "cleared the assistant's context (data)",
    )
    assert summarize("AssistantModeChanged", {"user_id": "bob", "enabled": True}) == (
        "bob",
        "assistant on for the room",
    )
    assert summarize("ConversationStarted", {"owner": None}) == (
        "",
        "assistant conversation started (shared by the room)",
    )
    assert summarize("ConversationStarted", {"owner": "bob"})[1].endswith("one to one with bob)")
