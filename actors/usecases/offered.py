"""What this server offers a client to choose from: languages, engines, voices, modes.

The web client's settings show exactly these (``GET /api/config``), so a
user is never offered an engine that ``set-preferences`` would refuse as
``unknown_engine`` (see :meth:`~actors.usecases.VoiceCore.unknown_engine`).
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.service import VoiceService
from adapters.engines.translation.registry import TranslationRegistry
from adapters.engines.tts.base import Voice
from adapters.languages import ISO_639_1


@dataclass(frozen=True)
class Offered:
    """The engines of each kind in fallback order, the voices and the languages offered."""

    languages: tuple[str, ...]
    """Every language that can be translated into or out of another one, sorted."""
    stt: tuple[str, ...]
    translation: tuple[str, ...]
    tts: tuple[str, ...]
    voices: tuple[Voice, ...]
    llm: tuple[str, ...]

    @property
    def speech(self) -> bool:
        """Whether the server runs with speech engines (speech in, synthesized speech out)."""
        return bool(self.stt)

    @property
    def assistant(self) -> bool:
        """Whether the server runs with the assistant."""
        return bool(self.llm)


def offered(service: VoiceService) -> Offered:
    """Read the running service's registries (blocking: a few milliseconds of checks)."""
    synthesizers = service.synthesis.registry if service.synthesis is not None else None
    recognizers = service.speech_engines.recognizers if service.speech_engines else None
    return Offered(
        languages=translatable(service.registry),
        stt=recognizers.names() if recognizers is not None else (),
        translation=service.registry.names(),
        tts=synthesizers.names() if synthesizers is not None else (),
        voices=synthesizers.voices() if synthesizers is not None else (),
        llm=service.assistant.chat.names() if service.assistant is not None else (),
    )


def translatable(registry: TranslationRegistry) -> tuple[str, ...]:
    """The languages some engine translates from or into another language."""
    return tuple(
        sorted(
            language
            for language in ISO_639_1
            if any(
                registry.supports(language, other) or registry.supports(other, language)
                for other in ISO_639_1
                if other != language
            )
        )
    )
