"""Speaking translations on one published audio track per listener language.

Every listener of a language subscribes to the same ``tts-<lang>`` track, so
a translation is synthesized once per language, not once per listener.
Synthesis runs on worker threads (engines block) and starts as soon as a
translation arrives, while the previous one is still playing; playback is
in arrival order. The track's AudioSource has one fixed sample rate: audio
from an engine with another rate is resampled, never pushed as it is,
because LiveKit would play it at the wrong speed.

The AudioSource keeps LiveKit's own queue, although with it an idle track
encodes 10 ms of silence every 10 ms (about 3.7 % of a core per track,
``bench/idle_tracks.py``; muting does not stop it). Without the queue
(``queue_size_ms=0``) an idle track sends nothing, but its RTP clock stops
too: when speech resumes the listener's jitter buffer sees seconds of
timestamps missing, takes it for jitter and plays later, and mouth to ear
went from 609 to 959 ms p50 in the same bench run. So instead the agent
unpublishes the tracks of a quiet room (``AgentSettings.voice_sleep_s``) and
publishes new ones when someone speaks; a new track holds its first speech
until a listener subscribed (at most ``FIRST_LISTENER_WAIT_S``).

The assistant's answers stop as soon as someone who hears them starts
speaking (:meth:`LanguageVoice.interrupt`): the sentence being played is cut
and the audio LiveKit still holds is dropped, and so are the answer's
sentences still waiting; translations of what people said are never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

import av
import numpy as np
from livekit import rtc
from livekit.rtc.participant import UnpublishTrackError

from actors.agent_messages import SynthesisReport, TranslationToSpeak
from adapters.engines.audio.resample import int16_frame
from adapters.engines.tts.base import SynthesisError
from adapters.engines.tts.registry import SynthesizerRegistry
from adapters.shells.livekit_agent.recording import SpokenTranslation

log = logging.getLogger(__name__)

BYTES_PER_SAMPLE = 2
FRAME_MS = 20
FIRST_LISTENER_WAIT_S = 1.0
"""How long a newly published track holds its first speech for a listener to subscribe:
audio pushed before anyone subscribed reaches nobody (a track woken by a typed message
or an answer; one woken by speech has its listeners back long before)."""
MAX_BACKLOG = 8
"""Translations waiting to be spoken in one language beyond which new ones are
only shown as text: speech that far behind the conversation helps nobody. The
assistant's sentences are exempt: an answer arrives faster than it is spoken,
its length is bounded, and a gap in its middle would make no sense."""


def track_name(language: str) -> str:
    """The name of the track a language's listeners subscribe to."""
    return f"tts-{language}"


@dataclass(frozen=True)
class _Started:
    """Synthesis began; audio follows at ``sample_rate``."""

    sample_rate: int


@dataclass(frozen=True)
class _Finished:
    """No more audio; how it went."""

    report: SynthesisReport


_Piece = _Started | bytes | _Finished


@dataclass
class _Speech:
    """One translation on its way out: its audio arrives here from the synthesis thread."""

    translation: TranslationToSpeak
    pieces: asyncio.Queue[_Piece] = field(default_factory=asyncio.Queue)
    dropped: bool = False
    """Interrupted before it was played: not worth synthesizing any more."""

    def of(self, answers: Collection[UUID]) -> bool:
        """Whether this is a sentence of one of ``answers``."""
        return self.translation.answer_id in answers


