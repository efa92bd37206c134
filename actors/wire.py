"""The client wire format, as the core sees it: an interface it is handed.

The core never builds a client frame: the shell that owns the WebSocket wire
format (:mod:`adapters.shells.frames`) hands it a :class:`ClientWire`, and the
actors give it typed values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from actors.assistant.notices import AssistantNotice
from actors.listener import Listener
from actors.messages import Outgoing
from actors.speech import SpeechKey, SpeechPiece
from events.store import Recorded

Frame = dict[str, Any]
"""A client frame before it is encoded; only the wire looks inside."""


@dataclass(frozen=True)
class Caption:
    """A partial caption of an utterance still being spoken (never stored)."""

    room_code: str
    utterance_id: UUID
    text: str
    language: str
    speaker_name: str


@dataclass(frozen=True)
class SpokenText:
    """A translation a listener hears spoken: the synthesis a session asks for."""

    transcript_id: UUID
    language: str
    text: str
    answer_id: UUID | None = None


class ClientWire(Protocol):
    """The client wire format: every frame a WebSocket client receives.

    Sessions call it on their own threads, once per event or batch, so an
    implementation is pure and thread-safe.
    """

    def frames_for(self, listener: Listener, recorded: Recorded) -> list[Frame]:
        """The frames ``listener`` receives for one stored event (follows the listener)."""

    def spoken(self, listener: Listener, frame: Frame) -> SpokenText | None:
        """The translation of ``frame`` the listener hears spoken on this channel, if any."""

    def encode(self, frames: Iterable[Frame]) -> list[Outgoing]:
        """The frames as they are sent."""

    def resume_ack(self, position: int, ref: str | int) -> Frame:
        """The answer to a ``resume`` that carried a ``ref``, after the missed frames."""

    def speech(self, key: SpeechKey, piece: SpeechPiece) -> Outgoing:
        """A piece of synthesized speech: its header, audio bytes, or its end."""

    def caption(self, caption: Caption) -> Outgoing:
        """A partial caption, encoded once for the whole room."""

    def notice(self, notice: AssistantNotice) -> Outgoing:
        """News from the assistant that is not stored: answer text, interruption, failure."""
