"""The engine registries' fallback rule, for translation, speech-to-text and text-to-speech.

A user is never left without an answer because one engine broke: the
registry asks the user's preferred engines first, then the others in
registration order; each engine that fails is recorded in the result as
``engine:error_code``, and when every engine failed the result still comes,
with engine ``none`` and the documented error code. The engines here are
small classes written for the test, behind the real interfaces; only the
registries' public methods are called.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import closing

import numpy as np
import pytest

from adapters.engines.audio import Pcm
from adapters.engines.stt.base import RecognitionError, SpeechRecognizer
from adapters.engines.stt.registry import RecognizerRegistry
from adapters.engines.translation.base import TranslationError, Translator
from adapters.engines.translation.registry import TranslationRegistry
from adapters.engines.tts.base import SpeechSynthesizer, SynthesisError, UnknownVoiceError, Voice
from adapters.engines.tts.registry import SynthesizerRegistry

AUDIO: Pcm = np.zeros(16000, dtype=np.float32)


class EngineUnavailableError(RecognitionError, TranslationError, SynthesisError):
    """What a hosted engine raises when its vendor does not answer."""

    code = "engine_unavailable"


# ------------------------------------------------------------------ translation


class Translating(Translator):
    """Translates the pairs it supports by tagging the text with its name and target."""

    def __init__(self, name: str, pairs: frozenset[tuple[str, str]] = frozenset()) -> None:
        self.name = name
        self.pairs = pairs
        self.asked = 0

    def supports(self, source: str, target: str) -> bool:
        return not self.pairs or (source, target) in self.pairs

    def translate(self, text: str, source: str, target: str) -> str:
        self.asked += 1
        return f"[{self.name}:{target}] {text}"


class BrokenTranslator(Translating):
    """Supports every pair and fails every call with ``error``."""

    def __init__(self, name: str, error: Exception) -> None:
        super().__init__(name)
        self.error = error

    def translate(self, text: str, source: str, target: str) -> str:
        self.asked += 1
        raise self.error


class HangingTranslator(Translating):
    """Answers only once released: longer than any registry waits."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.released = threading.Event()

    def translate(self, text: str, source: str, target: str) -> str:
        self.released.wait(5)
        return text

    def close(self) -> None:
        self.released.set()


def test_a_failed_translation_engine_hands_over_to_the_next_and_is_recorded() -> None:
    engines = [BrokenTranslator("hosted", EngineUnavailableError("503")), Translating("apertium")]
    with closing(TranslationRegistry(engines)) as registry:
        result = registry.translate("Hello", "en", "es")
    assert (result.text, result.engine) == ("[apertium:es] Hello", "apertium")
    assert result.fallbacks == ("hosted:engine_unavailable",)
    assert result.error_code is None


def test_an_engine_that_breaks_unexpectedly_counts_as_a_failure() -> None:
    engines = [BrokenTranslator("buggy", ZeroDivisionError("oops")), Translating("apertium")]
    with closing(TranslationRegistry(engines)) as registry:
        result = registry.translate("Hello", "en", "es")
    assert (result.engine, result.fallbacks) == ("apertium", ("buggy:translation_failed",))


def test_a_translation_engine_too_slow_is_left_behind() -> None:
    engines = [HangingTranslator("slow"), Translating("apertium")]
    with closing(TranslationRegistry(engines, timeout_s=0.05)) as registry:
        result = registry.translate("Hello", "en", "es")
    assert (result.engine, result.fallbacks) == ("apertium", ("slow:translation_timeout",))


def test_engines_without_the_pair_are_skipped_without_a_failure() -> None:
    german_only = Translating("de-only", frozenset({("en", "de")}))
    with closing(TranslationRegistry([german_only, Translating("apertium")])) as registry:
        result = registry.translate("Hello", "en", "es")
    assert (result.engine, result.fallbacks, german_only.asked) == ("apertium", (), 0)


def test_when_every_translation_engine_fails_the_listener_gets_the_original_and_why() -> None:
    engines = [
        BrokenTranslator("first", TranslationError("bad")),
        BrokenTranslator("second", EngineUnavailableError("down")),
    ]
    with closing(TranslationRegistry(engines)) as registry:
        result = registry.translate("Hello", "en", "es")
    assert (result.text, result.engine) == ("Hello", "none")
    assert result.fallbacks == ("first:translation_failed", "second:engine_unavailable")
    assert result.error_code == "engine_unavailable", "the last failure's code"


