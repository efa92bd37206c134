"""A participant's speech in progress, and where its pipeline reports.

A WebSocket speaker's final transcripts go through
:meth:`~actors.usecases.core.VoiceCore.submit_transcript`, the same path as
a LiveKit agent's, and their partial captions through
:meth:`~actors.usecases.core.VoiceCore.caption`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

import pykka

from actors.agent_messages import FinalTranscript
from actors.messages import Outcome, Refused
from actors.pipeline import AudioBudget
from actors.wire import Caption
from adapters.engines.stt.base import Transcript

if TYPE_CHECKING:
    from actors.usecases.core import VoiceCore


@dataclass
class Speaking:
    """A participant's speech in progress: its pipeline, bound and end signal."""

    budget: AudioBudget
    ended: asyncio.Event
    pipeline: pykka.ActorRef[Any] = field(init=False)


@dataclass(frozen=True)
class Speaker:
    """Who speaks where, in which language."""

    user_id: str
    name: str
    room_code: str
    language: str


class SpeakerOutput:
    """Where a speaker's pipeline reports (called on the pipeline's thread)."""

    def __init__(
        self,
        core: VoiceCore,
        speaker: Speaker,
        speaking: Speaking,
        report: Callable[[str, str], None],
    ) -> None:
        self.core = core
        self.speaker = speaker
        self.speaking = speaking
        self.report = report
        self.loop = asyncio.get_running_loop()

    def began(self, utterance: UUID) -> None:
        """The speaker started an utterance: answers they hear stop (barge-in)."""
        self.core.speech_began(self.speaker.room_code, self.speaker.user_id)

    def partial(self, utterance: UUID, text: str) -> None:
        """Show the room a caption of what is being said (not stored)."""
        speaker = self.speaker
        self.core.caption(
            Caption(speaker.room_code, utterance, text, speaker.language, speaker.name)
        )

    def final(self, utterance: UUID, transcript: Transcript, duration_ms: int) -> None:
        """Record the utterance's transcript in the room."""
        speaker = self.speaker
        final = FinalTranscript.recognized(
            speaker.room_code, speaker.user_id, utterance, transcript, duration_ms
        )
        self.core.submit_transcript(final, self._report_refusal)

    def error(self, code: str, message: str) -> None:
        """Tell the speaker what was wrong with their audio."""
        self.report(code, message)

    def ended(self) -> None:
        """Let ``stop-speech`` finish."""
        self.loop.call_soon_threadsafe(self.speaking.ended.set)

    def _report_refusal(self, outcome: Outcome) -> None:
        if isinstance(outcome, Refused):
            self.report(outcome.code, outcome.message)
