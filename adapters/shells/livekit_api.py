"""LiveKit, the media plane, seen from the control plane: tokens, rooms, webhooks.

Everything here goes through livekit-api, LiveKit's own server SDK: access
tokens are its ``AccessToken`` with ``VideoGrants``, rooms are created with
its ``LiveKitAPI`` (aiohttp, so calls run on the event loop without blocking
it), and webhooks are checked with its ``WebhookReceiver``, which verifies the
JWT in the ``Authorization`` header and that the token's ``sha256`` claim is
the hash of the body.

The API key and secret come only from the environment (``LIVEKIT_API_KEY``,
``LIVEKIT_API_SECRET``) with the server's URL (``LIVEKIT_URL``); the LiveKit
server is given the same pair in ``LIVEKIT_KEYS`` (see ``livekit.yaml``).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import secrets
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
import jwt
from google.protobuf.json_format import ParseError
from livekit import api

from actors.media import LiveKitWebhook, MediaUnavailableError

DEFAULT_TTL_S = 3600
MAX_TTL_S = 6 * 3600
MIN_TTL_S = 60
MIN_SECRET_CHARS = 32
AnswerT = TypeVar("AnswerT")
ROOM_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
"""Room names share the voicemode room-code alphabet, so a room code is a room name.

Anchored for the OpenAPI document (JSON Schema patterns are not); matched
with ``fullmatch``, since ``$`` alone lets a trailing newline through.
"""


class LiveKitConfigError(ValueError):
    """The LiveKit settings in the environment are incomplete or unsafe."""


class LiveKitUnavailableError(MediaUnavailableError):
    """The LiveKit server could not be reached or refused a server API call."""


class WebhookRejectedError(Exception):
    """A webhook that is not provably from our LiveKit server; ``code`` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class LiveKitSettings:
    """Where the LiveKit server is and the API key pair shared with it.

    ``url`` is what clients are told to connect to (``ws://`` or ``wss://``);
    livekit-api derives the server API's ``http(s)://`` address from it.
    """

    url: str
    api_key: str
    api_secret: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> LiveKitSettings | None:
        """Read ``LIVEKIT_URL``, ``LIVEKIT_API_KEY`` and ``LIVEKIT_API_SECRET``.

        Returns:
            None when none of the three is set: the service then runs without
            the media plane.

        Raises:
            LiveKitConfigError: only some are set, the URL is not a ws(s)/http(s)
                URL, or the secret is shorter than LiveKit's 32 characters.
        """
        names = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
        values = {name: environ.get(name, "").strip() for name in names}
        if not any(values.values()):
            return None
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise LiveKitConfigError(f"LiveKit is half configured: set {', '.join(missing)}")
        url = values["LIVEKIT_URL"]
        if not re.match(r"^(wss?|https?)://[^/\s]+", url):
            raise LiveKitConfigError(f"LIVEKIT_URL must be a ws:// or wss:// URL, not {url!r}")
        if len(values["LIVEKIT_API_SECRET"]) < MIN_SECRET_CHARS:
            raise LiveKitConfigError(
                f"LIVEKIT_API_SECRET must be at least {MIN_SECRET_CHARS} characters"
            )
        return cls(
            url=re.sub(r"^http", "ws", url),
            api_key=values["LIVEKIT_API_KEY"],
            api_secret=values["LIVEKIT_API_SECRET"],
        )


@dataclass(frozen=True)
class Permissions:
    """What a participant may do in a room: the only grants a user can be given.

    Anything else LiveKit can grant (room admin, creating or listing rooms,
    recording, hidden participants, agent registration) is for the server
    and its agents, never for a user's token.
    """

    can_publish: bool = True
    can_subscribe: bool = True
    can_publish_data: bool = True


@dataclass(frozen=True)
class ParticipantToken:
    """A signed LiveKit access token and the moment it stops working."""

    token: str
    expires_at: datetime.datetime


