"""The agent's control plane inside ``serve``: agent reports become core use cases.

Each agent connection of the agent channel (:mod:`adapters.shells.agent_channel`)
wraps one :class:`DirectControlPlane`; tests and single-machine setups hand
it to an agent worker in the same process. Final transcripts take the same
path as a WebSocket speaker's (:meth:`~actors.usecases.VoiceCore.submit_transcript`);
what to say comes from following the event log
(:class:`~actors.projections.room_follower.RoomFollower`), so an agent sees the same
translations, in the same order, as the room's WebSocket listeners.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from actors.agent_messages import (
    AssistantCommand,
    ControlPlaneError,
    FinalTranscript,
    MediaQuality,
    PartialTranscript,
    RecordedAudio,
    RoomUpdate,
    SpeechBegan,
    SynthesisReport,
)
from actors.assistant.commands import CommandSource
from actors.messages import Refused
from actors.projections.room_follower import RoomFollower
from actors.service import VoiceService
from actors.usecases import VoiceCore
from actors.usecases.recording import Recordings
from actors.wire import Caption
from adapters.shells.frames import CLIENT_FRAMES

log = logging.getLogger(__name__)


class DirectControlPlane:
    """:class:`~actors.agent_messages.ControlPlane` on a VoiceService in this process.

    One instance per agent job; the job's event loop is the one that calls
    :meth:`attach`, and each attached room is followed on its own thread.
    """

    def __init__(self, service: VoiceService, command_timeout_s: float = 10.0) -> None:
        self.core = VoiceCore(service, CLIENT_FRAMES, command_timeout_s=command_timeout_s)
        self.recordings = Recordings(self.core)
        self._rooms: dict[str, _AttachedRoom] = {}

    async def attach(self, room_code: str) -> None:
        """Take the room's members as they are now, then follow the log from there."""
        if room_code in self._rooms:
            return
        loop = asyncio.get_running_loop()
        attached = _AttachedRoom(self.core, room_code, loop)
        self._rooms[room_code] = attached
        await loop.run_in_executor(None, attached.follower.start)

    def updates(self, room_code: str) -> AsyncIterator[RoomUpdate]:
        """The attached room's members and translations, in log order.

        Raises:
            ControlPlaneError: the room was not attached.
        """
        return self._attached(room_code).updates()

    async def partial(self, caption: PartialTranscript) -> None:
        """Show the caption to the room's WebSocket clients, as a WebSocket speaker's would be."""
        names = self._attached(caption.room_code).follower.names
        speaker_name = names.get(caption.speaker_id, caption.speaker_id)
        self.core.caption(
            Caption(
                caption.room_code,
                caption.utterance_id,
                caption.text,
                caption.language,
                speaker_name,
            )
        )

    async def transcript(self, transcript: FinalTranscript) -> None:
        """Submit the transcript to the room and wait until it is recorded."""
        outcome = await self.core.record_transcript(transcript)
        if isinstance(outcome, Refused):
            raise ControlPlaneError(outcome.code, outcome.message)

    async def synthesized(self, report: SynthesisReport) -> None:
        """Record what the agent spoke on its LiveKit track, apart from WebSocket syntheses."""
        self.core.record_synthesis(report)

    async def command(self, command: AssistantCommand) -> None:
        """Give the assistant a data-packet command, as a typed one would be given."""
        outcome = await self.core.assistant_command(
            command.room_code, command.user_id, command.text, CommandSource.DATA
        )
        if isinstance(outcome, Refused):
            raise ControlPlaneError(outcome.code, outcome.message)

    async def speech_began(self, began: SpeechBegan) -> None:
        """Interrupt at once the answers being spoken to whoever started speaking."""
        self.core.speech_began(began.room_code, began.user_id)

    async def media_quality(self, report: MediaQuality) -> None:
        """Keep the room's media quality for the HTTP API."""
        self.core.record_media_quality(report)

    async def recorded(self, audio: RecordedAudio) -> None:
        """Store an agent's clip in the blob store, as a WebSocket speaker's would be."""
        self.recordings.take_agent_audio(audio)

    async def wait_lost(self) -> str:
        """Never returns: the actor system in this process cannot be lost."""
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Stop following every room; their update iterators end."""
        loop = asyncio.get_running_loop()
        attached, self._rooms = list(self._rooms.values()), {}
        for room in attached:
            await loop.run_in_executor(None, room.follower.stop)

    def _attached(self, room_code: str) -> _AttachedRoom:
        attached = self._rooms.get(room_code)
        if attached is None:
            raise ControlPlaneError("not_attached", f"the agent is not attached to {room_code}")
        return attached


class _AttachedRoom:
    """One attached room: its follower, whose updates queue up for the loop."""

    def __init__(self, core: VoiceCore, room_code: str, loop: asyncio.AbstractEventLoop) -> None:
        self.room_code = room_code
        self._loop = loop
        self._queue: asyncio.Queue[RoomUpdate | None] = asyncio.Queue()
        self.follower: RoomFollower = core.follow_room(room_code, self._publish)

    async def updates(self) -> AsyncIterator[RoomUpdate]:
        """Yield queued updates until the follower stops."""
        while (update := await self._queue.get()) is not None:
            yield update

    def _publish(self, update: RoomUpdate | None) -> None:
        """On the follower's thread: hand the update to the loop."""
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, update)
        except RuntimeError:
            log.debug("agent loop closed; dropped an update of %s", self.room_code)
