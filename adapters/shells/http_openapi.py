"""The HTTP API's contract: its routes, the limits it enforces, and their OpenAPI document.

:mod:`adapters.shells.http_api` serves the routes and enforces the limits; this
module holds what both it and ``GET /openapi.json`` state, so the document
cannot drift from what is enforced. The document is plain data built from
those values and from :data:`adapters.errors.HTTP_ERRORS`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from adapters.errors import HTTP_ERRORS
from adapters.shells.livekit_api import DEFAULT_TTL_S, MAX_TTL_S, MIN_TTL_S, ROOM_NAME
from adapters.shells.protocol import MAX_BAR_S

ROOMS_PATH = "/api/voice/livekit/rooms"
TOKEN_PATH = "/api/voice/livekit/token"
WEBHOOK_PATH = "/api/voice/livekit/webhook"
CONFIG_PATH = "/api/config"
DEV_TOKEN_PATH = "/api/dev/token"
ROOM_EVENTS_PATH = "/api/rooms/{code}/events"
ROOM_STATE_PATH = "/api/rooms/{code}/state"
MANAGED_ROOMS_PATH = "/api/rooms"
MANAGED_ROOM_PATH = "/api/rooms/{code}"
PARTICIPANT_PATH = "/api/rooms/{code}/participants/{userId}"
PARTICIPANT_MUTE_PATH = "/api/rooms/{code}/participants/{userId}/mute"
ROOM_RECORDING_PATH = "/api/rooms/{code}/recording"
ROOM_RECORDING_AUDIO_PATH = "/api/rooms/{code}/recording/audio"

DEV_TOKEN_TTL_S = 12 * 3600
MAX_NAME_CHARS = 64
DEFAULT_EVENTS = 500
MAX_EVENTS = 2000

MAX_PARTICIPANTS = 1000
MAX_EMPTY_TIMEOUT_S = 24 * 3600
MAX_METADATA_BYTES = 16 * 1024


def _error_responses(*statuses: int) -> dict[str, Any]:
    """OpenAPI responses for the error statuses of a route, with their codes."""
    described = {
        400: "Bad request",
        401: "Not authenticated",
        408: "Body too slow",
        403: "Forbidden",
        404: "Not found",
        409: "Conflict",
        502: "LiveKit failed",
        503: "LiveKit not configured",
    }
    return {
        str(status): {
            "description": f"{described[status]}; `error.code` is one of: "
            + ", ".join(
                f"`{code}`"
                for code, meaning in HTTP_ERRORS.items()
                if meaning.startswith(f"{status}:")
            ),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for status in statuses
    }


def _json_body(schema: str) -> dict[str, Any]:
    """An OpenAPI required JSON request body."""
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _json_answer(description: str, schema: str) -> dict[str, Any]:
    """An OpenAPI JSON response."""
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def openapi_document(served: Collection[str] | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 description of the routes an app serves (None: every route there is)."""
    document = _whole_document()
    if served is not None:
        document["paths"] = {
            path: item for path, item in document["paths"].items() if path in served
        }
    return document


