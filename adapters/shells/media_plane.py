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
detaches, when a worker announces it is ready, and every ``retry_s``.
Except right after a session started, a room gets an agent only while
someone is connected to it: sessions left behind by a crash of ``serve``
(nobody recorded their end) do not keep empty LiveKit rooms alive.

LiveKit accepts a dispatch at once and only then offers its job to a
worker, picked at random weighted by spare capacity; when every worker is
full (or none is registered) it drops the job and says so only in its own
log. The dispatch's job list (``ListDispatch``) is the one place the outcome
shows: a job appears there as soon as a worker took it, and LiveKit gives up
offering it after 3 s. So each dispatch is followed for ``refusal_s``: a job
means the agent is on its way and gets ``dispatch_grace_s`` to attach; no
job means the dispatch was refused and it is sent again after a short
backoff (``backoff_s`` doubling up to ``backoff_max_s``), not after the
whole grace.

The room's WebSocket clients are told whether an agent listens to it
(``announce``): when its agent attaches or detaches, and when a voice
session starts there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
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
REFUSAL_S = 3.5
"""LiveKit offers a dispatch's job for 3 s at most (its internal JobRequest call's timeout)."""

Announce = Callable[[str, bool], None]
"""Tells a room's WebSocket clients whether an agent listens to it (room code, listening)."""


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
        refusal_s: float = REFUSAL_S,
        poll_s: float = 0.25,
        backoff_s: float = 0.5,
        backoff_max_s: float = 4.0,
        announce: Announce | None = None,
    ) -> None:
        self.settings = settings
        self.agents = agents
        self.agent_name = agent_name
        self.retry_s = retry_s
        self.dispatch_grace_s = dispatch_grace_s
        self.refusal_s = refusal_s
        self.poll_s = poll_s
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self._announce = announce or (lambda _room, _listening: None)
        self._loop = asyncio.get_running_loop()
        self._rooms = LiveKitRooms(settings, timeout_s)
        self._waiting: dict[str, float] = {}
        """LiveKit room name to when its last dispatch stops being waited for (monotonic)."""
        self._refusals: dict[str, int] = {}
        """Rooms whose last dispatches LiveKit refused, and how many in a row."""
        self._following: dict[str, asyncio.Task[None]] = {}
        """The task following each room's last dispatch until it is taken or refused."""
        self._starting: set[str] = set()
        """Rooms whose voice session just started: their user may not have connected yet."""
        self._wake = asyncio.Event()
        self._voice_rooms = voice_rooms(self._voice_changed)
        self._reconciling: asyncio.Task[None] | None = None
        agents.subscribe(self._agents_changed)
        agents.watch(self._attachment_changed)

    @property
    def url(self) -> str:
        """Where users' LiveKit clients connect."""
        return self.settings.url

    @property
    def moderator(self) -> LiveKitRooms:
        """LiveKit's rooms, participants and tracks, for managing rooms."""
        return self._rooms

    async def start(self) -> None:
        """Read which rooms need an agent and start keeping them served."""
        await self._loop.run_in_executor(None, self._voice_rooms.start)
        self._reconciling = asyncio.create_task(self._reconcile_forever(), name="agent-dispatch")

    async def aclose(self) -> None:
        """Stop dispatching and close the LiveKit API clients."""
        tasks = [*self._following.values(), *filter(None, [self._reconciling])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
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
        """A voice session started in ``room``: see that it has an agent, now.

        The room hears at once whether an agent listens already.
        """
        self._starting.add(room)
        self._announce(room, room in self.agents.rooms())
        self._wake.set()

    def needing_agent(self) -> list[str]:
        """Rooms with an active voice session, no attached agent, and no dispatch under way."""
        now = time.monotonic()
        attached = self.agents.rooms()
        return sorted(
            room
            for room in self._voice_rooms.rooms()
            if room not in attached and now >= self._waiting.get(room, -math.inf)
        )

    async def dispatch(self, room: str) -> None:
        """Ask LiveKit for a voicemode agent in ``room``, and follow what becomes of it.

        Raises:
            LiveKitUnavailableError: the server is unreachable or refused.
        """
        self._waiting[room] = time.monotonic() + self.dispatch_grace_s
        await self._rooms.create(room, RoomConfig())
        dispatch_id = await self._rooms.dispatch_agent(room, self.agent_name, {"roomCode": room})
        log.info("dispatched agent %s to %s (%s)", self.agent_name, room, dispatch_id)
        self._stop_following(room)
        self._following[room] = asyncio.create_task(
            self._follow(room, dispatch_id), name=f"follow-dispatch-{room}"
        )

    async def _follow(self, room: str, dispatch_id: str) -> None:
        """Wait for a worker to take the dispatch; if none does, dispatch again soon."""
        try:
            taken = await self._taken(room, dispatch_id)
        except LiveKitUnavailableError as error:
            log.warning("%s; the dispatch to %s gets its grace", error, room)
            taken = True
        finally:
            if self._following.get(room) is asyncio.current_task():
                del self._following[room]
        if taken:
            self._starting.discard(room)
            self._refusals.pop(room, None)
            return
        refusals = self._refusals.get(room, 0)
        self._refusals[room] = refusals + 1
        backoff = min(self.backoff_s * 2**refusals, self.backoff_max_s)
        self._waiting[room] = time.monotonic() + backoff
        log.warning(
            "no agent worker took the dispatch to %s (every worker full, or none registered);"
            " dispatching again in %.1f s",
            room,
            backoff,
        )
        self._loop.call_later(backoff, self._wake.set)

    async def _taken(self, room: str, dispatch_id: str) -> bool:
        """Whether a worker took the dispatch (or its room got an agent) within ``refusal_s``.

        A dispatch or room that LiveKit no longer knows counts as taken: it
        gets its grace, as before following existed.

        Raises:
            LiveKitUnavailableError: the server is unreachable or refused.
        """
        deadline = self._loop.time() + self.refusal_s
        while self._loop.time() < deadline:
            await asyncio.sleep(self.poll_s)
            if room in self.agents.rooms():
                return True
            jobs = await self._rooms.dispatch_jobs(room, dispatch_id)
            if jobs is None or jobs > 0:
                return True
        return False

    def _stop_following(self, room: str) -> None:
        following = self._following.pop(room, None)
        if following is not None:
            following.cancel()

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
            self._starting -= self.agents.rooms()

    def _voice_changed(self) -> None:
        """From any thread: a voice session started or ended somewhere."""
        with contextlib.suppress(RuntimeError):  # the loop closed: serve is stopping
            self._loop.call_soon_threadsafe(self._wake.set)

    def _agents_changed(self, reason: str) -> None:
        """On the loop: an agent detached or a worker came up; a fresh worker gets rooms at once."""
        if reason == "worker-ready":
            attached = self.agents.rooms()
            for room in list(self._waiting):
                if room not in attached:
                    del self._waiting[room]
                    self._refusals.pop(room, None)
        self._wake.set()

    def _attachment_changed(self, room: str, attached: bool) -> None:
        """On the loop: a room's agent attached (its dispatch is over) or detached."""
        if attached:
            self._waiting.pop(room, None)
            self._refusals.pop(room, None)
            self._starting.discard(room)
            self._stop_following(room)
        self._announce(room, attached)