def mint_participant_token(
    settings: LiveKitSettings,
    room: str,
    identity: str,
    name: str,
    permissions: Permissions,
    ttl_s: int = DEFAULT_TTL_S,
    attributes: Mapping[str, str] | None = None,
) -> ParticipantToken:
    """Sign a token that joins ``room`` as ``identity`` with exactly ``permissions``.

    The video grant names the room, so the token joins that room and no
    other; every permission is written out (granted or not) rather than left
    to LiveKit's defaults, which grant publishing when the field is absent.
    ``attributes`` become the participant's LiveKit attributes (the agent
    reads the spoken ``language`` there).

    Raises:
        ValueError: the room name or TTL is out of bounds.
    """
    if not ROOM_NAME.fullmatch(room):
        raise ValueError("room names are 1-64 letters, digits, '.', '_' or '-'")
    if not MIN_TTL_S <= ttl_s <= MAX_TTL_S:
        raise ValueError(f"token lifetimes are {MIN_TTL_S}-{MAX_TTL_S} seconds")
    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=permissions.can_publish,
        can_subscribe=permissions.can_subscribe,
        can_publish_data=permissions.can_publish_data,
    )
    token = (
        api.AccessToken(settings.api_key, settings.api_secret)
        .with_identity(identity)
        .with_name(name)
        .with_grants(grants)
        .with_attributes(dict(attributes or {}))
        .with_ttl(datetime.timedelta(seconds=ttl_s))
        .to_jwt()
    )
    # Read the expiry back from the token itself so that what the client is
    # told is exactly what LiveKit will enforce.
    claims = jwt.decode(token, options={"verify_signature": False})
    expires_at = datetime.datetime.fromtimestamp(int(claims["exp"]), tz=datetime.UTC)
    return ParticipantToken(token, expires_at)


def new_room_name() -> str:
    """A fresh, unguessable room name (knowing it still grants nothing)."""
    return f"lk-{secrets.token_hex(8)}"


@dataclass(frozen=True)
class RoomConfig:
    """The options a user may set on a room they create."""

    max_participants: int = 0
    """0 is LiveKit's "no limit"."""
    empty_timeout_s: int = 0
    """Seconds an empty room lives on; 0 is LiveKit's default (5 minutes)."""
    metadata: str = ""


class LiveKitRooms:
    """Rooms, participants and tracks on the LiveKit server, through its server API.

    It is the :class:`~actors.media.RoomModerator` the core manages rooms with.

    Owns one ``LiveKitAPI`` client (an aiohttp session), so it must be made
    and closed on the event loop that uses it.
    """

    def __init__(self, settings: LiveKitSettings, timeout_s: float = 10.0) -> None:
        self._api = api.LiveKitAPI(
            settings.url,
            settings.api_key,
            settings.api_secret,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        )

    async def create(self, name: str, config: RoomConfig) -> api.Room:
        """Create the room (LiveKit returns the existing one if it is already there).

        Raises:
            LiveKitUnavailableError: the server is unreachable or refused the call.
        """
        request = api.CreateRoomRequest(
            name=name,
            max_participants=config.max_participants,
            empty_timeout=config.empty_timeout_s,
            metadata=config.metadata,
        )
        room = await _answer(self._api.room.create_room(request), f"create room {name}")
        if room is None:
            raise LiveKitUnavailableError(f"LiveKit did not create room {name}: not found")
        return room

    async def dispatch_agent(self, room: str, agent_name: str, metadata: Mapping[str, str]) -> str:
        """Ask LiveKit to send the agent registered as ``agent_name`` into ``room``.

        LiveKit answers at once, before it has offered the job to any worker:
        whether a worker took it shows later, in :meth:`dispatch_jobs`.

        Returns:
            The dispatch's id.

        Raises:
            LiveKitUnavailableError: the server is unreachable or refused the call.
        """
        request = api.CreateAgentDispatchRequest(
            agent_name=agent_name, room=room, metadata=json.dumps(dict(metadata))
        )
        call = self._api.agent_dispatch.create_dispatch(request)
        dispatch = await _answer(call, f"dispatch to {room}")
        if dispatch is None:
            raise LiveKitUnavailableError(f"LiveKit did not dispatch to {room}: no such room")
        return dispatch.id

    async def dispatch_jobs(self, room: str, dispatch_id: str) -> int | None:
        """How many jobs LiveKit gave workers for a dispatch so far; None if it is gone.

        A job is listed as soon as a worker accepted it. A dispatch no worker
        took (all full, or none registered) stays without one: LiveKit
        reports that refusal nowhere else (its log aside).

        Raises:
            LiveKitUnavailableError: the server is unreachable or refused the call.
        """
        call = self._api.agent_dispatch.get_dispatch(dispatch_id, room)
        dispatch = await _answer(call, f"list the dispatches of {room}")
        return None if dispatch is None else len(dispatch.state.jobs)

    async def has_people(self, room: str) -> bool:
        """Whether anyone but agents is connected to ``room`` (False if there is no such room).

        Raises:
            LiveKitUnavailableError: the server is unreachable or refused the call.
        """
        request = api.ListParticipantsRequest(room=room)
        answer = await _answer(self._api.room.list_participants(request), f"list {room}")
        agent = api.ParticipantInfo.Kind.AGENT
        return answer is not None and any(p.kind != agent for p in answer.participants)

    async def remove_participant(self, room: str, identity: str) -> bool:
        """Disconnect ``identity`` from ``room``; False if they were not there.

        Raises:
            LiveKitUnavailableError: the server is unreachable or refused the call.
        """
        request = api.RoomParticipantIdentity(room=room, identity=identity)
        removed = await _answer(self._api.room.remove_participant(request), f"remove {identity}")
        return removed is not None

    async def delete_room(self, room: str) -> None:
        """Close ``room``, disconnecting everyone in it; a room LiveKit does not know is fine.

        Raises:
            LiveKitUnavailableError: the server is unreachable or refused the call.
        """
        await _answer(
            self._api.room.delete_room(api.DeleteRoomRequest(room=room)), f"delete {room}"
        )

    async def mute_microphone(self, room: str, identity: str, muted: bool) -> tuple[str, ...]:
        """Mute or unmute every microphone track ``identity`` publishes in ``room``.

        Unmuting needs ``room.enable_remote_unmute`` in LiveKit's configuration
        (``livekit.yaml`` sets it).

        Returns:
            The ids of the tracks changed; empty if they publish none (or are not there).

        Raises:
            LiveKitUnavailableError: the server is unreachable or refused the call.
        """
        who = api.RoomParticipantIdentity(room=room, identity=identity)
        participant = await _answer(self._api.room.get_participant(who), f"find {identity}")
        if participant is None:
            return ()
        sids = tuple(
            track.sid
            for track in participant.tracks
            if track.type == api.TrackType.AUDIO and track.source == api.TrackSource.MICROPHONE
        )
        for sid in sids:
            request = api.MuteRoomTrackRequest(
                room=room, identity=identity, track_sid=sid, muted=muted
            )
            await _answer(self._api.room.mute_published_track(request), f"mute {sid}")
        return sids

    async def aclose(self) -> None:
        """Close the HTTP session."""
        await self._api.aclose()