def _whole_document() -> dict[str, Any]:
    room_name = {"type": "string", "pattern": ROOM_NAME.pattern}
    permission = {"type": "boolean"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "voicemode HTTP API",
            "version": "1.0.0",
            "description": (
                "Health, LiveKit rooms and participant tokens, LiveKit's webhooks, and the "
                "web client's configuration, dev tokens and room history. "
                "Users authenticate with the voicemode token they use on the WebSocket. "
                "Every error is `{error: {code, message}}` with a stable `code`."
            ),
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "livekitWebhook": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": (
                        "A JWT from LiveKit signed with the API secret whose `sha256` claim "
                        "is the base64 SHA-256 of the body."
                    ),
                },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string", "enum": list(HTTP_ERRORS)},
                                "message": {"type": "string"},
                            },
                        }
                    },
                },
                "Health": {
                    "type": "object",
                    "required": ["status", "position"],
                    "properties": {
                        "status": {"const": "ok"},
                        "position": {
                            "type": "integer",
                            "description": "The event log's last position.",
                        },
                    },
                },
                "RoomConfig": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "maxParticipants": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": MAX_PARTICIPANTS,
                            "description": "0: no limit.",
                        },
                        "emptyTimeout": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": MAX_EMPTY_TIMEOUT_S,
                            "description": "Seconds an empty room is kept; 0: LiveKit's default.",
                        },
                        "metadata": {"type": "string", "maxLength": MAX_METADATA_BYTES},
                    },
                },
                "CreateRoomRequest": {
                    "type": "object",
                    "required": ["userId"],
                    "properties": {
                        "userId": {
                            "type": "string",
                            "description": "Must be the authenticated user.",
                        },
                        "config": {"$ref": "#/components/schemas/RoomConfig"},
                        "assistant": {
                            "type": "boolean",
                            "description": (
                                "Turn the room's shared assistant on: its members address it "
                                'by starting with the wake word ("assistant, ...").'
                            ),
                        },
                        "record": {
                            "type": "boolean",
                            "description": (
                                "Record the room's audio from the start (a server started "
                                "with --record; else 409 `recording_unavailable`)."
                            ),
                        },
                    },
                },
                "CreateRoomResponse": {
                    "type": "object",
                    "required": ["roomName", "token", "wsUrl", "expiresAt"],
                    "properties": {
                        "roomName": room_name,
                        "token": {
                            "type": "string",
                            "description": "Joins the room as the creator, publish/subscribe/data.",
                        },
                        "wsUrl": {"type": "string", "description": "The LiveKit server to join."},
                        "expiresAt": {"type": "string", "format": "date-time"},
                    },
                },
                "Permissions": {
                    "type": "object",
                    "additionalProperties": False,
                    "description": (
                        "Only these three; each granted only if true. Omit the object for all "
                        "three. Any other permission is refused with `grant_not_allowed`."
                    ),
                    "properties": {
                        "canPublish": permission,
                        "canSubscribe": permission,
                        "canPublishData": permission,
                    },
                },
                "TokenRequest": {
                    "type": "object",
                    "required": ["roomName", "participantId"],
                    "properties": {
                        "roomName": room_name,
                        "participantId": {
                            "type": "string",
                            "description": "Must be the authenticated user.",
                        },
                        "permissions": {"$ref": "#/components/schemas/Permissions"},
                        "ttlSeconds": {
                            "type": "integer",
                            "minimum": MIN_TTL_S,
                            "maximum": MAX_TTL_S,
                            "default": DEFAULT_TTL_S,
                        },
                    },
                },
                "TokenResponse": {
                    "type": "object",
                    "required": ["token", "expiresAt"],
                    "properties": {
                        "token": {"type": "string"},
                        "expiresAt": {"type": "string", "format": "date-time"},
                    },
                },
                "WebhookAccepted": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {"status": {"const": "recorded"}},
                },
                **web_client_schemas(),
                **room_management_schemas(),
                **recording_schemas(),
            },
        },
        "paths": {
            "/healthz": {
                "get": {
                    "summary": "Liveness and the event log's position",
                    "responses": {"200": _json_answer("Alive", "Health")},
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics of this server (text exposition format)",
                    "description": (
                        "Rooms, members, voice sessions and agents (gauges); transcripts, "
                        "translations, syntheses, fallbacks, errors and dropped clients "
                        "(counters); each stage's duration (histograms). No credentials: "
                        "labels never carry a room, a user or free text."
                    ),
                    "responses": {
                        "200": {
                            "description": "Metrics",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/api/rooms/{code}/media-metrics": {
                "get": {
                    "summary": "A room's LiveKit media quality (seed 000's LiveKitMetrics)",
                    "description": (
                        "From the room's agent's newest report (every 5 s). For members of "
                        "the room. dataRate bits/s, packetLoss 0-1, jitter and rtt ms, "
                        "level 0-1, qualityScore a 1-5 MOS estimate, agentCpu cores; "
                        "participants carries each track's figures."
                    ),
                    "security": [{"bearer": []}],
                    "parameters": [
                        {
                            "name": "code",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The room's media",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **_error_responses(401, 403, 404),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": {"description": "The OpenAPI 3.1 document"}},
                }
            },
            ROOMS_PATH: {
                "post": {
                    "summary": "Create a LiveKit room; the creator gets a token to join it",
                    "security": [{"bearer": []}],
                    "requestBody": _json_body("CreateRoomRequest"),
                    "responses": {
                        "201": _json_answer("Created", "CreateRoomResponse"),
                        **_error_responses(400, 401, 403, 408, 409, 502, 503),
                    },
                }
            },
            TOKEN_PATH: {
                "post": {
                    "summary": "A participant token for a room the user belongs to",
                    "description": (
                        "The user belongs to a room they created through this API, or to the "
                        "room named after a voicemode room they are a member of. The token "
                        "joins that room only, with exactly the permissions asked for, for at "
                        f"most {MAX_TTL_S // 3600} hours."
                    ),
                    "security": [{"bearer": []}],
                    "requestBody": _json_body("TokenRequest"),
                    "responses": {
                        "200": _json_answer("Issued", "TokenResponse"),
                        **_error_responses(400, 401, 403, 408, 409, 503),
                    },
                }
            },
            **web_client_paths(),
            **room_management_paths(),
            **recording_paths(),
            WEBHOOK_PATH: {
                "post": {
                    "summary": "LiveKit's webhooks; verified ones are recorded as events",
                    "security": [{"livekitWebhook": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/webhook+json": {
                                "schema": {
                                    "type": "object",
                                    "description": "LiveKit's WebhookEvent.",
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json_answer("Recorded", "WebhookAccepted"),
                        **_error_responses(400, 401, 408, 503),
                    },
                }
            },
        },
    }


def _strings() -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}}


def web_client_schemas() -> dict[str, Any]:
    """The schemas of the web client's routes."""
    return {
        "Config": {
            "type": "object",
            "required": [
                "wsUrl",
                "dev",
                "livekit",
                "record",
                "speech",
                "assistant",
                "languages",
                "engines",
            ],
            "properties": {
                "wsUrl": {
                    "type": "string",
                    "description": "The WebSocket, on the host this request was sent to.",
                },
                "dev": {"type": "boolean", "description": "`POST /api/dev/token` mints tokens."},
                "livekit": {"type": "boolean", "description": "Voice sessions are offered."},
                "record": {
                    "type": "boolean",
                    "description": "`serve --record`: rooms may record their audio.",
                },
                "speech": {"type": "boolean", "description": "Speech in and out are offered."},
                "assistant": {"type": "boolean", "description": "The assistant is offered."},
                "languages": {
                    **_strings(),
                    "description": "ISO 639-1 codes some engine translates from or into.",
                },
                "engines": {
                    "type": "object",
                    "description": "Each kind's engines in fallback order (empty: not offered).",
                    "required": ["stt", "translation", "tts", "voices", "llm"],
                    "properties": {
                        "stt": _strings(),
                        "translation": _strings(),
                        "tts": _strings(),
                        "voices": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id", "language", "name"],
                                "properties": {
                                    "id": {"type": "string"},
                                    "language": {"type": "string"},
                                    "name": {"type": "string"},
                                },
                            },
                        },
                        "llm": _strings(),
                    },
                },
            },
        },
        "DevTokenRequest": {
            "type": "object",
            "required": ["name", "language"],
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS},
                "language": {"type": "string", "description": "An ISO 639-1 code (or BCP 47)."},
            },
        },
        "DevTokenResponse": {
            "type": "object",
            "required": ["token", "userId", "name", "language", "expiresAt"],
            "properties": {
                "token": {"type": "string", "description": "A voicemode user token."},
                "userId": {
                    "type": "string",
                    "description": "The name in [a-z0-9_-] and a random suffix.",
                },
                "name": {"type": "string"},
                "language": {"type": "string"},
                "expiresAt": {"type": "string", "format": "date-time"},
            },
        },
        "RoomEvent": {
            "type": "object",
            "required": ["position", "time", "type", "who", "line", "data"],
            "properties": {
                "position": {"type": "integer"},
                "time": {"type": "string", "format": "date-time"},
                "type": {"type": "string", "description": "The event's class name."},
                "who": {"type": "string"},
                "line": {"type": "string", "description": "What `voicemode replay` explains."},
                "data": {"type": "object", "description": "The fields `replay --json` gives."},
            },
        },
        "RoomEvents": {
            "type": "object",
            "required": ["events", "last"],
            "properties": {
                "events": {"type": "array", "items": {"$ref": "#/components/schemas/RoomEvent"}},
                "last": {
                    "type": "integer",
                    "description": "Ask `after=last` next: nothing before it is left to read.",
                },
            },
        },
        "RoomState": {
            "type": "object",
            "required": ["position", "lines"],
            "properties": {
                "position": {"type": "integer"},
                "lines": {
                    **_strings(),
                    "description": "What `voicemode replay ROOM --state-at POSITION` prints.",
                },
            },
        },
    }


