"""The HTTP routes that list and manage rooms: ``/api/rooms...``.

Each handler authenticates the bearer token, reads the path and body, and
calls :class:`~actors.usecases.management.RoomManagement`, which decides who
may do what (the room's owner, or an operator's ``role: admin`` token) and
records it; a refusal becomes the HTTP error of the same code
(:data:`adapters.errors.HTTP_ERRORS`). The WebSocket offers the same actions
as frames (``close-room``, ``remove-participant``, ``mute-participant``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from actors.usecases.management import DEFAULT_BAR, RoomView
from adapters.shells.frames import mute_changed
from adapters.shells.http_api import ApiError, json_response, read_json_object
from adapters.shells.http_openapi import (
    MANAGED_ROOM_PATH,
    MANAGED_ROOMS_PATH,
    PARTICIPANT_MUTE_PATH,
    PARTICIPANT_PATH,
)
from adapters.shells.http_web import answered, query_int, room_code
from adapters.shells.protocol import MAX_BAR_S, USER_ID

if TYPE_CHECKING:
    from adapters.shells.http_api import LiveKitHttpApi


def rfc3339(moment: datetime | None) -> str | None:
    """A time as RFC 3339 UTC with a ``Z`` (None stays None)."""
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def room_body(room: RoomView) -> dict[str, Any]:
    """A room as the listing routes answer it."""
    return {
        "code": room.code,
        "owner": room.owner,
        "createdAt": rfc3339(room.created_at),
        "closedBy": room.closed_by,
        "agentAttached": room.agent_attached,
        "participants": [
            {
                "userId": p.user_id,
                "name": p.name,
                "language": p.language,
                "mode": p.mode,
                "voiceSession": None
                if p.voice is None
                else {
                    "language": p.voice.language,
                    "soloTarget": p.voice.solo_target,
                    "livekitRoom": p.voice.livekit_room,
                },
                "away": p.away_since is not None,
                "awaySince": rfc3339(p.away_since),
            }
            for p in room.participants
        ],
    }


def participant_id(request: web.Request) -> str:
    """The user id of the path; one no user can have is an unknown participant."""
    user_id = request.match_info["userId"]
    if not USER_ID.fullmatch(user_id):
        raise ApiError(404, "unknown_participant", f"there is no participant {user_id[:128]!r}")
    return user_id


class RoomManagementApi:
    """The handlers of ``/api/rooms...``, on the LiveKit HTTP API's core and authentication."""

    def __init__(self, http: LiveKitHttpApi) -> None:
        self.http = http

    async def list_rooms(self, request: web.Request) -> web.Response:
        """``GET /api/rooms``: the open rooms the caller may see."""
        caller = self.http.authenticate(request)
        rooms = await self.http.core.management.rooms(caller)
        return json_response({"rooms": [room_body(room) for room in rooms]})

    async def get_room(self, request: web.Request) -> web.Response:
        """``GET /api/rooms/{code}``: one room, for its owner, its members and operators."""
        caller = self.http.authenticate(request)
        room = answered(await self.http.core.management.room(room_code(request), caller))
        return json_response(room_body(room))

    async def close_room(self, request: web.Request) -> web.Response:
        """``DELETE /api/rooms/{code}``: close the room (LiveKit's too), for its owner."""
        caller = self.http.authenticate(request)
        code = room_code(request)
        closed = answered(await self.http.core.management.close(code, caller))
        return json_response(
            {"roomId": code, "closedBy": caller.user_id, "position": closed.position}
        )

    async def remove_participant(self, request: web.Request) -> web.Response:
        """``DELETE /api/rooms/{code}/participants/{userId}?barSeconds``: take them out."""
        caller = self.http.authenticate(request)
        code, user_id = room_code(request), participant_id(request)
        bar_s = query_int(request, "barSeconds", 0, MAX_BAR_S)
        bar = DEFAULT_BAR if bar_s is None else timedelta(seconds=bar_s)
        removed = answered(await self.http.core.management.remove(code, user_id, caller, bar))
        return json_response(
            {
                "roomId": code,
                "userId": user_id,
                "removedBy": caller.user_id,
                "barSeconds": int(bar.total_seconds()),
                "position": removed.position,
            }
        )

    async def mute_participant(self, request: web.Request) -> web.Response:
        """``POST /api/rooms/{code}/participants/{userId}/mute {muted}``: (un)mute their mic."""
        caller = self.http.authenticate(request)
        code, user_id = room_code(request), participant_id(request)
        muted = (await read_json_object(request)).get("muted")
        if not isinstance(muted, bool):
            raise ApiError(400, "invalid_field", "muted must be a boolean")
        management = self.http.core.management
        changed = answered(await management.mute(code, user_id, caller, muted=muted))
        return json_response(mute_changed(changed, None)["data"])


def add_room_management(app: web.Application, http: LiveKitHttpApi) -> None:
    """Register the room-management routes on the HTTP API's app."""
    api = RoomManagementApi(http)
    app.router.add_get(MANAGED_ROOMS_PATH, api.list_rooms)
    app.router.add_get(MANAGED_ROOM_PATH, api.get_room)
    app.router.add_delete(MANAGED_ROOM_PATH, api.close_room)
    app.router.add_delete(PARTICIPANT_PATH, api.remove_participant)
    app.router.add_post(PARTICIPANT_MUTE_PATH, api.mute_participant)
