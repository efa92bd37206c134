"""The translation engines by name: what ``VOICEMODE_TRANSLATION_ENGINES`` may list.

``apertium`` and ``identity`` are embedded; ``google`` is Google Cloud
Translation v2 (``VOICEMODE_GOOGLE_*``); any other name is an
OpenAI-compatible endpoint configured by ``VOICEMODE_<NAME>_*`` variables
(``openai``, ``grok``, or a self-hosted server). Each engine's module is
imported only when it is named, so an interface import stays light.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.engines.registry_startup import start_registry
from adapters.engines.translation.base import Translator
from adapters.engines.translation.registry import TranslationRegistry

#: The variable that lists the engines, named in start-up errors.
VARIABLE = "VOICEMODE_TRANSLATION_ENGINES"


def build(names: Sequence[str], timeout_s: float) -> TranslationRegistry:
    """Create the translation engines named, in order of preference, and their registry.

    Raises:
        StartupError: no engine is named, or one cannot start.

    """
    return start_registry(
        VARIABLE, names, translator, lambda engines: TranslationRegistry(engines, timeout_s)
    )


def translator(name: str) -> Translator:
    """Create the translation engine called ``name``."""
    if name == "apertium":
        from adapters.engines.translation.apertium import ApertiumTranslator  # noqa: PLC0415

        return ApertiumTranslator()
    if name == "identity":
        from adapters.engines.translation.identity import IdentityTranslator  # noqa: PLC0415

        return IdentityTranslator()
    if name == "google":
        from adapters.engines.translation.google import GoogleTranslator  # noqa: PLC0415

        return GoogleTranslator.from_env()
    from adapters.engines.translation.openai_compatible import (  # noqa: PLC0415
        OpenAICompatibleTranslator,
    )

    return OpenAICompatibleTranslator.from_env(f"VOICEMODE_{name.upper()}", name=name)