def _position_query(name: str, description: str, default: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": 0}
    if default is not None:
        schema["default"] = default
    return {"name": name, "in": "query", "description": description, "schema": schema}


def _room_history(summary: str, query: list[dict[str, Any]], schema: str) -> dict[str, Any]:
    """A room-history route: a member's bearer token, the room code in the path."""
    return {
        "get": {
            "summary": summary,
            "description": "For anyone who ever joined the room.",
            "security": [{"bearer": []}],
            "parameters": [
                {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}},
                *query,
            ],
            "responses": {
                "200": _json_answer("The room's history", schema),
                **_error_responses(400, 401, 403, 404),
            },
        }
    }


def web_client_paths() -> dict[str, Any]:
    """The web client's routes (its page takes every other GET path)."""
    limit = {
        "name": "limit",
        "in": "query",
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_EVENTS,
            "default": DEFAULT_EVENTS,
        },
    }
    return {
        CONFIG_PATH: {
            "get": {
                "summary": "What the web client needs: the WebSocket's URL, modes, engines",
                "responses": {"200": _json_answer("The configuration", "Config")},
            }
        },
        DEV_TOKEN_PATH: {
            "post": {
                "summary": "A user token for the web client, only under `serve --dev`",
                "description": (
                    f"Valid {DEV_TOKEN_TTL_S // 3600} hours. Without `--dev`: 403 `dev_only`."
                ),
                "requestBody": _json_body("DevTokenRequest"),
                "responses": {
                    "201": _json_answer("Minted", "DevTokenResponse"),
                    **_error_responses(400, 403, 408),
                },
            }
        },
        ROOM_EVENTS_PATH: _room_history(
            "The room's explained events after a position, in log order",
            [_position_query("after", "Only events after this position.", 0), limit],
            "RoomEvents",
        ),
        ROOM_STATE_PATH: _room_history(
            "The room as it was right after a position",
            [_position_query("at", "The position (default and at most: the log's end).")],
            "RoomState",
        ),
    }


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def room_management_schemas() -> dict[str, Any]:
    """The schemas of the routes that list and manage rooms."""
    text, nullable = {"type": "string"}, {"type": ["string", "null"]}
    time = {"type": "string", "format": "date-time"}
    voice = {
        "oneOf": [
            {"type": "null"},
            _object(
                ["language", "soloTarget", "livekitRoom"],
                language=text,
                soloTarget=nullable,
                livekitRoom=text,
            ),
        ]
    }
    participant = _object(
        ["userId", "name", "language", "mode", "voiceSession", "away", "awaySince"],
        userId=text,
        name=text,
        language=text,
        mode={"enum": ["group", "solo", "assistant"]},
        voiceSession=voice,
        away={"type": "boolean", "description": "Disconnected without having left."},
        awaySince={**nullable, "format": "date-time"},
    )
    room = _object(
        ["code", "owner", "createdAt", "closedBy", "agentAttached", "participants"],
        code=text,
        owner={**nullable, "description": "Null for rooms opened before rooms had owners."},
        createdAt=time,
        closedBy={**nullable, "description": "Who closed it (null: open)."},
        agentAttached={"type": "boolean", "description": "A LiveKit agent serves it now."},
        participants={"type": "array", "items": participant},
    )
    position = {"type": "integer", "description": "The log position of what was recorded."}
    return {
        "ManagedRoom": room,
        "ManagedRooms": _object(
            ["rooms"],
            rooms={"type": "array", "items": {"$ref": "#/components/schemas/ManagedRoom"}},
        ),
        "RoomClosed": _object(
            ["roomId", "closedBy", "position"], roomId=text, closedBy=text, position=position
        ),
        "ParticipantRemoved": _object(
            ["roomId", "userId", "removedBy", "barSeconds", "position"],
            roomId=text,
            userId=text,
            removedBy=text,
            barSeconds={"type": "integer"},
            position=position,
        ),
        "MuteRequest": _object(["muted"], muted={"type": "boolean"}),
        "ParticipantMuted": _object(
            ["roomId", "userId", "trackSids", "muted", "position"],
            roomId=text,
            userId=text,
            trackSids=_strings(),
            muted={"type": "boolean"},
            position=position,
        ),
    }


