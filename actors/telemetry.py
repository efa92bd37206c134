"""Telemetry: the narrow port through which the core reports what only it can time.

Most figures an operator scrapes come from the event log (see
:mod:`actors.projections.operations`). A few are not in any event: how long a
store commit took and how many events it carried, how long a delivered event
took to reach a listener's connection, how long a closed utterance waited for a
recognition thread. The places that know them call this port; the metrics
shell implements it (Prometheus), and :data:`NO_TELEMETRY` stands in when
nobody scrapes.
"""

from __future__ import annotations

from typing import Final, Protocol

from eventsourcing.domain import DomainEvent

VAD_WAIT: Final = "vad_wait"
"""From the VAD closing an utterance to its final decode starting on a recognition thread."""
STT_DECODE: Final = "stt_decode"
"""From the VAD closing an utterance to its final transcript (``decode_ms``)."""
TRANSLATION: Final = "translation"
"""One translation of one transcript (``TranslationProduced.latency_ms``)."""
FIRST_SYNTHESIZED_BYTE: Final = "first_synthesized_byte"
"""From asking for speech to its first audio (``SpeechSynthesized.first_chunk_ms``)."""
DELIVERY: Final = "delivery"
"""From an event's creation to its frames queued on a listener's connection."""
STORE_COMMIT: Final = "store_commit"
"""One group commit's transaction."""
STAGES: Final = (VAD_WAIT, STT_DECODE, TRANSLATION, FIRST_SYNTHESIZED_BYTE, DELIVERY, STORE_COMMIT)
"""Every stage a duration is observed for (the ``stage`` label's whole set)."""


class Telemetry(Protocol):
    """Where the core reports durations no event carries; callable from any thread."""

    def stage(self, stage: str, seconds: float) -> None:
        """One stage of one utterance (or commit) took ``seconds``; ``stage`` is in STAGES."""

    def committed(self, seconds: float, events: int) -> None:
        """A group commit of ``events`` events took ``seconds``."""

    def delivered(self, event: DomainEvent) -> None:
        """``event``'s frames were just queued on one listener's connection (live, not resumed)."""


class NoTelemetry:
    """Telemetry for a process nobody scrapes: every report is dropped."""

    def stage(self, stage: str, seconds: float) -> None:
        """Dropped."""

    def committed(self, seconds: float, events: int) -> None:
        """Dropped."""

    def delivered(self, event: DomainEvent) -> None:
        """Dropped."""


NO_TELEMETRY: Final[Telemetry] = NoTelemetry()
"""The telemetry of services, sessions and pipelines built without metrics (tests, benches)."""
