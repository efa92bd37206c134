"""Translation engines: one small interface, a registry with preference and fallback.

The package exports the interface and the registry's type only; engines are
imported where they are built (:func:`adapters.translation.engines.build`).
"""

from adapters.registry import NO_ENGINE
from adapters.translation.base import (
    Translation,
    TranslationError,
    TranslationTimeoutError,
    Translator,
    UnsupportedPairError,
)
from adapters.translation.registry import TranslationRegistry

__all__ = [
    "NO_ENGINE",
    "Translation",
    "TranslationError",
    "TranslationRegistry",
    "TranslationTimeoutError",
    "Translator",
    "UnsupportedPairError",
]