def test_when_no_engine_knows_the_pair_the_code_says_so() -> None:
    german_only = Translating("de-only", frozenset({("en", "de")}))
    with closing(TranslationRegistry([german_only])) as registry:
        result = registry.translate("Hello", "en", "ja")
    assert (result.text, result.engine, result.fallbacks) == ("Hello", "none", ())
    assert result.error_code == "unsupported_language_pair"


def test_the_users_preferred_engine_is_asked_first_and_unknown_names_are_ignored() -> None:
    first, preferred = Translating("apertium"), Translating("google")
    with closing(TranslationRegistry([first, preferred])) as registry:
        result = registry.translate("Hello", "en", "es", preference=["deepl", "google"])
    assert (result.engine, first.asked, preferred.asked) == ("google", 0, 1)


def test_a_failing_preferred_engine_falls_back_to_the_others_in_order() -> None:
    engines = [Translating("apertium"), BrokenTranslator("google", EngineUnavailableError("503"))]
    with closing(TranslationRegistry(engines)) as registry:
        result = registry.translate("Hello", "en", "es", preference=["google"])
    assert (result.engine, result.fallbacks) == ("apertium", ("google:engine_unavailable",))


def test_the_same_language_asks_no_engine() -> None:
    engine = Translating("apertium")
    with closing(TranslationRegistry([engine])) as registry:
        result = registry.translate("Hello", "en", "en")
    assert (result.text, result.engine, engine.asked) == ("Hello", "none", 0)


# ------------------------------------------------------------------ speech-to-text


class Recognizing(SpeechRecognizer):
    """Hears ``text`` in the languages it supports (every language if none given)."""

    def __init__(
        self, name: str, text: str = "hello", languages: frozenset[str] = frozenset()
    ) -> None:
        self.name = name
        self.text = text
        self.languages = languages

    def supports(self, language: str) -> bool:
        return not self.languages or language in self.languages

    def transcribe(self, audio: Pcm, language: str) -> str:
        return self.text


class BrokenRecognizer(Recognizing):
    """Supports every language and fails every call with ``error``."""

    def __init__(self, name: str, error: Exception) -> None:
        super().__init__(name)
        self.error = error

    def transcribe(self, audio: Pcm, language: str) -> str:
        raise self.error


def test_a_failed_recognizer_hands_over_to_the_next_and_is_recorded() -> None:
    engines = [
        BrokenRecognizer("openai", EngineUnavailableError("503")),
        Recognizing("faster-whisper"),
    ]
    with closing(RecognizerRegistry(engines)) as registry:
        result = registry.transcribe(AUDIO, "en")
    assert (result.text, result.engine) == ("hello", "faster-whisper")
    assert result.fallbacks == ("openai:engine_unavailable",)
    assert (result.error_code, result.audio_ms, result.final) == (None, 1000, True)


def test_when_every_recognizer_fails_the_transcript_is_empty_with_the_reason() -> None:
    engines = [
        BrokenRecognizer("openai", EngineUnavailableError("503")),
        BrokenRecognizer("buggy", KeyError("x")),
    ]
    with closing(RecognizerRegistry(engines)) as registry:
        result = registry.transcribe(AUDIO, "en", final=False)
    assert (result.text, result.engine, result.final) == ("", "none", False)
    assert result.fallbacks == ("openai:engine_unavailable", "buggy:recognition_failed")
    assert result.error_code == "recognition_failed"


def test_a_language_no_recognizer_knows_is_unsupported() -> None:
    english = Recognizing("tiny.en", languages=frozenset({"en"}))
    with closing(RecognizerRegistry([english])) as registry:
        result = registry.transcribe(AUDIO, "es")
        assert not registry.supports("es")
    assert (result.engine, result.fallbacks, result.error_code) == (
        "none",
        (),
        "unsupported_language",
    )


def test_a_preferred_recognizer_is_asked_first() -> None:
    engines = [Recognizing("faster-whisper", "local"), Recognizing("google", "hosted")]
    with closing(RecognizerRegistry(engines)) as registry:
        result = registry.transcribe(AUDIO, "en", preference=["google"])
    assert (result.text, result.engine) == ("hosted", "google")


# ------------------------------------------------------------------ text-to-speech


