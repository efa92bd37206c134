"""The control plane in-process: the agent talks to the actor system directly.

For tests and single-machine deployments, where the agent worker runs in the
same process as the :class:`~actors.service.VoiceService`. Transcripts go to
the RoomActor as ``SubmitTranscript`` commands, exactly as the WebSocket
gateway sends them; what to say comes from following the event log, as every
other projection does, so an agent sees the same translations, in the same
order, as the room's WebSocket listeners.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Final

import orjson
from eventsourcing.utils import get_topic

from actors.following import LogReader
from actors.messages import Outcome, Outgoing, Refused, SubmitTranscript, Transient
from actors.service import VoiceService
from adapters.frames import server_frame
from adapters.livekit_agent.control import (
    ControlPlaneError,
    FinalTranscript,
    PartialTranscript,
    RoomMembers,
    RoomUpdate,
    SynthesisReport,
    TranslationToSpeak,
)
from events.domain import (
    LIVEKIT_CHANNEL,
    Room,
    SpeechSynthesized,
    TranslationProduced,
    room_id_for,
)
from events.store import EventStore, Recorded

log = logging.getLogger(__name__)

FOLLOWED_TOPICS: Final = tuple(
    get_topic(cls)
    for cls in (
        Room.ParticipantJoined,
        Room.ParticipantLeft,
        Room.LanguageChanged,
        TranslationProduced,
    )
)
"""The only events an agent needs; the store filters the rest out unread."""


class DirectControlPlane:
    """:class:`~adapters.livekit_agent.control.ControlPlane` on a VoiceService in this process.

    One instance per agent job; the job's event loop is the one that calls
    :meth:`attach`, and each attached room is followed on its own thread.
    """

    def __init__(self, service: VoiceService, command_timeout_s: float = 10.0) -> None:
        self.service = service
        self.command_timeout_s = command_timeout_s
        self._rooms: dict[str, _RoomFollower] = {}

    async def attach(self, room_code: str) -> None:
        """Take the room's members as they are now, then follow the log from there."""
        if room_code in self._rooms:
            return
        loop = asyncio.get_running_loop()
        follower = _RoomFollower(self.service.store, room_code, loop)
        self._rooms[room_code] = follower
        await loop.run_in_executor(None, follower.start)

    def updates(self, room_code: str) -> AsyncIterator[RoomUpdate]:
        """The attached room's members and translations, in log order.

        Raises:
            ControlPlaneError: the room was not attached.
        """
        return self._follower(room_code).updates()

    async def partial(self, caption: PartialTranscript) -> None:
        """Show the caption to the room's WebSocket clients, as a WebSocket speaker's would be."""
        follower = self._follower(caption.room_code)
        frame = server_frame(
            "partial-speech",
            {
                "id": str(caption.utterance_id),
                "text": caption.text,
                "sourceLang": caption.language,
                "speakerName": follower.names.get(caption.speaker_id, caption.speaker_id),
            },
        )
        self.service.router.broadcast(follower.room_id, Transient(Outgoing(orjson.dumps(frame))))

    async def transcript(self, transcript: FinalTranscript) -> None:
        """Submit the transcript to the room and wait until it is recorded."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Outcome] = loop.create_future()

        def reply(outcome: Outcome) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
                loop.call_soon_threadsafe(_resolve, answer, outcome)

        command = SubmitTranscript(
            transcript.speaker_id,
            transcript.text,
            transcript.language,
            transcript.engine,
            transcript.duration_ms,
            reply,
            transcript.utterance_id,
            transcript.decode_ms,
            transcript.fallbacks,
        )
        # Starting a room's actor loads its stream from the store: not on the loop.
        await loop.run_in_executor(None, self.service.tell_room, transcript.room_code, command)
        try:
            outcome = await asyncio.wait_for(answer, self.command_timeout_s)
        except TimeoutError:
            raise ControlPlaneError("timeout", "the room did not answer in time") from None
        if isinstance(outcome, Refused):
            raise ControlPlaneError(outcome.code, outcome.message)

    async def synthesized(self, report: SynthesisReport) -> None:
        """Record what the agent spoke on its LiveKit track, apart from WebSocket syntheses."""
        event = SpeechSynthesized.recording(
            room_id=room_id_for(report.room_code),
            transcript_id=report.transcript_id,
            language=report.language,
            voice=report.voice,
            engine=report.engine,
            sample_rate=report.sample_rate,
            audio_ms=report.audio_ms,
            first_chunk_ms=report.first_chunk_ms,
            fallbacks=report.fallbacks,
            error_code=report.error_code,
            channel=LIVEKIT_CHANNEL,
        )
        self.service.writer.submit([event], _log_refusal)

    async def wait_lost(self) -> str:
        """Never returns: the actor system in this process cannot be lost."""
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Stop following every room; their update iterators end."""
        loop = asyncio.get_running_loop()
        followers, self._rooms = list(self._rooms.values()), {}
        for follower in followers:
            await loop.run_in_executor(None, follower.stop)

    def _follower(self, room_code: str) -> _RoomFollower:
        follower = self._rooms.get(room_code)
        if follower is None:
            raise ControlPlaneError("not_attached", f"the agent is not attached to {room_code}")
        return follower


