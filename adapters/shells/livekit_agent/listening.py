"""Listening to one participant's microphone track with the room's speech pipeline.

Each subscribed microphone track gets its own SpeechPipelineActor, the same
actor a WebSocket speaker gets: LiveKit audio is just another way for
encoded chunks to arrive. The track is read at the pipeline's own 16 kHz
(LiveKit resamples for us), so the LINEAR16 decoder never resamples.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pykka
from livekit import rtc

from actors.agent_messages import FinalTranscript, PartialTranscript, SpeechBegan
from actors.pipeline import (
    AudioBudget,
    AudioChunk,
    EndAudio,
    PipelineSpec,
    SpeechEngines,
    SpeechPipelineActor,
)
from actors.recording.clips import HeardAudio
from adapters.engines.audio import SAMPLE_RATE
from adapters.engines.stt.base import Transcript
from adapters.shells.livekit_agent.streams import own_audio_stream

log = logging.getLogger(__name__)

FRAME_MS = 50
"""Audio is read 50 ms at a time: LiveKit's default 10 ms frames cost five times the
per-frame work (an event through the SDK to every stream of the process, a message to
the pipeline) for no gain, as the VAD decides on 32 ms windows anyway."""

Report = SpeechBegan | PartialTranscript | FinalTranscript
"""What a listener hands to the agent: that speech began (for barge-in), and transcripts."""


class TrackListener:
    """Feeds one remote microphone track to its own speech pipeline.

    It is the pipeline's :class:`~actors.pipeline.PipelineOutput`:
    transcripts go to ``report`` on the event loop, in the order the
    pipeline produced them. If the pipeline fails it is replaced, so a
    speaker is never left unheard for the rest of the session. ``heard``
    gets each utterance's audio (recording).
    """

    def __init__(
        self,
        room_code: str,
        speaker_id: str,
        language: str,
        track: rtc.Track,
        engines: SpeechEngines,
        report: Callable[[Report], None],
        audio_buffer_bytes: int,
        end_timeout_s: float,
        heard: Callable[[HeardAudio], None] | None = None,
    ) -> None:
        self.room_code = room_code
        self._heard = heard
        self.speaker_id = speaker_id
        self.language = language
        self.engines = engines
        self._report = report
        self._end_timeout_s = end_timeout_s
        self._loop = asyncio.get_running_loop()
        self._budget = AudioBudget(audio_buffer_bytes)
        self._closing = False
        self._last_drop = 0.0
        self._ended = asyncio.Event()
        self._pipeline = self._open_pipeline()
        self._stream = own_audio_stream(track, SAMPLE_RATE, FRAME_MS)
        self._reading = asyncio.create_task(self._read(), name=f"listen-{speaker_id}")

    async def aclose(self) -> None:
        """Stop reading; report what was still being said, then stop the pipeline."""
        if self._closing:
            return
        self._closing = True
        self._reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reading
        await self._stream.aclose()
        try:
            self._pipeline.tell(EndAudio())
        except pykka.ActorDeadError:
            return
        try:
            await asyncio.wait_for(self._ended.wait(), self._end_timeout_s)
        except TimeoutError:
            log.warning("the pipeline of %s did not finish in time", self.speaker_id)
        with contextlib.suppress(pykka.ActorDeadError):
            self._pipeline.stop(block=False)

    def _open_pipeline(self) -> pykka.ActorRef[Any]:
        spec = PipelineSpec(self.language, "LINEAR16", SAMPLE_RATE, self._budget, heard=self._heard)
        return SpeechPipelineActor.start(spec, self.engines, self)

    async def _read(self) -> None:
        async for event in self._stream:
            chunk = event.frame.data.tobytes()
            if not self._budget.take(len(chunk)):
                self._dropped()
                continue
            try:
                self._pipeline.tell(AudioChunk(chunk))
            except pykka.ActorDeadError:
                self._budget.give_back(len(chunk))

    def _dropped(self) -> None:
        """The pipeline is behind: drop audio rather than queue it unbounded; log once a second."""
        now = time.monotonic()
        if now - self._last_drop >= 1.0:
            self._last_drop = now
            log.warning("speech of %s is queued too deep; audio dropped", self.speaker_id)

    # PipelineOutput: called on the pipeline's thread, handled on the loop ---

    def began(self, utterance: UUID) -> None:
        """The voice detector heard an utterance start: answers to the speaker stop.

        Logged here, on the pipeline's thread, so the log shows when speech was
        detected, the moment barge-in is measured from.
        """
        log.debug("%s: %s began speaking", self.room_code, self.speaker_id)
        self._call(self._report, SpeechBegan(self.room_code, self.speaker_id))

    def partial(self, utterance: UUID, text: str) -> None:
        """A caption of the utterance being spoken."""
        self._call(self._send_partial, utterance, text)

    def final(self, utterance: UUID, transcript: Transcript, duration_ms: int) -> None:
        """The utterance's final transcript."""
        self._call(self._send_final, utterance, transcript, duration_ms)

    def error(self, code: str, message: str) -> None:
        """Nobody to show audio errors to on LiveKit: log them."""
        log.warning("speech of %s: %s: %s", self.speaker_id, code, message)

    def ended(self) -> None:
        """The pipeline reported everything it heard (or failed)."""
        self._call(self._pipeline_ended)

    def _call(self, callback: Callable[..., None], *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the job's loop is gone: the job ended
            self._loop.call_soon_threadsafe(callback, *args)

    def _send_partial(self, utterance: UUID, text: str) -> None:
        self._report(
            PartialTranscript(self.room_code, self.speaker_id, utterance, text, self.language)
        )

    def _send_final(self, utterance: UUID, transcript: Transcript, duration_ms: int) -> None:
        self._report(
            FinalTranscript.recognized(
                self.room_code, self.speaker_id, utterance, transcript, duration_ms
            )
        )

    def _pipeline_ended(self) -> None:
        if self._closing:
            self._ended.set()
            return
        log.warning("the speech pipeline of %s failed; starting a new one", self.speaker_id)
        self._budget = AudioBudget(self._budget.limit_bytes)
        self._pipeline = self._open_pipeline()
