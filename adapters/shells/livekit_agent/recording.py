"""A recording room's audio as its LiveKit agent heard and spoke it, shipped to voicemode.

The agent learns whether its room records from its updates
(:class:`~actors.agent_messages.RoomRecording`). While it does, each
utterance its pipelines recognized (16 kHz, as the recognizer got it) and
each translation it spoke on a ``tts-<lang>`` track (at the synthesizer's
rate) is encoded to Ogg Opus here, on a niced thread of its own, and handed
to the agent's outbox as a :class:`~actors.agent_messages.RecordedAudio`:
``serve`` alone writes the blob store, so an agent on another machine needs
no access to it. A pipeline or synthesis thread pays a flag check and a
queue put; a full queue drops the clip (logged) rather than slow the room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import numpy as np

from actors.agent_messages import RecordedAudio, TranslationToSpeak
from actors.recording.clips import HeardAudio
from adapters.engines.audio.ogg_opus import encode_ogg_opus
from events.recording import SPEECH, UTTERANCE

log = logging.getLogger(__name__)

QUEUED_CLIPS: Final = 32
RECORDER_NICENESS: Final = 10
"""Encoding yields to recognition and synthesis on the agent's cores."""


@dataclass(frozen=True)
class SpokenTranslation:
    """What the agent spoke of one translation: 16-bit mono PCM at ``sample_rate``."""

    translation: TranslationToSpeak
    voice: str | None
    engine: str
    sample_rate: int
    pcm: bytes
    started_at: datetime


@dataclass(frozen=True)
class _Heard:
    speaker_id: str
    audio: HeardAudio


_Clip = _Heard | SpokenTranslation


class AgentRecorder:
    """Encodes a recording room's clips and hands them to ``send`` on the agent's loop."""

    def __init__(self, room_code: str, send: Callable[[RecordedAudio], None]) -> None:
        self.room_code = room_code
        self.recording = False
        """Whether the room records now (set from the agent's updates)."""
        self._send = send
        self._loop = asyncio.get_running_loop()
        self._queue: queue.Queue[_Clip | None] = queue.Queue(QUEUED_CLIPS)
        self._thread = threading.Thread(target=self._run, name="agent-recorder", daemon=True)
        self._thread.start()

    def heard_by(self, speaker_id: str) -> Callable[[HeardAudio], None]:
        """What a speaker's pipeline calls with each utterance (on a recognition thread)."""
        return lambda audio: self._take(_Heard(speaker_id, audio))

    def spoken(self, spoken: SpokenTranslation) -> None:
        """A translation was synthesized for a track (on a synthesis thread)."""
        self._take(spoken)

    def close(self) -> None:
        """Encode what is queued, then stop (its clips reach the outbox if the loop runs)."""
        self._queue.put(None)

    def _take(self, clip: _Clip) -> None:
        if not self.recording:
            return
        try:
            self._queue.put_nowait(clip)
        except queue.Full:
            log.warning("%s: recorder behind, a clip dropped", self.room_code)

    def _run(self) -> None:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), RECORDER_NICENESS)
        while (clip := self._queue.get()) is not None:
            try:
                audio = self._encoded(clip)
            except Exception:
                log.exception("%s: a clip could not be encoded", self.room_code)
                continue
            with contextlib.suppress(RuntimeError):  # the job's loop is gone: the job ended
                self._loop.call_soon_threadsafe(self._send, audio)

    def _encoded(self, clip: _Clip) -> RecordedAudio:
        if isinstance(clip, _Heard):
            heard = clip.audio
            return RecordedAudio(
                self.room_code,
                UTTERANCE,
                heard.utterance_id,
                clip.speaker_id,
                heard.language,
                None,
                None,
                round(heard.started_at.timestamp() * 1000),
                len(heard.audio) * 1000 // heard.sample_rate,
                heard.sample_rate,
                encode_ogg_opus(heard.audio, heard.sample_rate),
            )
        samples = np.frombuffer(clip.pcm, dtype="<i2")
        return RecordedAudio(
            self.room_code,
            SPEECH,
            clip.translation.transcript_id,
            None,
            clip.translation.language,
            clip.voice,
            clip.engine,
            round(clip.started_at.timestamp() * 1000),
            len(samples) * 1000 // clip.sample_rate,
            clip.sample_rate,
            encode_ogg_opus(samples, clip.sample_rate),
        )
