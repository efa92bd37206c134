"""The recording routes of the HTTP API: turn a room's recording on or off, list and fetch it.

``PUT /api/rooms/{code}/recording`` ``{"enabled": bool}`` starts or stops
recording; ``GET /api/rooms/{code}/recording`` says whether the room records
and lists its clips (kind, speaker or voice, start, length, rate);
``GET /api/rooms/{code}/recording/audio?format=ogg|wav`` renders them on one
timeline, as ``voicemode replay ROOM --export-audio`` does. Only the room's
owner or an operator (:func:`actors.usecases.management.may_manage_room`), on a
server started with ``--record``; everything else is a use case of
:class:`~actors.usecases.recording.Recordings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from actors.recording.export import FORMATS
from actors.usecases import VoiceCore
from actors.usecases.recording import Recordings, RoomRecordingView
from adapters.shells.http_api import ApiError, bearer_user, json_response, read_json_object
from adapters.shells.http_openapi import ROOM_RECORDING_AUDIO_PATH, ROOM_RECORDING_PATH
from adapters.shells.http_web import answered, room_code
from events.recording import AudioRecorded


def clip_body(clip: AudioRecorded) -> dict[str, Any]:
    """One clip as the listing shows it."""
    return {
        "key": clip.key,
        "kind": clip.kind,
        "transcriptId": str(clip.transcript_id),
        "speakerId": clip.speaker_id,
        "language": clip.language,
        "voice": clip.voice,
        "engine": clip.engine,
        "startedAt": clip.started_at.isoformat().replace("+00:00", "Z"),
        "durationMs": clip.duration_ms,
        "sampleRate": clip.sample_rate,
    }


def view_body(view: RoomRecordingView) -> dict[str, Any]:
    """Whether the room records, and its clips by start time."""
    return {
        "roomName": view.room_code,
        "recording": view.recording,
        "clips": [clip_body(clip) for clip in view.clips],
    }


@dataclass
class RecordingHttpApi:
    """The recording routes' handlers."""

    core: VoiceCore
    secret: str

    def __post_init__(self) -> None:
        self.recordings = Recordings(self.core)

    async def put(self, request: web.Request) -> web.Response:
        """``PUT /api/rooms/{code}/recording``: start or stop recording the room."""
        identity = bearer_user(request, self.secret)
        code = room_code(request)
        body = await read_json_object(request)
        enabled = body.get("enabled")
        if not isinstance(enabled, bool):
            raise ApiError(400, "missing_field", 'send {"enabled": true or false}')
        outcome = answered(await self.recordings.set(code, identity, enabled=enabled))
        return json_response({"roomName": code, "recording": enabled, "position": outcome.position})

    async def get(self, request: web.Request) -> web.Response:
        """``GET /api/rooms/{code}/recording``: whether the room records, and its clips."""
        identity = bearer_user(request, self.secret)
        code = room_code(request)
        return json_response(view_body(answered(await self.recordings.view(code, identity))))

    async def audio(self, request: web.Request) -> web.Response:
        """``GET /api/rooms/{code}/recording/audio``: the clips mixed on one timeline."""
        identity = bearer_user(request, self.secret)
        code = room_code(request)
        extension = request.query.get("format", "ogg")
        if extension not in FORMATS:
            raise ApiError(
                400, "unsupported_format", f"format is one of {', '.join(sorted(FORMATS))}"
            )
        rendered = answered(await self.recordings.render(code, identity, extension))
        return web.Response(
            body=rendered,
            content_type=FORMATS[extension],
            headers={"Content-Disposition": f'attachment; filename="{code}.{extension}"'},
        )


def add_recording_routes(app: web.Application, core: VoiceCore, secret: str) -> None:
    """Serve the recording routes on ``app``."""
    handlers = RecordingHttpApi(core, secret)
    app.router.add_put(ROOM_RECORDING_PATH, handlers.put)
    app.router.add_get(ROOM_RECORDING_PATH, handlers.get)
    app.router.add_get(ROOM_RECORDING_AUDIO_PATH, handlers.audio)