def _managed(
    method: str, summary: str, answer: str, statuses: tuple[int, ...], **more: Any
) -> dict[str, Any]:
    """A room-management route: a bearer token; ``answer`` the 200's schema."""
    return {
        method: {
            "summary": summary,
            "security": [{"bearer": []}],
            **more,
            "responses": {"200": _json_answer("Done", answer), **_error_responses(*statuses)},
        }
    }


def room_management_paths() -> dict[str, Any]:
    """The routes that list and manage rooms (the room's owner, or an operator)."""
    code = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
    user = {"name": "userId", "in": "path", "required": True, "schema": {"type": "string"}}
    bar = {
        "name": "barSeconds",
        "in": "query",
        "description": "How long they may not rejoin (default 300; 0: at once).",
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_BAR_S, "default": 300},
    }
    return {
        MANAGED_ROOMS_PATH: _managed(
            "get",
            "The open rooms the caller may see: all for an operator, else owned or joined",
            "ManagedRooms",
            (401,),
        ),
        MANAGED_ROOM_PATH: {
            **_managed(
                "get",
                "One room, open or closed, for its owner, its members and operators",
                "ManagedRoom",
                (401, 403, 404),
                parameters=[code],
            ),
            **_managed(
                "delete",
                "Close the room: LiveKit's room is deleted, voice sessions end, everyone is out",
                "RoomClosed",
                (401, 403, 404, 409, 502),
                parameters=[code],
                description="Joining a closed room is refused `room_closed`; its history stays.",
            ),
        },
        PARTICIPANT_PATH: _managed(
            "delete",
            "Remove a participant: disconnected from LiveKit and the room, barred a while",
            "ParticipantRemoved",
            (400, 401, 403, 404, 409, 502),
            parameters=[code, user, bar],
        ),
        PARTICIPANT_MUTE_PATH: _managed(
            "post",
            "Mute or unmute a participant's microphone on LiveKit; the room is told",
            "ParticipantMuted",
            (400, 401, 403, 404, 408, 409, 502, 503),
            parameters=[code, user],
            requestBody=_json_body("MuteRequest"),
        ),
    }


