"""Recording use cases: turn a room's recording on or off, list and render what it kept.

Every shell comes through here: the HTTP API (``record`` at room creation,
``PUT`` / ``GET /api/rooms/{code}/recording``) and the WebSocket
(``set-recording``). Only the room's owner or an operator may do any of it
(:func:`~actors.usecases.management.may_manage_room`), and only on a server
started with ``--record``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from actors.messages import Outcome, Refused, SetRecording
from actors.recording.export import render_clips
from actors.usecases.asking import ask_room
from actors.usecases.management import Caller, may_manage_room
from events.domain import Room
from events.recording import AudioRecorded

if TYPE_CHECKING:
    from actors.agent_messages import RecordedAudio
    from actors.recording import RecordingSystem
    from actors.usecases.core import VoiceCore

RECORDING_OFF = Refused("recording_unavailable", "this server runs without --record")
NOT_MANAGER = Refused(
    "not_room_owner", "only the room's owner or an operator may manage its recording"
)


@dataclass(frozen=True)
class RoomRecordingView:
    """Whether a room records, and the clips it kept."""

    room_code: str
    recording: bool
    clips: list[AudioRecorded]


class Recordings:
    """The recording use cases on a :class:`~actors.usecases.core.VoiceCore`."""

    def __init__(self, core: VoiceCore) -> None:
        self.core = core

    @property
    def system(self) -> RecordingSystem | None:
        """The service's recording system (None: the server runs without ``--record``)."""
        return self.core.service.recording

    async def set(self, room_code: str, identity: Caller, *, enabled: bool) -> Outcome:
        """Start or stop recording a room, for its owner or an operator."""
        room = await self._managed(room_code, identity, changing=True)
        if isinstance(room, Refused):
            return room
        return await self.set_on_creation(room_code, identity.user_id, enabled=enabled)

    async def set_on_creation(self, room_code: str, user_id: str, *, enabled: bool) -> Outcome:
        """Record a room from its creation (its creator asked, so no owner check)."""
        if self.system is None:
            return RECORDING_OFF
        return await ask_room(
            self.core.service,
            room_code,
            lambda reply: SetRecording(user_id, enabled, reply),
            self.core.command_timeout_s,
            off_loop=True,
        )

    def take_agent_audio(self, audio: RecordedAudio) -> None:
        """Store a clip a LiveKit agent recorded and encoded (if its room still records)."""
        if self.system is not None:
            self.system.take_encoded(audio)

    async def view(self, room_code: str, identity: Caller) -> RoomRecordingView | Refused:
        """Whether the room records and its clips (read off the loop)."""
        room = await self._managed(room_code, identity)
        if isinstance(room, Refused):
            return room
        assert self.system is not None  # checked by _managed
        clips = self.system.index.clips_of(room.id)
        return RoomRecordingView(room_code, room.recording, clips)

    async def render(self, room_code: str, identity: Caller, extension: str) -> bytes | Refused:
        """The room's conversation as one audio file (rendered off the loop)."""
        room = await self._managed(room_code, identity)
        if isinstance(room, Refused):
            return room
        system = self.system
        assert system is not None  # checked by _managed
        clips = system.index.clips_of(room.id)
        rendered = await asyncio.get_running_loop().run_in_executor(
            None, render_clips, clips, system.blobs, extension
        )
        if rendered is None:
            return Refused("nothing_recorded", f"room {room_code} has no recorded audio")
        return rendered

    async def _managed(
        self, room_code: str, identity: Caller, *, changing: bool = False
    ) -> Room | Refused:
        """The room, if ``identity`` may manage its recording; a closed room only keeps its past."""
        if self.system is None:
            return RECORDING_OFF
        loop = asyncio.get_running_loop()
        room = await loop.run_in_executor(None, self.core.service.store.load_room, room_code)
        if room is None:
            return Refused("unknown_room", f"there is no room {room_code}")
        if not may_manage_room(room, identity):
            return NOT_MANAGER
        if changing and room.closed:
            return Refused("room_closed", f"room {room_code} was closed")
        return room