class _RoomFollower:
    """Follows one room in the log on a reader thread and queues its news for the loop."""

    def __init__(self, store: EventStore, room_code: str, loop: asyncio.AbstractEventLoop) -> None:
        self.store = store
        self.room_code = room_code
        self.room_id = room_id_for(room_code)
        self.names: dict[str, str] = {}
        self._loop = loop
        self._queue: asyncio.Queue[RoomUpdate | None] = asyncio.Queue()
        self._languages: dict[str, str] = {}
        self._position = 0
        self._reader: LogReader | None = None

    def start(self) -> None:
        """Queue the room's members as they are now, then follow the log (blocking).

        The position is read before the room, so an event recorded in
        between is seen twice rather than never; applying a membership
        event twice changes nothing.
        """
        self._position = self.store.position()
        room = self.store.load_room(self.room_code)
        for member in room.members.values() if room is not None else ():
            self.names[member.user_id] = member.name
            if member.away_since is None:
                self._languages[member.user_id] = member.language
        self._publish(RoomMembers(self.room_code, dict(self._languages)))
        self._reader = LogReader(
            self.store,
            f"agent-follow-{self.room_code}",
            lambda: self._position,
            self._handle,
            FOLLOWED_TOPICS,
        )
        self._reader.start()

    def stop(self) -> None:
        """Stop following (blocking) and end the update iterator."""
        if self._reader is not None:
            self._reader.stop()
        self._publish(None)

    async def updates(self) -> AsyncIterator[RoomUpdate]:
        """Yield queued updates until :meth:`stop`."""
        while (update := await self._queue.get()) is not None:
            yield update

    def _handle(self, recorded: Recorded) -> None:
        """On the reader thread: turn one event of the log into an update, if it is ours."""
        self._position = recorded.position
        event = recorded.event
        if isinstance(event, TranslationProduced):
            if event.room_id == self.room_id:
                self._publish(
                    TranslationToSpeak(
                        self.room_code,
                        event.transcript_id,
                        event.speaker_id,
                        event.target_language,
                        event.translated_text,
                        event.solo,
                    )
                )
            return
        if event.originator_id != self.room_id:
            return
        if isinstance(event, Room.ParticipantJoined):
            self.names[event.user_id] = event.name
            self._languages[event.user_id] = event.language
        elif isinstance(event, Room.LanguageChanged):
            self._languages[event.user_id] = event.language
        elif isinstance(event, Room.ParticipantLeft):
            self._languages.pop(event.user_id, None)
        self._publish(RoomMembers(self.room_code, dict(self._languages)))

    def _publish(self, update: RoomUpdate | None) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, update)
        except RuntimeError:
            log.debug("agent loop closed; dropped an update of %s", self.room_code)


def _resolve(future: asyncio.Future[Outcome], outcome: Outcome) -> None:
    if not future.done():
        future.set_result(outcome)


def _log_refusal(result: Sequence[int] | BaseException) -> None:
    """A synthesis already recorded (a report sent again) is not recorded twice."""
    if isinstance(result, BaseException):
        log.info("agent speech synthesis not recorded: %s", result)