class Speaking(SpeechSynthesizer):
    """Speaks one chunk of silence per word with its one voice, in the languages it supports."""

    sample_rate = 16000

    def __init__(self, name: str, languages: frozenset[str] = frozenset({"en", "es"})) -> None:
        self.name = name
        self.languages = languages

    def supports(self, language: str) -> bool:
        return language in self.languages

    def voices(self, language: str | None = None) -> tuple[Voice, ...]:
        return tuple(
            Voice(f"{self.name}-{lang}", lang, lang, "neutral", self.name)
            for lang in sorted(self.languages)
            if language in (None, lang)
        )

    def default_voice(self, language: str) -> str:
        return f"{self.name}-{language}"

    def synthesize(self, text: str, language: str, voice: str | None = None) -> Iterator[bytes]:
        if voice is not None and voice not in {v.id for v in self.voices()}:
            raise UnknownVoiceError(voice)
        return iter([b"\x00\x00" * 160 for _ in text.split()])


class FailingStream(Iterator[bytes]):
    """An audio stream that fails when its first chunk is asked for, as a hosted one does."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __next__(self) -> bytes:
        raise self.error


class BrokenSynthesizer(Speaking):
    """Accepts every request; its stream fails with ``error`` before any audio."""

    def __init__(self, name: str, error: Exception) -> None:
        super().__init__(name)
        self.error = error

    def synthesize(self, text: str, language: str, voice: str | None = None) -> Iterator[bytes]:
        return FailingStream(self.error)


def test_a_synthesizer_failing_before_its_first_audio_hands_over_to_the_next() -> None:
    engines = [BrokenSynthesizer("openai", EngineUnavailableError("503")), Speaking("espeak-ng")]
    with closing(SynthesizerRegistry(engines)) as registry:
        synthesis = registry.synthesize("good morning", "en")
        audio = b"".join(synthesis.chunks)
    assert (synthesis.engine, synthesis.voice, synthesis.sample_rate) == (
        "espeak-ng",
        "espeak-ng-en",
        16000,
    )
    assert synthesis.fallbacks == ("openai:engine_unavailable",)
    assert len(audio) == 2 * 320 and synthesis.error_code is None


def test_a_chosen_voice_picks_its_engine() -> None:
    """Engines without the voice fail with unknown_voice on the way to the one that has it."""
    engines = [Speaking("openai"), Speaking("espeak-ng")]
    with closing(SynthesizerRegistry(engines)) as registry:
        synthesis = registry.synthesize("hola", "es", voice="espeak-ng-es")
    assert (synthesis.engine, synthesis.voice) == ("espeak-ng", "espeak-ng-es")
    assert synthesis.fallbacks == ("openai:unknown_voice",)


def test_when_every_synthesizer_fails_there_is_no_audio_and_the_reason() -> None:
    engines = [
        BrokenSynthesizer("openai", EngineUnavailableError("503")),
        BrokenSynthesizer("buggy", OSError("pipe")),
    ]
    with closing(SynthesizerRegistry(engines)) as registry:
        synthesis = registry.synthesize("good morning", "en")
    assert (list(synthesis.chunks), synthesis.engine, synthesis.sample_rate) == ([], "none", 0)
    assert synthesis.fallbacks == ("openai:engine_unavailable", "buggy:synthesis_failed")
    assert synthesis.error_code == "synthesis_failed"


def test_a_language_no_synthesizer_speaks_is_unsupported() -> None:
    with closing(SynthesizerRegistry([Speaking("espeak-ng")])) as registry:
        synthesis = registry.synthesize("konnichiwa", "ja")
        assert not registry.supports("ja")
    assert (synthesis.engine, synthesis.fallbacks, synthesis.error_code) == (
        "none",
        (),
        "unsupported_language",
    )


def test_a_preferred_synthesizer_is_asked_first() -> None:
    with closing(SynthesizerRegistry([Speaking("espeak-ng"), Speaking("openai")])) as registry:
        synthesis = registry.synthesize("hello", "en", preference=["openai"])
    assert (synthesis.engine, synthesis.fallbacks) == ("openai", ())


# ------------------------------------------------------------------ every kind


@pytest.mark.parametrize(
    "registry",
    [
        lambda: TranslationRegistry([Translating("x"), Translating("x")]),
        lambda: RecognizerRegistry([Recognizing("x"), Recognizing("x")]),
        lambda: SynthesizerRegistry([Speaking("x"), Speaking("x")]),
    ],
    ids=["translation", "stt", "tts"],
)
def test_two_engines_with_one_name_are_refused(registry: Callable[[], object]) -> None:
    """Fallbacks and events name engines, so a name must say which one answered."""
    with pytest.raises(ValueError, match="unique"):
        registry()
