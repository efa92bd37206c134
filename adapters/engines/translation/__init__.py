"""Translation engines: one small interface, a registry with preference and fallback.

The package exports the interface and the registry's type only; engines are
imported where they are built (:func:`adapters.engines.translation.engines.build`).
"""

from adapters.engines.registry import NO_ENGINE
from adapters.engines.translation.base import (
    Translation,
    TranslationError,
    TranslationTimeoutError,
    Translator,
    UnsupportedPairError,
)
from adapters.engines.translation.registry import TranslationRegistry

__all__ = [
    "NO_ENGINE",
    "Translation",
    "TranslationError",
    "TranslationRegistry",
    "TranslationTimeoutError",
    "Translator",
    "UnsupportedPairError",
]
