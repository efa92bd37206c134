"""A room's recording: the clips still stored, and their rendering on one timeline.

``voicemode replay ROOM --export-audio FILE`` and ``GET
/api/rooms/{code}/recording/audio`` both render here: every clip of the room
(utterances as the recognizer heard them, synthesized speech as it was
made) is decoded, placed at its recorded start (``started_at``) on one
timeline beginning with the first clip, and mixed; overlapping clips (a
translation spoken while someone talks) are summed and clipped to full
scale. A silence longer than :data:`MAX_SILENCE_S` between clips is
shortened to that: the file is as long as what was said, not as the room
lived (a room used today and again next week would otherwise render a week
of silence, gigabytes of memory). Clips deleted by retention are left out.
"""

from __future__ import annotations

import io
import wave
from typing import Final

import numpy as np
from eventsourcing.utils import get_topic

from adapters.blobs.base import BlobNotFoundError, BlobStore
from adapters.engines.audio.base import Pcm, empty_pcm
from adapters.engines.audio.ogg_opus import decode_ogg_opus, encode_ogg_opus
from events.domain import room_id_for
from events.recording import AudioDeleted, AudioRecorded
from events.store import EventStore

MIX_RATE: Final = 24000
MAX_SILENCE_S: Final = 3.0
"""The longest silence between clips a rendering keeps (longer ones are shortened to it)."""
"""The rendering's rate: the highest rate any clip is heard or synthesized at here."""
FORMATS: Final = {"wav": "audio/wav", "ogg": "audio/ogg", "opus": "audio/ogg"}
"""File formats a rendering can be written in, by extension, with their media type."""
CLIP_TOPICS: Final = (get_topic(AudioRecorded), get_topic(AudioDeleted))


def room_clips(store: EventStore, room_code: str) -> list[AudioRecorded]:
    """The room's clips not deleted, by start time (reads the log: blocking)."""
    room_id = room_id_for(room_code)
    clips: dict[str, AudioRecorded] = {}
    for recorded in store.read(topics=CLIP_TOPICS):
        event = recorded.event
        if isinstance(event, AudioRecorded) and event.room_id == room_id:
            clips[event.key] = event
        elif isinstance(event, AudioDeleted) and event.room_id == room_id:
            clips.pop(event.key, None)
    return sorted(clips.values(), key=lambda clip: clip.started_at)


def mix(clips: list[AudioRecorded], blobs: BlobStore, rate: int = MIX_RATE) -> Pcm:
    """Decode the clips and sum them on one timeline starting at the first (blocking).

    Clips are placed at their start times, less the silences longer than
    :data:`MAX_SILENCE_S` before them, which are shortened to it.
    """
    if not clips:
        return empty_pcm()
    placed: list[tuple[int, Pcm]] = []
    origin = min(clip.started_at for clip in clips)
    longest_silence = round(MAX_SILENCE_S * rate)
    cut = end = 0
    for clip in sorted(clips, key=lambda clip: clip.started_at):
        try:
            audio = decode_ogg_opus(blobs.get(clip.key), rate)
        except BlobNotFoundError:
            continue  # deleted since the clips were listed
        offset = round((clip.started_at - origin).total_seconds() * rate) - cut
        if offset - end > longest_silence:
            cut += offset - end - longest_silence
            offset = end + longest_silence
        placed.append((offset, audio))
        end = max(end, offset + len(audio))
    timeline = np.zeros(end, dtype=np.float32)
    for offset, audio in placed:
        timeline[offset : offset + len(audio)] += audio
    return np.clip(timeline, -1.0, 1.0)


def encode(pcm: Pcm, rate: int, extension: str) -> bytes:
    """The rendering as a file of the format ``extension`` names (see :data:`FORMATS`)."""
    if extension == "wav":
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as file:
            file.setnchannels(1)
            file.setsampwidth(2)
            file.setframerate(rate)
            file.writeframes((pcm * 32767).astype("<i2").tobytes())
        return buffer.getvalue()
    if extension in FORMATS:
        return encode_ogg_opus(pcm, rate)
    raise ValueError(f"cannot write .{extension}; use one of {', '.join(sorted(FORMATS))}")


def render(store: EventStore, blobs: BlobStore, room_code: str, extension: str) -> bytes | None:
    """The room's conversation as one file, from the log (blocking; ``replay --export-audio``)."""
    return render_clips(room_clips(store, room_code), blobs, extension)


def render_clips(clips: list[AudioRecorded], blobs: BlobStore, extension: str) -> bytes | None:
    """These clips as one file, or None if there are none (blocking)."""
    if not clips:
        return None
    return encode(mix(clips, blobs), MIX_RATE, extension)