async def _answer(call: Awaitable[AnswerT], what: str) -> AnswerT | None:
    """LiveKit's answer to a server API call; None if what it names does not exist.

    Raises:
        LiveKitUnavailableError: the server is unreachable or refused the call.
    """
    try:
        return await call
    except api.TwirpError as error:
        if error.code == api.TwirpErrorCode.NOT_FOUND:
            return None
        raise LiveKitUnavailableError(f"LiveKit did not {what}: {error}") from error
    except (aiohttp.ClientError, TimeoutError) as error:
        raise LiveKitUnavailableError(f"LiveKit did not {what}: {error}") from error


def webhook_from_event(event: api.WebhookEvent) -> LiveKitWebhook:
    """Keep what a replay needs from LiveKit's protobuf message."""
    return LiveKitWebhook(
        webhook_id=event.id,
        event=event.event,
        room_name=event.room.name,
        room_sid=event.room.sid,
        participant_identity=(
            event.participant.identity if event.HasField("participant") else None
        ),
        participant_sid=event.participant.sid if event.HasField("participant") else None,
        track_sid=event.track.sid if event.HasField("track") else None,
        created_at=event.created_at,
    )


class WebhookVerifier:
    """Accepts a webhook only if our LiveKit server signed exactly this body."""

    def __init__(self, settings: LiveKitSettings) -> None:
        self._receiver = api.WebhookReceiver(
            api.TokenVerifier(settings.api_key, settings.api_secret)
        )

    def verify(self, body: str, authorization: str | None) -> LiveKitWebhook:
        """Check the signature and the body hash, then decode the event.

        LiveKit sends the bare JWT in ``Authorization``; a ``Bearer`` prefix is
        tolerated for senders that add one.

        Raises:
            WebhookRejectedError: ``missing_signature``, ``invalid_signature``
                (forged, expired, other key, or a body that is not the one
                signed), or ``malformed_json`` (signed but not a WebhookEvent).
        """
        if not authorization:
            raise WebhookRejectedError("missing_signature", "the Authorization header is missing")
        token = authorization.removeprefix("Bearer ").strip()
        try:
            event = self._receiver.receive(body, token)
        except ParseError as error:
            raise WebhookRejectedError(
                "malformed_json", f"the webhook is not a LiveKit event: {error}"
            ) from error
        except Exception as error:
            # WebhookReceiver raises PyJWT errors for bad tokens and a bare
            # Exception for a body whose hash does not match the signed one.
            raise WebhookRejectedError(
                "invalid_signature", f"the webhook signature is not valid: {error}"
            ) from error
        return webhook_from_event(event)
