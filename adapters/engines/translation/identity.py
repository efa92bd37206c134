"""An engine that does not translate, for measuring everything around translation."""

from __future__ import annotations

from adapters.engines.translation.base import Translator


class IdentityTranslator(Translator):
    """Returns the text unchanged for any pair.

    It exists so the benchmark can time the system (actors, event store,
    delivery) without the cost or variability of a real engine.
    """

    name = "identity"

    def supports(self, source: str, target: str) -> bool:
        """Every pair is supported: nothing is translated."""
        return True

    def translate(self, text: str, source: str, target: str) -> str:
        """Return ``text`` as it is."""
        return text