def recording_schemas() -> dict[str, Any]:
    """The recording routes' bodies."""
    nullable = {"type": ["string", "null"]}
    return {
        "SetRecordingRequest": {
            "type": "object",
            "required": ["enabled"],
            "properties": {"enabled": {"type": "boolean"}},
        },
        "SetRecordingResponse": {
            "type": "object",
            "required": ["roomName", "recording", "position"],
            "properties": {
                "roomName": {"type": "string"},
                "recording": {"type": "boolean"},
                "position": {"type": "integer", "description": "Where the change was recorded."},
            },
        },
        "RecordedClip": {
            "type": "object",
            "required": ["key", "kind", "transcriptId", "startedAt", "durationMs", "sampleRate"],
            "properties": {
                "key": {"type": "string", "description": "The clip's key in the blob store."},
                "kind": {"enum": ["utterance", "speech"]},
                "transcriptId": {"type": "string", "format": "uuid"},
                "speakerId": {**nullable, "description": "Who spoke an utterance."},
                "language": {"type": "string"},
                "voice": {**nullable, "description": "The voice of synthesized speech."},
                "engine": {**nullable, "description": "The engine of synthesized speech."},
                "startedAt": {"type": "string", "format": "date-time"},
                "durationMs": {"type": "integer"},
                "sampleRate": {
                    "type": "integer",
                    "description": "The rate it was heard (16 kHz) or synthesized at.",
                },
            },
        },
        "RoomRecording": {
            "type": "object",
            "required": ["roomName", "recording", "clips"],
            "properties": {
                "roomName": {"type": "string"},
                "recording": {"type": "boolean", "description": "The room records now."},
                "clips": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/RecordedClip"},
                    "description": "Stored clips (not deleted by retention), by start time.",
                },
            },
        },
    }


def recording_paths() -> dict[str, Any]:
    """The recording routes: for the room's owner or an operator, on a server with --record."""
    code = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
    who = "For the room's owner or an operator, on a server started with --record."
    return {
        ROOM_RECORDING_PATH: {
            "put": {
                "summary": "Start or stop recording the room's audio",
                "description": who + " Every member is told with a `recording` frame.",
                "security": [{"bearer": []}],
                "parameters": [code],
                "requestBody": _json_body("SetRecordingRequest"),
                "responses": {
                    "200": _json_answer("Recorded", "SetRecordingResponse"),
                    **_error_responses(400, 401, 403, 404, 408, 409),
                },
            },
            "get": {
                "summary": "Whether the room records, and its recorded clips",
                "description": who,
                "security": [{"bearer": []}],
                "parameters": [code],
                "responses": {
                    "200": _json_answer("The room's recording", "RoomRecording"),
                    **_error_responses(401, 403, 404, 409),
                },
            },
        },
        ROOM_RECORDING_AUDIO_PATH: {
            "get": {
                "summary": "The room's recorded audio mixed on one timeline",
                "description": who
                + " Utterances and synthesized speech at their recorded start times; "
                "overlaps are mixed.",
                "security": [{"bearer": []}],
                "parameters": [
                    code,
                    {
                        "name": "format",
                        "in": "query",
                        "schema": {"enum": ["ogg", "opus", "wav"], "default": "ogg"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The rendering (Ogg Opus or 16-bit WAV, 24 kHz mono)",
                        "content": {"audio/ogg": {}, "audio/wav": {}},
                    },
                    **_error_responses(400, 401, 403, 404, 409),
                },
            }
        },
    }
