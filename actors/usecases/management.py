"""Managing rooms: who may, what they see, and closing, removing and muting.

The room's owner (who opened it: created it over HTTP, or joined it first)
and operators (a token with ``role: admin``) may manage a room; everyone
else is refused ``not_room_owner``. Rooms recorded before rooms had owners
are managed by operators only. One rule decides it, :func:`may_manage_room`,
for the HTTP API, the WebSocket and the recording routes alike.

Every action asks LiveKit first and records only once LiveKit did it: when
LiveKit is unreachable the action is refused ``livekit_unavailable`` and
nothing is recorded. Then the room records it (``RoomClosed``,
``ParticipantRemoved``, ``TrackMuteChanged``, with who did it), and its
WebSocket clients are told by the frames of those events, after which the
participants put out of the room leave it (see
:meth:`~actors.usecases.Participant.join`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from actors.media import LiveKitWebhook, MediaUnavailableError, RoomModerator
from actors.messages import (
    Accepted,
    CloseRoom,
    OpenRoom,
    RecordTrackMute,
    Refused,
    RemoveParticipant,
    Reply,
    RoomCommand,
)
from actors.service import VoiceService
from actors.usecases.asking import ask_room
from events.domain import Member, Room, VoiceSession

log = logging.getLogger(__name__)

ADMIN_ROLE = "admin"
PARTICIPANT_JOINED = "participant_joined"
DEFAULT_BAR = timedelta(minutes=5)
"""How long a removed participant may not rejoin unless the remover says otherwise."""
NO_LIVEKIT = Refused("livekit_not_configured", "this server runs without LiveKit")


class Caller(Protocol):
    """Who asks (a verified token's identity): their id and role (``user`` or ``admin``)."""

    @property
    def user_id(self) -> str:
        """Their stable id."""

    @property
    def role(self) -> str:
        """``admin`` for an operator."""


def may_manage_room(room: Room | None, caller: Caller) -> bool:
    """Whether ``caller`` may manage the room: an operator, or the room's owner."""
    if caller.role == ADMIN_ROLE:
        return True
    return room is not None and room.owner is not None and room.owner == caller.user_id


def may_see_room(room: Room, caller: Caller) -> bool:
    """Whether ``caller`` may see the room: whoever may manage it, and its members."""
    return may_manage_room(room, caller) or caller.user_id in room.members


def mode_of(member: Member) -> str:
    """``assistant``, ``solo`` or ``group``: how the member's speech is handled now."""
    if member.assistant:
        return "assistant"
    return "solo" if member.solo else "group"


@dataclass(frozen=True)
class ParticipantView:
    """A member as a room's listing shows them."""

    user_id: str
    name: str
    language: str
    mode: str
    voice: VoiceSession | None
    away_since: datetime | None


@dataclass(frozen=True)
class RoomView:
    """A room as its listing shows it."""

    code: str
    owner: str | None
    created_at: datetime
    closed_by: str | None
    agent_attached: bool
    participants: tuple[ParticipantView, ...]


@dataclass(frozen=True)
class MuteChanged:
    """Tracks of a member were muted or unmuted; ``position`` is the last record's."""

    room_code: str
    user_id: str
    track_sids: tuple[str, ...]
    muted: bool
    position: int


def room_view(room: Room, agent_attached: bool) -> RoomView:
    """What a listing shows of a room."""
    return RoomView(
        room.code,
        room.owner,
        room.created_on,
        room.closed_by,
        agent_attached,
        tuple(
            ParticipantView(
                member.user_id,
                member.name,
                member.language,
                mode_of(member),
                member.voice,
                member.away_since,
            )
            for member in sorted(room.members.values(), key=lambda m: m.user_id)
        ),
    )


def media_rooms(room: Room) -> list[str]:
    """The LiveKit rooms of a room: its own name and its members' voice sessions'."""
    voice = {m.voice.livekit_room for m in room.members.values() if m.voice is not None}
    return sorted({room.code} | voice)


class RoomManagement:
    """The room-management use cases, for every shell (made and called on the serve loop).

    Args:
        service: the running actor system.
        moderator: LiveKit's rooms, or None when the server runs without LiveKit
            (closing and removing then only record; muting is refused).
        agent_rooms: the rooms an agent is attached to right now.
        command_timeout_s: how long a room may take to answer a command.
    """

    def __init__(
        self,
        service: VoiceService,
        moderator: RoomModerator | None,
        agent_rooms: Callable[[], Collection[str]],
        command_timeout_s: float,
    ) -> None:
        self.service = service
        self.moderator = moderator
        self.agent_rooms = agent_rooms
        self.command_timeout_s = command_timeout_s

    async def open(self, room_code: str, owner: str) -> Accepted | Refused:
        """Record a room created over HTTP, and its owner, so both outlive a restart."""
        return await self._ask(room_code, lambda reply: OpenRoom(owner, reply))

    async def rooms(self, caller: Caller) -> list[RoomView]:
        """The open rooms ``caller`` may see: all for an operator, else owned or joined."""
        listed = self.service.open_rooms.listed()
        if caller.role != ADMIN_ROLE:
            listed = [r for r in listed if caller.user_id in r.members or r.owner == caller.user_id]
        codes = [room.code for room in listed]
        load = self.service.store.load_room
        loaded = await asyncio.get_running_loop().run_in_executor(
            None, lambda: [load(code) for code in codes]
        )
        attached = self.agent_rooms()
        return [room_view(room, room.code in attached) for room in loaded if room is not None]

    async def room(self, room_code: str, caller: Caller) -> RoomView | Refused:
        """One room, open or closed, for whoever may see it."""
        room = await self._load(room_code)
        if room is None:
            return _unknown(room_code)
        if not may_see_room(room, caller):
            return Refused("not_a_member", f"{caller.user_id} may not see room {room_code}")
        return room_view(room, room.code in self.agent_rooms())

    async def close(self, room_code: str, caller: Caller) -> Accepted | Refused:
        """Close the LiveKit rooms, record the closing (which ends the voice sessions), close again.

        A voice session started while the room was closing may have made its
        LiveKit room anew after the first delete; the second finds it. A join
        after that is undone by :meth:`keep_out`.
        """
        room = await self._managed(room_code, caller)
        if isinstance(room, Refused):
            return room
        try:
            if self.moderator is not None:
                for name in media_rooms(room):
                    await self.moderator.delete_room(name)
        except MediaUnavailableError as error:
            return Refused("livekit_unavailable", str(error))
        by = caller.user_id
        closed = await self._ask(room_code, lambda reply: CloseRoom(by, reply))
        if isinstance(closed, Accepted) and self.moderator is not None:
            await self._delete_again(media_rooms(room))
        return closed

    async def _delete_again(self, names: list[str]) -> None:
        """Delete the LiveKit rooms once more: a voice session started during the close made one."""
        assert self.moderator is not None
        try:
            for name in names:
                await self.moderator.delete_room(name)
        except MediaUnavailableError as error:
            log.warning("closed rooms %s not deleted again: %s", names, error)

    async def remove(
        self, room_code: str, user_id: str, caller: Caller, bar: timedelta = DEFAULT_BAR
    ) -> Accepted | Refused:
        """Disconnect a member from LiveKit, then record their removal and bar."""
        room = await self._member_of(room_code, user_id, caller)
        if isinstance(room, Refused):
            return room
        try:
            if self.moderator is not None:
                for name in media_rooms(room):
                    await self.moderator.remove_participant(name, user_id)
        except MediaUnavailableError as error:
            return Refused("livekit_unavailable", str(error))
        until = Room.Event.create_timestamp() + bar if bar else None
        by = caller.user_id
        return await self._ask(
            room_code, lambda reply: RemoveParticipant(user_id, by, until, reply)
        )

    async def mute(
        self, room_code: str, user_id: str, caller: Caller, *, muted: bool
    ) -> MuteChanged | Refused:
        """Mute or unmute a member's microphone on LiveKit, then record it for each track."""
        if self.moderator is None:
            return NO_LIVEKIT
        room = await self._member_of(room_code, user_id, caller)
        if isinstance(room, Refused):
            return room
        member = room.members[user_id]
        media_room = member.voice.livekit_room if member.voice is not None else room_code
        try:
            sids = await self.moderator.mute_microphone(media_room, user_id, muted)
        except MediaUnavailableError as error:
            return Refused("livekit_unavailable", str(error))
        if not sids:
            return Refused("track_not_found", f"{user_id} publishes no microphone in {media_room}")
        by = caller.user_id
        position = 0
        for sid in sids:
            outcome = await self._ask(room_code, partial(RecordTrackMute, user_id, by, sid, muted))
            if isinstance(outcome, Refused):
                return outcome
            position = outcome.position
        return MuteChanged(room_code, user_id, sids, muted, position)

    async def keep_out(self, hook: LiveKitWebhook) -> None:
        """Undo a LiveKit join the room does not allow: into a closed room, or while barred.

        LiveKit tokens outlive a removal or a closing (an hour for a voice
        session), and LiveKit re-creates a deleted room when someone joins
        it, so a token handed out before could bring its holder back. LiveKit
        tells us of every join (``participant_joined``); this takes them out
        again: a closed room is deleted anew, a barred participant removed.
        """
        identity = hook.participant_identity
        if hook.event != PARTICIPANT_JOINED or identity is None or self.moderator is None:
            return
        room = await self._load(hook.room_name)
        if room is None:
            return
        try:
            if room.closed:
                await self.moderator.delete_room(hook.room_name)
            elif room.barred_until(identity, Room.Event.create_timestamp()) is not None:
                await self.moderator.remove_participant(hook.room_name, identity)
        except MediaUnavailableError as error:
            log.warning("could not keep %s out of %s: %s", identity, hook.room_name, error)

    async def _managed(self, room_code: str, caller: Caller) -> Room | Refused:
        """The open room, if ``caller`` may manage it."""
        room = await self._load(room_code)
        if room is None:
            return _unknown(room_code)
        if not may_manage_room(room, caller):
            return Refused(
                "not_room_owner", f"only its owner or an operator may manage room {room_code}"
            )
        if room.closed:
            return Refused("room_closed", f"room {room_code} was closed by {room.closed_by}")
        return room

    async def _member_of(self, room_code: str, user_id: str, caller: Caller) -> Room | Refused:
        """The open room managed by ``caller``, if ``user_id`` is a member of it."""
        room = await self._managed(room_code, caller)
        if not isinstance(room, Refused) and user_id not in room.members:
            return Refused("unknown_participant", f"{user_id} is not in room {room_code}")
        return room

    async def _load(self, room_code: str) -> Room | None:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.service.store.load_room, room_code)

    async def _ask(
        self, room_code: str, make: Callable[[Reply], RoomCommand]
    ) -> Accepted | Refused:
        return await ask_room(self.service, room_code, make, self.command_timeout_s, off_loop=True)


def _unknown(room_code: str) -> Refused:
    return Refused("unknown_room", f"there is no room {room_code}")