class LanguageVoice:
    """The ``tts-<lang>`` track of one language and the queue of what it is to say."""

    def __init__(
        self,
        room: rtc.Room,
        language: str,
        synthesizers: SynthesizerRegistry,
        pool: ThreadPoolExecutor,
        sample_rate: int,
        on_spoken: Callable[[SynthesisReport], None],
        on_audio: Callable[[SpokenTranslation], None] | None = None,
    ) -> None:
        self.room = room
        self.language = language
        self.synthesizers = synthesizers
        self.sample_rate = sample_rate
        self._pool = pool
        self._on_spoken = on_spoken
        self._on_audio = on_audio
        """Handed each finished synthesis's audio (recording), on the synthesis thread."""
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[_Speech] = asyncio.Queue()
        self._frame_bytes = sample_rate * FRAME_MS // 1000 * BYTES_PER_SAMPLE
        self.source = rtc.AudioSource(sample_rate, 1)
        self.track = rtc.LocalAudioTrack.create_audio_track(track_name(language), self.source)
        self._publication: rtc.LocalTrackPublication | None = None
        self._player: asyncio.Task[None] | None = None
        self._playing: tuple[_Speech, asyncio.Task[None]] | None = None
        self._quiet_since: float | None = self._loop.time()
        self._waits_for_listener = True

    @property
    def quiet_since(self) -> float | None:
        """Since when (loop time) the voice has had nothing to say; None while it speaks."""
        return self._quiet_since

    async def publish(self) -> None:
        """Publish the track and start playing what is queued.

        Raises:
            livekit.rtc.participant.PublishTrackError: LiveKit refused the track.
        """
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        self._publication = await self.room.local_participant.publish_track(self.track, options)
        self._player = asyncio.create_task(self._play(), name=f"speak-{self.language}")

    def say(self, translation: TranslationToSpeak) -> None:
        """Start synthesizing ``translation`` now; it is played after those before it."""
        if self._queue.qsize() >= MAX_BACKLOG and not translation.assistant:
            log.warning(
                "%s speech is %d translations behind; not speaking one",
                self.language,
                self._queue.qsize(),
            )
            return
        speech = _Speech(translation)
        self._quiet_since = None
        self._queue.put_nowait(speech)
        self._pool.submit(self._synthesize, speech)

    def interrupt(self, answers: Collection[UUID]) -> bool:
        """Stop the sentences of ``answers`` at once; True if any was playing or waiting.

        The sentence being played stops and what LiveKit still buffers of
        it is cleared; the answers' sentences still queued are dropped.
        """
        waiting = [self._queue.get_nowait() for _ in range(self._queue.qsize())]
        stopped = False
        for speech in waiting:
            if speech.of(answers):
                speech.dropped = stopped = True
            else:
                self._queue.put_nowait(speech)
        if self._playing is not None and self._playing[0].of(answers):
            self._playing[0].dropped = stopped = True
            self._playing[1].cancel()
            self.source.clear_queue()
        if self._playing is None and self._queue.empty():
            self._quiet_since = self._loop.time()
        return stopped

    @property
    def track_sid(self) -> str | None:
        """The published track's id, once published."""
        return self._publication.sid if self._publication is not None else None

    async def aclose(self) -> None:
        """Stop speaking and take the track down (a disconnected room took it already)."""
        for task in (self._player, self._playing[1] if self._playing else None):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._publication is not None and self.room.isconnected():
            with contextlib.suppress(UnpublishTrackError):
                await self.room.local_participant.unpublish_track(self._publication.sid)
        await self.source.aclose()

    def _synthesize(self, speech: _Speech) -> None:
        """On a pool thread: run the engine and hand its audio to the loop as it comes."""
        if speech.dropped:
            return
        translation = speech.translation
        synthesis = self.synthesizers.synthesize(translation.text, translation.language)
        started_at = datetime.now(UTC)
        self._hand(speech, _Started(synthesis.sample_rate))
        size = 0
        error_code = synthesis.error_code
        chunks: list[bytes] = []
        try:
            for chunk in synthesis.chunks:
                size += len(chunk)
                chunks.append(chunk)
                self._hand(speech, chunk)
        except SynthesisError as error:
            error_code = error.code
            log.warning("speech synthesis broke mid-stream: %s", error.code)
        except Exception:  # the player waits for the end of every synthesis: always give one
            error_code = SynthesisError.code
            log.exception("speech synthesis crashed")
        audio_ms = size * 1000 // ((synthesis.sample_rate or 1) * BYTES_PER_SAMPLE)
        report = SynthesisReport(
            translation.room_code,
            translation.transcript_id,
            translation.language,
            synthesis.voice,
            synthesis.engine,
            synthesis.sample_rate,
            audio_ms,
            synthesis.first_chunk_ms,
            synthesis.fallbacks,
            error_code,
        )
        self._hand(speech, _Finished(report))
        if self._on_audio is not None and size and synthesis.sample_rate:
            spoken = SpokenTranslation(
                translation,
                synthesis.voice,
                synthesis.engine,
                synthesis.sample_rate,
                b"".join(chunks),
                started_at,
            )
            self._on_audio(spoken)

    def _hand(self, speech: _Speech, piece: _Piece) -> None:
        with contextlib.suppress(RuntimeError):  # the job's loop is gone: nobody listens
            self._loop.call_soon_threadsafe(speech.pieces.put_nowait, piece)

    async def _play(self) -> None:
        """Play each speech in turn; one that is interrupted ends early, the next follows."""
        while True:
            speech = await self._queue.get()
            playing = asyncio.create_task(self._speak(speech), name=f"say-{self.language}")
            self._playing = (speech, playing)
            try:
                await asyncio.wait((playing,))
            finally:
                self._playing = None
                if self._queue.empty():
                    self._quiet_since = self._loop.time()
            if not playing.cancelled() and (error := playing.exception()) is not None:
                raise error

    async def _first_listener(self) -> None:
        """Wait (a little) until someone subscribed to the track, before its first speech."""
        publication, self._waits_for_listener = self._publication, False
        if publication is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(publication.wait_for_subscription(), FIRST_LISTENER_WAIT_S)

    async def _speak(self, speech: _Speech) -> None:
        """Push one synthesis into the track as 20 ms frames, paced by the AudioSource."""
        if self._waits_for_listener:
            await self._first_listener()
        pending = bytearray()
        resampler: _Resampler | None = None
        while not isinstance(piece := await speech.pieces.get(), _Finished):
            if isinstance(piece, _Started):
                if piece.sample_rate not in (0, self.sample_rate):
                    resampler = _Resampler(piece.sample_rate, self.sample_rate)
                continue
            pending += resampler.convert(piece) if resampler is not None else piece
            await self._push(pending)
        if resampler is not None:
            pending += resampler.finish()
        if len(pending) % self._frame_bytes:
            pending += bytes(self._frame_bytes - len(pending) % self._frame_bytes)
        await self._push(pending)
        self._on_spoken(piece.report)

    async def _push(self, pending: bytearray) -> None:
        """Capture every whole frame in ``pending`` (it waits while LiveKit's queue is full)."""
        samples = self._frame_bytes // BYTES_PER_SAMPLE
        while len(pending) >= self._frame_bytes:
            frame = rtc.AudioFrame(
                bytes(pending[: self._frame_bytes]), self.sample_rate, 1, samples
            )
            del pending[: self._frame_bytes]
            await self.source.capture_frame(frame)


class _Resampler:
    """16-bit mono PCM from an engine's rate to the track's, across chunk boundaries."""

    def __init__(self, rate_in: int, rate_out: int) -> None:
        self._rate_in = rate_in
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=rate_out)
        self._odd = b""

    def convert(self, chunk: bytes) -> bytes:
        """Resample the whole samples of ``chunk``; a split sample waits for the next chunk."""
        data = self._odd + chunk
        whole = len(data) - len(data) % BYTES_PER_SAMPLE
        self._odd = data[whole:]
        if not whole:
            return b""
        return _joined(self._resampler.resample(int16_frame(data[:whole], self._rate_in)))

    def finish(self) -> bytes:
        """The samples the filter still holds."""
        return _joined(self._resampler.resample(None))


def _joined(frames: list[av.AudioFrame]) -> bytes:
    return b"".join(np.asarray(frame.to_ndarray(), dtype="<i2").tobytes() for frame in frames)
