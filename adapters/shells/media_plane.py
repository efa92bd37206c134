"""The LiveKit side of voice sessions: rooms, participant tokens, and an agent in each room.

``start-voice-session`` needs three things from LiveKit: the room (created
if it is not there, under the voicemode room's code, so LiveKit's webhooks
land in that room's timeline), a token for the user, and voicemode's agent
in the room. The agent is dispatched explicitly, by agent name, through
LiveKit's agent dispatch API.

An agent can go away: its worker restarts, crashes, or loses its channel to
voicemode. :class:`LiveKitMediaPlane` therefore keeps the rooms with an
active voice session (:class:`~actors.projections.voice_rooms.ActiveVoiceRooms`, read
from the log) matched against the rooms an agent is attached to right now
(:class:`~adapters.shells.agent_channel.AttachedAgents`), and dispatches an agent
to every room that lacks one: when a voice session starts, when an agent
detaches, when a worker announces it is ready, and every ``retry_s``. A
dispatch gets ``dispatch_grace_s`` to bring its agent before it is retried.
Except right after a session started, a room gets an agent only while
someone is connected to it: sessions left behind by a crash of ``serve``
(nobody recorded their end) do not keep empty LiveKit rooms alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from actors.agent_messages import DEFAULT_AGENT_NAME
from actors.projections.voice_rooms import ActiveVoiceRooms
from adapters.shells.agent_channel import AttachedAgents
from adapters.shells.livekit_api import (
    DEFAULT_TTL_S,
    LiveKitRooms,
    LiveKitSettings,
    LiveKitUnavailableError,
    ParticipantToken,
    Permissions,
    RoomConfig,
    mint_participant_token,
)

log = logging.getLogger(__name__)

LANGUAGE_ATTRIBUTE = "language"
"""The participant attribute the agent reads a speaker's language from."""


class LiveKitMediaPlane:
    """Rooms, tokens and agents on one LiveKit server, for the serve loop.

    Made and used on the event loop that serves the WebSocket gateway
    (its LiveKit API client is an aiohttp session).
    """

    def __init__(
        self,
        settings: LiveKitSettings,
        voice_rooms: Callable[[Callable[[], None]], ActiveVoiceRooms],
        agents: AttachedAgents,
        *,
        agent_name: str = DEFAULT_AGENT_NAME,
        retry_s: float = 5.0,
        dispatch_grace_s: float = 20.0,
        timeout_s: float = 10.0,
    ) -> None:
        self.settings = settings
        self.agents = agents
        self.agent_name = agent_name
        self.retry_s = retry_s
        self.dispatch_grace_s = dispatch_grace_s
        self._loop = asyncio.get_running_loop()
        self._rooms = LiveKitRooms(settings, timeout_s)
        self._dispatched: dict[str, float] = {}
        """LiveKit room name to when an agent was last dispatched there (monotonic)."""
        self._starting: set[str] = set()
        """Rooms whose voice session just started: their user has not connected yet."""
        self._wake = asyncio.Event()
        self._voice_rooms = voice_rooms(self._voice_changed)
        self._reconciling: asyncio.Task[None] | None = None
        agents.subscribe(self._agents_changed)

    @property
    def url(self) -> str:
        """Where users' LiveKit clients connect."""
        return self.settings.url

    async def start(self) -> None:
        """Read which rooms need an agent and start keeping them served."""
        await self._loop.run_in_executor(None, self._voice_rooms.start)
        self._reconciling = asyncio.create_task(self._reconcile_forever(), name="agent-dispatch")

    async def aclose(self) -> None:
        """Stop dispatching and close the LiveKit API clients."""
        if self._reconciling is not None:
            self._reconciling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconciling
        await self._loop.run_in_executor(None, self._voice_rooms.stop)
        await self._rooms.aclose()

    async def prepare(self, room: str) -> None:
        """Make sure the LiveKit room exists, before anything is recorded.

        Raises:
            LiveKitUnavailableError: the server is unreachable or refused.
        """
        await self._rooms.create(room, RoomConfig())

    def token(self, room: str, user_id: str, name: str, language: str) -> ParticipantToken:
        """A token to talk and listen in ``room``, telling the agent the language spoken."""
        return mint_participant_token(
            self.settings,
            room,
            user_id,
            name,
            Permissions(),
            DEFAULT_TTL_S,
            attributes={LANGUAGE_ATTRIBUTE: language},
        )

    async def remove(self, room: str, user_id: str) -> None:
        """Disconnect a user's LiveKit client after their voice session ended (best effort)."""
        try:
            await self._rooms.remove_participant(room, user_id)
        except LiveKitUnavailableError as error:
            log.warning("%s", error)

    def voice_started(self, room: str) -> None:
        """A voice session started in ``room``: see that it has an agent, now."""
        self._starting.add(room)
        self._wake.set()

    def needing_agent(self) -> list[str]:
        """Rooms with an active voice session, no attached agent, and no dispatch under way."""
        now = time.monotonic()
        attached = self.agents.rooms()
        return sorted(
            room
            for room in self._voice_rooms.rooms()
            if room not in attached
            and now - self._dispatched.get(room, -self.dispatch_grace_s) >= self.dispatch_grace_s
        )

    async def dispatch(self, room: str) -> None:
        """Ask LiveKit for a voicemode agent in ``room``.

        Raises:
            LiveKitUnavailableError: the server is unreachable or refused.
        """
        self._dispatched[room] = time.monotonic()
        await self._rooms.create(room, RoomConfig())
        await self._rooms.dispatch_agent(room, self.agent_name, {"roomCode": room})
        log.info("dispatched agent %s to %s", self.agent_name, room)

    async def _reconcile_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.retry_s)
            self._wake.clear()
            for room in self.needing_agent():
                try:
                    if room in self._starting or await self._rooms.has_people(room):
                        await self.dispatch(room)
                except LiveKitUnavailableError as error:
                    log.warning("%s", error)
                self._starting.discard(room)
            self._starting -= self.agents.rooms()

    def _voice_changed(self) -> None:
        """From any thread: a voice session started or ended somewhere."""
        with contextlib.suppress(RuntimeError):  # the loop closed: serve is stopping
            self._loop.call_soon_threadsafe(self._wake.set)

    def _agents_changed(self, reason: str) -> None:
        """On the loop: an agent detached or a worker came up; a fresh worker gets rooms at once."""
        if reason == "worker-ready":
            attached = self.agents.rooms()
            for room in list(self._dispatched):
                if room not in attached:
                    del self._dispatched[room]
        self._wake.set()
